package node

import (
	"math/rand/v2"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// mdAction is one kind of input the market-data book tests send at
// random. The order of the constants is the order in which mdOdds'
// weights share out the draw: part of each test's workload for a seed.
type mdAction int

const (
	mdNewOrder        mdAction = iota
	mdCancel                   // of a client order id sent before, or the next one
	mdReplace                  // of a client order id sent before, to the drawn price and quantity
	mdMassCancel               // the trader's orders in the instrument
	mdHaltOrResume             // the instrument halted or resumed, even odds
	mdResume                   // the instrument resumed
	mdHalt                     // the instrument halted, its orders kept
	mdHaltAndCancel            // the instrument halted, its orders cancelled
	mdSuspendOrResume          // account 3 suspended or resumed, even odds
	mdDisconnect               // the trader's session closed (cancel-on-disconnect) and logged on again
	mdActions
)

// mdOdds are a test's odds of each input. An input's kind is drawn in
// [0, the sum of weights) and is the first kind whose share holds the
// draw; a kind of weight 0 is never sent.
type mdOdds struct {
	weights [mdActions]int
	// disconnectOneIn, above 1, makes a drawn disconnect happen one time
	// in this many (a draw of its own); the other times nothing is sent.
	disconnectOneIn int
	// kinds is the range of a new order's kind draw: 0 IOC, 1 FOK,
	// 2 market, 3 post-only, the rest GTC limits.
	kinds int
	stp   bool // a new order's self-trade mode is drawn; otherwise the default
	// sweep, when not 0, draws a market order's quantity as 1…sweep lots
	// (it sweeps levels) in place of the input's quantity.
	sweep     int
	marketIOC bool // a market order is IOC; otherwise it keeps the limit's GTC
}

// mdTrading sends a market-data book test's random inputs through its
// traders and its node. Each input's draws come in one order — trader,
// instrument, price, quantity (the test's own, for send), kind, then the
// kind's details — so a seed names one workload. Used by the test's
// goroutine only.
type mdTrading struct {
	rng         *rand.Rand
	n           *Node
	traders     []*client.Client    // by account: trader k is account k+1
	instruments []config.Instrument // those traded
	reconnect   func(k int)         // logs trader k on again in its place; needed for mdDisconnect
	odds        mdOdds
	clOrd       uint64 // the last client order id sent, over all traders
}

// trade draws a trader, an instrument, a price within five ticks of its
// reference and a quantity of 1…6, and sends one input with them.
func (m *mdTrading) trade() {
	k := m.rng.IntN(len(m.traders))
	in := m.instruments[m.rng.IntN(len(m.instruments))]
	price := in.ReferencePrice + int64(m.rng.IntN(11)-5)*in.TickSize
	qty := int64(1 + m.rng.IntN(6))
	m.send(k, in, wire.SideNone, price, qty)
}

// send draws an input's kind and details and sends it as trader k in
// instrument in: price and qty are those of a new order or a replace,
// side a new order's (wire.SideNone: drawn with the order).
func (m *mdTrading) send(k int, in config.Instrument, side wire.Side, price, qty int64) {
	rng, n, c, o := m.rng, m.n, m.traders[k], &m.odds
	switch m.draw() {
	case mdNewOrder:
		m.clOrd++
		if side == wire.SideNone {
			side = wire.Side(1 + rng.IntN(2))
		}
		order := limit(m.clOrd, side, price, qty)
		order.Instrument = in.ID
		if o.stp {
			order.STP = wire.SelfTrade(rng.IntN(5))
		}
		switch rng.IntN(o.kinds) {
		case 0:
			order.TIF = wire.TimeInForceIOC
		case 1:
			order.TIF = wire.TimeInForceFOK
		case 2:
			order.Type, order.Price = wire.OrderTypeMarket, 0
			if o.marketIOC {
				order.TIF = wire.TimeInForceIOC
			}
			if o.sweep > 0 {
				order.Quantity = int64(1+rng.IntN(o.sweep)) * in.LotSize
			}
		case 3:
			order.PostOnly = true
		}
		c.NewOrder(order)
	case mdCancel:
		c.Cancel(proto.Cancel{OrigClientOrderID: uint64(1 + rng.IntN(int(m.clOrd+1))), Instrument: in.ID})
	case mdReplace:
		m.clOrd++
		c.Replace(proto.Replace{OrigClientOrderID: uint64(1 + rng.IntN(int(m.clOrd))), ClientOrderID: m.clOrd,
			Price: price, Quantity: qty, Instrument: in.ID})
	case mdMassCancel:
		c.MassCancel(in.ID)
	case mdHaltOrResume:
		if rng.IntN(2) == 0 {
			n.Halt(in.ID)
		} else {
			n.Resume(in.ID)
		}
	case mdResume:
		n.Resume(in.ID)
	case mdHalt:
		n.Halt(in.ID)
	case mdHaltAndCancel:
		n.HaltAndCancelOrders(in.ID)
	case mdSuspendOrResume:
		if rng.IntN(2) == 0 {
			n.SuspendAccount(3)
		} else {
			n.ResumeAccount(3)
		}
	case mdDisconnect:
		if o.disconnectOneIn > 1 && rng.IntN(o.disconnectOneIn) != 0 {
			return
		}
		c.Close()
		m.reconnect(k)
	}
}

// draw draws an input's kind by the odds' weights.
func (m *mdTrading) draw() mdAction {
	total := 0
	for _, w := range m.odds.weights {
		total += w
	}
	r := m.rng.IntN(total)
	for a, w := range m.odds.weights {
		if r < w {
			return mdAction(a)
		}
		r -= w
	}
	panic("unreachable: r is below the weights' sum")
}
