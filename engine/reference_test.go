package engine

import (
	"math"
	"math/big"
	"sort"
)

// refEngine is a deliberately simple implementation of the same rules:
// a flat list of live orders, sorted when needed. The randomized test runs
// both on the same commands and requires identical events and books.
type refEngine struct {
	cfg   Config
	insts map[uint32]*refBook
	accts map[uint32]Account
	// suspended accounts (the operator's kill switch)
	suspended map[uint32]bool
	orders    []*refOrder // live orders, in the order they became live
	clock     int64       // queue time: smaller is earlier in its level
	events    []Event
	cmd       *Command
	trades    uint64
	// stpCancels counts the own orders the command's STPCancelResting
	// cancelled: they count against the match limit.
	stpCancels uint64
}

type refBook struct {
	inst      Instrument
	halted    bool
	lastTrade int64
}

type refOrder struct {
	id, clOrdID, session       uint64
	inst, account              uint32
	side                       Side
	price, qty, leaves, filled int64
	stp                        STP
	post                       bool
	queued                     int64
}

func newRefEngine(cfg Config) *refEngine {
	r := &refEngine{cfg: cfg, insts: map[uint32]*refBook{}, accts: map[uint32]Account{}, suspended: map[uint32]bool{}}
	for _, in := range cfg.Instruments {
		r.insts[in.ID] = &refBook{inst: in}
	}
	for _, a := range cfg.Accounts {
		r.accts[a.ID] = a
	}
	return r
}

func (r *refEngine) ref(b *refBook) int64 {
	if b.lastTrade != 0 {
		return b.lastTrade
	}
	return b.inst.ReferencePrice
}

// side returns the live orders of one side in priority order.
// marketNotional is what market order o would trade, price × quantity
// over the resting orders it reaches up to the limit, walked as match
// walks them — the account's own orders cancelled or stopping it as its
// self-trade prevention says, at most maxMatches fills — in big integers.
func (r *refEngine) marketNotional(o *refOrder, limit int64, bounded bool) *big.Int {
	total, left := new(big.Int), o.qty
	fills := 0
	for _, x := range r.side(o.inst, other(o.side)) {
		if left == 0 || (bounded && !acceptable(o.side, limit, x.price)) {
			break
		}
		if x.account == o.account && o.stp != STPAllow && o.stp != STPCancelResting {
			break
		}
		if fills++; fills > maxMatches { // an own order cancelled counts too
			break
		}
		if x.account == o.account && o.stp == STPCancelResting {
			continue
		}
		take := min(left, x.leaves)
		total.Add(total, new(big.Int).Mul(big.NewInt(take), big.NewInt(x.price)))
		left -= take
	}
	return total
}

func (r *refEngine) side(inst uint32, s Side) []*refOrder {
	var out []*refOrder
	for _, o := range r.orders {
		if o.inst == inst && o.side == s {
			out = append(out, o)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].price != out[j].price {
			if s == Buy {
				return out[i].price > out[j].price
			}
			return out[i].price < out[j].price
		}
		return out[i].queued < out[j].queued
	})
	return out
}

func (r *refEngine) base(t EventType) Event {
	c := r.cmd
	return Event{Type: t, Seq: c.Seq, Timestamp: c.Timestamp, Session: c.Session, Account: c.Account,
		Instrument: c.Instrument, ClientOrderID: c.ClientOrderID, OrderID: c.OrderID}
}

func (r *refEngine) reject(reason RejectReason) {
	ev := r.base(EvRejected)
	ev.Reason, ev.Side, ev.Price, ev.Quantity = uint8(reason), r.cmd.Side, r.cmd.Price, r.cmd.Quantity
	if r.cmd.Type != CmdNewOrder && (ev.ClientOrderID == 0 || r.cmd.Type == CmdOrderStatus) {
		ev.ClientOrderID = r.cmd.OrigClientOrderID
	}
	ev.Query = r.cmd.Type == CmdOrderStatus || r.cmd.Type == CmdResend // the asker's answer, not a change
	r.events = append(r.events, ev)
}

func (r *refEngine) orderEvent(t EventType, o *refOrder, reason uint8) {
	ev := r.base(t)
	ev.Account, ev.Instrument, ev.OrderID, ev.ClientOrderID = o.account, o.inst, o.id, o.clOrdID
	ev.Side, ev.Price, ev.Quantity, ev.Leaves, ev.Reason = o.side, o.price, o.qty, o.leaves, reason
	r.events = append(r.events, ev)
}

func (r *refEngine) remove(o *refOrder) {
	for i, x := range r.orders {
		if x == o {
			r.orders = append(r.orders[:i], r.orders[i+1:]...)
			return
		}
	}
}

func (r *refEngine) open(acct uint32) (n int64) {
	for _, o := range r.orders {
		if o.account == acct {
			n++
		}
	}
	return n
}

func (r *refEngine) findClOrd(acct uint32, cl uint64) *refOrder {
	for _, o := range r.orders {
		if cl != 0 && o.account == acct && o.clOrdID == cl {
			return o
		}
	}
	return nil
}

func (r *refEngine) Apply(c *Command) {
	r.cmd, r.trades, r.stpCancels = c, 0, 0
	switch c.Type {
	case CmdNewOrder:
		r.newOrder()
	case CmdCancel, CmdReplace:
		r.amend()
	case CmdMassCancel:
		if _, ok := r.accts[c.Account]; !ok {
			r.reject(ReasonUnknownAccount)
			return
		}
		if c.Instrument != 0 && r.insts[c.Instrument] == nil {
			r.reject(ReasonUnknownInstrument)
			return
		}
		var cancelled int64
		for _, o := range append([]*refOrder(nil), r.orders...) {
			if o.account == c.Account && (c.Instrument == 0 || o.inst == c.Instrument) {
				r.orderEvent(EvCancelled, o, uint8(CancelMassCancel))
				r.events[len(r.events)-1].Session = o.session
				r.remove(o)
				cancelled++
			}
		}
		if c.Session != 0 {
			done := r.base(EvMassCancelDone)
			done.Quantity = cancelled
			r.events = append(r.events, done)
		}
	case CmdOrderStatus:
		if c.Reason != ReasonNone {
			r.reject(c.Reason)
			return
		}
		r.orderStatus()
	case CmdResend:
		switch {
		case c.Reason != ReasonNone:
			r.reject(c.Reason)
		case r.accts[c.Account] == (Account{}):
			r.reject(ReasonUnknownAccount)
		case c.ClientOrderID == 0:
			r.reject(ReasonInvalidSequence)
		default:
			r.events = append(r.events, r.base(EvResend))
		}
	case CmdSnapshot:
		r.events = append(r.events, r.base(EvSnapshot))
	case CmdInvalid:
		if c.Reason == ReasonNone {
			r.reject(ReasonMalformedFrame)
		} else {
			r.reject(c.Reason)
		}
	case CmdNoop:
	case CmdSuspendAccount, CmdResumeAccount:
		if _, ok := r.accts[c.Account]; !ok {
			r.reject(ReasonUnknownAccount)
			return
		}
		r.suspended[c.Account] = c.Type == CmdSuspendAccount
		for _, o := range append([]*refOrder(nil), r.orders...) {
			if r.suspended[c.Account] && o.account == c.Account {
				r.orderEvent(EvCancelled, o, uint8(CancelAccountSuspended))
				r.remove(o)
			}
		}
	case CmdHalt, CmdResume:
		b := r.insts[c.Instrument]
		if b == nil {
			r.reject(ReasonUnknownInstrument)
			return
		}
		b.halted = c.Type == CmdHalt
		t := EvResumed
		if b.halted {
			t = EvHalted
		}
		r.events = append(r.events, r.base(t))
		if b.halted && c.CancelOrders {
			// The whole book, each side in priority order, bids first;
			// reported to the session that entered each order.
			for _, s := range []Side{Buy, Sell} {
				for _, o := range r.side(c.Instrument, s) {
					r.orderEvent(EvCancelled, o, uint8(CancelInstrumentHalted))
					r.events[len(r.events)-1].Session = o.session
					r.remove(o)
				}
			}
		}
	default:
		r.reject(ReasonUnknownCommand)
	}
}

func (r *refEngine) limitOf(b *refBook, s Side, t OrderType, price int64) (int64, bool) {
	if t == Limit {
		return price, true
	}
	ref, band := r.ref(b), b.inst.PriceBand
	if band == 0 || ref == 0 {
		return 0, false
	}
	if s == Buy {
		return ref + band, true
	}
	return ref - band, true
}

func acceptable(s Side, limit, price int64) bool {
	if s == Buy {
		return price <= limit
	}
	return price >= limit
}

func other(s Side) Side {
	if s == Buy {
		return Sell
	}
	return Buy
}

func (r *refEngine) fillable(o *refOrder, limit int64, bounded bool) int64 {
	var total int64
	n := 0
	for _, m := range r.side(o.inst, other(o.side)) {
		if bounded && !acceptable(o.side, limit, m.price) {
			break
		}
		if m.account == o.account && o.stp != STPAllow && o.stp != STPCancelResting {
			break
		}
		if n++; n > maxMatches {
			break
		}
		if m.account == o.account && o.stp == STPCancelResting {
			continue
		}
		total += m.leaves
	}
	return total
}

func (r *refEngine) newOrder() {
	c := r.cmd
	b := r.insts[c.Instrument]
	if b == nil {
		r.reject(ReasonUnknownInstrument)
		return
	}
	a, ok := r.accts[c.Account]
	if !ok {
		r.reject(ReasonUnknownAccount)
		return
	}
	if r.suspended[c.Account] {
		r.reject(ReasonAccountSuspended)
		return
	}
	o := &refOrder{id: uint64(c.Seq), clOrdID: c.ClientOrderID, session: c.Session, inst: c.Instrument, account: c.Account,
		side: c.Side, price: c.Price, qty: c.Quantity, leaves: c.Quantity, stp: c.STP, post: c.PostOnly}
	limit, bounded := r.limitOf(b, c.Side, c.OrderType, c.Price)
	var reason RejectReason
	switch {
	case c.Seq < 1:
		reason = ReasonInvalidSequence
	case b.halted:
		reason = ReasonInstrumentHalted
	case c.Side != Buy && c.Side != Sell:
		reason = ReasonInvalidSide
	case c.OrderType != Limit && c.OrderType != Market:
		reason = ReasonInvalidOrderType
	case c.TIF < GTC || c.TIF > FOK || (c.OrderType == Market && c.TIF == GTC):
		reason = ReasonInvalidTimeInForce
	case c.STP > STPAllow:
		reason = ReasonInvalidSTP
	case c.Quantity <= 0 || c.Quantity%b.inst.LotSize != 0:
		reason = ReasonInvalidQuantity
	case c.Quantity > MaxQuantity || (c.OrderType == Limit && c.Price > MaxPrice):
		reason = ReasonOverflow
	case c.OrderType == Market && c.PostOnly:
		reason = ReasonMarketPostOnly
	case c.OrderType == Limit && (c.Price <= 0 || c.Price%b.inst.TickSize != 0):
		reason = ReasonInvalidPrice
	case a.MaxOrderQty > 0 && c.Quantity > a.MaxOrderQty:
		reason = ReasonMaxOrderQty
	case a.MaxNotional > 0 && c.OrderType == Limit && c.Quantity > math.MaxInt64/c.Price:
		reason = ReasonOverflow
	case a.MaxNotional > 0 && c.OrderType == Limit && c.Quantity*c.Price > a.MaxNotional:
		reason = ReasonMaxNotional
	case a.MaxNotional > 0 && c.OrderType == Market && r.marketNotional(o, limit, bounded).Cmp(big.NewInt(a.MaxNotional)) > 0:
		reason = ReasonMaxNotional
	case c.OrderType == Limit && c.TIF == GTC && a.MaxOpenOrders > 0 && r.open(c.Account) >= a.MaxOpenOrders:
		reason = ReasonMaxOpenOrders
	case r.findClOrd(c.Account, c.ClientOrderID) != nil:
		reason = ReasonDuplicateClOrdID
	case c.OrderType == Limit && b.inst.PriceBand > 0 && r.ref(b) > 0 &&
		(c.Price-r.ref(b) > b.inst.PriceBand || r.ref(b)-c.Price > b.inst.PriceBand):
		reason = ReasonPriceBand
	case c.PostOnly && len(r.side(o.inst, other(o.side))) > 0 && acceptable(o.side, limit, r.side(o.inst, other(o.side))[0].price):
		reason = ReasonPostOnlyWouldTrade
	case c.TIF == FOK && r.fillable(o, limit, bounded) < c.Quantity:
		reason = ReasonFOKNotFilled
	case c.OrderType == Market && r.fillable(o, limit, bounded) == 0:
		reason = ReasonNoLiquidity
	}
	if reason != ReasonNone {
		r.reject(reason)
		return
	}
	if c.OrderType == Market {
		o.price = 0
	}
	r.orderEvent(EvAccepted, o, 0)
	stopped := r.match(b, o, limit, bounded)
	switch {
	case o.leaves == 0:
	case stopped != CancelNone:
		r.orderEvent(EvCancelled, o, uint8(stopped))
	case c.OrderType == Market:
		why := CancelIOCRemainder
		opp := r.side(o.inst, other(o.side))
		if bounded && len(opp) > 0 && !acceptable(o.side, limit, opp[0].price) {
			why = CancelPriceBand
		}
		r.orderEvent(EvCancelled, o, uint8(why))
	case c.TIF != GTC:
		r.orderEvent(EvCancelled, o, uint8(CancelIOCRemainder))
	default:
		r.clock++
		o.queued = r.clock
		r.orders = append(r.orders, o)
	}
}

func (r *refEngine) match(b *refBook, o *refOrder, limit int64, bounded bool) CancelReason {
	for o.leaves > 0 {
		opp := r.side(o.inst, other(o.side))
		if len(opp) == 0 || (bounded && !acceptable(o.side, limit, opp[0].price)) {
			return CancelNone
		}
		m := opp[0]
		if m.account == o.account && o.stp != STPAllow {
			switch o.stp {
			case STPCancelResting:
				if r.trades+r.stpCancels == maxMatches {
					return CancelMatchLimit
				}
				r.stpCancels++
				r.orderEvent(EvCancelled, m, uint8(CancelSelfTrade))
				r.events[len(r.events)-1].Session = m.session
				r.remove(m)
				continue
			case STPCancelBoth:
				r.orderEvent(EvCancelled, m, uint8(CancelSelfTrade))
				r.events[len(r.events)-1].Session = m.session
				r.remove(m)
			}
			return CancelSelfTrade
		}
		if r.trades+r.stpCancels == maxMatches {
			return CancelMatchLimit
		}
		q := min(o.leaves, m.leaves)
		o.leaves, o.filled, m.leaves, m.filled = o.leaves-q, o.filled+q, m.leaves-q, m.filled+q
		b.lastTrade = m.price
		r.trades++
		ev := r.base(EvTrade)
		ev.TradeID = uint64(r.cmd.Seq)<<16 | r.trades
		ev.Account, ev.Instrument, ev.OrderID, ev.ClientOrderID, ev.Side = o.account, o.inst, o.id, o.clOrdID, o.side
		ev.Price, ev.Quantity, ev.Leaves = m.price, q, o.leaves
		ev.MakerOrderID, ev.MakerClientOrderID, ev.MakerAccount, ev.MakerLeaves = m.id, m.clOrdID, m.account, m.leaves
		ev.MakerSession = m.session
		r.events = append(r.events, ev)
		if m.leaves == 0 {
			r.remove(m)
		}
	}
	return CancelNone
}

// target is the live order of the command's account that a cancel,
// replace or status request names, or nil.
func (r *refEngine) target() *refOrder {
	c := r.cmd
	var o *refOrder
	for _, x := range r.orders {
		if (c.OrderID != 0 && x.id == c.OrderID) || (c.OrderID == 0 && c.OrigClientOrderID != 0 && x.account == c.Account && x.clOrdID == c.OrigClientOrderID) {
			o = x
		}
	}
	if o == nil || o.account != c.Account || (c.Instrument != 0 && o.inst != c.Instrument) {
		return nil
	}
	return o
}

func (r *refEngine) orderStatus() {
	c := r.cmd
	if _, ok := r.accts[c.Account]; !ok {
		r.reject(ReasonUnknownAccount)
		return
	}
	var listed []*refOrder
	listing := c.OrderID == 0 && c.OrigClientOrderID == 0
	cursor, more := c.ClientOrderID, false
	if !listing {
		if o := r.target(); o != nil {
			listed = append(listed, o)
		}
	} else {
		if c.Instrument != 0 && r.insts[c.Instrument] == nil {
			r.reject(ReasonUnknownInstrument)
			return
		}
		// The account's live orders after the cursor, oldest first (which
		// is id order); a page ends at MaxStatusOrders listed or
		// MaxStatusVisits looked at, with more orders left.
		var after []*refOrder
		for _, o := range r.orders {
			if o.account == c.Account && o.id > c.ClientOrderID {
				after = append(after, o)
			}
		}
		for visits, o := range after {
			matches := c.Instrument == 0 || o.inst == c.Instrument
			if visits == MaxStatusVisits || (matches && len(listed) == MaxStatusOrders) {
				more = true
				break
			}
			cursor = o.id
			if matches {
				listed = append(listed, o)
			}
		}
	}
	for _, o := range listed {
		r.orderEvent(EvOrderStatus, o, 0)
	}
	done := r.base(EvStatusDone)
	done.ClientOrderID, done.Quantity = c.OrigClientOrderID, int64(len(listed))
	if listing {
		done.OrderID = cursor
	}
	if more {
		done.Reason = StatusMore
	}
	r.events = append(r.events, done)
}

// toOwnerToo: the last event, another session's cancel or replace of o,
// goes to the session that held o too (MakerSession).
func (r *refEngine) toOwnerToo(o *refOrder) {
	if ev := &r.events[len(r.events)-1]; ev.Session != 0 && o.session != ev.Session {
		ev.MakerSession = o.session
	}
}

func (r *refEngine) amend() {
	c := r.cmd
	a, ok := r.accts[c.Account]
	if !ok {
		r.reject(ReasonUnknownAccount)
		return
	}
	o := r.target()
	if o == nil {
		r.reject(ReasonUnknownOrder)
		return
	}
	if c.Type == CmdCancel {
		r.orderEvent(EvCancelled, o, uint8(CancelRequested))
		r.toOwnerToo(o)
		r.remove(o)
		return
	}
	b := r.insts[o.inst]
	var reason RejectReason
	opp := r.side(o.inst, other(o.side))
	switch {
	case b.halted:
		reason = ReasonInstrumentHalted
	case c.Quantity <= 0 || c.Quantity%b.inst.LotSize != 0:
		reason = ReasonInvalidQuantity
	case c.Price <= 0 || c.Price%b.inst.TickSize != 0:
		reason = ReasonInvalidPrice
	case c.Quantity > MaxQuantity || c.Price > MaxPrice:
		reason = ReasonOverflow
	case a.MaxOrderQty > 0 && c.Quantity > a.MaxOrderQty:
		reason = ReasonMaxOrderQty
	case a.MaxNotional > 0 && c.Quantity > math.MaxInt64/c.Price:
		reason = ReasonOverflow
	case a.MaxNotional > 0 && c.Quantity*c.Price > a.MaxNotional:
		reason = ReasonMaxNotional
	case c.ClientOrderID != 0 && c.ClientOrderID != o.clOrdID && r.findClOrd(c.Account, c.ClientOrderID) != nil:
		reason = ReasonDuplicateClOrdID
	case c.Price != o.price && b.inst.PriceBand > 0 && r.ref(b) > 0 &&
		(c.Price-r.ref(b) > b.inst.PriceBand || r.ref(b)-c.Price > b.inst.PriceBand):
		reason = ReasonPriceBand
	case o.post && c.Price != o.price && len(opp) > 0 && acceptable(o.side, c.Price, opp[0].price):
		reason = ReasonPostOnlyWouldTrade
	}
	if reason != ReasonNone {
		r.reject(reason)
		return
	}
	if c.Quantity <= o.filled {
		r.orderEvent(EvCancelled, o, uint8(CancelReplacedToZero))
		r.toOwnerToo(o)
		r.remove(o)
		return
	}
	if c.ClientOrderID != 0 {
		o.clOrdID = c.ClientOrderID
	}
	prev := *o
	if c.Session != 0 {
		o.session = c.Session
	}
	keep := c.Price == o.price && c.Quantity <= o.qty
	o.price, o.qty, o.leaves = c.Price, c.Quantity, c.Quantity-o.filled
	r.orderEvent(EvReplaced, o, 0)
	r.toOwnerToo(&prev)
	if keep {
		return
	}
	// o stays in the live list (it keeps its place for mass cancel) while
	// it matches against the other side.
	stopped := r.match(b, o, o.price, true)
	switch {
	case o.leaves == 0:
		r.remove(o)
	case stopped != CancelNone:
		r.orderEvent(EvCancelled, o, uint8(stopped))
		r.remove(o)
	default:
		r.clock++
		o.queued = r.clock
	}
}
