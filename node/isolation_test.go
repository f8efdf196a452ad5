package node

import (
	"testing"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// A session acts only for its own account: account 2 naming account 1's
// order by its exchange id (cancel, replace, status, a status cursor
// below it), both using client order id 1, and account 2's mass cancel
// touch and show nothing of account 1's, and account 1 hears nothing of
// it.
func TestSessionActsOnlyForItsAccount(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	in := cfg.Instruments[0]
	report := func(m client.Message) bool { return m.Type == wire.MessageExecutionReport }
	c1, c2 := dial(t, addrs.Gateway, 1), dial(t, addrs.Gateway, 2)
	c1.NewOrder(limit(1, wire.SideBuy, in.ReferencePrice-in.TickSize, in.LotSize))
	a1 := next(t, c1, report).Report
	c2.NewOrder(limit(1, wire.SideBuy, in.ReferencePrice-2*in.TickSize, in.LotSize))
	a2 := next(t, c2, report).Report
	if a1.Kind != wire.ExecKindAccepted || a2.Kind != wire.ExecKindAccepted {
		t.Fatalf("orders: %+v, %+v", a1, a2)
	}
	c2.Cancel(proto.Cancel{OrderID: a1.OrderID, Instrument: 1})
	if m := next(t, c2, report); m.Report.Kind != wire.ExecKindRejected {
		t.Fatalf("cancel of another account's order by id: %+v", m.Report)
	}
	c2.Replace(proto.Replace{OrderID: a1.OrderID, Instrument: 1, Price: in.ReferencePrice - 3*in.TickSize, Quantity: in.LotSize})
	if m := next(t, c2, report); m.Report.Kind != wire.ExecKindRejected {
		t.Fatalf("replace of another account's order by id: %+v", m.Report)
	}
	c2.OrderStatus(proto.OrderStatus{OrderID: a1.OrderID})
	if m := next(t, c2, report); m.Report.Kind != wire.ExecKindStatusDone || m.Report.Quantity != 0 {
		t.Fatalf("status of another account's order by id: %+v", m.Report)
	}
	c2.OrderStatus(proto.OrderStatus{AfterOrderID: a1.OrderID - 1})
	if m := next(t, c2, report); m.Report.OrderID != a2.OrderID {
		t.Fatalf("listing after a cursor below another account's order: %+v", m.Report)
	}
	c2.Cancel(proto.Cancel{OrigClientOrderID: 1, Instrument: 1}) // its own client order id 1
	if m := next(t, c2, func(m client.Message) bool {
		return report(m) && m.Report.Kind != wire.ExecKindStatusDone
	}); m.Report.Kind != wire.ExecKindCancelled || m.Report.OrderID != a2.OrderID {
		t.Fatalf("cancel by a client order id both accounts use: %+v", m.Report)
	}
	c2.MassCancel(0) // every instrument: account 2 holds nothing now
	if m := next(t, c2, func(m client.Message) bool {
		return report(m) && m.Report.Kind == wire.ExecKindMassCancelDone
	}); m.Report.Quantity != 0 || m.Report.Account != 2 {
		t.Fatalf("account 2's mass cancel with no live order of its own: %+v", m.Report)
	}
	c1.OrderStatus(proto.OrderStatus{})
	if m := next(t, c1, report); m.Report.Kind != wire.ExecKindStatus || m.Report.OrderID != a1.OrderID || m.Report.Price != a1.Price {
		t.Fatalf("account 1 read %+v after account 2's attempts: it heard of them, or its order changed", m.Report)
	}
}

// A trading session cannot send the operator's inputs: a Halt, a Resume,
// a suspension of its own account or its lifting, a snapshot request —
// control inputs only the node itself puts in the ring — sent as raw
// frames on the order-entry port are each refused unknown-command, and
// the book, the account and the other account's order are as before.
func TestSessionCannotSendControlInputs(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	in := cfg.Instruments[0]
	c1, c2 := dial(t, addrs.Gateway, 1), dial(t, addrs.Gateway, 2)
	a1 := restBuy(t, c1, in, 1).Report
	e := proto.NewEncoder()
	for _, frame := range []struct {
		name string
		raw  func(seq uint64) []byte
	}{
		{"Halt", func(seq uint64) []byte { return e.Halt(seq, in.ID) }},
		{"Halt cancelling orders", func(seq uint64) []byte { return e.HaltAndCancelOrders(seq, in.ID) }},
		{"Resume", func(seq uint64) []byte { return e.Resume(seq, in.ID) }},
		{"SuspendAccount", e.SuspendAccount},
		{"ResumeAccount", e.ResumeAccount},
		{"SnapshotRequest", e.SnapshotRequest},
	} {
		c2.SendRaw(frame.raw(7))
		if r := next(t, c2, report(wire.ExecKindRejected)).Report; r.Reason != uint8(engine.ReasonUnknownCommand) {
			t.Fatalf("%s from a trading session: rejected for reason %d, want unknown-command", frame.name, r.Reason)
		}
	}
	if r := restBuy(t, c2, in, 2).Report; r.Instrument != in.ID {
		t.Fatalf("account 2's order after its control frames: %+v", r)
	}
	c1.OrderStatus(proto.OrderStatus{})
	if m := next(t, c1, report(wire.ExecKindStatus)); m.Report.OrderID != a1.OrderID {
		t.Fatalf("account 1 read %+v after account 2's control frames, want its order %d live", m.Report, a1.OrderID)
	}
}
