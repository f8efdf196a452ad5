package engine

import "testing"

// A resting order cancelled by self-trade prevention is reported to the
// session that entered it, like its fills (MakerSession): the incoming
// order may come from another session of the same account, which did not
// ask for the resting order to go.
func TestSTPCancelRestingReportsToOwningSession(t *testing.T) {
	var rec recorder
	e, err := NewEngine(Config{
		Instruments: []Instrument{{ID: 1, TickSize: 1, LotSize: 1}},
		Accounts:    []Account{{ID: 1}, {ID: 2}},
	}, &rec)
	if err != nil {
		t.Fatal(err)
	}
	e.Apply(&Command{Seq: 1, Session: 30, Type: CmdNewOrder, Account: 2, Instrument: 1, Side: Sell,
		OrderType: Limit, TIF: GTC, Price: 101, Quantity: 50})
	seq := int64(1)
	for _, stp := range []STP{STPCancelResting, STPCancelBoth} {
		// Session 10 of account 1 quotes; session 20 of account 1 hedges.
		rec.events = nil
		seq++
		e.Apply(&Command{Seq: seq, Session: 10, Type: CmdNewOrder, Account: 1, Instrument: 1, Side: Sell,
			OrderType: Limit, TIF: GTC, Price: 100, Quantity: 5, ClientOrderID: 1})
		quote := rec.events[0].OrderID
		rec.events = nil
		seq++
		e.Apply(&Command{Seq: seq, Session: 20, Type: CmdNewOrder, Account: 1, Instrument: 1, Side: Buy,
			OrderType: Limit, TIF: IOC, Price: 101, Quantity: 1, STP: stp, ClientOrderID: 2})
		found := false
		for _, ev := range rec.events {
			if ev.Type == EvCancelled && ev.OrderID == quote {
				found = true
				if ev.Session != 10 {
					t.Errorf("STP %d: resting order (entered by session 10) cancelled: reported to session %d, want 10", stp, ev.Session)
				}
			}
		}
		if !found {
			t.Fatalf("STP %d: no cancel of the resting order: %s", stp, formatEvents(rec.events))
		}
	}
}
