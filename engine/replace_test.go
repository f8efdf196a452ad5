package engine

import "testing"

// A replace to a total at or below what already traded cancels the order
// (CancelReplacedToZero), reported as the order stood — like every other
// Cancelled report, Quantity = traded + Leaves (the leaves cancelled) —
// not with the replace's new total, which made quantity − leaves (what a
// client reads as traded) negative.
func TestReplacedToZeroReportsTheOrderAsItStood(t *testing.T) {
	var rec recorder
	e, err := NewEngine(Config{
		Instruments: []Instrument{{ID: 1, Symbol: "X", TickSize: 1, LotSize: 1}},
		Accounts:    []Account{{ID: 1}, {ID: 2}},
	}, &rec)
	if err != nil {
		t.Fatal(err)
	}
	e.Apply(&Command{Seq: 1, Type: CmdNewOrder, Account: 1, Instrument: 1, Side: Sell, OrderType: Limit, TIF: GTC, Price: 100, Quantity: 10})
	e.Apply(&Command{Seq: 2, Type: CmdNewOrder, Account: 2, Instrument: 1, Side: Buy, OrderType: Limit, TIF: GTC, Price: 100, Quantity: 4})
	rec.events = nil
	// Order 1 has traded 4 of 10; 6 are open. Replace to a total of 3.
	e.Apply(&Command{Seq: 3, Type: CmdReplace, Account: 1, OrderID: 1, Price: 100, Quantity: 3})
	if len(rec.events) != 1 || rec.events[0].Type != EvCancelled || CancelReason(rec.events[0].Reason) != CancelReplacedToZero {
		t.Fatalf("events: %s", formatEvents(rec.events))
	}
	if ev := rec.events[0]; ev.Quantity != 10 || ev.Leaves != 6 {
		t.Fatalf("cancelled report: quantity %d leaves %d, want 10 and 6 (4 traded)", ev.Quantity, ev.Leaves)
	}
}

// At MaxLiveOrders live orders (lowered here) a new order is refused
// (overflow) — a level's total, the sum of its orders' leaves, cannot
// overflow — and taken again once one leaves the book.
func TestLiveOrdersBounded(t *testing.T) {
	var rec recorder
	e, err := NewEngine(Config{
		Instruments: []Instrument{{ID: 1, Symbol: "X", TickSize: 1, LotSize: 1}},
		Accounts:    []Account{{ID: 1}},
	}, &rec)
	if err != nil {
		t.Fatal(err)
	}
	e.maxLive = 3
	place := func(seq int64) Event {
		rec.events = nil
		e.Apply(&Command{Seq: seq, Type: CmdNewOrder, Account: 1, Instrument: 1, Side: Buy, OrderType: Limit, TIF: GTC,
			Price: 100, Quantity: MaxQuantity})
		return rec.events[0]
	}
	for seq := int64(1); seq <= 3; seq++ {
		if ev := place(seq); ev.Type != EvAccepted {
			t.Fatalf("order %d: %s", seq, formatEvents(rec.events))
		}
	}
	if ev := place(4); ev.Type != EvRejected || RejectReason(ev.Reason) != ReasonOverflow {
		t.Fatalf("order beyond the bound: %s", formatEvents(rec.events))
	}
	e.Apply(&Command{Seq: 5, Type: CmdCancel, Account: 1, OrderID: 2})
	if ev := place(6); ev.Type != EvAccepted {
		t.Fatalf("after a cancel: %s", formatEvents(rec.events))
	}
	if err := checkInvariants(e); err != nil {
		t.Fatal(err)
	}
}
