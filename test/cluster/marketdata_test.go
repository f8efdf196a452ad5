package cluster

import (
	"errors"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// mdSnapshot subscribes to the demo instrument on addr: its book
// snapshot, or the SubscribeReject that answered.
func mdSnapshot(t *testing.T, addr string) client.Message {
	t.Helper()
	md, err := client.DialMarketData(addr, client.Options{AutoFlush: true})
	if err != nil {
		t.Fatal(err)
	}
	defer md.Close()
	md.Subscribe(testkit.DemoInstrument)
	md.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		m, err := md.Next()
		if err != nil {
			t.Fatalf("subscribing on %s: %v", addr, err)
		}
		if m.Type == wire.MessageBookSnapshot || m.Type == wire.MessageSubscribeReject {
			return m
		}
	}
}

// subscribedCurrent dials the market-data port at addr and subscribes
// to the demo instrument until it is answered the book snapshot
// (testkit.SubscribeCurrent: a member refuses Subscribe NotCurrent from
// its start until it has caught up), within 10 s; it returns the
// connection, the snapshot read.
func subscribedCurrent(t *testing.T, addr string) *client.Client {
	t.Helper()
	md, err := client.DialMarketData(addr, client.Options{AutoFlush: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := testkit.SubscribeCurrent(md, testkit.DemoInstrument, time.Now().Add(10*time.Second)); err != nil {
		md.Close()
		t.Fatalf("market data at %s: %v", addr, err)
	}
	return md
}

// restOrders rests n orders of account 4 (which keeps its orders when it
// logs off) at the leader of gateways, each acknowledged (restAtLeader).
func restOrders(t *testing.T, gateways []string, base uint64, n int) {
	t.Helper()
	orders := make([]proto.NewOrder, n)
	for i := range orders {
		orders[i] = testkit.RestingOrder(base+uint64(i), int64(1+i%5), 1)
	}
	restAtLeader(t, gateways, orders...).Close()
}

// restAtLeader logs account 4 on at the leader of gateways
// (client.DialCluster) and rests orders there one at a time, each
// acknowledged, and returns the client, logged on at the leader that
// acknowledged the last. A leader that stops leading closes its
// sessions not_leader — on a loaded machine a pause runs its lease out
// at any time — and restAtLeader logs on at the next leader and sends
// the order not acknowledged again: there, an Accepted, or a rejection
// as a duplicate of a live client order id (the leader before committed
// it), says it rests. Any other answer, or no leader resting them all
// within 30 s, fails the test.
func restAtLeader(t *testing.T, gateways []string, orders ...proto.NewOrder) *client.Client {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var cl *client.Client
	logOn := func() {
		var err error
		cl, err = client.DialCluster(gateways, 4, "demo-secret-4", client.Options{AutoFlush: true}, time.Until(deadline))
		if err != nil {
			t.Fatalf("account 4 at the leader of %v: %v", gateways, err)
		}
		cl.SetReadDeadline(deadline)
	}
	logOn()
	resent := false // the order was sent to a leader before
	for i := 0; i < len(orders); {
		id := orders[i].ClientOrderID
		cl.NewOrder(orders[i])
		m, err := cl.Next()
		for err == nil && (m.Type != wire.MessageExecutionReport || m.Report.ClientOrderID != id) {
			m, err = cl.Next()
		}
		var closed *client.ClosedError
		switch {
		case errors.As(err, &closed) && closed.Cause == wire.ClosingCauseNotLeader:
			t.Logf("order %d at %s: %v; logging on at the next leader", id, cl.RemoteAddr(), err)
			cl.Close()
			logOn()
			resent = true
			continue
		case err != nil:
			cl.Close()
			t.Fatalf("order %d at %s: %v", id, cl.RemoteAddr(), err)
		case m.Report.Kind == wire.ExecKindAccepted,
			resent && m.Report.Kind == wire.ExecKindRejected && m.Report.Reason == uint8(engine.ReasonDuplicateClOrdID):
			i, resent = i+1, false
		default:
			cl.Close()
			t.Fatalf("order %d at %s answered %s (reason %d), want Accepted", id, cl.RemoteAddr(), m.Report.Kind, m.Report.Reason)
		}
	}
	return cl
}

// A leader found and then cut off before the orders reach it, as a
// re-election under load leaves it: restAtLeader rests them at the next
// leader — the cut-off one, if it took the logon, closes the session
// not_leader once it steps down, and the order it never committed is
// sent there again.
func TestRestAtLeaderFollowsTheLead(t *testing.T) {
	c := startCluster(t)
	l := c.leader(10 * time.Second)
	l.admin(t, "/cluster/isolate?on=true")
	cl := restAtLeader(t, c.gatewaysFrom(l), testkit.RestingOrder(1, 1, 1), testkit.RestingOrder(2, 1, 1))
	defer cl.Close()
	if got := c.at(cl.RemoteAddr()); got == l {
		t.Fatalf("the orders rested at node %d, cut off from the others", l.id)
	}
}

// A member cut off from the others (a follower, as when the network
// between members splits) stops serving its frozen book: within a few
// seconds its subscriber is told NotCurrent and closed, and a Subscribe
// there is refused, while the market trades on at the leader. Before,
// the subscriber heard nothing at all — no update, no status, no close —
// and a new one got the stale book. Healed, the member serves again, a
// book that takes in everything the leader's does (its input_seq at
// least the leader's).
func TestCutOffMemberStopsServingMarketData(t *testing.T) {
	c := startCluster(t)
	l := c.leader(10 * time.Second)
	f := c.other(l)
	md := subscribedCurrent(t, f.proc.MarketData())
	defer md.Close()

	f.admin(t, "/cluster/isolate?on=true")
	cut := time.Now()
	restOrders(t, []string{l.gateway, c.other(l, f).gateway}, 100, 5) // f is cut off
	// Bounded well past mdLeaderGrace (2 s): it waits no longer on a
	// healthy node, and the old code never closed.
	md.SetReadDeadline(cut.Add(8 * time.Second))
	var told bool
	for {
		m, err := md.Next()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("8 s after member %d was cut off, its subscriber is still open and was told nothing (NotCurrent: %v)", f.id, told)
		}
		if err != nil {
			break // closed
		}
		if m.Type == wire.MessageSubscribeReject {
			told = told || m.Instrument == testkit.DemoInstrument && m.SubscribeReject == wire.SubscribeRejectReasonNotCurrent
		}
	}
	if !told {
		t.Fatalf("member %d closed its subscriber without SubscribeReject{NotCurrent}", f.id)
	}
	t.Logf("cut-off member %d closed its subscriber %v after the cut", f.id, time.Since(cut).Round(time.Millisecond))
	if m := mdSnapshot(t, f.proc.MarketData()); m.Type != wire.MessageSubscribeReject || m.SubscribeReject != wire.SubscribeRejectReasonNotCurrent {
		t.Fatalf("Subscribe on the cut-off member %d answered %s, want SubscribeReject{NotCurrent}", f.id, wire.EnumNamesMessage[m.Type])
	}

	f.admin(t, "/cluster/isolate?on=false")
	want := mdSnapshot(t, l.proc.MarketData())
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := mdSnapshot(t, f.proc.MarketData())
		// The same book, not the same input_seq: a snapshot's is at or
		// after the book's last change, later on a member that rebuilt
		// its image later (proto/README.md).
		if got.Type == wire.MessageBookSnapshot && slices.Equal(got.Bids, want.Bids) && slices.Equal(got.Asks, want.Asks) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("healed member %d: %s at input %d 20 s on, want the leader's book at input %d", f.id,
				wire.EnumNamesMessage[got.Type], got.InputSeq, want.InputSeq)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
