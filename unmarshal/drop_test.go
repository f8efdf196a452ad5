package unmarshal

import (
	"testing"

	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/input"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// seen keeps the events an engine emits.
type seen []engine.Event

func (s *seen) Emit(ev *engine.Event) { *s = append(*s, *ev) }

// A node-issued input the operator dropped — a cancel-on-disconnect's
// mass cancel, an operator's suspension, stamped with the account, from
// session 0 — was refused as any client input: a Rejected of the
// account (dropped-by-operator, client order id 0) that the execution
// sender delivers to every trading and drop-copy session of the account
// (none is its session) and that every resend repeats — a reject of a
// message none of its clients sent. The engine answers a dropped
// node-issued input to no client: nothing, or a query's refusal.
func TestADroppedNodeInputIsNoReportOfTheAccount(t *testing.T) {
	cfg := engine.Config{
		Instruments: []engine.Instrument{{ID: 1, Symbol: "T", TickSize: 1, LotSize: 1, PriceBand: 1000, ReferencePrice: 1000}},
		Accounts:    []engine.Account{{ID: 5}},
	}
	e := proto.NewEncoder()
	for _, tc := range []struct {
		name    string
		account uint32 // as the node stamps it
		frame   []byte
	}{
		{"cancel-on-disconnect", 5, e.MassCancel(0, 0)},
		{"suspend", 5, e.SuspendAccount(0)},
		{"resume account", 5, e.ResumeAccount(0)},
		{"halt", 0, e.Halt(0, 1)},
		{"snapshot request", 0, e.SnapshotRequest(0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var evs seen
			eng, err := engine.NewEngine(cfg, &evs)
			if err != nil {
				t.Fatal(err)
			}
			s := &input.Slot{RecvTime: 123, Session: 0, Account: tc.account, Kind: input.KindControl}
			if !s.SetPayload(tc.frame[proto.PrefixSize:]) {
				t.Fatal("frame does not fit a slot")
			}
			before := eng.StateHash()
			Drop(7, s)
			eng.Apply(&s.Cmd)
			if eng.StateHash() != before {
				t.Fatalf("the dropped %s changed the state", tc.name)
			}
			for _, ev := range evs {
				if ev.Type != engine.EvRejected || ev.Query {
					t.Fatalf("the dropped %s emitted %+v", tc.name, ev)
				}
				if ev.Account != 0 {
					t.Fatalf("the dropped %s is refused in a report of account %d (session %d, client order id %d), which its sessions and resends get: %+v",
						tc.name, ev.Account, ev.Session, ev.ClientOrderID, ev)
				}
			}
		})
	}
	// A client's input is still refused to its session.
	var evs seen
	eng, _ := engine.NewEngine(cfg, &evs)
	s := &input.Slot{RecvTime: 123, Session: 9, Account: 5, Kind: input.KindClient}
	f := e.NewOrder(0, proto.NewOrder{ClientOrderID: 41, Instrument: 1, Side: wire.SideBuy, Type: wire.OrderTypeLimit, TIF: wire.TimeInForceGTC, Price: 1000, Quantity: 1})
	s.SetPayload(f[proto.PrefixSize:])
	Drop(8, s)
	eng.Apply(&s.Cmd)
	if len(evs) != 1 || evs[0].Type != engine.EvRejected || engine.RejectReason(evs[0].Reason) != engine.ReasonDroppedByOperator ||
		evs[0].Session != 9 || evs[0].ClientOrderID != 41 {
		t.Fatalf("a dropped client order: %+v, want its rejection to session 9", evs)
	}
}
