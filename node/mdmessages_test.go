package node

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// A market-data message of a type newer than the node — a newer
// client's: the wire's unions are only appended to — is skipped, and the
// connection goes on, its subscription served. It was closed as
// malformed.
func TestMarketDataSkipsNewerMessageTypes(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	md := subscribeMD(t, addrs.MarketData, 1)
	md.SendRaw(proto.NewEncoder().Empty(2, wire.Message(250)))
	// Subscribing again asks for a new snapshot: the port read the newer
	// message before it, and would have closed the connection there.
	md.Subscribe(1)
	next(t, md, func(m client.Message) bool { return m.Type == wire.MessageBookSnapshot })
	restAndSee(t, cfg, addrs.Gateway, 3, md)
	wantClosed(t, n, mdMalformed, 0)
}

// A connection that sends the market-data port an order-entry message —
// a program pointed at the wrong port, logged on as the port allows — is
// told so, Closing{Malformed} with a text naming the order-entry port,
// and closed: counted malformed once and logged once, with its address
// and the message's type, whatever it sent after. It was left waiting
// for ever, its orders unanswered. A subscriber beside it keeps its
// updates.
func TestMarketDataOrderEntryMessageEndsTheConnection(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, addrs, logs := startNodeLogging(t, cfg, Options{})
	defer n.Stop()
	md := subscribeMD(t, addrs.MarketData, 1)
	e := proto.NewEncoder()
	for i, typ := range []wire.Message{wire.MessageNewOrder, wire.MessageCancel, wire.MessageReplace,
		wire.MessageMassCancel, wire.MessageOrderStatus, wire.MessageResendReports} {
		var frame []byte
		switch typ {
		case wire.MessageNewOrder:
			frame = e.NewOrder(2, limit(1, wire.SideBuy, cfg.Instruments[0].ReferencePrice, 1))
		case wire.MessageCancel:
			frame = e.Cancel(2, proto.Cancel{OrderID: 1, Instrument: 1})
		case wire.MessageReplace:
			frame = e.Replace(2, proto.Replace{OrderID: 1, ClientOrderID: 2, Price: 1, Quantity: 1, Instrument: 1})
		case wire.MessageMassCancel:
			frame = e.MassCancel(2, 1)
		case wire.MessageOrderStatus:
			frame = e.OrderStatus(2, proto.OrderStatus{})
		case wire.MessageResendReports:
			frame = e.ResendReports(2, 0)
		}
		c := dialMD(t, addrs.MarketData)
		c.SendRaw(slices.Concat(proto.NewEncoder().Logon(1, 1, "s1"), frame, frame))
		err := expectClosed(t, c, typ.String()+" on the market-data port")
		wantToldWhy(t, err, "malformed")
		if ce, _ := errors.AsType[*client.ClosedError](err); !strings.Contains(ce.Text, "order-entry message") {
			t.Fatalf("%v: told %q, not that it sent an order-entry message", typ, ce.Text)
		}
		wantClosed(t, n, mdMalformed, int64(i+1))
		logged := 0
		for line := range strings.Lines(logs.String()) {
			if strings.Contains(line, "order-entry message on the market-data port") &&
				strings.Contains(line, `"type":"`+typ.String()+`"`) && strings.Contains(line, `"remote":"127.0.0.1:`) {
				logged++
			}
		}
		if logged != 1 {
			t.Fatalf("%v: logged %d times with its address and type, want once:\n%s", typ, logged, logs)
		}
	}
	restAndSee(t, cfg, addrs.Gateway, 3, md)
}

// A subscriber that sends Logout on the market-data port ends its
// connection as a session ends it on the order-entry port: it is sent
// what was queued for it (a LogonAck sent in the same write comes
// first), then the connection closes, told nothing — it ended it — and
// is counted logout once, nothing else. The Logout was skipped: a
// subscriber waiting for the close waited for ever (subscribed) or
// until gateway.read_timeout (subscribed to nothing). A subscriber
// beside them keeps its updates.
func TestMarketDataLogoutEndsTheConnection(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	md := subscribeMD(t, addrs.MarketData, 1)
	closedUntold := func(c *client.Client, what string, logouts int64) {
		t.Helper()
		if err := expectClosed(t, c, what); client.ClosedBy(err) != "" {
			t.Fatalf("%s was told %q", what, client.ClosedBy(err))
		}
		wantClosed(t, n, mdLogout, logouts)
	}

	leaving := subscribeMD(t, addrs.MarketData, 1)
	leaving.Logout()
	closedUntold(leaving, "a subscriber that logged out", 1)

	c := dialMD(t, addrs.MarketData)
	c.SendRaw(slices.Concat(proto.NewEncoder().Logon(1, 1, "s1"), proto.NewEncoder().Logout(2)))
	next(t, c, func(m client.Message) bool { return m.Type == wire.MessageLogonAck })
	closedUntold(c, "a connection that logged on and out", 2)

	restAndSee(t, cfg, addrs.Gateway, 3, md)
	wantNoOtherClose(t, n, mdLogout)
}

// A program that logs on for market data at the order-entry port by
// mistake (client.DialMarketDataLogon) is refused ErrWrongPort at the
// LogonAck, and the session it opened there cancels nothing as it
// closes: an account with cancel_on_disconnect whose order rests with no
// trading session logged on (the node restarted, its trader not back
// yet) keeps it. The logon opened a trading session, whose close, the
// account's last, cancelled the order.
func TestMarketDataLogonAtTheOrderEntryPortCancelsNothing(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	if !cfg.Accounts[0].CancelOnDisconnect {
		t.Fatal("account 1 has no cancel_on_disconnect: the test proves nothing")
	}
	n, addrs, _ := startNode(t, cfg)
	resting := restBuy(t, dial(t, addrs.Gateway, 1), cfg.Instruments[0], 1).Report.OrderID
	// Stopped with the session open: a restart keeps the order, and no
	// trading session of the account is logged on after it.
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	n2, addrs2, _ := startNode(t, cfg)
	defer n2.Stop()
	closed := n2.gw.Counters.SessionsClosed.Load()
	c, err := client.DialMarketDataLogon(addrs2.Gateway, 1, cfg.Accounts[0].Secret, client.Options{AutoFlush: true, Timeout: 5 * time.Second})
	if err == nil {
		c.Close()
		t.Fatal("DialMarketDataLogon logged on at the order-entry port")
	}
	if !errors.Is(err, client.ErrWrongPort) {
		t.Fatalf("DialMarketDataLogon at the order-entry port: %v, want ErrWrongPort", err)
	}
	// Its session's end taken, a logon after it is ordered after any
	// cancel-on-disconnect of it (the account's handover), and so is the
	// OrderStatus it sends.
	waitUntil(t, func() bool { return n2.gw.Counters.SessionsClosed.Load() > closed }, n2)
	trader := dial(t, addrs2.Gateway, 1)
	if err := trader.OrderStatus(proto.OrderStatus{}); err != nil {
		t.Fatal(err)
	}
	got, ok := reportsUntil(trader, 10*time.Second, func(r proto.Report) bool { return r.Kind == wire.ExecKindStatusDone })
	if !ok {
		t.Fatalf("no StatusDone within 10 s (read %+v)", got)
	}
	if !slices.ContainsFunc(got, func(r proto.Report) bool { return r.Kind == wire.ExecKindStatus && r.OrderID == resting }) {
		t.Fatalf("order %d no longer rests after a market-data logon at the order-entry port: %+v", resting, got)
	}
}

// A market-data Logout ends the connection, told nothing and counted
// logout, wherever it comes: as the message over marketdata.message_rate,
// and before the Logon marketdata.require_logon wants. It was counted
// rate-limit and told so (Closing{RateLimit}), and not-logged-on
// (answered LogonReject{NotLoggedOn}): the subscriber's own end taken
// for a cut.
func TestMarketDataLogoutEndsTheConnectionAtAnyRateAndBeforeALogon(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  map[string]string
		// frames is what the connection sends: ending in a Logout.
		frames func(burst int) []byte
	}{
		{"over the message rate", map[string]string{"marketdata.message_rate": "5"}, func(burst int) []byte {
			var b []byte
			for i := range burst { // the burst spent: the Logout is over the rate
				b = append(b, proto.NewEncoder().Unsubscribe(uint64(i+1), 1)...)
			}
			return append(b, proto.NewEncoder().Logout(uint64(burst+1))...)
		}},
		{"before a required logon", map[string]string{"marketdata.require_logon": "true"}, func(int) []byte {
			return proto.NewEncoder().Logout(1)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t, t.TempDir())
			setConfig(t, cfg, tc.set)
			n, addrs, _ := startNode(t, cfg)
			defer n.Stop()
			c := dialMD(t, addrs.MarketData)
			c.SendRaw(tc.frames(max(cfg.MarketData.MessageRate, len(cfg.Instruments))))
			if why := client.ClosedBy(expectClosed(t, c, "a connection that logged out")); why != "" {
				t.Fatalf("a connection that logged out was told %q", why)
			}
			wantClosed(t, n, mdLogout, 1)
			wantNoOtherClose(t, n, mdLogout)
		})
	}
}
