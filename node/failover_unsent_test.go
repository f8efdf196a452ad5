package node

import (
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
	old := readyLeader(t, ns, nil)
	addrs := gatewayAddrs(ns)
	in := ns[0].cfg.Instruments[0]
	bot, err := client.Dial(old.gw.Addr().String(), 4, config.Default().Accounts[3].Secret, client.Options{AutoFlush: true})
	if err != nil {
		t.Fatal(err)
	}
	defer bot.Close()
	bot.NewOrder(limit(1, wire.SideBuy, in.ReferencePrice-in.TickSize, 1))
	acked := next(t, bot, report(wire.ExecKindAccepted)).Report

	old.cl.r.Isolate(true)
	defer old.cl.r.Isolate(false)
	bot.NewOrder(limit(2, wire.SideBuy, in.ReferencePrice-2*in.TickSize, 1))
	bot.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		m, err := bot.Next()
		if err != nil {
			break // the cut-off leader stepped down and closed the session
		}
		if m.Type == wire.MessageExecutionReport && m.Report.ClientOrderID == 2 {
			t.Fatalf("a cut-off leader reported order 2 (%s, input %d) before any majority held it", m.Report.Kind, m.Report.InputSeq)
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
		if m.Type == wire.MessageExecutionReport && m.Report.ClientOrderID == 2 {
			t.Errorf("the next leader reports order 2 (%s, input %d), never committed", m.Report.Kind, m.Report.InputSeq)
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
			if m.Report.ClientOrderID == 1 && m.Report.OrderID != acked.OrderID {
				t.Errorf("order 1 listed as order id %d, acknowledged as %d", m.Report.OrderID, acked.OrderID)
			}
		}
	}
	if len(live) != 1 || live[0] != 1 {
		t.Fatalf("live orders %v after the failover, want [1]: the acknowledged one, not the uncommitted one", live)
	}
	nb.NewOrder(limit(2, wire.SideBuy, in.ReferencePrice-2*in.TickSize, 1))
	if m := next(t, nb, func(m client.Message) bool {
		return m.Type == wire.MessageExecutionReport && m.Report.ClientOrderID == 2 && m.Seq == 0
	}); m.Report.Kind != wire.ExecKindAccepted {
		t.Fatalf("order 2 sent again: %s reason %d, want accepted (its first was never applied)", m.Report.Kind, m.Report.Reason)
	}
	nb.NewOrder(limit(1, wire.SideBuy, in.ReferencePrice-3*in.TickSize, 1))
	if m := next(t, nb, func(m client.Message) bool {
		return m.Type == wire.MessageExecutionReport && m.Report.ClientOrderID == 1 && m.Seq == 0 && m.Report.InputSeq > acked.InputSeq
	}); m.Report.Kind != wire.ExecKindRejected || m.Report.Reason != uint8(engine.ReasonDuplicateClOrdID) {
		t.Fatalf("order 1 sent again: %s reason %d, want rejected as a duplicate (its first is live)", m.Report.Kind, m.Report.Reason)
	}
}
