package reconcile

import (
	"fmt"
	"slices"
	"testing"

	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/internal/testnode"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// startNode runs a node of the demo config for one constructed case.
func startNode(t *testing.T) (*config.Config, string) {
	t.Helper()
	cfg := testnode.Config(t, t.TempDir(), nil)
	_, _, addrs := testnode.Open(t, cfg)
	return cfg, addrs.Gateway
}

// place sends a GTC limit order (another tif when no.TIF is set) and
// returns its exchange order id.
func place(t *testing.T, s *session, no proto.NewOrder) uint64 {
	t.Helper()
	no.Type = wire.OrderTypeLimit
	if no.TIF == 0 {
		no.TIF = wire.TimeInForceGTC
	}
	mark := s.received()
	s.sendNow(t, request{kind: newOrder, order: no})
	r := s.await(t, mark, "an answer", func(rs []proto.Report) bool { return len(rs) > 0 })[0]
	if r.Kind != wire.ExecKindAccepted {
		t.Fatalf("%s: %+v answered %+v", s.name, no, r)
	}
	return r.OrderID
}

// fillsOf are the fills among reports.
func fillsOf(reports []proto.Report) []proto.Report {
	return slices.DeleteFunc(slices.Clone(reports), func(r proto.Report) bool { return r.Kind != wire.ExecKindFill })
}

// An aggressor fills the best price first, then at one price in time
// order, where a replace to a lower quantity at the same price kept its
// order's place and one to a higher quantity sent it to the back
// (proto/README.md "NewOrder", "Replace").
func TestPriceTimePriorityAcrossReplaces(t *testing.T) {
	cfg, gateway := startNode(t)
	var makers []*session
	for account := uint32(1); account <= 3; account++ {
		makers = append(makers, dial(t, cfg, gateway, account, false, fmt.Sprint("maker ", account)))
	}
	taker := dial(t, cfg, gateway, 4, false, "taker")
	const inst = 3 // AAPL: reference 20000, tick 1
	sell := func(s *session, clientID uint64, price, qty int64) uint64 {
		return place(t, s, proto.NewOrder{ClientOrderID: clientID, Instrument: inst, Side: wire.SideSell, Price: price, Quantity: qty})
	}
	first, second, third := sell(makers[0], 1, 20001, 10), sell(makers[1], 1, 20001, 10), sell(makers[2], 1, 20001, 10)
	for _, rp := range []struct {
		s   *session
		id  uint64
		qty int64
	}{{makers[0], first, 5}, {makers[1], second, 15}} {
		mark := rp.s.received()
		rp.s.sendNow(t, request{kind: replaceOrder, replace: proto.Replace{OrderID: rp.id, Instrument: inst, Price: 20001, Quantity: rp.qty}})
		rp.s.await(t, mark, "Replaced", atLeast(1, wire.ExecKindReplaced))
	}
	better := sell(makers[2], 2, 20000, 5)

	mark := taker.received()
	taker.sendNow(t, request{kind: newOrder, order: proto.NewOrder{ClientOrderID: 1, Instrument: inst, Side: wire.SideBuy,
		Type: wire.OrderTypeLimit, TIF: wire.TimeInForceIOC, Price: 20001, Quantity: 25}})
	takerFills := fillsOf(taker.await(t, mark, "4 fills", atLeast(4, wire.ExecKindFill)))
	makerOf := map[uint64]uint64{} // trade id → the resting order
	for _, s := range makers {
		s.liveOrders(t) // answered after every earlier input's reports to s
		_, reports := s.record()
		for _, f := range fillsOf(reports) {
			makerOf[f.TradeID] = f.OrderID
		}
	}
	type fill struct {
		maker        uint64
		price, quant int64
	}
	var got []fill
	for _, f := range takerFills {
		got = append(got, fill{makerOf[f.TradeID], f.Price, f.Quantity})
	}
	want := []fill{{better, 20000, 5}, {first, 20001, 5}, {third, 20001, 10}, {second, 20001, 5}}
	if !slices.Equal(got, want) {
		t.Errorf("fills (resting order, price, quantity) %v, want %v", got, want)
	}
}

// Self-trade prevention (proto/README.md "NewOrder", stp): CancelResting
// cancels the account's own resting order and trades on behind it; the
// default, CancelIncoming, cancels the incoming order and leaves the
// resting one; CancelBoth cancels both.
func TestSelfTradePrevention(t *testing.T) {
	cfg, gateway := startNode(t)
	own := dial(t, cfg, gateway, 1, false, "account 1")
	other := dial(t, cfg, gateway, 2, false, "account 2")
	const inst, price = 2, 300010 // ETH-USD: reference 300000, tick 1
	ownAsk := place(t, own, proto.NewOrder{ClientOrderID: 10, Instrument: inst, Side: wire.SideSell, Price: price, Quantity: 5})
	place(t, other, proto.NewOrder{ClientOrderID: 10, Instrument: inst, Side: wire.SideSell, Price: price, Quantity: 5})

	type report struct {
		kind   wire.ExecKind
		order  uint64
		reason uint8
		leaves int64
	}
	send := func(clientID uint64, side wire.Side, stp wire.SelfTrade, qty int64, until func([]proto.Report) bool) []report {
		t.Helper()
		mark := own.received()
		own.sendNow(t, request{kind: newOrder, order: proto.NewOrder{ClientOrderID: clientID, Instrument: inst, Side: side,
			Type: wire.OrderTypeLimit, TIF: wire.TimeInForceGTC, STP: stp, Price: price, Quantity: qty}})
		var out []report
		for _, r := range own.await(t, mark, "the order's end", until) {
			out = append(out, report{r.Kind, r.OrderID, r.Reason, r.Leaves})
		}
		return out
	}
	selfTrade := uint8(engine.CancelSelfTrade)

	got := send(11, wire.SideBuy, wire.SelfTradeCancelResting, 10, atLeast(1, wire.ExecKindFill))
	bid := got[0].order
	if want := []report{{wire.ExecKindAccepted, bid, 0, 10}, {wire.ExecKindCancelled, ownAsk, selfTrade, 5}, {wire.ExecKindFill, bid, 0, 5}}; !slices.Equal(got, want) {
		t.Errorf("cancel-resting: %v, want %v", got, want)
	}
	// The bid rests with 5 open; a sell of the same account meets it.
	got = send(12, wire.SideSell, wire.SelfTradeDefault, 3, atLeast(1, wire.ExecKindCancelled))
	if want := []report{{wire.ExecKindAccepted, got[0].order, 0, 3}, {wire.ExecKindCancelled, got[0].order, selfTrade, 3}}; !slices.Equal(got, want) {
		t.Errorf("default (cancel-incoming): %v, want %v", got, want)
	}
	got = send(13, wire.SideSell, wire.SelfTradeCancelBoth, 3, atLeast(2, wire.ExecKindCancelled))
	if want := []report{{wire.ExecKindAccepted, got[0].order, 0, 3}, {wire.ExecKindCancelled, bid, selfTrade, 5}, {wire.ExecKindCancelled, got[0].order, selfTrade, 3}}; !slices.Equal(got, want) {
		t.Errorf("cancel-both: %v, want %v", got, want)
	}
}

// A replace from another session of the account moves the order to it:
// its later fills go to the replacing session only (proto/README.md
// "Replace").
func TestReplaceFromAnotherSessionMovesTheOrder(t *testing.T) {
	cfg, gateway := startNode(t)
	entering := dial(t, cfg, gateway, 1, false, "entering session")
	replacing := dial(t, cfg, gateway, 1, false, "replacing session")
	aggressor := dial(t, cfg, gateway, 2, false, "account 2")
	const inst, price = 2, 299990
	id := place(t, entering, proto.NewOrder{ClientOrderID: 20, Instrument: inst, Side: wire.SideBuy, Price: price, Quantity: 5})

	markEntering, markReplacing := entering.received(), replacing.received()
	replacing.sendNow(t, request{kind: replaceOrder, replace: proto.Replace{OrderID: id, Price: price, Quantity: 6}})
	replacing.await(t, markReplacing, "Replaced", atLeast(1, wire.ExecKindReplaced))
	entering.await(t, markEntering, "Replaced", atLeast(1, wire.ExecKindReplaced))

	markEntering, markReplacing = entering.received(), replacing.received()
	aggressor.sendNow(t, request{kind: newOrder, order: proto.NewOrder{ClientOrderID: 21, Instrument: inst, Side: wire.SideSell,
		Type: wire.OrderTypeLimit, TIF: wire.TimeInForceIOC, Price: price, Quantity: 6}})
	replacing.await(t, markReplacing, "the fill", atLeast(1, wire.ExecKindFill))
	entering.liveOrders(t) // answered after the fill's input
	_, reports := entering.record()
	if fills := fillsOf(reports[markEntering:]); len(fills) > 0 {
		t.Errorf("the entering session got the fill of the order another session replaced: %+v", fills)
	}
}
