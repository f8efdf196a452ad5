package engine

import (
	"errors"
	"testing"
)

// A coarser lot size is refused (ErrConfigChanged) while a resting order's
// leaves or filled part are off the new grid. Filled off it, the order was
// restored, and a replace — whose new total is a multiple of the new lot —
// left it resting with leaves off the grid (total − filled), which traded
// off the grid against other orders.
func TestCoarserLotSizeWithFilledOffTheGrid(t *testing.T) {
	cfg := Config{
		Instruments: []Instrument{{ID: 1, Symbol: "X", TickSize: 1, LotSize: 1}},
		Accounts:    []Account{{ID: 1}, {ID: 2}},
	}
	e, _ := NewEngine(cfg, discard{})
	e.Apply(&Command{Seq: 1, Type: CmdNewOrder, Account: 1, Instrument: 1, Side: Buy, OrderType: Limit, TIF: GTC, Price: 100, Quantity: 10})
	e.Apply(&Command{Seq: 2, Type: CmdNewOrder, Account: 2, Instrument: 1, Side: Sell, OrderType: Limit, TIF: IOC, Price: 100, Quantity: 3})
	// Order 1: 10 ordered, 3 filled, 7 left. The lot becomes 7.
	coarse := cfg
	coarse.Instruments = []Instrument{{ID: 1, Symbol: "X", TickSize: 1, LotSize: 7}}
	r, err := RestoreEngine(coarse, e.AppendSnapshot(nil), discard{})
	if errors.Is(err, ErrConfigChanged) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	var rec recorder
	r.sink = &rec
	r.Apply(&Command{Seq: 3, Type: CmdReplace, Account: 1, OrderID: 1, Price: 100, Quantity: 7})
	o, _ := r.Order(1)
	t.Fatalf("restored under lot size 7 with 3 filled (want ErrConfigChanged); a replace to 7 then left %d resting; events %s",
		o.Leaves, formatEvents(rec.events))
}
