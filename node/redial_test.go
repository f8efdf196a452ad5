package node

import (
	"fmt"
	"testing"
	"time"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// reportKey names a report as a resend does: input, kind, order, trade.
type reportKey struct {
	input        int64
	kind         wire.ExecKind
	order, trade uint64
}

func reportKeyOf(r proto.Report) reportKey {
	return reportKey{r.InputSeq, r.Kind, r.OrderID, r.TradeID}
}

// Redial is called "once c's Next has returned an error". A read deadline
// (the bot's own liveness check) is such an error, but the old connection
// stayed logged on: the fills of the orders the old session entered went
// on going to it, and the new client — the one the bot reads — never saw
// them (found by an audit helper). Redial closes it.
func TestRedialAfterATimeoutGetsTheFills(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	in := cfg.Instruments[0]
	secret4 := config.Default().Accounts[3].Secret
	bot, err := client.Dial(addrs.Gateway, 4, secret4, client.Options{AutoFlush: true})
	if err != nil {
		t.Fatal(err)
	}
	defer bot.Close()
	bot.NewOrder(limit(1, wire.SideBuy, in.ReferencePrice-in.TickSize, 2))
	next(t, bot, report(wire.ExecKindAccepted))
	// The exchange goes quiet longer than the bot tolerates.
	bot.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, err := bot.Next(); err == nil {
		t.Fatal("no timeout")
	}
	nb := redialThenSellInto(t, bot, addrs.Gateway, in)
	nb.SetReadDeadline(time.Now().Add(2 * time.Second))
	for {
		m, err := nb.Next()
		if err != nil {
			t.Fatalf("the bot's new client never got the fill of its order (%v); the old, abandoned session did", err)
		}
		if m.Type == wire.MessageExecutionReport && m.Report.Kind == wire.ExecKindFill {
			return
		}
	}
}

// redialThenSellInto redials bot and reads its resend to the end; then
// account 2 sells 2 into bot's resting bid one tick under in's reference
// price. The fill is what bot's new client (returned) must get.
func redialThenSellInto(t *testing.T, bot *client.Client, gateway string, in config.Instrument) *client.Client {
	t.Helper()
	nb, tag, err := bot.Redial([]string{gateway}, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nb.Close() })
	next(t, nb, func(m client.Message) bool { return m.Type == wire.MessageResendDone && m.Seq == tag })
	c2 := dial(t, gateway, 2)
	s := limit(7, wire.SideSell, in.ReferencePrice-in.TickSize, 2)
	s.TIF = wire.TimeInForceIOC
	c2.NewOrder(s)
	next(t, c2, report(wire.ExecKindFill))
	return nb
}

// A fill that reaches the new session live before its Redial resend is
// sequenced is resent as well, and the client returned it twice (found by
// an audit helper). Without AutoFlush the window is as long as the caller
// waits to Flush; with it, as long as the logon-to-request round trip.
func TestRedialReturnsALiveFillOnce(t *testing.T) {
	for _, auto := range []bool{false, true} {
		t.Run(fmt.Sprintf("autoflush=%v", auto), func(t *testing.T) {
			cfg := testConfig(t, t.TempDir())
			n, addrs, _ := startNode(t, cfg)
			defer n.Stop()
			in := cfg.Instruments[0]
			secret4 := config.Default().Accounts[3].Secret
			bot, err := client.Dial(addrs.Gateway, 4, secret4, client.Options{AutoFlush: auto})
			if err != nil {
				t.Fatal(err)
			}
			defer bot.Close()
			const bids = 200
			for i := uint64(1); i <= bids; i++ {
				bot.NewOrder(limit(i, wire.SideBuy, in.ReferencePrice-in.TickSize, 1))
			}
			bot.Flush()
			next(t, bot, func(m client.Message) bool { return m.Report.ClientOrderID == bids })
			n.gw.CloseSession(bot.Session)
			for {
				if _, err := bot.Next(); err != nil {
					break
				}
			}
			c2 := dial(t, addrs.Gateway, 2)
			stop := make(chan struct{})
			done := make(chan struct{})
			go func() { // the counterparty sells into the bids, one at a time, meanwhile
				defer close(done)
				for i := uint64(1); i <= bids; i++ {
					select {
					case <-stop:
						return
					default:
					}
					s := limit(9000+i, wire.SideSell, in.ReferencePrice-in.TickSize, 1)
					s.TIF = wire.TimeInForceIOC
					c2.NewOrder(s)
					time.Sleep(200 * time.Microsecond)
				}
			}()
			nb, tag, err := bot.Redial([]string{addrs.Gateway}, 2*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer nb.Close()
			if !auto {
				time.Sleep(20 * time.Millisecond) // the bot does its own bookkeeping before flushing
				nb.Flush()
			}
			seen := map[reportKey]int{}
			nb.SetReadDeadline(time.Now().Add(5 * time.Second))
			for {
				m, err := nb.Next()
				if err != nil {
					t.Fatal(err)
				}
				if m.Type == wire.MessageResendDone && m.Seq == tag {
					break
				}
				if m.Type == wire.MessageExecutionReport && m.Report.Kind == wire.ExecKindFill {
					seen[reportKeyOf(m.Report)]++
				}
			}
			close(stop)
			<-done
			dups := 0
			for k, c := range seen {
				if c > 1 {
					dups++
					if dups < 3 {
						t.Errorf("fill %+v returned %d times", k, c)
					}
				}
			}
			if dups > 0 {
				t.Errorf("%d of %d fills returned twice by the Redial client", dups, len(seen))
			}
		})
	}
}

// The LogonAck names the last input given out before the logon, and a
// Redial before any report was read resends from there: yesterday's
// order 1 of the account (filled) does not come back as a report of
// today's order 1, which was sent and never answered before the
// connection died. From 0 it did.
func TestRedialBeforeAnyReportSkipsTheAccountsHistory(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	in := cfg.Instruments[0]
	yesterday := dial(t, addrs.Gateway, 4)
	yesterday.NewOrder(limit(1, wire.SideBuy, in.ReferencePrice, 1))
	acc := next(t, yesterday, report(wire.ExecKindAccepted))
	seller := dial(t, addrs.Gateway, 2)
	s := limit(9, wire.SideSell, in.ReferencePrice, 1)
	s.TIF = wire.TimeInForceIOC
	seller.NewOrder(s)
	next(t, seller, report(wire.ExecKindFill))
	next(t, yesterday, report(wire.ExecKindFill))
	yesterday.Close()

	secret4 := config.Default().Accounts[3].Secret
	bot, err := client.Dial(addrs.Gateway, 4, secret4, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer bot.Close()
	if bot.LogonInputSeq <= acc.Report.InputSeq {
		t.Fatalf("LogonAck input_seq %d, not past yesterday's inputs (order 1 at %d)", bot.LogonInputSeq, acc.Report.InputSeq)
	}
	n.gw.CloseSession(bot.Session) // the connection dies before the bot read anything
	for {
		if _, err := bot.Next(); err != nil {
			break
		}
	}
	nb, tag, err := bot.Redial([]string{addrs.Gateway}, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nb.Close()
	for {
		m := next(t, nb, func(m client.Message) bool {
			return m.Type == wire.MessageExecutionReport || m.Type == wire.MessageResendDone
		})
		if m.Type == wire.MessageResendDone && m.Seq == tag {
			if m.ResendDone.AfterInputSeq != bot.LogonInputSeq {
				t.Fatalf("resend %+v, want after the logon's input %d", m.ResendDone, bot.LogonInputSeq)
			}
			return
		}
		if m.Report.InputSeq <= bot.LogonInputSeq {
			t.Fatalf("Redial returned a report of input %d (%s of client order %d), from before the bot's logon at %d",
				m.Report.InputSeq, m.Report.Kind, m.Report.ClientOrderID, bot.LogonInputSeq)
		}
	}
}
