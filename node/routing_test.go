package node

import (
	"testing"
	"time"

	"github.com/ringex/ringex/client"
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
