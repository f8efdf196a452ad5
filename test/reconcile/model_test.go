package reconcile

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// model is a shadow exchange: it applies the inputs in sequence, as the
// engine does, and checks every report of each input against what the
// rules of proto/README.md say it must be. Its state comes from the
// requests the sessions sent and the order of the inputs the reports
// give; it never reads the exchange's state. It has no rule for the
// account limits (max-order-qty, max-notional, max-open-orders), the
// gateway's refusals or suspensions: the order flow stays clear of them,
// and a report of one is a failure.
type model struct {
	instruments map[uint32]config.Instrument
	orders      map[uint64]*order // every accepted order, by exchange order id
	live        map[uint64]*order // the resting ones
	// liveByClientID: the resting ones with a client order id, which
	// names at most one live order of its account.
	liveByClientID map[accountClientID]*order
	books          map[uint32]*modelBook
	lastPrice      map[uint32]int64 // by instrument: the last trade's price
	// haltedAfter: the instrument was halted after this input (the
	// operator's halt is an input without reports of its own).
	haltedAfter map[uint32]int64
	input       int64 // the input being applied

	fillsByTrade map[uint64][]proto.Report
	aggressor    map[int64]wire.Side // by input: the side of the order that traded
	problems     []string
	stats        modelStats
}

// modelStats say what the run exercised.
type modelStats struct {
	inputs, accepted, trades, replaced, cancelled, mostLive int
	rejected                                                map[engine.RejectReason]int
}

// order is one accepted order.
type order struct {
	id         uint64
	account    uint32
	instrument uint32
	side       wire.Side
	orderType  wire.OrderType
	tif        wire.TimeInForce
	postOnly   bool
	stp        wire.SelfTrade // Default taken as CancelIncoming
	clientID   uint64
	price      int64
	qty        int64 // the total ordered, after replaces

	filled, leaves, cancelled int64
	priority                  int64 // the input at which it last joined its price level
	live, closed              bool
	reportedFills             int64 // the sum of its fill reports, kept apart from filled
}

type accountClientID struct {
	account  uint32
	clientID uint64
}

// modelBook is one instrument's resting orders, each side best first:
// best price, then earliest priority (proto/README.md "NewOrder":
// price-time priority).
type modelBook struct{ bids, asks []*order }

func newModel(cfg *config.Config) *model {
	m := &model{
		instruments:    map[uint32]config.Instrument{},
		orders:         map[uint64]*order{},
		live:           map[uint64]*order{},
		liveByClientID: map[accountClientID]*order{},
		books:          map[uint32]*modelBook{},
		lastPrice:      map[uint32]int64{},
		haltedAfter:    map[uint32]int64{},
		fillsByTrade:   map[uint64][]proto.Report{},
		aggressor:      map[int64]wire.Side{},
		stats:          modelStats{rejected: map[engine.RejectReason]int{}},
	}
	for _, in := range cfg.Instruments {
		m.instruments[in.ID] = in
		m.books[in.ID] = &modelBook{}
	}
	return m
}

func (m *model) problem(format string, args ...any) {
	if len(m.problems) < 100 {
		m.problems = append(m.problems, fmt.Sprintf(format, args...))
	}
}

// queue is the side of inst's book that side rests on.
func (m *model) queue(inst uint32, side wire.Side) *[]*order {
	if side == wire.SideBuy {
		return &m.books[inst].bids
	}
	return &m.books[inst].asks
}

// opposite is the side an order of side trades against, best first.
func (m *model) opposite(inst uint32, side wire.Side) []*order {
	if side == wire.SideBuy {
		return m.books[inst].asks
	}
	return m.books[inst].bids
}

// rest puts o at the end of its price level.
func (m *model) rest(o *order) {
	o.live, o.priority = true, m.input
	q := m.queue(o.instrument, o.side)
	at, _ := slices.BinarySearchFunc(*q, o, func(a, b *order) int {
		if a.price != b.price {
			if o.side == wire.SideBuy {
				return cmp.Compare(b.price, a.price) // bids: highest first
			}
			return cmp.Compare(a.price, b.price)
		}
		return cmp.Compare(a.priority, b.priority)
	})
	*q = slices.Insert(*q, at, o)
	m.live[o.id] = o
	m.setClientID(o, o.clientID)
}

// setClientID gives o a client order id, under which a live o is found.
func (m *model) setClientID(o *order, id uint64) {
	if old := (accountClientID{o.account, o.clientID}); m.liveByClientID[old] == o {
		delete(m.liveByClientID, old)
	}
	o.clientID = id
	if o.live && id != 0 {
		m.liveByClientID[accountClientID{o.account, id}] = o
	}
}

// unrest takes o out of the book (it trades, is cancelled or re-queued).
func (m *model) unrest(o *order) {
	if !o.live {
		return
	}
	o.live = false
	q := m.queue(o.instrument, o.side)
	*q = slices.DeleteFunc(*q, func(x *order) bool { return x == o })
	delete(m.live, o.id)
	if key := (accountClientID{o.account, o.clientID}); m.liveByClientID[key] == o {
		delete(m.liveByClientID, key)
	}
}

// close ends o: what was open is cancelled.
func (m *model) close(o *order) {
	m.unrest(o)
	o.cancelled += o.leaves
	o.leaves = 0
	o.closed = true
}

// liveOrder is the live order of account with clientID (0 names none).
func (m *model) liveOrder(account uint32, clientID uint64) *order {
	if clientID == 0 {
		return nil
	}
	return m.liveByClientID[accountClientID{account, clientID}]
}

// target is the live order a cancel or replace names (proto/README.md
// "Cancel", "Replace"): by exchange id, else by client id; of the
// account, and in instrument when that is not 0.
func (m *model) target(account uint32, orderID, clientID uint64, instrument uint32) *order {
	o := m.liveOrder(account, clientID)
	if orderID != 0 {
		o = m.live[orderID]
	}
	if o == nil || o.account != account || (instrument != 0 && o.instrument != instrument) {
		return nil
	}
	return o
}

// reference is the price the band is measured from: the last trade,
// else the configured reference price.
func (m *model) reference(inst uint32) int64 {
	if p := m.lastPrice[inst]; p != 0 {
		return p
	}
	return m.instruments[inst].ReferencePrice
}

func (m *model) outsideBand(inst uint32, price int64) bool {
	d, band := price-m.reference(inst), m.instruments[inst].PriceBand()
	return d > band || -d > band
}

// crosses reports whether an order of side with limit trades against a
// resting price.
func crosses(side wire.Side, limit, price int64) bool {
	if side == wire.SideSell {
		return price >= limit
	}
	return price <= limit
}

// limitOf is the worst price an incoming order may trade at: a limit
// order's price; for a market order the band's edge from the reference
// (proto/README.md "NewOrder": a market order never trades beyond the
// band).
func (m *model) limitOf(inst uint32, side wire.Side, orderType wire.OrderType, price int64) int64 {
	if orderType == wire.OrderTypeLimit {
		return price
	}
	if side == wire.SideBuy {
		return m.reference(inst) + m.instruments[inst].PriceBand()
	}
	return m.reference(inst) - m.instruments[inst].PriceBand()
}

// fillable is how much an incoming order could trade on arrival: the
// opposite side within its limit, up to the first of its account's own
// orders that self-trade prevention stops it at (CancelResting skips
// them; Allow trades with them).
func (m *model) fillable(inst uint32, side wire.Side, account uint32, stp wire.SelfTrade, limit int64) int64 {
	var total int64
	for _, r := range m.opposite(inst, side) {
		if !crosses(side, limit, r.price) {
			break
		}
		if r.account == account && stp != wire.SelfTradeAllow {
			if stp == wire.SelfTradeCancelResting {
				continue
			}
			break
		}
		total += r.leaves
	}
	return total
}

func (m *model) halted(inst uint32) bool {
	after, ok := m.haltedAfter[inst]
	return ok && m.input > after
}

// levels is the model's book of inst as price levels, bids and asks.
func (m *model) levels(inst uint32) (bids, asks levels) {
	bids, asks = levels{}, levels{}
	for _, side := range []struct {
		orders []*order
		levels levels
	}{{m.books[inst].bids, bids}, {m.books[inst].asks, asks}} {
		for _, o := range side.orders {
			l := side.levels[o.price]
			l.Price, l.Quantity, l.Count = o.price, l.Quantity+o.leaves, l.Count+1
			side.levels[o.price] = l
		}
	}
	return bids, asks
}

// bookLines renders the model's book of in as bookLines does a feed's.
func (m *model) bookLines(in config.Instrument) string {
	bids, asks := m.levels(in.ID)
	return bookLines(in, bids, asks)
}
