package reconcile

import (
	"math/rand/v2"

	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// deepInstrument is where the flow's deep orders rest: ETH-USD of the
// demo config, tick 1 and a band of 10 000 ticks, room for thousands of
// price levels (market-data snapshots of many levels, status pages, the
// engine's pools growing past engine.max_orders).
const deepInstrument = 2

// orderFlow is one account's random stream of trading messages, drawn
// from its own seeded generator: the same seed gives the same stream.
// It lives across sessions and restarts, so client order ids keep
// counting.
type orderFlow struct {
	rng         *rand.Rand
	instruments []config.Instrument
	// offTick is the instrument with the largest tick: where an off-tick
	// price is easy to make.
	offTick config.Instrument
	// deepEvery > 0 makes every deepEvery-th message a GTC order far from
	// the touch on deepInstrument.
	deepEvery int
	sentCount int

	lastClientID uint64
	clientIDs    []uint64          // given out, newest last
	instrumentOf map[uint64]uint32 // by client order id, where the flow last sent it
	priceOf      map[uint64]int64  // by client order id, its last price
}

func newOrderFlow(cfg *config.Config, seed uint64, account uint32) *orderFlow {
	f := &orderFlow{rng: rand.New(rand.NewPCG(seed, uint64(account))), instruments: cfg.Instruments,
		instrumentOf: map[uint64]uint32{}, priceOf: map[uint64]int64{}}
	for _, in := range cfg.Instruments {
		if in.TickSize > f.offTick.TickSize {
			f.offTick = in
		}
	}
	return f
}

func (f *orderFlow) instrument(id uint32) config.Instrument {
	for _, in := range f.instruments {
		if in.ID == id {
			return in
		}
	}
	return config.Instrument{}
}

// recentClientID picks one of the last 60 client order ids: mostly of
// live orders, sometimes of orders already gone.
func (f *orderFlow) recentClientID() uint64 {
	n := len(f.clientIDs)
	if n == 0 {
		return 1
	}
	return f.clientIDs[n-1-f.rng.IntN(min(n, 60))]
}

// newClientID gives out the next client order id, for an order on
// instrument at price.
func (f *orderFlow) newClientID(instrument uint32, price int64) uint64 {
	f.lastClientID++
	id := f.lastClientID
	f.clientIDs = append(f.clientIDs, id)
	f.instrumentOf[id], f.priceOf[id] = instrument, price
	return id
}

// next draws the next message. Prices cluster around the reference so
// that orders cross often: buys from 2 ticks below to 3 above, sells the
// mirror. The mix: 38% GTC limit (1 in 8 post-only), 7% IOC, 5% FOK, 5%
// market, 1% invalid, 17% cancel by client id, 23% replace, 1% mass
// cancel, the rest cancels of random exchange ids (mostly unknown).
func (f *orderFlow) next() request {
	f.sentCount++
	r := f.rng
	side := wire.SideBuy
	if r.IntN(2) == 0 {
		side = wire.SideSell
	}
	if f.deepEvery > 0 && f.sentCount%f.deepEvery == 0 {
		in := f.instrument(deepInstrument)
		distance := int64(300+r.IntN(9600)) * in.TickSize
		price := in.ReferencePrice - distance
		if side == wire.SideSell {
			price = in.ReferencePrice + distance
		}
		return request{kind: newOrder, order: proto.NewOrder{ClientOrderID: f.newClientID(in.ID, price), Instrument: in.ID, Side: side,
			Type: wire.OrderTypeLimit, TIF: wire.TimeInForceGTC, Price: price, Quantity: int64(1 + r.IntN(9))}}
	}

	in := f.instruments[r.IntN(len(f.instruments))]
	ticks := int64(r.IntN(6)) - 2
	if side == wire.SideSell {
		ticks = -ticks
	}
	price := in.ReferencePrice + ticks*in.TickSize
	if in.ID == deepInstrument && r.IntN(10) == 0 {
		distance := int64(500+r.IntN(9400)) * in.TickSize // rests deep, mostly
		if side == wire.SideBuy {
			distance = -distance
		}
		price = in.ReferencePrice + distance
	}
	qty := int64(1 + r.IntN(20))
	stp := []wire.SelfTrade{wire.SelfTradeDefault, wire.SelfTradeDefault, wire.SelfTradeDefault,
		wire.SelfTradeCancelIncoming, wire.SelfTradeCancelResting, wire.SelfTradeCancelBoth, wire.SelfTradeAllow}[r.IntN(7)]
	order := func(typ wire.OrderType, tif wire.TimeInForce, postOnly bool) request {
		var id uint64
		if r.IntN(40) == 0 && len(f.clientIDs) > 0 {
			id = f.recentClientID() // perhaps a live order's: duplicate-client-order-id
		} else {
			id = f.newClientID(in.ID, price)
		}
		return request{kind: newOrder, order: proto.NewOrder{ClientOrderID: id, Instrument: in.ID, Side: side, Type: typ, TIF: tif,
			PostOnly: postOnly, STP: stp, Price: price, Quantity: qty}}
	}
	switch x := r.IntN(100); {
	case x < 38:
		return order(wire.OrderTypeLimit, wire.TimeInForceGTC, r.IntN(8) == 0)
	case x < 45:
		return order(wire.OrderTypeLimit, wire.TimeInForceIOC, false)
	case x < 50:
		return order(wire.OrderTypeLimit, wire.TimeInForceFOK, false)
	case x < 55:
		tif := wire.TimeInForceIOC
		if r.IntN(3) == 0 {
			tif = wire.TimeInForceFOK
		}
		return order(wire.OrderTypeMarket, tif, false)
	case x < 56:
		return f.invalidOrder(order)
	case x < 73:
		return request{kind: cancelOrder, cancel: proto.Cancel{OrigClientOrderID: f.recentClientID()}}
	case x < 96:
		return f.replace(qty, price)
	case x < 97 && f.deepEvery == 0: // the deep orders stay while they come
		return request{kind: massCancel, massCancelOf: in.ID}
	default:
		return request{kind: cancelOrder, cancel: proto.Cancel{OrderID: uint64(1 + r.IntN(5000))}}
	}
}

// invalidOrder is an order the engine must reject: post-only market,
// off-tick price, zero quantity, or market GTC.
func (f *orderFlow) invalidOrder(order func(wire.OrderType, wire.TimeInForce, bool) request) request {
	switch f.rng.IntN(4) {
	case 0:
		return order(wire.OrderTypeMarket, wire.TimeInForceIOC, true)
	case 1:
		req := order(wire.OrderTypeLimit, wire.TimeInForceGTC, false)
		req.order.Instrument, req.order.Price = f.offTick.ID, f.offTick.ReferencePrice+f.offTick.TickSize/2
		return req
	case 2:
		req := order(wire.OrderTypeLimit, wire.TimeInForceGTC, false)
		req.order.Quantity = 0
		return req
	default:
		return order(wire.OrderTypeMarket, wire.TimeInForceGTC, false)
	}
}

// replace draws a replace of a recent order: half of them at its own
// price (a lower quantity keeps priority, a higher one loses it), some
// to a total at or below what may have traded already (replaced to
// zero), some with a new client order id, a few naming an instrument
// that may not be the order's.
func (f *orderFlow) replace(qty, price int64) request {
	r := f.rng
	orig := f.recentClientID()
	rp := proto.Replace{OrigClientOrderID: orig, Quantity: qty, Price: price}
	if id, ok := f.instrumentOf[orig]; ok {
		in := f.instrument(id)
		rp.Price = in.ReferencePrice + int64(r.IntN(7)-3)*in.TickSize
		if r.IntN(4) == 0 {
			rp.Instrument = id
		}
	}
	switch r.IntN(4) {
	case 0, 2:
		if p, ok := f.priceOf[orig]; ok {
			rp.Price = p
		}
	case 1:
		rp.Quantity = int64(1 + r.IntN(3))
	}
	f.priceOf[orig] = rp.Price
	if r.IntN(3) == 0 {
		rp.ClientOrderID = f.newClientID(f.instrumentOf[orig], rp.Price)
	}
	if r.IntN(20) == 0 {
		rp.Instrument = f.instruments[r.IntN(len(f.instruments))].ID
	}
	return request{kind: replaceOrder, replace: rp}
}
