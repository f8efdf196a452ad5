package engine

import "testing"

// statusEngine is an engine of instruments 1 and 2 and accounts 7 and 8,
// and apply, which numbers a command, applies it (checking the engine's
// invariants after it when check) and returns its events.
func statusEngine(t *testing.T, check bool) (*Engine, func(Command) []Event) {
	t.Helper()
	cfg := Config{Instruments: []Instrument{{ID: 1, Symbol: "X", TickSize: 1, LotSize: 1},
		{ID: 2, Symbol: "Y", TickSize: 1, LotSize: 1}}, Accounts: []Account{{ID: 7}, {ID: 8}}}
	var rec recorder
	e, err := NewEngine(cfg, &rec)
	if err != nil {
		t.Fatal(err)
	}
	seq := int64(0)
	return e, func(c Command) []Event {
		seq++
		c.Seq = seq
		rec.events = rec.events[:0]
		e.Apply(&c)
		if check {
			if err := checkInvariants(e); err != nil {
				t.Fatal(err)
			}
		}
		return rec.events
	}
}

// A long list comes a page at a time: MaxStatusOrders orders and
// StatusMore, then the next page after the cursor the page ended with —
// also when that order is gone by then — until a page without StatusMore.
func TestOrderStatusPages(t *testing.T) {
	e, apply := statusEngine(t, true)
	const total = 2*MaxStatusOrders + 500
	for i := 0; i < total; i++ {
		apply(Command{Type: CmdNewOrder, Account: 7, Instrument: uint32(1 + i%2), Side: Buy, OrderType: Limit, TIF: GTC,
			Price: 100, Quantity: 1})
		if i%10 == 0 { // another account's orders in between
			apply(Command{Type: CmdNewOrder, Account: 8, Instrument: 1, Side: Buy, OrderType: Limit, TIF: GTC, Price: 99, Quantity: 1})
		}
	}
	page := func(instrument uint32, after uint64) (ids []uint64, more bool, cursor uint64) {
		evs := apply(Command{Type: CmdOrderStatus, Account: 7, Instrument: instrument, ClientOrderID: after})
		done := evs[len(evs)-1]
		if done.Type != EvStatusDone || int(done.Quantity) != len(evs)-1 {
			t.Fatalf("page after %d ends with %s quantity %d after %d reports", after, done.Type, done.Quantity, len(evs)-1)
		}
		for _, ev := range evs[:len(evs)-1] {
			if ev.Account != 7 || (instrument != 0 && ev.Instrument != instrument) || ev.OrderID <= after {
				t.Fatalf("page after %d lists %+v", after, ev)
			}
			ids = append(ids, ev.OrderID)
		}
		if len(ids) > 0 && done.OrderID < ids[len(ids)-1] {
			t.Fatalf("page after %d lists up to %d and ends with cursor %d", after, ids[len(ids)-1], done.OrderID)
		}
		return ids, done.Reason == StatusMore, done.OrderID
	}
	for _, instrument := range []uint32{0, 2} {
		want := 0 // account 7's live orders there now
		for _, id := range []uint32{1, 2} {
			e.Orders(id, Buy, func(o OrderInfo) bool {
				if o.Account == 7 && (instrument == 0 || id == instrument) {
					want++
				}
				return true
			})
		}
		var all []uint64
		after := uint64(0)
		for pages := 0; ; pages++ {
			ids, more, cursor := page(instrument, after)
			if len(ids) > MaxStatusOrders || (more && len(ids) != MaxStatusOrders) {
				t.Fatalf("page %d: %d orders, more %v", pages, len(ids), more)
			}
			all = append(all, ids...)
			if !more {
				break
			}
			after = cursor
			if pages == 0 { // the cursor's order leaves before the next page
				if evs := apply(Command{Type: CmdCancel, Account: 7, OrderID: after}); evs[0].Type != EvCancelled {
					t.Fatalf("cancel of %d: %s", after, evs[0].Type)
				}
			}
		}
		for i := 1; i < len(all); i++ {
			if all[i] <= all[i-1] {
				t.Fatalf("instrument %d: order %d listed after %d", instrument, all[i], all[i-1])
			}
		}
		if len(all) != want || want <= MaxStatusOrders {
			t.Fatalf("instrument %d: %d orders listed, want %d (more than a page)", instrument, len(all), want)
		}
	}
}

// A listing in one instrument looks at the account's orders in every
// instrument to find those in it: at most MaxStatusVisits a page, so an
// account with many orders elsewhere cannot hold the engine for one
// request. Pages then come back empty with StatusMore and a cursor past
// what was looked at, until the orders in the instrument are reached.
func TestOrderStatusLooksAtAPageOfOrders(t *testing.T) {
	_, apply := statusEngine(t, false)
	const elsewhere = 2*MaxStatusVisits + 10
	var ids []uint64 // of the orders in instrument 1, in entry order
	for i := 0; i < elsewhere+3; i++ {
		instrument := uint32(1)
		if i >= elsewhere {
			instrument = 2
		}
		evs := apply(Command{Type: CmdNewOrder, Account: 7, Instrument: instrument, Side: Buy, OrderType: Limit, TIF: GTC,
			Price: 100, Quantity: 1})
		if instrument == 1 {
			ids = append(ids, evs[0].OrderID)
		}
	}
	cursor := uint64(0)
	var listed, pages int
	for more := true; more; pages++ {
		evs := apply(Command{Type: CmdOrderStatus, Account: 7, Instrument: 2, ClientOrderID: cursor})
		done := evs[len(evs)-1]
		if done.Type != EvStatusDone || int(done.Quantity) != len(evs)-1 {
			t.Fatalf("page %d: ends with %s quantity %d after %d reports", pages, done.Type, done.Quantity, len(evs)-1)
		}
		if pages < 2 && (len(evs) != 1 || done.Reason != StatusMore || done.OrderID != ids[(pages+1)*MaxStatusVisits-1]) {
			t.Fatalf("page %d: %d reports, reason %d, cursor %d; want none, more, cursor %d (looked at %d orders)",
				pages, len(evs)-1, done.Reason, done.OrderID, ids[(pages+1)*MaxStatusVisits-1], MaxStatusVisits)
		}
		for _, ev := range evs[:len(evs)-1] {
			if ev.Instrument != 2 {
				t.Fatalf("page %d lists %+v", pages, ev)
			}
		}
		listed += len(evs) - 1
		cursor, more = done.OrderID, done.Reason == StatusMore
	}
	if listed != 3 || pages != 3 {
		t.Fatalf("%d orders in %d pages, want 3 in 3", listed, pages)
	}
	// A cursor past the account's newest order answers at once: nothing.
	if evs := apply(Command{Type: CmdOrderStatus, Account: 7, ClientOrderID: 1 << 40}); len(evs) != 1 || evs[0].Quantity != 0 || evs[0].Reason != 0 {
		t.Fatalf("after the newest: %+v", evs)
	}
}
