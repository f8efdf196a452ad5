package engine

import (
	"math/bits"
	"sync"

	"github.com/ringex/ringex/internal/sortedmap"
)

// level is one price level: a FIFO of orders linked through order.prev /
// order.next.
type level struct {
	price int64
	qty   int64 // sum of the leaves of its orders
	count uint32
	head  int32
	tail  int32
}

// side is one side of a book: its price levels, ordered best first.
//
// Most levels live in a window: a slice indexed directly by price
// ((price-lo)/tick), with an occupancy bitset, so finding, adding and
// dropping a level is O(1) and the next-best level is a short bit scan.
// The window (windowSlots ticks) is placed around the first price the side
// sees. Levels priced outside it go to a sorted overflow list (keys
// ascending, best last; keys are prices for bids, negated prices for
// asks; sortedmap, in blocks, so that a deep book's far levels cost no
// more to add or drop than a block's worth of moves), so any price works;
// only far-away prices pay binary searches. When the price has moved
// away — the side's best level is in the overflow and the window holds
// few of its levels — the window moves to the best level (recenter).
type side struct {
	sell bool
	tick int64
	lo   int64    // price of window slot 0; a multiple of tick
	win  []int32  // level index per slot, -1: none; nil until first use
	bits []uint64 // occupancy of win
	n    int      // occupied window slots
	best int      // best occupied slot; valid when n > 0

	// Invariant: no overflow price falls inside the window.
	out sortedmap.Map[int32]
	// outTop is the overflow's best level (its largest key, outTopKey),
	// -1 when it is empty: bestLevel reads it without a call, so it
	// inlines. Set by insert and remove.
	outTop    int32
	outTopKey int64
	// moving is recenter's scratch: the overflow levels it moves in.
	moving []movingLevel
}

type movingLevel struct {
	key int64
	li  int32
}

// recenterShare: the window moves only while it holds at most one level
// for every recenterShare levels of the overflow. Moving it costs a
// sortedmap insertion per level it held, so a window that holds much of
// the book stays where it is — a best level toggled far away and back
// cannot make it move, and move again, for every order.
const recenterShare = 4

// windowSlots is the number of ticks the direct-indexed window covers.
const windowSlots = 1 << 14

// key is price's overflow key — and, negation being its own inverse, the
// price of an overflow key.
func (s *side) key(price int64) int64 {
	if s.sell {
		return -price
	}
	return price
}

// slot returns price's window slot, ok false when it is outside.
func (s *side) slot(price int64) (int, bool) {
	if s.win == nil || price < s.lo {
		return 0, false
	}
	i := (price - s.lo) / s.tick
	return int(i), i < windowSlots
}

func (s *side) initWindow(price int64) {
	if w, ok := emptyWindows.Get().(*window); ok {
		s.win, s.bits = w.win, w.bits
	} else {
		s.win = make([]int32, windowSlots)
		for i := range s.win {
			s.win[i] = -1
		}
		s.bits = make([]uint64, windowSlots/64)
	}
	s.centre(price)
}

// window is a side's window, held in emptyWindows.
type window struct {
	win  []int32
	bits []uint64
}

// emptyWindows holds the windows of dropped engines (dropWindows), for
// the next initWindow: a fuzzer restores thousands of snapshots a
// second, and a window made for each side they reached (66 KiB) was
// most of its time, in the garbage collector. A node's sides take one
// from it only when a RestoreEngine that failed left one.
//
// Invariant: every window in it is empty — every slot -1, every bit 0.
var emptyWindows sync.Pool

// dropWindows puts the windows of e's books in emptyWindows, emptied: e
// is not used again (RestoreEngine's when it fails; a test's engine
// restored per input).
func (e *Engine) dropWindows() {
	for i := range e.books {
		e.books[i].bids.dropWindow()
		e.books[i].asks.dropWindow()
	}
}

// dropWindow empties the side's window and puts it in emptyWindows.
// Emptying costs a word per 64 slots and a store per level, not a store
// per slot.
func (s *side) dropWindow() {
	if s.win == nil {
		return
	}
	for w, word := range s.bits {
		for ; word != 0; word &= word - 1 {
			s.win[w*64+bits.TrailingZeros64(word)] = -1
		}
		s.bits[w] = 0
	}
	emptyWindows.Put(&window{s.win, s.bits})
	s.win, s.bits = nil, nil
}

// centre places the (empty) window's lowest slot half a window below
// price, on a tick, and never below the lowest price.
func (s *side) centre(price int64) {
	lo := max(price-windowSlots/2*s.tick, s.tick)
	s.lo = lo - lo%s.tick
}

// better reports whether window slot i is better than slot j.
func (s *side) better(i, j int) bool {
	if s.sell {
		return i < j
	}
	return i > j
}

// lookup returns the level index at price, or -1.
func (s *side) lookup(price int64) int32 {
	if i, ok := s.slot(price); ok {
		return s.win[i]
	}
	if li, ok := s.out.Get(s.key(price)); ok {
		return li
	}
	return -1
}

// insert records level li at price (which has no level yet).
func (s *side) insert(price int64, li int32) {
	if s.win == nil && s.out.Len() == 0 {
		s.initWindow(price)
	}
	if i, ok := s.slot(price); ok {
		s.occupy(i, li)
		return
	}
	s.out.Set(s.key(price), li)
	s.noteOutTop()
	if (s.n == 0 || s.outBetter(s.outTopKey)) && s.n*recenterShare <= s.out.Len() {
		s.recenter(s.key(s.outTopKey))
	}
}

// noteOutTop sets outTop and outTopKey after the overflow changed.
func (s *side) noteOutTop() {
	s.outTop = -1
	if s.out.Len() > 0 {
		s.outTopKey, s.outTop = s.out.At(s.out.Last())
	}
}

// occupy puts level li in window slot i (free).
func (s *side) occupy(i int, li int32) {
	s.win[i] = li
	s.bits[i/64] |= 1 << (i % 64)
	if s.n == 0 || s.better(i, s.best) {
		s.best = i
	}
	s.n++
}

// recenter moves the window to be centred on price: its levels go to the
// overflow, and the overflow's levels priced within the new window come
// into it.
func (s *side) recenter(price int64) {
	for w, word := range s.bits {
		for ; word != 0; word &= word - 1 {
			i := w*64 + bits.TrailingZeros64(word)
			s.out.Set(s.key(s.lo+int64(i)*s.tick), s.win[i])
			s.win[i] = -1
		}
		s.bits[w] = 0
	}
	s.n = 0
	s.centre(price)
	first, last := s.key(s.lo), s.key(s.lo+(windowSlots-1)*s.tick)
	if s.sell {
		first, last = last, first
	}
	s.moving = s.moving[:0]
	for p := s.out.AtLeast(first); p.Valid(); p = s.out.Next(p) {
		k, li := s.out.At(p)
		if k > last {
			break
		}
		s.moving = append(s.moving, movingLevel{k, li})
	}
	for _, m := range s.moving {
		s.out.Delete(m.key)
		i, _ := s.slot(s.key(m.key))
		s.occupy(i, m.li)
	}
	s.noteOutTop()
}

// remove forgets the level at price.
func (s *side) remove(price int64) {
	if i, ok := s.slot(price); ok {
		s.win[i] = -1
		s.bits[i/64] &^= 1 << (i % 64)
		s.n--
		if s.n > 0 && i == s.best {
			s.best = s.nextWorse(i)
		}
		return
	}
	s.out.Delete(s.key(price))
	s.noteOutTop()
}

// nextWorse returns the occupied window slot next worse than i, or -1.
func (s *side) nextWorse(i int) int {
	if s.sell { // worse is higher
		for j := i + 1; j < windowSlots; {
			w := s.bits[j/64] >> (j % 64)
			if w != 0 {
				return j + bits.TrailingZeros64(w)
			}
			j = (j/64 + 1) * 64
		}
		return -1
	}
	for j := i - 1; j >= 0; { // worse is lower
		w := s.bits[j/64] << (63 - j%64)
		if w != 0 {
			return j - bits.LeadingZeros64(w)
		}
		j = j/64*64 - 1
	}
	return -1
}

// outBetter reports whether overflow key k is better than every window
// price.
func (s *side) outBetter(k int64) bool {
	if s.win == nil {
		return true
	}
	if s.sell {
		return -k < s.lo
	}
	return k >= s.lo
}

// bestLevel returns the index of the best level, or -1.
func (s *side) bestLevel() int32 {
	if s.outTop >= 0 && (s.n == 0 || s.outBetter(s.outTopKey)) {
		return s.outTop
	}
	if s.n > 0 {
		return s.win[s.best]
	}
	return -1
}

// depth is the number of levels.
func (s *side) depth() int { return s.n + s.out.Len() }

// each calls fn with every level index, best first, until it returns
// false.
func (s *side) each(fn func(li int32) bool) {
	p := s.out.Last()
	for ; p.Valid(); p = s.out.Prev(p) {
		k, li := s.out.At(p)
		if !s.outBetter(k) {
			break
		}
		if !fn(li) {
			return
		}
	}
	if s.n > 0 {
		for i := s.best; i >= 0; i = s.nextWorse(i) {
			if !fn(s.win[i]) {
				return
			}
		}
	}
	for ; p.Valid(); p = s.out.Prev(p) {
		if _, li := s.out.At(p); !fn(li) {
			return
		}
	}
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
	inst   Instrument
	bids   side
	asks   side
	halted bool
	// clearing: a halt with CancelOrders is cancelling the book's orders
	// a chunk an input (haltclear.go). Invariant: clearing ⇒ halted.
	clearing bool
	// resumeCleared: a CmdResume came while clearing; the book resumes
	// when the clear ends. Invariant: resumeCleared ⇒ clearing.
	resumeCleared bool
	lastTrade     int64 // 0 until the first trade
}

// empty reports whether the book holds no orders.
func (b *book) empty() bool { return b.bids.bestLevel() < 0 && b.asks.bestLevel() < 0 }

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
	if li := s.lookup(price); li >= 0 {
		return li
	}
	li := e.newLevel(price)
	s.insert(price, li)
	return li
}

func (e *Engine) newLevel(price int64) int32 {
	var li int32
	if e.freeLevel >= 0 {
		li = e.freeLevel
		e.freeLevel = e.levels[li].head
	} else {
		li = int32(len(e.levels))
		e.levels = append(withRoom(e.levels), level{})
	}
	*e.changeLevel(li) = level{price: price, head: -1, tail: -1}
	return li
}

// dropLevel removes an empty level from s and frees it.
func (e *Engine) dropLevel(s *side, li int32) {
	s.remove(e.levels[li].price)
	*e.changeLevel(li) = level{head: e.freeLevel}
	e.freeLevel = li
}

// enqueue appends order oi at the back of its price level on b.
func (e *Engine) enqueue(b *book, oi int32) {
	o := e.changeOrder(oi)
	s := b.side(o.side)
	li := e.levelAt(s, o.price)
	lv := e.changeLevel(li)
	o.level, o.prev, o.next = li, lv.tail, -1
	if lv.tail >= 0 {
		e.changeOrder(lv.tail).next = oi
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
	o := e.changeOrder(oi)
	lv := e.changeLevel(o.level)
	if o.prev >= 0 {
		e.changeOrder(o.prev).next = o.next
	} else {
		lv.head = o.next
	}
	if o.next >= 0 {
		e.changeOrder(o.next).prev = o.prev
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
