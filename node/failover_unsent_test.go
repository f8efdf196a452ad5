package node

import (
	"slices"
	"testing"
	"time"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// An order sent to a leader that is cut off from the others (never
// committed, never acknowledged) is not left ambiguous after the client
// moves to the next leader: Redial's resend, answered in full, holds no
// report of it — it was never applied — and OrderStatus does not list
// it; its client order id, sent again, is a new order, not a duplicate.
// The order acknowledged before the cut is on the next leader.
func TestUncommittedOrderResolvedAfterFailover(t *testing.T) {
	ns := startTestCluster(t)
	addrs := gatewayAddrs(ns)
	in := ns[0].cfg.Instruments[0]
	// The acknowledged order is the leader's cut off, logged on and
	// acknowledged while it led in the term it is cut in
	// (cutOffLeaderAfter): a lead moved before the logon has the session
	// on another member (Dial follows the redirect), one moved before the
	// acknowledgement drops it, one moved before the cut leaves a
	// follower cut off. Each try's order has the try's number for its
	// client order id: one a try let go may have been committed all the
	// same, and be live beside the one acknowledged.
	const unsent = 1 << 20 // the order sent to the leader cut off
	var (
		bot    *client.Client
		acked  proto.Report
		ackErr error
		tries  uint64
	)
	old := cutOffLeaderAfter(t, ns, func(n *Node) func() {
		tries++
		bot, ackErr = client.Dial(n.gw.Addr().String(), 4, config.Default().Accounts[3].Secret, client.Options{AutoFlush: true})
		if ackErr != nil {
			return nil
		}
		bot.NewOrder(limit(tries, wire.SideBuy, in.ReferencePrice-in.TickSize, 1))
		acked, ackErr = acceptedWithin(bot, tries)
		c := bot
		return func() { c.Close() }
	})
	defer old.cl.r.Isolate(false)
	if ackErr != nil {
		t.Fatalf("the leader did not acknowledge the order before its cut: %v", ackErr)
	}
	defer bot.Close()

	bot.NewOrder(limit(unsent, wire.SideBuy, in.ReferencePrice-2*in.TickSize, 1))
	bot.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		m, err := bot.Next()
		if err != nil {
			break // the cut-off leader stepped down and closed the session
		}
		if m.Type == wire.MessageExecutionReport && m.Report.ClientOrderID == unsent {
			t.Fatalf("a cut-off leader reported order %d (%s, input %d) before any majority held it", unsent, m.Report.Kind, m.Report.InputSeq)
		}
	}
	leader := readyLeader(t, ns, old)
	nb, tag, err := bot.Redial(addrs, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nb.Close()
	if nb.RemoteAddr() != leader.gw.Addr().String() {
		t.Logf("logged on to %s, leader %s", nb.RemoteAddr(), leader.gw.Addr())
	}
	done := readResend(t, nb, tag, 10*time.Second, func(m client.Message) {
		if m.Type == wire.MessageExecutionReport && m.Report.ClientOrderID == unsent {
			t.Errorf("the next leader reports order %d (%s, input %d), never committed", unsent, m.Report.Kind, m.Report.InputSeq)
		}
	})
	if done.Reason != proto.ResendComplete {
		t.Fatalf("Redial's resend ended %+v, want complete", done)
	}
	nb.OrderStatus(proto.OrderStatus{})
	var live []uint64
	for {
		m := next(t, nb, func(m client.Message) bool { return m.Type == wire.MessageExecutionReport })
		if m.Report.Kind == wire.ExecKindStatusDone {
			break
		}
		if m.Report.Kind == wire.ExecKindStatus {
			live = append(live, m.Report.ClientOrderID)
			if m.Report.ClientOrderID == acked.ClientOrderID && m.Report.OrderID != acked.OrderID {
				t.Errorf("order %d listed as order id %d, acknowledged as %d", acked.ClientOrderID, m.Report.OrderID, acked.OrderID)
			}
		}
	}
	// The acknowledged order, not the uncommitted one; orders of tries
	// let go (client order ids below the acknowledged one's) may be
	// there too.
	if !slices.Contains(live, acked.ClientOrderID) || slices.ContainsFunc(live, func(id uint64) bool { return id > acked.ClientOrderID }) {
		t.Fatalf("live orders %v after the failover, want %d (the acknowledged one, not the uncommitted %d) and at most tries let go before it", live, acked.ClientOrderID, uint64(unsent))
	}
	nb.NewOrder(limit(unsent, wire.SideBuy, in.ReferencePrice-2*in.TickSize, 1))
	if m := next(t, nb, func(m client.Message) bool {
		return m.Type == wire.MessageExecutionReport && m.Report.ClientOrderID == unsent && m.Seq == 0
	}); m.Report.Kind != wire.ExecKindAccepted {
		t.Fatalf("order %d sent again: %s reason %d, want accepted (its first was never applied)", unsent, m.Report.Kind, m.Report.Reason)
	}
	nb.NewOrder(limit(acked.ClientOrderID, wire.SideBuy, in.ReferencePrice-3*in.TickSize, 1))
	if m := next(t, nb, func(m client.Message) bool {
		return m.Type == wire.MessageExecutionReport && m.Report.ClientOrderID == acked.ClientOrderID && m.Seq == 0 && m.Report.InputSeq > acked.InputSeq
	}); m.Report.Kind != wire.ExecKindRejected || m.Report.Reason != uint8(engine.ReasonDuplicateClOrdID) {
		t.Fatalf("order %d sent again: %s reason %d, want rejected as a duplicate (its first is live)", acked.ClientOrderID, m.Report.Kind, m.Report.Reason)
	}
}
