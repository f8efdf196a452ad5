package engine

import (
	"fmt"
	"slices"
	"testing"
)

// allOrders lists instrument's resting orders, bids then asks, each in
// priority order.
func allOrders(e *Engine, instrument uint32) []OrderInfo {
	var out []OrderInfo
	for _, s := range []Side{Buy, Sell} {
		e.Orders(instrument, s, func(o OrderInfo) bool { out = append(out, o); return true })
	}
	return out
}

// The operator's halt with CancelOrders: every resting order of the
// instrument — several accounts', both sides, one partly filled — is
// cancelled with CancelInstrumentHalted and reported to the session that
// entered it; the other instrument keeps its orders; the instrument is
// halted and stays empty until resumed. The state afterwards is the one
// the owners' own cancels and a plain halt give: the command leaves
// nothing behind but the orders it removed.
func TestHaltCancellingOrders(t *testing.T) {
	cfg := Config{
		Instruments: []Instrument{{ID: 1, TickSize: 1, LotSize: 1}, {ID: 2, TickSize: 1, LotSize: 1}},
		Accounts:    []Account{{ID: 1}, {ID: 2}, {ID: 3}},
	}
	type placed struct {
		account    uint32
		session    uint64
		instrument uint32
		side       Side
		price, qty int64
	}
	orders := []placed{
		{1, 11, 1, Buy, 99, 5}, {2, 21, 1, Buy, 100, 3}, {3, 31, 1, Sell, 103, 4}, {1, 12, 1, Sell, 102, 2},
		{2, 22, 1, Buy, 99, 1}, {3, 31, 2, Buy, 50, 7}, {1, 11, 2, Sell, 60, 2},
		{3, 32, 1, Sell, 100, 1}, // takes 1 of account 2's bid at 100: that one is cancelled partly filled
	}
	var rec, twinRec recorder
	e, _ := NewEngine(cfg, &rec)
	twin, _ := NewEngine(cfg, &twinRec)
	seq := int64(0)
	apply := func(c Command) {
		seq++
		c.Seq, c.Timestamp = seq, seq*1000
		e.Apply(&c)
		twin.Apply(&c)
	}
	for i, o := range orders {
		apply(Command{Type: CmdNewOrder, Session: o.session, Account: o.account, Instrument: o.instrument, ClientOrderID: uint64(i + 1),
			Side: o.side, OrderType: Limit, TIF: GTC, Price: o.price, Quantity: o.qty})
	}
	if e.LastTrade(1) != 100 {
		t.Fatal("the crossing sell did not trade: the setup is off")
	}
	resting, other := allOrders(e, 1), allOrders(e, 2)
	if len(resting) != 5 || len(other) != 2 || resting[0].Filled != 1 {
		t.Fatalf("instrument 1 holds %+v and 2 %d orders, want 5 (the best bid partly filled) and 2", resting, len(other))
	}
	sessionOf := map[uint64]uint64{}
	for i, o := range orders {
		sessionOf[uint64(i+1)] = o.session
	}

	rec.events = nil
	seq++
	e.Apply(&Command{Type: CmdHalt, Seq: seq, Timestamp: seq * 1000, Instrument: 1, CancelOrders: true}) // the node's: no session
	if err := checkInvariants(e); err != nil {
		t.Fatal(err)
	}
	if len(rec.events) != 1+len(resting) || rec.events[0].Type != EvHalted || rec.events[0].Instrument != 1 {
		t.Fatalf("events:\n%s", formatEvents(rec.events))
	}
	for i, want := range resting { // bids then asks, in priority order
		ev := rec.events[1+i]
		if ev.Type != EvCancelled || CancelReason(ev.Reason) != CancelInstrumentHalted || ev.OrderID != want.ID ||
			ev.Account != want.Account || ev.Instrument != 1 || ev.Leaves != want.Leaves || ev.Quantity != want.Quantity {
			t.Fatalf("event %d: %s, want order %+v cancelled (instrument-halted)", 1+i, formatEvent(&ev), want)
		}
		if ev.Session != sessionOf[want.ClientOrderID] {
			t.Fatalf("order %d's cancel goes to session %d, it was entered by %d", want.ID, ev.Session, sessionOf[want.ClientOrderID])
		}
	}
	if got := allOrders(e, 1); len(got) != 0 {
		t.Fatalf("instrument 1 still holds %+v", got)
	}
	if got := allOrders(e, 2); !slices.Equal(got, other) {
		t.Fatalf("instrument 2 holds %+v, before the halt %+v", got, other)
	}
	if !e.Halted(1) || e.Halted(2) {
		t.Fatalf("halted: instrument 1 %v, 2 %v", e.Halted(1), e.Halted(2))
	}

	// The twin: each owner cancels its own orders, then a plain halt.
	for _, o := range resting {
		twin.Apply(&Command{Type: CmdCancel, Seq: seq, Timestamp: seq * 1000, Account: o.Account, OrderID: o.ID})
	}
	twin.Apply(&Command{Type: CmdHalt, Seq: seq, Timestamp: seq * 1000, Instrument: 1})
	if twin.LiveOrders() != e.LiveOrders() || twin.StateHash() != e.StateHash() {
		t.Fatalf("state hash %x with %d live orders; cancelled one by one and halted: %x with %d",
			e.StateHash(), e.LiveOrders(), twin.StateHash(), twin.LiveOrders())
	}

	rec.events = nil
	seq++
	e.Apply(&Command{Type: CmdNewOrder, Seq: seq, Account: 1, Instrument: 1, ClientOrderID: 1, Side: Buy, OrderType: Limit, TIF: GTC, Price: 99, Quantity: 1})
	if len(rec.events) != 1 || rec.events[0].Type != EvRejected || RejectReason(rec.events[0].Reason) != ReasonInstrumentHalted {
		t.Fatalf("a new order while halted: %s", formatEvents(rec.events))
	}
	seq++
	e.Apply(&Command{Type: CmdResume, Seq: seq, Instrument: 1})
	rec.events = nil
	seq++
	e.Apply(&Command{Type: CmdNewOrder, Seq: seq, Account: 1, Instrument: 1, ClientOrderID: 1, Side: Buy, OrderType: Limit, TIF: GTC, Price: 99, Quantity: 1})
	if len(rec.events) != 1 || rec.events[0].Type != EvAccepted || len(allOrders(e, 1)) != 1 {
		t.Fatalf("a new order after resume: %s", formatEvents(rec.events))
	}
	if err := checkInvariants(e); err != nil {
		t.Fatal(err)
	}
}

// A halt that cancels orders after a plain halt (the book halted with its
// orders) clears it the same; the cancelled orders count no more against
// their accounts' max_open_orders.
func TestHaltCancellingOrdersOfAHaltedBookReleasesOpenOrders(t *testing.T) {
	cfg := Config{
		Instruments: []Instrument{{ID: 1, TickSize: 1, LotSize: 1}, {ID: 2, TickSize: 1, LotSize: 1}},
		Accounts:    []Account{{ID: 1, MaxOpenOrders: 2}},
	}
	var rec recorder
	e, _ := NewEngine(cfg, &rec)
	seq := int64(0)
	apply := func(c Command) []Event {
		seq++
		c.Seq = seq
		rec.events = nil
		e.Apply(&c)
		return rec.events
	}
	place := func(instrument uint32, side Side, price int64) []Event {
		return apply(Command{Type: CmdNewOrder, Account: 1, Instrument: instrument, Side: side, OrderType: Limit, TIF: GTC, Price: price, Quantity: 1})
	}
	place(1, Buy, 10)
	place(1, Sell, 20)
	if evs := place(2, Buy, 10); evs[0].Type != EvRejected || RejectReason(evs[0].Reason) != ReasonMaxOpenOrders {
		t.Fatalf("a third order: %s", formatEvents(evs))
	}
	apply(Command{Type: CmdHalt, Instrument: 1})
	if len(allOrders(e, 1)) != 2 {
		t.Fatal("a plain halt cancelled orders")
	}
	if evs := apply(Command{Type: CmdHalt, Instrument: 1, CancelOrders: true}); len(evs) != 3 || evs[0].Type != EvHalted ||
		evs[1].Type != EvCancelled || evs[2].Type != EvCancelled {
		t.Fatalf("halting the halted book, cancelling orders: %s", formatEvents(evs))
	}
	if err := checkInvariants(e); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if evs := place(2, Buy, 10); evs[0].Type != EvAccepted {
			t.Fatalf("order %d of 2 after the halt: %s", i+1, formatEvents(evs))
		}
	}
	if evs := place(2, Buy, 10); evs[0].Type != EvRejected || RejectReason(evs[0].Reason) != ReasonMaxOpenOrders {
		t.Fatalf("a third order: %s", formatEvents(evs))
	}
}

// A halt that cancels a deep book tells market data of each level once,
// as it is removed (quantity and count 0), after the halt and in the
// cancels' order — not once per order: a level event per order told
// subscribers of states no input could see, and 1 000 000 orders on
// 1 000 levels came to 1 000 000 updates in one burst, which cut the
// instrument's subscribers off as slow consumers. Other commands still
// tell every change (the cancels before the halt, here).
func TestHaltCancellingOrdersTellsEachLevelOnce(t *testing.T) {
	cfg := Config{Instruments: []Instrument{{ID: 1, TickSize: 1, LotSize: 1}}, Accounts: []Account{{ID: 1}, {ID: 2}}}
	var rec recorder
	e, _ := NewEngine(cfg, &rec)
	e.SetMarketData(true)
	const perLevel = 4
	prices := map[Side][]int64{Buy: {99, 98, 97}, Sell: {101, 102}}
	seq := int64(0)
	for _, s := range []Side{Buy, Sell} {
		for _, p := range prices[s] {
			for k := range perLevel {
				seq++
				e.Apply(&Command{Type: CmdNewOrder, Seq: seq, Timestamp: seq, Session: uint64(k%2 + 1), Account: uint32(k%2 + 1),
					Instrument: 1, ClientOrderID: uint64(seq), Side: s, OrderType: Limit, TIF: GTC, Price: p, Quantity: 2})
			}
		}
	}
	seq++
	e.Apply(&Command{Type: CmdCancel, Seq: seq, Timestamp: seq, Session: 1, Account: 1, Instrument: 1, OrigClientOrderID: 1})
	if n := len(rec.events); rec.events[n-1].Type != EvBookLevel || rec.events[n-1].Count != perLevel-1 {
		t.Fatalf("a cancel's level event:\n%s", formatEvents(rec.events[n-2:]))
	}
	rec.events = nil
	seq++
	e.Apply(&Command{Type: CmdHalt, Seq: seq, Timestamp: seq, Instrument: 1, CancelOrders: true})
	var levels []string
	cancels := 0
	for _, ev := range rec.events {
		switch ev.Type {
		case EvCancelled:
			cancels++
		case EvBookLevel:
			if ev.Quantity != 0 || ev.Count != 0 {
				t.Fatalf("a level event short of the level's end: %+v", ev)
			}
			levels = append(levels, fmt.Sprintf("%v@%d after %d cancels", ev.Side, ev.Price, cancels))
		}
	}
	want := []string{"buy@99 after 3 cancels", "buy@98 after 7 cancels", "buy@97 after 11 cancels",
		"sell@101 after 15 cancels", "sell@102 after 19 cancels"}
	if rec.events[0].Type != EvHalted || cancels != 5*perLevel-1 || !slices.Equal(levels, want) {
		t.Fatalf("level events %q with %d cancels, want %q after the halt:\n%s", levels, cancels, want, formatEvents(rec.events))
	}
	if err := checkInvariants(e); err != nil {
		t.Fatal(err)
	}
}

// A market-data subscriber's book, built from nothing but the events,
// is the engine's book after a halt that cancels a book whose levels
// hold several accounts' orders, each level telling only its removal —
// and after trading resumes on it. TestMarketDataFollowsTheBook meets
// such halts only where its random commands make them.
func TestHaltCancelLeavesTheSubscribersBookTheEngines(t *testing.T) {
	cfg := Config{Instruments: []Instrument{{ID: 1, TickSize: 1, LotSize: 1}, {ID: 2, TickSize: 1, LotSize: 1}},
		Accounts: []Account{{ID: 1}, {ID: 2}, {ID: 3}}}
	md := newMDShadow()
	e, err := NewEngine(cfg, md)
	if err != nil {
		t.Fatal(err)
	}
	e.SetMarketData(true)
	seq := int64(0)
	order := func(inst uint32, acct uint32, s Side, p, q int64) {
		seq++
		e.Apply(&Command{Type: CmdNewOrder, Seq: seq, Timestamp: seq, Session: uint64(acct), Account: acct,
			Instrument: inst, ClientOrderID: uint64(seq), Side: s, OrderType: Limit, TIF: GTC, Price: p, Quantity: q})
	}
	for _, inst := range []uint32{1, 2} {
		for k := range 12 {
			acct := uint32(k%3 + 1)
			order(inst, acct, Buy, 100-int64(k%4), int64(k+1))
			order(inst, acct, Sell, 105+int64(k%3), int64(2*k+1))
		}
	}
	if d := md.differs(e); d != "" {
		t.Fatalf("before the halt: %s", d)
	}
	seq++
	e.Apply(&Command{Type: CmdHalt, Seq: seq, Timestamp: seq, Instrument: 1, CancelOrders: true})
	if d := md.differs(e); d != "" {
		t.Fatalf("after the halt that cancelled instrument 1's book: %s", d)
	}
	var left int
	e.Levels(2, Buy, func(LevelInfo) bool { left++; return true })
	if len(md.levels[1][Buy])+len(md.levels[1][Sell]) != 0 || left != 4 {
		t.Fatalf("instrument 1 kept %v, instrument 2 has %d bid levels (want none and 4)", md.levels[1], left)
	}
	seq++
	e.Apply(&Command{Type: CmdResume, Seq: seq, Timestamp: seq, Instrument: 1})
	order(1, 2, Buy, 99, 3)
	order(1, 3, Sell, 99, 1)
	if d := md.differs(e); d != "" {
		t.Fatalf("after trading resumed: %s", d)
	}
	if err := checkInvariants(e); err != nil {
		t.Fatal(err)
	}
}
