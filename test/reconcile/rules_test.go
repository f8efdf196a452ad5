package reconcile

import (
	"cmp"
	"slices"

	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// newOrderReject is the reason the engine must reject no with, in the
// order it checks them (proto/README.md "NewOrder", "Reject reasons");
// ReasonNone when it must accept it.
func (m *model) newOrderReject(account uint32, no proto.NewOrder) engine.RejectReason {
	in := m.instruments[no.Instrument]
	switch {
	case m.halted(no.Instrument):
		return engine.ReasonInstrumentHalted
	case no.TIF < wire.TimeInForceGTC || no.TIF > wire.TimeInForceFOK || (no.Type == wire.OrderTypeMarket && no.TIF == wire.TimeInForceGTC):
		return engine.ReasonInvalidTimeInForce
	case no.Quantity <= 0 || no.Quantity%in.LotSize != 0:
		return engine.ReasonInvalidQuantity
	case no.Type == wire.OrderTypeMarket && no.PostOnly:
		return engine.ReasonMarketPostOnly
	case no.Type == wire.OrderTypeLimit && (no.Price <= 0 || no.Price%in.TickSize != 0):
		return engine.ReasonInvalidPrice
	case m.liveOrder(account, no.ClientOrderID) != nil:
		return engine.ReasonDuplicateClOrdID
	case no.Type == wire.OrderTypeLimit && m.outsideBand(no.Instrument, no.Price):
		return engine.ReasonPriceBand
	}
	limit := m.limitOf(no.Instrument, no.Side, no.Type, no.Price)
	if opp := m.opposite(no.Instrument, no.Side); no.PostOnly && len(opp) > 0 && crosses(no.Side, limit, opp[0].price) {
		return engine.ReasonPostOnlyWouldTrade
	}
	fillable := m.fillable(no.Instrument, no.Side, account, no.STP, limit)
	switch {
	case no.TIF == wire.TimeInForceFOK && fillable < no.Quantity:
		return engine.ReasonFOKNotFilled
	case no.Type == wire.OrderTypeMarket && fillable == 0:
		return engine.ReasonNoLiquidity
	}
	return engine.ReasonNone
}

// replaceReject is newOrderReject for a replace of live order o (nil:
// none is named); proto/README.md "Replace".
func (m *model) replaceReject(account uint32, rp proto.Replace, o *order) engine.RejectReason {
	switch {
	case o == nil:
		return engine.ReasonUnknownOrder
	case m.halted(o.instrument):
		return engine.ReasonInstrumentHalted
	case rp.Quantity <= 0 || rp.Quantity%m.instruments[o.instrument].LotSize != 0:
		return engine.ReasonInvalidQuantity
	case rp.Price <= 0 || rp.Price%m.instruments[o.instrument].TickSize != 0:
		return engine.ReasonInvalidPrice
	case rp.ClientOrderID != 0 && rp.ClientOrderID != o.clientID && m.liveOrder(account, rp.ClientOrderID) != nil:
		return engine.ReasonDuplicateClOrdID
	case rp.Price != o.price && m.outsideBand(o.instrument, rp.Price):
		return engine.ReasonPriceBand
	}
	if opp := m.opposite(o.instrument, o.side); o.postOnly && rp.Price != o.price && len(opp) > 0 && crosses(o.side, rp.Price, opp[0].price) {
		return engine.ReasonPostOnlyWouldTrade
	}
	return engine.ReasonNone
}

func (m *model) apply(in *input) {
	own := in.reports[in.from]
	switch req := in.req; req.kind {
	case newOrder:
		m.applyNewOrder(in, req.order, own)
	case cancelOrder:
		m.applyCancel(in, req.cancel, own)
	case replaceOrder:
		m.applyReplace(in, req.replace, own)
	case massCancel:
		m.applyMassCancel(in, req.massCancelOf, own)
	case orderStatus:
		m.applyStatus(in, req.status, own)
	}
}

// rejected checks a rejection against the reason the model expects
// (ReasonNone: none); false when the input was not rejected.
func (m *model) rejected(in *input, own []proto.Report, want engine.RejectReason) bool {
	r := own[0]
	if r.Kind != wire.ExecKindRejected {
		if want != engine.ReasonNone {
			m.problem("input %d: %+v answered %+v; the model rejects it (%s)", in.seq, *in.req, r, want)
		}
		return false
	}
	got := engine.RejectReason(r.Reason)
	m.stats.rejected[got]++
	if got != want || len(own) != 1 {
		m.problem("input %d: %+v rejected (%s) with %d reports; the model expects %s", in.seq, *in.req, got, len(own), want)
	}
	return true
}

// applyNewOrder: proto/README.md "NewOrder". Accepted (order id = the
// input's sequence), then the matching; or one Rejected.
func (m *model) applyNewOrder(in *input, no proto.NewOrder, own []proto.Report) {
	if m.rejected(in, own, m.newOrderReject(in.from.account, no)) {
		return
	}
	r := own[0]
	price := no.Price
	if no.Type == wire.OrderTypeMarket {
		price = 0 // a market order has no price
	}
	if r.Kind != wire.ExecKindAccepted || r.OrderID != uint64(in.seq) || r.ClientOrderID != no.ClientOrderID || r.Quantity != no.Quantity ||
		r.Leaves != no.Quantity || r.Price != price || r.Side != no.Side || r.Instrument != no.Instrument {
		m.problem("input %d: %+v answered %+v", in.seq, no, r)
		return
	}
	m.stats.accepted++
	o := &order{id: r.OrderID, account: in.from.account, instrument: no.Instrument, side: no.Side, orderType: no.Type, tif: no.TIF,
		postOnly: no.PostOnly, stp: no.STP, clientID: no.ClientOrderID, price: no.Price, qty: no.Quantity, leaves: no.Quantity}
	if o.stp == wire.SelfTradeDefault {
		o.stp = wire.SelfTradeCancelIncoming
	}
	m.orders[o.id] = o
	m.match(in, o, m.limitOf(no.Instrument, no.Side, no.Type, no.Price), own[1:], true)
}

// applyCancel: proto/README.md "Cancel". Cancelled (requested) with what
// was open, or Rejected unknown-order.
func (m *model) applyCancel(in *input, cx proto.Cancel, own []proto.Report) {
	o := m.target(in.from.account, cx.OrderID, cx.OrigClientOrderID, cx.Instrument)
	want := engine.ReasonNone
	if o == nil {
		want = engine.ReasonUnknownOrder
	}
	if m.rejected(in, own, want) {
		return
	}
	r := own[0]
	if r.Kind != wire.ExecKindCancelled || engine.CancelReason(r.Reason) != engine.CancelRequested || r.OrderID != o.id ||
		r.Leaves != o.leaves || r.Quantity != o.qty || len(own) != 1 {
		m.problem("input %d: the cancel of %+v answered %+v", in.seq, *o, own)
	}
	m.stats.cancelled++
	m.close(o)
}

// applyReplace: proto/README.md "Replace". A total at or below what
// traded cancels the order (replaced-to-zero); the same price and a
// total no higher keeps its priority; anything else re-queues it, and it
// may trade at once.
func (m *model) applyReplace(in *input, rp proto.Replace, own []proto.Report) {
	o := m.target(in.from.account, rp.OrderID, rp.OrigClientOrderID, rp.Instrument)
	if m.rejected(in, own, m.replaceReject(in.from.account, rp, o)) {
		return
	}
	r := own[0]
	if rp.Quantity <= o.filled {
		if r.Kind != wire.ExecKindCancelled || engine.CancelReason(r.Reason) != engine.CancelReplacedToZero || r.OrderID != o.id ||
			r.Leaves != o.leaves || r.Quantity != o.qty || len(own) != 1 {
			m.problem("input %d: the replace to %d of %+v (traded %d) answered %+v", in.seq, rp.Quantity, *o, o.filled, own)
		}
		m.close(o)
		return
	}
	clientID := o.clientID
	if rp.ClientOrderID != 0 {
		clientID = rp.ClientOrderID
	}
	if r.Kind != wire.ExecKindReplaced || r.OrderID != o.id || r.Price != rp.Price || r.Quantity != rp.Quantity ||
		r.Leaves != rp.Quantity-o.filled || r.ClientOrderID != clientID {
		m.problem("input %d: the replace %+v of %+v answered %+v", in.seq, rp, *o, r)
		return
	}
	m.stats.replaced++
	keepsPriority := rp.Price == o.price && rp.Quantity <= o.qty
	m.setClientID(o, clientID)
	o.qty, o.leaves = rp.Quantity, rp.Quantity-o.filled
	if keepsPriority {
		if len(own) != 1 {
			m.problem("input %d: a replace in place answered %d reports: %+v", in.seq, len(own), own)
		}
		return
	}
	m.unrest(o)
	o.price = rp.Price
	m.match(in, o, rp.Price, own[1:], false)
}

// applyMassCancel: proto/README.md "MassCancel". A Cancelled
// (mass-cancel) per live order of the account in the instrument, oldest
// first, then MassCancelDone with their count.
func (m *model) applyMassCancel(in *input, instrument uint32, own []proto.Report) {
	live := m.accountOrders(in.from.account, instrument, 0)
	if len(own) != len(live)+1 {
		m.problem("input %d: a mass cancel of %d live orders answered %d reports: %+v", in.seq, len(live), len(own), own)
		return
	}
	for i, o := range live {
		r := own[i]
		if r.Kind != wire.ExecKindCancelled || engine.CancelReason(r.Reason) != engine.CancelMassCancel || r.OrderID != o.id || r.Leaves != o.leaves {
			m.problem("input %d: mass cancel report %d: %+v; the model's order %+v", in.seq, i, r, *o)
		}
		m.close(o)
	}
	if done := own[len(own)-1]; done.Kind != wire.ExecKindMassCancelDone || done.Quantity != int64(len(live)) {
		m.problem("input %d: the mass cancel of %d orders ended %+v", in.seq, len(live), done)
	}
}

// applyStatus: proto/README.md "OrderStatus". A Status per live order of
// the account after the cursor, oldest first, at most 1000 (the flow's
// accounts never look at 4000), then StatusDone.
func (m *model) applyStatus(in *input, st proto.OrderStatus, own []proto.Report) {
	live := m.accountOrders(in.from.account, st.Instrument, st.AfterOrderID)
	live = live[:min(len(live), engine.MaxStatusOrders)]
	if len(own) != len(live)+1 {
		m.problem("input %d: a status of %d live orders answered %d reports", in.seq, len(live), len(own))
		return
	}
	for i, o := range live {
		r := own[i]
		if r.Kind != wire.ExecKindStatus || r.OrderID != o.id || r.Leaves != o.leaves || r.Quantity != o.qty || r.Price != o.price ||
			r.ClientOrderID != o.clientID || r.Side != o.side || r.Instrument != o.instrument {
			m.problem("input %d: status report %+v; the model's order %+v", in.seq, r, *o)
		}
	}
	if done := own[len(own)-1]; done.Kind != wire.ExecKindStatusDone || done.Quantity != int64(len(live)) {
		m.problem("input %d: the status of %d orders ended %+v", in.seq, len(live), done)
	}
}

// accountOrders are the live orders of account in instrument (0: all)
// with an id above after, oldest first.
func (m *model) accountOrders(account, instrument uint32, after uint64) []*order {
	var live []*order
	for _, o := range m.live {
		if o.account == account && (instrument == 0 || o.instrument == instrument) && o.id > after {
			live = append(live, o)
		}
	}
	return slices.SortedFunc(slices.Values(live), func(a, b *order) int { return cmp.Compare(a.id, b.id) })
}

// match checks the reports of taker t's matching (those of its input
// after the first, to its session) against price-time priority
// (proto/README.md "NewOrder"): each fill is with the best resting order
// of the opposite side, at its price, within t's limit; self-trade
// prevention (NewOrder's stp) cancels what it must; what is left of t
// rests (a GTC limit order, or any replaced order), or is cancelled with
// the reason that stopped it (proto/README.md "Cancel reasons"). A fresh
// order is a new one, not a replaced one.
func (m *model) match(in *input, t *order, limit int64, reports []proto.Report, fresh bool) {
	m.aggressor[in.seq] = t.side
	makerFills := map[uint64]proto.Report{} // by trade id
	for _, rs := range in.reports {
		for _, r := range rs {
			if r.Kind == wire.ExecKindFill && r.OrderID != t.id {
				makerFills[r.TradeID] = r
			}
		}
	}
	ended := false            // t was cancelled: nothing of its input may follow
	cancelledResting := false // the last report was a self-trade cancel of a resting order
	for _, r := range reports {
		afterRestingCancel := cancelledResting
		cancelledResting = false
		if ended {
			m.problem("input %d: a report after the taker's end: %+v", in.seq, r)
			continue
		}
		opp := m.opposite(t.instrument, t.side)
		switch {
		case r.Kind == wire.ExecKindFill && r.OrderID == t.id:
			m.checkTrade(in, t, limit, r, makerFills[r.TradeID], opp)
		case r.Kind == wire.ExecKindFill:
			// the resting side of a self-trade (stp Allow): checked with the taker's fill
		case r.Kind == wire.ExecKindCancelled && r.OrderID != t.id:
			// Self-trade prevention cancels the account's own best order
			// (CancelResting, CancelBoth).
			o := m.live[r.OrderID]
			if engine.CancelReason(r.Reason) != engine.CancelSelfTrade || o == nil || len(opp) == 0 || opp[0] != o || o.account != t.account ||
				(t.stp != wire.SelfTradeCancelResting && t.stp != wire.SelfTradeCancelBoth) || r.Leaves != o.leaves {
				m.problem("input %d: a resting order cancelled while %+v matched: %+v", in.seq, *t, r)
			}
			if o != nil {
				m.close(o)
			}
			cancelledResting = true
		case r.Kind == wire.ExecKindCancelled:
			ended = true
			m.checkTakerCancel(in, t, limit, r, opp, afterRestingCancel, fresh)
			m.close(t)
		default:
			m.problem("input %d: an unexpected report while %+v matched: %+v", in.seq, *t, r)
		}
	}
	switch {
	case ended:
	case t.leaves == 0:
		t.closed = true
	case !fresh || (t.tif == wire.TimeInForceGTC && t.orderType == wire.OrderTypeLimit):
		if opp := m.opposite(t.instrument, t.side); len(opp) > 0 && crosses(t.side, t.price, opp[0].price) {
			m.problem("input %d: order %d rests at %d crossing order %d at %d", in.seq, t.id, t.price, opp[0].id, opp[0].price)
		}
		m.rest(t)
	default:
		m.problem("input %d: %s order %d left with %d open and no cancel", in.seq, wire.EnumNamesTimeInForce[t.tif], t.id, t.leaves)
		m.close(t)
	}
}

// checkTrade checks taker t's fill r and the resting side's fill
// (maker) against the best resting order, and applies the trade.
func (m *model) checkTrade(in *input, t *order, limit int64, r, maker proto.Report, opp []*order) {
	if len(opp) == 0 {
		m.problem("input %d: taker %d filled with nothing resting opposite: %+v", in.seq, t.id, r)
		return
	}
	best := opp[0]
	if maker.OrderID != best.id {
		m.problem("input %d: price-time priority: taker %d traded with order %d, the best is order %d (price %d, queued at input %d)",
			in.seq, t.id, maker.OrderID, best.id, best.price, best.priority)
		return
	}
	if !crosses(t.side, limit, best.price) {
		m.problem("input %d: taker %d (%s, limit %d) traded at %d, beyond its limit", in.seq, t.id, wire.EnumNamesSide[t.side], limit, best.price)
	}
	if best.account == t.account && t.stp != wire.SelfTradeAllow {
		m.problem("input %d: a self-trade of account %d under stp %d", in.seq, t.account, t.stp)
	}
	q := min(t.leaves, best.leaves)
	if r.Quantity != q || r.Price != best.price || r.Leaves != t.leaves-q {
		m.problem("input %d: taker fill %+v; the model trades %d at %d, leaving %d", in.seq, r, q, best.price, t.leaves-q)
	}
	if maker.Quantity != q || maker.Leaves != best.leaves-q || maker.Price != best.price || maker.Side != best.side || maker.ClientOrderID != best.clientID {
		m.problem("input %d: resting fill %+v; the model's order %+v trades %d", in.seq, maker, *best, q)
	}
	t.leaves -= q
	t.filled += q
	best.leaves -= q
	best.filled += q
	m.lastPrice[t.instrument] = best.price
	m.stats.trades++
	if best.leaves == 0 {
		m.unrest(best)
		best.closed = true
	}
}

// checkTakerCancel checks the cancel of what was left of taker t: its
// reason must be what stopped it.
func (m *model) checkTakerCancel(in *input, t *order, limit int64, r proto.Report, opp []*order, afterRestingCancel, fresh bool) {
	crossing := len(opp) > 0 && crosses(t.side, limit, opp[0].price)
	switch why := engine.CancelReason(r.Reason); why {
	case engine.CancelIOCRemainder: // IOC, FOK or market: nothing left to trade with
		if !fresh || t.orderType == wire.OrderTypeLimit && t.tif == wire.TimeInForceGTC || crossing || t.orderType == wire.OrderTypeMarket && len(opp) > 0 {
			m.problem("input %d: ioc-remainder of %+v, with liquidity crossing: %v", in.seq, *t, crossing)
		}
	case engine.CancelSelfTrade:
		switch {
		case t.stp == wire.SelfTradeCancelBoth:
			if !afterRestingCancel {
				m.problem("input %d: cancel-both cancelled taker %d but not the resting order before it", in.seq, t.id)
			}
		case !crossing || opp[0].account != t.account || t.stp == wire.SelfTradeAllow || t.stp == wire.SelfTradeCancelResting:
			m.problem("input %d: a self-trade cancel of %+v with no self-trade to prevent", in.seq, *t)
		}
	case engine.CancelPriceBand: // a market order stopped at the band with liquidity beyond it
		if t.orderType != wire.OrderTypeMarket || len(opp) == 0 || crossing {
			m.problem("input %d: a price-band cancel of %+v", in.seq, *t)
		}
	default:
		m.problem("input %d: taker %+v cancelled: %s", in.seq, *t, why)
	}
	if r.Leaves != t.leaves || r.Quantity != t.qty {
		m.problem("input %d: the taker's cancel %+v; the model has %d open of %d", in.seq, r, t.leaves, t.qty)
	}
}
