package engine

import "slices"

// level is one price level: a FIFO of orders linked through order.prev /
// order.next.
type level struct {
	price int64
	qty   int64 // sum of the leaves of its orders
	count uint32
	head  int32
	tail  int32
}

// side is one side of a book: its levels sorted worst to best, so the best
// level is last and the busy end of the book is the cheap end to insert
// into. keys are prices for bids and negated prices for asks, so both
// sides sort ascending by key.
type side struct {
	sell bool
	// Invariant: keys strictly ascending; lvls[i] is the level of
	// price key(keys[i]); no level is empty.
	keys []int64
	lvls []int32
}

func (s *side) key(price int64) int64 {
	if s.sell {
		return -price
	}
	return price
}

// best returns the index of the best level, or -1.
func (s *side) best() int32 {
	if len(s.lvls) == 0 {
		return -1
	}
	return s.lvls[len(s.lvls)-1]
}

// find returns the position of price's level, or where it would go.
func (s *side) find(price int64) (int, bool) {
	k := s.key(price)
	n := len(s.keys)
	// Most activity is at the top of the book: look there first.
	for i := n - 1; i >= 0 && i >= n-8; i-- {
		if s.keys[i] == k {
			return i, true
		}
		if s.keys[i] < k {
			return i + 1, false
		}
	}
	return lowerBound(s.keys, k)
}

// lowerBound returns the first position whose key is >= k, and whether
// the key there equals k. Written without a data-dependent branch in the
// loop (the compiler emits a conditional move): levels are searched on
// almost every command and mispredicted branches dominated
// slices.BinarySearch in BenchmarkEngine/mixed.
func lowerBound(keys []int64, k int64) (int, bool) {
	n := len(keys)
	if n == 0 {
		return 0, false
	}
	base := 0
	for n > 1 {
		half := n / 2
		if keys[base+half-1] < k {
			base += half
		}
		n -= half
	}
	if keys[base] < k {
		base++
	}
	return base, base < len(keys) && keys[base] == k
}

// crosses reports whether an incoming order at limit on the other side
// trades with a level at price (a buy at limit takes asks priced <= limit).
func crosses(incomingSell bool, limit, price int64) bool {
	if incomingSell {
		return price >= limit
	}
	return price <= limit
}

// book is one instrument's state.
type book struct {
	inst      Instrument
	bids      side
	asks      side
	halted    bool
	lastTrade int64 // 0 until the first trade
}

func (b *book) side(s Side) *side {
	if s == Sell {
		return &b.asks
	}
	return &b.bids
}

func (b *book) opposite(s Side) *side {
	if s == Sell {
		return &b.bids
	}
	return &b.asks
}

// reference is the price the band is measured from (0: none).
func (b *book) reference() int64 {
	if b.lastTrade != 0 {
		return b.lastTrade
	}
	return b.inst.ReferencePrice
}

// levelAt returns the level index of price on s, creating it.
func (e *Engine) levelAt(s *side, price int64) int32 {
	pos, found := s.find(price)
	if found {
		return s.lvls[pos]
	}
	li := e.newLevel(price)
	s.keys = slices.Insert(s.keys, pos, s.key(price))
	s.lvls = slices.Insert(s.lvls, pos, li)
	return li
}

func (e *Engine) newLevel(price int64) int32 {
	var li int32
	if e.freeLevel >= 0 {
		li = e.freeLevel
		e.freeLevel = e.levels[li].head
	} else {
		li = int32(len(e.levels))
		e.levels = append(e.levels, level{})
	}
	e.levels[li] = level{price: price, head: -1, tail: -1}
	return li
}

// dropLevel removes an empty level from s and frees it.
func (e *Engine) dropLevel(s *side, li int32) {
	pos, found := s.find(e.levels[li].price)
	if found {
		s.keys = slices.Delete(s.keys, pos, pos+1)
		s.lvls = slices.Delete(s.lvls, pos, pos+1)
	}
	e.levels[li] = level{head: e.freeLevel}
	e.freeLevel = li
}

// enqueue appends order oi at the back of its price level on b.
func (e *Engine) enqueue(b *book, oi int32) {
	o := &e.orders[oi]
	s := b.side(o.side)
	li := e.levelAt(s, o.price)
	lv := &e.levels[li]
	o.level, o.prev, o.next = li, lv.tail, -1
	if lv.tail >= 0 {
		e.orders[lv.tail].next = oi
	} else {
		lv.head = oi
	}
	lv.tail = oi
	lv.qty += o.leaves
	lv.count++
	e.emitLevel(b, o.side, lv)
}

// dequeue unlinks order oi from its level (dropping the level if it
// empties) and emits the level's new state.
func (e *Engine) dequeue(b *book, oi int32) {
	o := &e.orders[oi]
	lv := &e.levels[o.level]
	if o.prev >= 0 {
		e.orders[o.prev].next = o.next
	} else {
		lv.head = o.next
	}
	if o.next >= 0 {
		e.orders[o.next].prev = o.prev
	} else {
		lv.tail = o.prev
	}
	lv.qty -= o.leaves
	lv.count--
	e.emitLevel(b, o.side, lv)
	if lv.count == 0 {
		e.dropLevel(b.side(o.side), o.level)
	}
	o.level, o.prev, o.next = -1, -1, -1
}
