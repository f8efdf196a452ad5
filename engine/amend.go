package engine

import "math"

// target finds the live order a cancel or replace names, if it belongs to
// the command's account.
func (e *Engine) target() (int32, bool) {
	c := e.cmd
	var oi int32
	var ok bool
	switch {
	case c.OrderID != 0:
		oi, ok = e.orderByID(c.OrderID)
	case c.OrigClientOrderID != 0:
		oi, ok = e.orderByClOrd(c.Account, c.OrigClientOrderID)
	}
	if !ok || e.orders[oi].account != c.Account {
		return -1, false
	}
	if c.Instrument != 0 && e.books[e.orders[oi].book].inst.ID != c.Instrument {
		return -1, false
	}
	return oi, true
}

func (e *Engine) cancelCmd() {
	if e.accountOf(e.cmd.Account) == nil {
		e.reject(ReasonUnknownAccount)
		return
	}
	oi, ok := e.target()
	if !ok {
		e.reject(ReasonUnknownOrder)
		return
	}
	e.cancelResting(&e.books[e.orders[oi].book], oi, CancelRequested)
}

func (e *Engine) replaceCmd() {
	c := e.cmd
	acct := e.accountOf(c.Account)
	if acct == nil {
		e.reject(ReasonUnknownAccount)
		return
	}
	oi, ok := e.target()
	if !ok { // a suspended account has no live orders: this one too
		e.reject(ReasonUnknownOrder)
		return
	}
	o := e.changeOrder(oi)
	b := &e.books[o.book]
	if r := e.checkReplace(b, acct, o); r != ReasonNone {
		e.reject(r)
		return
	}

	if c.Quantity <= o.filled {
		// Reported as it stood: quantity = filled + the leaves cancelled.
		e.cancelResting(b, oi, CancelReplacedToZero)
		return
	}
	if c.ClientOrderID != 0 && c.ClientOrderID != o.clOrdID {
		e.reindexClOrd(oi, c.ClientOrderID)
	}
	prev := o.session
	if c.Session != 0 {
		o.session = c.Session // the replacing session owns the order now
	}
	replaced := func() {
		ev := e.orderEvent(EvReplaced, b, o, 0)
		if ev.Session != 0 && prev != ev.Session {
			ev.MakerSession = prev // the session that held it hears too
		}
		e.emit()
	}
	newLeaves := c.Quantity - o.filled
	if c.Price == o.price && c.Quantity <= o.qty {
		// Keeps time priority: shrink in place.
		lv := e.changeLevel(o.level)
		lv.qty -= o.leaves - newLeaves
		o.qty, o.leaves = c.Quantity, newLeaves
		replaced()
		e.emitLevel(b, o.side, lv)
		return
	}
	// Loses time priority: out of the book, re-priced, may trade at once,
	// then back at the end of its new level.
	e.dequeue(b, oi)
	o = e.changeOrder(oi)
	o.price, o.qty, o.leaves = c.Price, c.Quantity, newLeaves
	replaced()
	stopped := e.match(b, oi, o.price, true)
	o = e.changeOrder(oi)
	switch {
	case o.leaves == 0:
		e.retire(oi)
	case stopped != CancelNone:
		e.emitOrder(EvCancelled, b, o, uint8(stopped))
		e.retire(oi)
	default:
		e.enqueue(b, oi)
	}
}

// checkReplace validates a replace of live order o.
func (e *Engine) checkReplace(b *book, acct *account, o *order) RejectReason {
	c := e.cmd
	switch {
	case b.halted:
		return ReasonInstrumentHalted
	case c.Quantity <= 0 || c.Quantity%b.inst.LotSize != 0:
		return ReasonInvalidQuantity
	case c.Price <= 0 || c.Price%b.inst.TickSize != 0:
		return ReasonInvalidPrice
	case c.Quantity > MaxQuantity || c.Price > MaxPrice:
		return ReasonOverflow
	case acct.cfg.MaxOrderQty > 0 && c.Quantity > acct.cfg.MaxOrderQty:
		return ReasonMaxOrderQty
	}
	if acct.cfg.MaxNotional > 0 {
		if c.Quantity > math.MaxInt64/c.Price {
			return ReasonOverflow
		}
		if c.Quantity*c.Price > acct.cfg.MaxNotional {
			return ReasonMaxNotional
		}
	}
	if c.ClientOrderID != 0 && c.ClientOrderID != o.clOrdID {
		if _, dup := e.orderByClOrd(c.Account, c.ClientOrderID); dup {
			return ReasonDuplicateClOrdID
		}
	}
	if c.Price != o.price && outsideBand(b, b.reference(), c.Price) {
		return ReasonPriceBand
	}
	if o.post && c.Price != o.price {
		if best := b.opposite(o.side).bestLevel(); best >= 0 && crosses(o.side == Sell, c.Price, e.levels[best].price) {
			return ReasonPostOnlyWouldTrade
		}
	}
	return ReasonNone
}

// massCancelCmd cancels every live order of the account (on Instrument
// only, when it is non-zero), oldest first: as many as the account's
// MaxOpenOrders let it enter, which bounds the command's time (doc.go,
// Cost).
func (e *Engine) massCancelCmd() {
	c := e.cmd
	acct := e.accountOf(c.Account)
	if acct == nil {
		e.reject(ReasonUnknownAccount)
		return
	}
	only, ok := e.instrumentFilter()
	if !ok {
		return
	}
	var cancelled int64
	e.accountOrders(acct, only, func(oi int32) {
		e.cancelResting(&e.books[e.orders[oi].book], oi, CancelMassCancel)
		cancelled++
	})
	if c.Session != 0 {
		e.begin(EvMassCancelDone).Quantity = cancelled
		e.emit()
	}
}

// instrumentFilter is the book a command's Instrument restricts it to
// (-1: every book, when it is 0); false after rejecting an instrument the
// engine does not have.
func (e *Engine) instrumentFilter() (int32, bool) {
	id := e.cmd.Instrument
	if id == 0 {
		return -1, true
	}
	if e.bookOf(id) == nil {
		e.reject(ReasonUnknownInstrument)
		return 0, false
	}
	return e.bookIdx[id], true
}

// accountOrders calls fn with every live order of acct in book only (-1:
// in every book), oldest first. fn may retire the order it is given.
func (e *Engine) accountOrders(acct *account, only int32, fn func(oi int32)) {
	for oi := acct.head; oi >= 0; {
		next := e.orders[oi].accNext
		if only < 0 || e.orders[oi].book == only {
			fn(oi)
		}
		oi = next
	}
}

// MaxStatusOrders bounds the orders one CmdOrderStatus lists, so one
// small message cannot occupy the engine for long: a client pages through
// more with the cursor.
const MaxStatusOrders = 1000

// MaxStatusVisits bounds the live orders one listing looks at, listed or
// not: a listing in one instrument of an account whose orders are all in
// others would otherwise walk every one of them and list nothing, on the
// engine goroutine, 20 times a second per account at the default
// gateway.status_rate. The page ends early then, with StatusMore and the
// cursor to go on from. BenchmarkOrderStatus/elsewhere, 400 000 orders
// (Model 207 dev VM, 2026-12-05): 1.95–2.3 ms without the bound, 13–16 µs
// with it.
const MaxStatusVisits = 4 * MaxStatusOrders

// StatusMore is EvStatusDone's Reason when the page ended before the list
// did: more orders may follow the page's cursor.
const StatusMore = 1

// orderStatusCmd reports the live order a status request names, or the
// account's live orders (on Instrument only, when it is non-zero) after
// the cursor, oldest first, a page at most; then how many it reported,
// whether more may follow and, for a listing, the cursor to ask again
// with (the id of the last order it looked at). It changes no state.
func (e *Engine) orderStatusCmd() {
	c := e.cmd
	acct := e.accountOf(c.Account)
	if acct == nil {
		e.reject(ReasonUnknownAccount)
		return
	}
	var n int64
	more := false
	listing := c.OrderID == 0 && c.OrigClientOrderID == 0
	cursor := c.ClientOrderID
	report := func(oi int32) {
		o := e.changeOrder(oi)
		e.emitOrder(EvOrderStatus, &e.books[o.book], o, 0)
		n++
	}
	if !listing {
		if oi, ok := e.target(); ok {
			report(oi)
		}
	} else {
		only, ok := e.instrumentFilter()
		if !ok {
			return
		}
		visits := 0
		for oi := e.after(acct, cursor); oi >= 0; oi = e.orders[oi].accNext {
			matches := only < 0 || e.orders[oi].book == only
			if visits == MaxStatusVisits || (matches && n == MaxStatusOrders) {
				more = true
				break
			}
			visits++
			cursor = e.orders[oi].id
			if matches {
				report(oi)
			}
		}
	}
	ev := e.begin(EvStatusDone)
	ev.ClientOrderID = c.OrigClientOrderID
	ev.Quantity = n
	if listing {
		ev.OrderID = cursor
	}
	if more {
		ev.Reason = StatusMore
	}
	e.emit()
}

// after is the first of acct's live orders with an id above cursor (-1:
// none). The account's list is in id order (orders join it when they are
// entered, and ids grow with the input sequence), so a cursor that is
// still live is found in one step.
func (e *Engine) after(acct *account, cursor uint64) int32 {
	if cursor == 0 {
		return acct.head
	}
	if oi, ok := e.orderByID(cursor); ok && e.orders[oi].account == acct.cfg.ID {
		return e.orders[oi].accNext
	}
	if acct.tail < 0 || e.orders[acct.tail].id <= cursor {
		return -1 // nothing after it, found without a walk
	}
	// The cursor's order is gone (or was never the account's): walk from
	// the oldest, at most the account's live orders (its max_open_orders;
	// ~1 ms at the default 100 000), as often as gateway.status_rate
	// lets a session ask (20 a second). An index placing the cursor by a
	// binary search (helper 357, 12-07: 129–147 ns at 400 000 orders)
	// cost every order entered 11 ns (BenchmarkEngine/place 62 → 73 ns,
	// resting 49 → 57, E26) — not taken for a listing's rare stale cursor.
	oi := acct.head
	for oi >= 0 && e.orders[oi].id <= cursor {
		oi = e.orders[oi].accNext
	}
	return oi
}

// suspendCmd switches the operator's kill switch of the command's account;
// switching it on cancels every live order of the account, oldest first
// (as many as its MaxOpenOrders let it enter, as a mass cancel).
func (e *Engine) suspendCmd(suspend bool) {
	acct := e.accountOf(e.cmd.Account)
	if acct == nil {
		e.reject(ReasonUnknownAccount)
		return
	}
	switch {
	case suspend && !acct.suspended:
		e.suspendedCount++
	case !suspend && acct.suspended:
		e.suspendedCount--
	}
	acct.suspended = suspend
	if suspend {
		e.accountOrders(acct, -1, func(oi int32) {
			e.cancelResting(&e.books[e.orders[oi].book], oi, CancelAccountSuspended)
		})
	}
}

// haltCmd halts or resumes the command's instrument. A halt with
// CancelOrders then empties its book (haltclear.go): halted first, so that
// market data shows the book emptying under the halt. A resume of a book
// still clearing waits for the clear's end.
func (e *Engine) haltCmd(halt bool) {
	b := e.bookOf(e.cmd.Instrument)
	if b == nil {
		e.reject(ReasonUnknownInstrument)
		return
	}
	if !halt && b.clearing {
		// Its resting orders were cancelled at the halt's input and wait
		// only for their reports: nothing may trade with them or enter
		// the book beside them before the last is reported.
		b.resumeCleared = true
		return
	}
	b.halted = halt
	b.resumeCleared = false
	if halt {
		e.begin(EvHalted)
	} else {
		e.begin(EvResumed)
	}
	e.emit()
	if halt && e.cmd.CancelOrders && !b.clearing && !b.empty() {
		b.clearing = true
		e.clearing++
		e.clearBook(b)
	}
}
