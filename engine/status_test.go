package engine

import "testing"

// A long list comes a page at a time: MaxStatusOrders orders and
// StatusMore, then the next page after the last id listed — also when
// that order is gone by then — until a page that is not full.
func TestOrderStatusPages(t *testing.T) {
	cfg := Config{Instruments: []Instrument{{ID: 1, Symbol: "X", TickSize: 1, LotSize: 1},
		{ID: 2, Symbol: "Y", TickSize: 1, LotSize: 1}}, Accounts: []Account{{ID: 7}, {ID: 8}}}
	var rec recorder
	e, err := NewEngine(cfg, &rec)
	if err != nil {
		t.Fatal(err)
	}
	seq := int64(0)
	apply := func(c Command) []Event {
		seq++
		c.Seq = seq
		rec.events = rec.events[:0]
		e.Apply(&c)
		if err := checkInvariants(e); err != nil {
			t.Fatal(err)
		}
		return rec.events
	}
	const total = 2*MaxStatusOrders + 500
	for i := 0; i < total; i++ {
		apply(Command{Type: CmdNewOrder, Account: 7, Instrument: uint32(1 + i%2), Side: Buy, OrderType: Limit, TIF: GTC,
			Price: 100, Quantity: 1})
		if i%10 == 0 { // another account's orders in between
			apply(Command{Type: CmdNewOrder, Account: 8, Instrument: 1, Side: Buy, OrderType: Limit, TIF: GTC, Price: 99, Quantity: 1})
		}
	}
	page := func(instrument uint32, after uint64) (ids []uint64, more bool) {
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
		return ids, done.Reason == StatusMore
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
			ids, more := page(instrument, after)
			if len(ids) > MaxStatusOrders || (more && len(ids) != MaxStatusOrders) {
				t.Fatalf("page %d: %d orders, more %v", pages, len(ids), more)
			}
			all = append(all, ids...)
			if !more {
				break
			}
			after = ids[len(ids)-1]
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
