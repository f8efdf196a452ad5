package node

import (
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/gateway"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// Reports go to the session that sent the order, and a fill of a resting
// order to the session that entered it; once that session is gone, the
// account's other sessions hear about its orders.
func TestReportsRoutedToTheOrderingSession(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	ref := cfg.Instruments[0].ReferencePrice
	a1, a2 := dial(t, addrs.Gateway, 1), dial(t, addrs.Gateway, 1) // two sessions of account 1
	taker := dial(t, addrs.Gateway, 2)

	a1.NewOrder(limit(1, wire.SideBuy, ref, 5))
	next(t, a1, report(wire.ExecKindAccepted))
	a2.NewOrder(limit(2, wire.SideBuy, ref, 5))
	next(t, a2, report(wire.ExecKindAccepted))

	taker.NewOrder(limit(10, wire.SideSell, ref, 3)) // fills order 1 (time priority)
	next(t, taker, report(wire.ExecKindFill))
	fill := next(t, a1, report(wire.ExecKindFill))
	if fill.Report.ClientOrderID != 1 || fill.Report.Quantity != 3 {
		t.Fatalf("maker fill %+v", fill.Report)
	}
	// a2 heard nothing of order 1: its next report is about its own order.
	a2.MassCancel(0)
	got := next(t, a2, func(m client.Message) bool { return m.Type == wire.MessageExecutionReport })
	if got.Report.ClientOrderID == 1 && got.Report.Kind != wire.ExecKindCancelled {
		t.Fatalf("session 2 received order 1's %v", got.Report.Kind)
	}

	// Order 3 from a1, then a1 leaves (a2 keeps the account logged on, so
	// nothing is cancelled): its fill goes to a2.
	a1.NewOrder(limit(3, wire.SideBuy, ref, 2))
	next(t, a1, report(wire.ExecKindAccepted))
	a1.Close()
	waitUntil(t, func() bool { return len(n.gw.RoutesOf(1).Trading) == 1 })
	taker.NewOrder(limit(11, wire.SideSell, ref, 2))
	orphan := next(t, a2, func(m client.Message) bool {
		return m.Type == wire.MessageExecutionReport && m.Report.ClientOrderID == 3
	})
	if orphan.Report.Kind != wire.ExecKindFill {
		t.Fatalf("order 3 after its session left: %+v", orphan.Report)
	}
	a2.SetReadDeadline(time.Time{})
}

// acceptedWithin is the report of c's order id, read with reportsUntil
// within 10 s, or an error when none came (the session dropped, or
// nothing was sent) or it was not an acceptance. It fails no test: a
// try whose leader lost the lead meanwhile is let go, not failed.
func acceptedWithin(c *client.Client, id uint64) (proto.Report, error) {
	got, ok := reportsUntil(c, 10*time.Second, func(r proto.Report) bool { return r.ClientOrderID == id })
	switch {
	case !ok:
		return proto.Report{}, fmt.Errorf("no report of order %d in 10 s (the session dropped, or nothing came)", id)
	case got[len(got)-1].Kind != wire.ExecKindAccepted:
		return proto.Report{}, fmt.Errorf("order %d: %s reason %d, want accepted", id, got[len(got)-1].Kind, got[len(got)-1].Reason)
	}
	return got[len(got)-1], nil
}

// reportsUntil reads c's execution reports until done holds for one
// (that one the last returned) or within has passed, and returns them;
// ok says whether done held. It waits for the report, not for a time:
// within bounds a node that never sends it.
func reportsUntil(c *client.Client, within time.Duration, done func(proto.Report) bool) (got []proto.Report, ok bool) {
	c.SetReadDeadline(time.Now().Add(within))
	for {
		m, err := c.Next()
		if err != nil {
			return got, false
		}
		if m.Type == wire.MessageExecutionReport {
			got = append(got, m.Report)
			if done(m.Report) {
				return got, true
			}
		}
	}
}

// reportsBeforeStatus asks c for its live orders and returns the
// execution reports it reads before the answer's StatusDone, the
// answer's Status reports left out. The sender stages a session's
// reports in the engine's order, every copy of an event at that event
// (sendBatch), so every report to c of an input sequenced before the
// OrderStatus — of any event c, or a session that read before c asked,
// has heard of — comes before the StatusDone: a test that no second copy
// came needs no quiet window. One OrderStatus, within any session's
// gateway.status_rate.
func reportsBeforeStatus(t *testing.T, c *client.Client) []proto.Report {
	t.Helper()
	if err := c.OrderStatus(proto.OrderStatus{}); err != nil {
		t.Fatal(err)
	}
	got, ok := reportsUntil(c, 10*time.Second, func(r proto.Report) bool { return r.Kind == wire.ExecKindStatusDone })
	if !ok {
		t.Fatalf("no StatusDone answered the session's OrderStatus within 10 s (read %d reports)", len(got))
	}
	return slices.DeleteFunc(got, func(r proto.Report) bool {
		return r.Kind == wire.ExecKindStatus || r.Kind == wire.ExecKindStatusDone
	})
}

// A Cancel from one session of an account of an order another session
// entered reaches both: the canceller (its answer) and the session that
// entered the order, which heard nothing and went on taking the order for
// live — as for a MassCancel before 8703d1c (found by an audit helper).
// The drop copy gets it once.
func TestCancelByAnotherSessionReachesTheOwner(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	owner, risk := dial(t, addrs.Gateway, 1), dial(t, addrs.Gateway, 1)
	dc, err := client.Dial(addrs.Gateway, 1, config.Default().Accounts[0].Secret, client.Options{AutoFlush: true, DropCopy: true})
	if err != nil {
		t.Fatal(err)
	}
	defer dc.Close()
	in := cfg.Instruments[0]
	acc := restBuy(t, owner, in, 1)
	risk.Cancel(proto.Cancel{OrderID: acc.Report.OrderID, Instrument: in.ID})
	next(t, risk, report(wire.ExecKindCancelled))
	cancelled := func(m client.Message) bool {
		return m.Type == wire.MessageExecutionReport && m.Report.OrderID == acc.Report.OrderID && m.Report.Kind == wire.ExecKindCancelled
	}
	// Each copy goes out through its session's own writer: awaited, then
	// no second one before the answer to a later OrderStatus.
	for who, c := range map[string]*client.Client{"the session that entered the order": owner, "the drop copy": dc} {
		next(t, c, cancelled)
		for _, r := range reportsBeforeStatus(t, c) {
			if r.OrderID == acc.Report.OrderID && r.Kind == wire.ExecKindCancelled {
				t.Fatalf("%s got a second Cancelled report of order %d (another session's cancel), want one", who, acc.Report.OrderID)
			}
		}
	}
}

// The holder's copy of another session's cancel is decided by the same
// look at the account's sessions that delivered the cancel to its asker:
// the asker logging out just after (here, closed by the node in between)
// used to make a second look find it gone — deliver had sent it to the
// asker alone, the second look to no one — and the holder heard nothing.
func TestCancelByASessionEndedMeanwhileReachesTheOwner(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	var endAsker func()
	var once sync.Once
	otherCancelHook = func() { once.Do(func() { endAsker() }) }
	n, addrs, _ := startNode(t, cfg)
	defer func() {
		n.Stop()
		otherCancelHook = nil
	}()
	owner, asker := dial(t, addrs.Gateway, 1), dial(t, addrs.Gateway, 1)
	endAsker = func() { // on the sender's goroutine: until the gateway has let the asker go
		n.gw.CloseSession(asker.Session)
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			if !slices.ContainsFunc(n.gw.RoutesOf(1).Trading, func(s *gateway.Session) bool { return s.ID == asker.Session }) {
				return
			}
		}
		t.Error("the asker's session was not let go within 5 s of its close")
	}
	in := cfg.Instruments[0]
	acc := restBuy(t, owner, in, 1)
	asker.Cancel(proto.Cancel{OrderID: acc.Report.OrderID, Instrument: in.ID})
	if _, ok := reportsUntil(owner, 10*time.Second, func(r proto.Report) bool {
		return r.OrderID == acc.Report.OrderID && r.Kind == wire.ExecKindCancelled
	}); !ok {
		t.Fatalf("the session that entered order %d got no Cancelled report of another session's cancel, that session ended as it was sent", acc.Report.OrderID)
	}
}

// A Replace from another session moves the order to the replacing session
// (proto/README.md): the session that held it gets the Replaced too — it
// heard nothing, and went on showing the order at its old price — and the
// order's later reports go to the replacer.
func TestReplaceByAnotherSessionReachesTheOwner(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	owner, other := dial(t, addrs.Gateway, 1), dial(t, addrs.Gateway, 1)
	seller := dial(t, addrs.Gateway, 2)
	in := cfg.Instruments[0]
	owner.NewOrder(limit(1, wire.SideBuy, in.ReferencePrice-2*in.TickSize, 2*in.LotSize))
	acc := next(t, owner, report(wire.ExecKindAccepted))
	other.Replace(proto.Replace{OrderID: acc.Report.OrderID, Price: in.ReferencePrice - in.TickSize, Quantity: 2 * in.LotSize, Instrument: in.ID})
	next(t, other, report(wire.ExecKindReplaced))
	s := limit(9, wire.SideSell, in.ReferencePrice-in.TickSize, 2*in.LotSize)
	s.TIF = wire.TimeInForceIOC
	seller.NewOrder(s)
	next(t, seller, report(wire.ExecKindFill))
	next(t, other, report(wire.ExecKindFill))
	var kinds []wire.ExecKind
	for _, r := range reportsBeforeStatus(t, owner) { // the seller's fill, read, came before
		if r.OrderID == acc.Report.OrderID {
			kinds = append(kinds, r.Kind)
		}
	}
	if len(kinds) != 1 || kinds[0] != wire.ExecKindReplaced {
		t.Fatalf("the session that entered order %d heard %v of it after another session replaced it; want [Replaced]", acc.Report.OrderID, kinds)
	}
}

// blackhole is a loopback TCP proxy to target whose Cut stops forwarding
// either way and closes the client side, leaving the server side open and
// unread: the server's view of a connection whose network died (a cable,
// a NAT entry, a failed-over NIC) — a half-open connection.
type blackhole struct {
	ln       net.Listener
	mu       sync.Mutex
	cut      bool
	toClient []net.Conn
	toServer []net.Conn
}

func newBlackhole(t *testing.T, target string) *blackhole {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &blackhole{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			b.mu.Lock()
			b.toClient, b.toServer = append(b.toClient, c), append(b.toServer, s)
			b.mu.Unlock()
			go b.pipe(s, c)
			go b.pipe(c, s)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, c := range append(b.toClient, b.toServer...) {
			c.Close()
		}
	})
	return b
}

func (b *blackhole) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		k, err := src.Read(buf)
		b.mu.Lock()
		cut := b.cut
		b.mu.Unlock()
		if cut {
			io.Copy(io.Discard, src) // drain: never forward again
			return
		}
		if k > 0 {
			dst.Write(buf[:k])
		}
		if err != nil {
			return
		}
	}
}

func (b *blackhole) Cut() {
	b.mu.Lock()
	b.cut = true
	cs := b.toClient
	b.mu.Unlock()
	for _, c := range cs {
		c.Close()
	}
}

// A trading client whose connection dies without the exchange noticing
// (half-open) reconnects with Redial, as the client library documents.
// Its resting order then trades: the fill went to the dead session, which
// the gateway kept registered until gateway.read_timeout (15 s) — the
// client's new session, the one it reads, never got it, and the resend
// Redial made ended before the trade (found by an audit helper). The new
// logon names the session it replaces, and the gateway closes it first.
func TestRedialAfterAHalfOpenConnectionGetsTheFills(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	in := cfg.Instruments[0]
	proxy := newBlackhole(t, addrs.Gateway)
	secret4 := config.Default().Accounts[3].Secret
	bot, err := client.Dial(proxy.ln.Addr().String(), 4, secret4, client.Options{AutoFlush: true})
	if err != nil {
		t.Fatal(err)
	}
	defer bot.Close()
	bot.NewOrder(limit(1, wire.SideBuy, in.ReferencePrice-in.TickSize, 2))
	acc := next(t, bot, report(wire.ExecKindAccepted))

	proxy.Cut() // the network goes; the exchange sees nothing
	bot.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := bot.Next(); err == nil {
		t.Fatal("the cut connection still reads")
	}
	nb := redialThenSellInto(t, bot, addrs.Gateway, in)
	for _, r := range reportsBeforeStatus(t, nb) { // the seller's fill, read, came before
		if r.Kind == wire.ExecKindFill && r.OrderID == acc.Report.OrderID {
			return
		}
	}
	t.Fatalf("the client's new session did not get the fill of order %d before the answer to its later OrderStatus; the half-open old session, still registered (%d trading sessions of account 4), did",
		acc.Report.OrderID, len(n.gw.RoutesOf(4).Trading))
}

// A logon replacing another account's session, or one that is gone,
// closes nothing; the replaced session's disconnect counts as "replaced"
// and does not cancel the account's orders on disconnect.
func TestLogonReplacesOnlyItsAccountsSession(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	other := dial(t, addrs.Gateway, 2)
	secret1 := config.Default().Accounts[0].Secret // cancel-on-disconnect
	if _, err := client.Dial(addrs.Gateway, 1, secret1, client.Options{AutoFlush: true, ReplacesSession: other.Session}); err != nil {
		t.Fatal(err)
	}
	if n.gw.Session(other.Session) == nil {
		t.Fatal("a logon of account 1 closed account 2's session")
	}
	first := dial(t, addrs.Gateway, 1)
	in := cfg.Instruments[0]
	restBuy(t, first, in, 1)
	again, err := client.Dial(addrs.Gateway, 1, secret1, client.Options{AutoFlush: true, ReplacesSession: first.Session})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	waitUntil(t, func() bool { return n.gw.Session(first.Session) == nil })
	waitUntil(t, func() bool { return n.gw.Counters.Disconnects[gateway.CauseReplaced].Load() == 1 })
	again.OrderStatus(proto.OrderStatus{})
	if live := next(t, again, report(wire.ExecKindStatusDone)).Report.Quantity; live != 1 {
		t.Fatalf("after its session was replaced, account 1 has %d live orders, want 1 (no cancel-on-disconnect)", live)
	}
}

// A Cancel by another session of the account reaches the session that
// entered the order once (TestCancelByAnotherSessionReachesTheOwner). When
// the cancelling session is gone by the time its report is routed (it
// cancelled and hung up), deliver sends the report to every trading
// session of the account — the owner among them — and the MakerSession
// copy went to the owner again: two Cancelled reports of one order (found
// by a review helper).
func TestCancelByASessionThatLeftReachesTheOwnerOnce(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	setConfig(t, cfg, map[string]string{"gateway.logon_rate": "0"}) // a logon per round
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	owner := dial(t, addrs.Gateway, 1)
	in := cfg.Instruments[0]
	var ids []uint64
	cancels := map[uint64]int{}
	countCancel := func(r proto.Report) {
		if r.Kind == wire.ExecKindCancelled {
			cancels[r.OrderID]++
		}
	}
	for i := range 20 {
		owner.NewOrder(limit(uint64(i+1), wire.SideBuy, in.ReferencePrice-in.TickSize, in.LotSize))
		var acc client.Message
		owner.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			m, err := owner.Next()
			if err != nil {
				t.Fatal(err)
			}
			if m.Type == wire.MessageExecutionReport {
				countCancel(m.Report)
			}
			if m.Type == wire.MessageExecutionReport && m.Report.Kind == wire.ExecKindAccepted {
				acc = m
				break
			}
		}
		ids = append(ids, acc.Report.OrderID)
		other, err := client.Dial(addrs.Gateway, 1, config.Default().Accounts[0].Secret, client.Options{AutoFlush: true})
		if err != nil {
			t.Fatal(err)
		}
		other.Cancel(proto.Cancel{OrderID: acc.Report.OrderID, Instrument: in.ID})
		other.Logout() // and hangs up: its cancel is in before its logout
		other.SetReadDeadline(time.Now().Add(2 * time.Second))
		for {
			if _, err := other.Next(); err != nil {
				break
			}
		}
		other.Close()
	}
	// The last rounds' Cancelled reports may come after the loop (a
	// cancel the node took after the next round's order): each awaited,
	// then a second copy of any came before the answer to a later
	// OrderStatus, which the owner sends once it has heard of every cancel.
	allHeard := func() bool {
		return !slices.ContainsFunc(ids, func(id uint64) bool { return cancels[id] == 0 })
	}
	if !allHeard() {
		reportsUntil(owner, 20*time.Second, func(r proto.Report) bool { countCancel(r); return allHeard() })
	}
	for _, r := range reportsBeforeStatus(t, owner) {
		countCancel(r)
	}
	for _, id := range ids {
		if cancels[id] != 1 {
			t.Errorf("order %d: its owner got %d Cancelled reports, want 1", id, cancels[id])
		}
	}
}
