package engine

// LevelInfo is one aggregated price level.
type LevelInfo struct {
	Price    int64
	Quantity int64
	Count    uint32
}

// OrderInfo describes a live order.
type OrderInfo struct {
	ID, ClientOrderID   uint64
	Account, Instrument uint32
	Side                Side
	Price               int64
	Quantity, Leaves    int64
	Filled              int64
}

// Levels calls fn for each level of one side of an instrument's book,
// best first, until fn returns false.
func (e *Engine) Levels(instrument uint32, s Side, fn func(LevelInfo) bool) {
	b := e.bookOf(instrument)
	if b == nil {
		return
	}
	sd := b.side(s)
	sd.each(func(li int32) bool {
		lv := e.levels[li]
		return fn(LevelInfo{lv.price, lv.qty, lv.count})
	})
}

// Best returns the best level of one side, ok false when it is empty.
func (e *Engine) Best(instrument uint32, s Side) (LevelInfo, bool) {
	var best LevelInfo
	found := false
	e.Levels(instrument, s, func(l LevelInfo) bool { best, found = l, true; return false })
	return best, found
}

// Depth is the number of price levels on one side.
func (e *Engine) Depth(instrument uint32, s Side) int {
	if b := e.bookOf(instrument); b != nil {
		return b.side(s).depth()
	}
	return 0
}

// Orders calls fn for each live order of one side of an instrument's book
// in priority order, until fn returns false.
func (e *Engine) Orders(instrument uint32, s Side, fn func(OrderInfo) bool) {
	b := e.bookOf(instrument)
	if b == nil {
		return
	}
	sd := b.side(s)
	sd.each(func(li int32) bool {
		for oi := e.levels[li].head; oi >= 0; oi = e.orders[oi].next {
			if !fn(e.orderInfo(oi)) {
				return false
			}
		}
		return true
	})
}

// Order looks up a live order by id.
func (e *Engine) Order(id uint64) (OrderInfo, bool) {
	oi, ok := e.orderByID(id)
	if !ok {
		return OrderInfo{}, false
	}
	return e.orderInfo(oi), true
}

// OpenOrders is the number of live orders of an account.
func (e *Engine) OpenOrders(accountID uint32) int64 {
	if a := e.accountOf(accountID); a != nil {
		return a.open
	}
	return 0
}

// AppliedSeq is the input the state is at: the last one applied (or
// SetAppliedSeq's).
func (e *Engine) AppliedSeq() int64 { return e.lastSeq }

// LiveOrders is the number of live orders in all books.
func (e *Engine) LiveOrders() int { return e.byID.len() }

// Halted reports whether an instrument is halted.
func (e *Engine) Halted(instrument uint32) bool {
	b := e.bookOf(instrument)
	return b != nil && b.halted
}

// LastTrade is an instrument's last trade price (0: none yet).
func (e *Engine) LastTrade(instrument uint32) int64 {
	if b := e.bookOf(instrument); b != nil {
		return b.lastTrade
	}
	return 0
}

// Instruments returns the configured instrument ids in ascending order.
func (e *Engine) Instruments() []uint32 {
	ids := make([]uint32, len(e.books))
	for i := range e.books {
		ids[i] = e.books[i].inst.ID
	}
	return ids
}

func (e *Engine) orderInfo(oi int32) OrderInfo {
	o := e.orders[oi]
	return OrderInfo{
		ID: o.id, ClientOrderID: o.clOrdID, Account: o.account,
		Instrument: e.books[o.book].inst.ID, Side: o.side, Price: o.price,
		Quantity: o.qty, Leaves: o.leaves, Filled: o.filled,
	}
}

// SuspendedCount is how many accounts are suspended.
func (e *Engine) SuspendedCount() int { return e.suspendedCount }

// SuspendedAccounts lists the accounts the operator suspended, by id.
func (e *Engine) SuspendedAccounts() []uint32 {
	out := []uint32{}
	for ai := range e.accounts {
		if e.accounts[ai].suspended {
			out = append(out, e.accounts[ai].cfg.ID)
		}
	}
	return out
}

// OrderSessions calls fn with the session of each live order (the
// session that entered or last replaced it), in no order that means
// anything. A node's recovery reads it to give out session ids above
// those its resting orders still name (gateway.Config.Resume).
func (e *Engine) OrderSessions(fn func(session uint64)) {
	for ai := range e.accounts {
		for oi := e.accounts[ai].head; oi >= 0; oi = e.orders[oi].accNext {
			fn(e.orders[oi].session)
		}
	}
}
