package engine

// order is one order in the pool. Links are pool indexes (-1: none), so
// the pool holds no pointers.
type order struct {
	id      uint64
	clOrdID uint64
	account uint32 // beside clOrdID: the (account, client order id) index reads both
	book    int32  // index into Engine.books
	session uint64 // the session that entered (or last replaced) it: where its fills go
	price   int64
	qty     int64 // total ordered quantity (replace changes it)
	leaves  int64 // open quantity; > 0 while resting
	filled  int64
	level   int32 // index into Engine.levels while resting, else -1
	prev    int32 // level FIFO
	next    int32 // level FIFO; free-list link while free
	accPrev int32 // account's live orders, oldest first
	accNext int32
	side    Side
	stp     STP
	post    bool
}

// account is one account's state.
type account struct {
	cfg  Account
	open int64 // live (resting) orders
	// head/tail of the account's live orders, in the order they became
	// live: mass cancel walks it, so its output is deterministic.
	head, tail int32
	// suspended: the operator's kill switch is on (CmdSuspendAccount);
	// the account has no live orders and takes no new ones.
	suspended bool
	// maxClOrd is at least every live order's client order id (index and
	// reindexClOrd raise it; it never falls). A client numbers its orders
	// upwards, so a new order's id is above it and cannot be a live one's:
	// the duplicate check skips the index (orderByClOrd). Not state: a
	// restore recomputes it from the orders it restores, and it decides
	// nothing the index would not.
	maxClOrd uint64
}

func (e *Engine) newOrder() int32 {
	if e.freeOrder >= 0 {
		oi := e.freeOrder
		e.freeOrder = e.orders[oi].next
		return oi
	}
	e.orders = append(withRoom(e.orders), order{})
	return int32(len(e.orders) - 1)
}

func (e *Engine) freeOrderSlot(oi int32) {
	*e.changeOrder(oi) = order{next: e.freeOrder, level: -1}
	e.freeOrder = oi
}

// goLive records a resting order in the id maps and its account.
func (e *Engine) goLive(oi int32) {
	o := e.changeOrder(oi)
	e.index(oi)
	a := &e.accounts[e.accountIdx[o.account]]
	a.open++
	o.accPrev, o.accNext = a.tail, -1
	if a.tail >= 0 {
		e.changeOrder(a.tail).accNext = oi
	} else {
		a.head = oi
	}
	a.tail = oi
}

// retire forgets a live order (after dequeue) and frees its slot.
func (e *Engine) retire(oi int32) {
	o := e.changeOrder(oi)
	e.unindex(oi)
	a := &e.accounts[e.accountIdx[o.account]]
	a.open--
	if o.accPrev >= 0 {
		e.changeOrder(o.accPrev).accNext = o.accNext
	} else {
		a.head = o.accNext
	}
	if o.accNext >= 0 {
		e.changeOrder(o.accNext).accPrev = o.accPrev
	} else {
		a.tail = o.accPrev
	}
	e.freeOrderSlot(oi)
}
