package node

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
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
			readResend(t, nb, tag, 5*time.Second, func(m client.Message) {
				if m.Type == wire.MessageExecutionReport && m.Report.Kind == wire.ExecKindFill {
					seen[reportKeyOf(m.Report)]++
				}
			})
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

// cutProxy forwards one client connection to upstream on loopback; it
// passes the client's bytes through and the server's frames one by one,
// and after passFrames frames from the server it closes both sides (the
// network died): frames after them are read from the server and never
// reach the client.
func cutProxy(t *testing.T, upstream string, passFrames int) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		down, err := ln.Accept()
		if err != nil {
			return
		}
		defer down.Close()
		up, err := net.Dial("tcp", upstream)
		if err != nil {
			return
		}
		defer up.Close()
		go io.Copy(up, down)
		up.SetReadDeadline(time.Now().Add(10 * time.Second))
		var hdr [4]byte
		for i := 0; i < passFrames; i++ {
			if _, err := io.ReadFull(up, hdr[:]); err != nil {
				return
			}
			body := make([]byte, binary.LittleEndian.Uint32(hdr[:]))
			if _, err := io.ReadFull(up, body); err != nil {
				return
			}
			down.Write(hdr[:])
			down.Write(body)
		}
		time.Sleep(50 * time.Millisecond) // let the rest of the batch reach the proxy (and die there)
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().String()
}

// A client that logs on while the engine is still behind the input
// sequence its LogonAck names is sent, live, reports of inputs at or
// below its LogonInputSeq (fills of the account's resting orders, routed
// to every trading session once the session that entered them is gone).
// When its connection dies between two reports of such an input, Redial
// asks for that input's reports again: every fill is returned once.
// Before, it asked after max(LastInputSeq-1, LogonInputSeq) =
// LogonInputSeq, and the rest of that input's fills were lost.
func TestRedialAfterALiveReportAtTheLogonInput(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	in := cfg.Instruments[0]
	price := in.ReferencePrice - in.TickSize

	// Yesterday's process of account 4 (no cancel-on-disconnect) rests
	// three bids and goes away.
	old := dial(t, addrs.Gateway, 4)
	for i := uint64(1); i <= 3; i++ {
		old.NewOrder(limit(i, wire.SideBuy, price, 1))
	}
	next(t, old, func(m client.Message) bool { return m.Report.ClientOrderID == 3 })
	old.Logout()
	old.Close()
	waitUntil(t, func() bool { return len(n.gw.RoutesOf(4).Trading) == 0 })

	// The engine falls behind (a slow fsync, a GC pause): account 2's
	// sweep of the three bids is sequenced, not yet matched.
	release := holdEngine(t, n)
	defer release() // a failure before the release lets the engine go
	seller := dial(t, addrs.Gateway, 2)
	before := n.in.published()
	s := limit(9, wire.SideSell, price, 3)
	s.TIF = wire.TimeInForceIOC
	seller.NewOrder(s)
	waitUntil(t, func() bool { return n.in.published() > before })

	// Today's process logs on (through a network that will die after the
	// LogonAck and one report).
	secret4 := config.Default().Accounts[3].Secret
	bot, err := client.Dial(cutProxy(t, addrs.Gateway, 2), 4, secret4, client.Options{AutoFlush: true})
	if err != nil {
		release()
		t.Fatal(err)
	}
	defer bot.Close()
	release()

	fills := map[uint64]int{}
	bot.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		m, err := bot.Next()
		if err != nil {
			break // the network died
		}
		if m.Type == wire.MessageExecutionReport && m.Report.Kind == wire.ExecKindFill {
			fills[m.Report.OrderID]++
		}
	}
	if len(fills) != 1 {
		t.Fatalf("the bot read %d fills before its network died, want 1 (test setup)", len(fills))
	}
	t.Logf("bot: LogonInputSeq %d, LastInputSeq %d", bot.LogonInputSeq, bot.LastInputSeq)

	nb, tag, err := bot.Redial([]string{addrs.Gateway}, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nb.Close()
	done := readResend(t, nb, tag, 5*time.Second, func(m client.Message) {
		if m.Type == wire.MessageExecutionReport && m.Report.Kind == wire.ExecKindFill {
			fills[m.Report.OrderID]++
		}
	})
	if len(fills) != 3 {
		t.Errorf("the bot got %d of its 3 fills across the Redial (resend after input %d, %+v): the fills of input %d it never read are lost",
			len(fills), done.AfterInputSeq, done, bot.LastInputSeq)
	}
	for o, k := range fills {
		if k != 1 {
			t.Errorf("fill of order %d returned %d times", o, k)
		}
	}
}

// Redial's own resend counts against gateway.status_rate (per account,
// shared by its sessions, continued across the replacing logon). Refused
// there (a Rejected rate-limited under the tag, no ResendDone), the
// client keeps it as it keeps a busy one: the next Redial asks from it,
// and the fill of the bot's bid, traded while it was disconnected, is
// returned. Before, it was forgotten like a caller's refused Resend, and
// the next Redial asked from the last report read, past the gap.
func TestRedialResendRefusedForTheStatusRateKeepsTheGap(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	in := cfg.Instruments[0]
	price := in.ReferencePrice - in.TickSize
	secret4 := config.Default().Accounts[3].Secret
	bot, err := client.Dial(addrs.Gateway, 4, secret4, client.Options{AutoFlush: true})
	if err != nil {
		t.Fatal(err)
	}
	defer bot.Close()
	bot.NewOrder(limit(1, wire.SideBuy, price, 1))
	acc := next(t, bot, report(wire.ExecKindAccepted))
	// The bot pages its orders (a second's worth of status requests).
	for range cfg.Gateway.StatusRate {
		bot.OrderStatus(proto.OrderStatus{})
		next(t, bot, func(m client.Message) bool {
			return m.Type == wire.MessageExecutionReport && (m.Report.Kind == wire.ExecKindStatusDone || m.Report.Kind == wire.ExecKindRejected)
		})
	}
	// Its connection dies; meanwhile its bid trades.
	n.gw.CloseSession(bot.Session)
	for {
		if _, err := bot.Next(); err != nil {
			break
		}
	}
	seller := dial(t, addrs.Gateway, 2)
	s := limit(9, wire.SideSell, price, 1)
	s.TIF = wire.TimeInForceIOC
	seller.NewOrder(s)
	next(t, seller, report(wire.ExecKindFill))

	gotFill := false
	nb, tag, err := bot.Redial([]string{addrs.Gateway}, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nb.Close()
	nb.SetReadDeadline(time.Now().Add(2 * time.Second))
	for {
		m, err := nb.Next()
		if err != nil {
			t.Errorf("no ResendDone for Redial's resend %d within 2 s (%v)", tag, err)
			break
		}
		if m.Type == wire.MessageExecutionReport && m.Report.Kind == wire.ExecKindFill && m.Report.OrderID == acc.Report.OrderID {
			gotFill = true
		}
		if m.Type == wire.MessageExecutionReport && m.Seq == tag && m.Report.Kind == wire.ExecKindRejected {
			break
		}
		if m.Type == wire.MessageResendDone && m.Seq == tag {
			break
		}
	}
	// The bot trades on; a second later its connection dies again.
	nb.NewOrder(limit(2, wire.SideBuy, price-in.TickSize, 1))
	next(t, nb, report(wire.ExecKindAccepted))
	time.Sleep(1100 * time.Millisecond) // the status bucket refills
	n.gw.CloseSession(nb.Session)
	for {
		if _, err := nb.Next(); err != nil {
			break
		}
	}
	nb2, tag2, err := nb.Redial([]string{addrs.Gateway}, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nb2.Close()
	done := readResend(t, nb2, tag2, 10*time.Second, func(m client.Message) {
		if m.Type == wire.MessageExecutionReport && m.Report.Kind == wire.ExecKindFill && m.Report.OrderID == acc.Report.OrderID {
			gotFill = true
		}
	})
	if !gotFill {
		t.Errorf("the fill of order %d (traded while the bot was disconnected) was never returned; the second Redial asked after input %d",
			acc.Report.OrderID, done.AfterInputSeq)
	}
}
