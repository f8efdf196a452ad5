package node

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// randomTrading has traders (one session per account) place, cancel and
// replace at random, with mass cancels and suspensions, and returns every
// live report each account received, in order.
func randomTrading(t *testing.T, n *Node, cfg *config.Config, traders map[uint32]*client.Client, rng *rand.Rand, orders int, clOrd *uint64) {
	t.Helper()
	accts := slices.Sorted(func(yield func(uint32) bool) {
		for a := range traders {
			if !yield(a) {
				return
			}
		}
	})
	for range orders {
		a := accts[rng.IntN(len(accts))]
		c := traders[a]
		in := cfg.Instruments[rng.IntN(2)]
		price := in.ReferencePrice + int64(rng.IntN(11)-5)*in.TickSize
		qty := int64(1 + rng.IntN(6))
		switch r := rng.IntN(100); {
		case r < 60:
			*clOrd++
			o := limit(*clOrd, wire.Side(1+rng.IntN(2)), price, qty)
			o.Instrument = in.ID
			if rng.IntN(8) == 0 {
				o.TIF = wire.TimeInForceIOC
			}
			c.NewOrder(o)
		case r < 78:
			c.Cancel(proto.Cancel{OrigClientOrderID: uint64(1 + rng.IntN(int(*clOrd+1))), Instrument: in.ID})
		case r < 96:
			*clOrd++
			c.Replace(proto.Replace{OrigClientOrderID: uint64(1 + rng.IntN(int(*clOrd))), ClientOrderID: *clOrd,
				Price: price, Quantity: qty, Instrument: in.ID})
		case r < 98:
			c.MassCancel(in.ID)
		default:
			n.SuspendAccount(a)
			n.ResumeAccount(a)
		}
	}
}

// drainLive reads each trader until a marker cancel is answered, collecting live reports.
func drainLive(t *testing.T, traders map[uint32]*client.Client, live map[uint32][]proto.Report, marker *uint64) {
	t.Helper()
	for a, c := range traders {
		*marker++
		want := *marker
		c.Cancel(proto.Cancel{OrigClientOrderID: want, Instrument: 1})
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		for {
			m, err := c.Next()
			if err != nil {
				t.Fatalf("account %d: %v", a, err)
			}
			if m.Type != wire.MessageExecutionReport || m.Resent() {
				continue
			}
			if k := m.Report.Kind; k != wire.ExecKindMassCancelDone && k != wire.ExecKindStatus && k != wire.ExecKindStatusDone {
				live[a] = append(live[a], m.Report)
			}
			if m.Report.ClientOrderID == want && m.Report.Kind == wire.ExecKindRejected {
				break
			}
		}
	}
}

var dbgNode *Node

func repKey(r proto.Report) string { return fmt.Sprintf("%+v", r) }

// checkResend asks account a's session c for the reports after after and
// compares them with the live ones of inputs in [first, through].
func checkResend(t *testing.T, what string, c *client.Client, live []proto.Report, after, upTo int64) proto.ResendDone {
	t.Helper()
	tag, err := c.Resend(after)
	if err != nil {
		t.Fatal(err)
	}
	resent, done, _ := resendAnswer(t, c, tag)
	t.Logf("%s after %d: %+v", what, after, done)
	if done.Reason == proto.ResendBusy {
		return done
	}
	if upTo > 0 {
		k := 0
		for _, r := range resent {
			if r.InputSeq <= upTo {
				resent[k] = r
				k++
			}
		}
		resent = resent[:k]
		done.Count = uint64(k)
	}
	var want []proto.Report
	for _, r := range live {
		if r.InputSeq >= done.FirstInputSeq && r.InputSeq <= done.ThroughInputSeq {
			want = append(want, r)
		}
	}
	if uint64(len(resent)) != done.Count {
		t.Fatalf("%s after %d: %d resent, done says %d (%+v)", what, after, len(resent), done.Count, done)
	}
	if len(resent) != len(want) {
		seen := map[string]int{}
		for _, r := range want {
			seen[repKey(r)]++
		}
		for _, r := range resent {
			if seen[repKey(r)] == 0 {
				t.Logf("resent, not live: %+v", r)
				if dbgNode != nil && dbgNode.recent != nil {
					rr := dbgNode.recent
					for k := max(0, rr.next-rr.size); k < rr.next; k++ {
						if e := rr.entries.At(k); e.ev.TradeID == r.TradeID && r.TradeID != 0 {
							t.Logf("   event: acct %d sess %d maker acct %d maker sess %d", e.ev.Account, e.ev.Session, e.ev.MakerAccount, e.ev.MakerSession)
						}
					}
				}
				for _, l := range live {
					if l.OrderID == r.OrderID {
						t.Logf("   live with its trade id: %+v", l)
					}
				}
			} else {
				seen[repKey(r)]--
			}
		}
		for _, r := range want {
			if seen[repKey(r)] > 0 {
				t.Logf("live, not resent: %+v", r)
				seen[repKey(r)]--
			}
		}
		t.Fatalf("%s after %d: %d resent, %d live; done %+v", what, after, len(resent), len(want), done)
	}
	for i := range want {
		if repKey(resent[i]) != repKey(want[i]) {
			t.Fatalf("%s after %d: report %d resent %+v, live %+v; done %+v", what, after, i, resent[i], want[i], done)
		}
	}
	return done
}

// A resend returns exactly the reports the account's sessions got live
// for those inputs, in order — from memory, from memory too small to hold
// them (aside copies, then replay), by replay alone, and with snapshots
// taken and old segments deleted under way (a Partial answer) — after
// random trading by several accounts, and again after a restart.
func TestResendEqualsLiveReports(t *testing.T) {
	for _, mode := range []struct {
		name   string
		recent string
		orders int
	}{{"memory", "4096", 600}, {"small-memory", "64", 600}, {"replay", "0", 600}, {"retention", "0", 6000}} {
		t.Run(mode.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := testConfig(t, dir)
			for k, v := range map[string]string{"gateway.status_rate": "0", "gateway.recent_reports": mode.recent,
				"snapshot.every_inputs": fmt.Sprint(mode.orders), "snapshot.journal_retention": "delete", "snapshot.keep": "2"} {
				if err := cfg.Set(k, v); err != nil {
					t.Fatal(err)
				}
			}
			n, a, _ := startNode(t, cfg)
			dbgNode = n
			traders := map[uint32]*client.Client{1: dial(t, a.Gateway, 1), 2: dial(t, a.Gateway, 2), 3: dial(t, a.Gateway, 3)}
			live := map[uint32][]proto.Report{}
			rng := rand.New(rand.NewPCG(3, 5))
			var clOrd uint64
			marker := uint64(1 << 40)
			for round := range 4 {
				randomTrading(t, n, cfg, traders, rng, mode.orders, &clOrd)
				drainLive(t, traders, live, &marker)
				drainLive(t, traders, live, &marker) // every trader's inputs were applied before the second round
				for acct, c := range traders {
					l := live[acct]
					for range 3 {
						after := l[rng.IntN(len(l))].InputSeq - 1
						if rng.IntN(4) == 0 {
							after = 0
						}
						checkResend(t, fmt.Sprintf("round %d account %d", round, acct), c, l, after, 0)
					}
				}
			}
			// after a restart
			for _, c := range traders {
				c.Close()
			}
			if err := n.Stop(); err != nil {
				t.Fatal(err)
			}
			n2, a2, _ := startNode(t, cfg)
			defer n2.Stop()
			for acct := range traders {
				c := dial(t, a2.Gateway, acct)
				l := live[acct]
				after := l[rng.IntN(len(l))].InputSeq - 1
				checkResend(t, fmt.Sprintf("restarted account %d", acct), c, l, after, l[len(l)-1].InputSeq)
			}
		})
	}
}
