package engine

import (
	"math/bits"
	"unsafe"

	"github.com/ringex/ringex/internal/pieces"
)

// Copying the state in steps. CopyState stops the engine for as long as
// it copies its order and level pools — ~7 ms for 1 M resting orders in
// BenchmarkSnapshot, 14–20 ms in a node under load (the 2-core Xeon dev
// VM) — and a node trading at 100 k orders/s answers nothing meanwhile.
// BeginCopy, CopyMore and FinishCopy take the same copy in steps the
// caller puts between commands: CopyMore sweeps the pools a few hundred
// kilobytes at a time, the engine marks every piece of a pool it changes
// while the copy is open, and FinishCopy copies again only the pieces
// changed after the sweep passed them, then the rest of the state — the
// one step that must see the state whole.
//
// Invariant (what makes the copy exact): while a copy is open, every
// write to an element of e.orders or e.levels goes through changeOrder or
// changeLevel, which mark its piece, and no pointer into the pools
// outlives the command that took it. TestPoolWritesGoThroughChange checks
// the first in the source; the second holds because Apply takes every
// pointer afresh.
//
// Cost: the mark is one nil test per pool write while no copy is open.
// BenchmarkEngine on the dev VM (Model 207, 2026-12-04): place ~70 → 72–75
// ns, mixed ~61.5 → 64.6–65.6 ns. Keeping changeOrder out of line
// (//go:noinline, so that the callers stay small) cost more: +5 ns.

// Pieces of a pool the changed-marks cover: 4 orders (352 bytes), 16
// levels (512 bytes).
const (
	orderPieceShift = 2
	levelPieceShift = 4
	orderBytes      = int(unsafe.Sizeof(order{}))
	levelBytes      = int(unsafe.Sizeof(level{}))
)

// changedPieces marks the pieces of one pool written while a copy is
// open. It covers twice the pool's length at BeginCopy; marks past that
// (a pool that more than doubled during the copy) are not kept, and
// FinishCopy copies all of those elements.
type changedPieces struct {
	bits  []uint64
	shift uint
}

func (c *changedPieces) reset(elements int, shift uint) {
	c.shift = shift
	words := (elements>>shift + 64) / 64
	if cap(c.bits) < words {
		c.bits = make([]uint64, words)
	}
	c.bits = c.bits[:words]
	clear(c.bits)
}

// unmarkFrom clears the marks of the pieces from element start (a
// multiple of the piece size) to element end.
func (c *changedPieces) unmarkFrom(start, end int) {
	for p := start >> c.shift; p<<c.shift < end && int(p/64) < len(c.bits); p++ {
		c.bits[p/64] &^= 1 << (p % 64)
	}
}

// eachMarked calls fn with the first element of every marked piece
// before element end.
func (c *changedPieces) eachMarked(end int, fn func(first int)) {
	for w, word := range c.bits {
		for word != 0 {
			p := w*64 + bits.TrailingZeros64(word)
			word &= word - 1
			if first := p << c.shift; first < end {
				fn(first)
			}
		}
	}
}

// sweep is one pool's side of an open copy.
type sweep[T any] struct {
	changed changedPieces
	done    int // elements swept: [0, done) copied, marks since then kept
	end     int // what the sweep covers: the pool's length, as far as the copy has room and marks reach
	marked  int // elements the marks cover
}

// begin opens the sweep of pool into dst and returns dst as long as pool
// and whether dst had to grow.
func (s *sweep[T]) begin(dst []T, pool []T, shift uint) ([]T, bool) {
	s.marked = 2 * len(pool)
	s.changed.reset(s.marked, shift)
	s.done, s.end = 0, len(pool)
	grew := cap(dst) < len(pool)
	if grew {
		dst = pieces.Reserve(dst[:0], len(pool))
	}
	return dst[:len(pool)], grew
}

// more copies up to n more elements of the sweep and returns dst and how
// many. The sweep follows a pool that grew since BeginCopy as far as dst
// has room (StateCopy.Reserve between steps makes it) and the marks
// reach, so that FinishCopy does not copy the growth in one go.
func (s *sweep[T]) more(dst, pool []T, n int) ([]T, int) {
	if s.end < len(pool) {
		s.end = min(len(pool), cap(dst), s.marked)
		dst = dst[:max(len(dst), s.end)]
	}
	if s.done >= s.end || n <= 0 {
		return dst, 0
	}
	piece := 1 << s.changed.shift
	// From the start of done's piece: a sweep that reached the end of the
	// pool may have stopped inside a piece, and a change to its swept
	// part since then marked the piece — whose mark is cleared below.
	start := s.done &^ (piece - 1)
	hi := min(s.end, (s.done+n+piece-1)&^(piece-1))
	copy(dst[start:hi], pool[start:hi])
	s.changed.unmarkFrom(start, hi)
	n = hi - s.done
	s.done = hi
	return dst, n
}

// finish copies what changed behind the sweep and everything after it,
// and returns dst as long as pool and whether dst had to grow.
func (s *sweep[T]) finish(dst, pool []T) ([]T, bool) {
	grew := len(pool) > cap(dst) // the pool outgrew the copy's room
	if grew {
		dst = pieces.Grow(dst, len(pool)-len(dst))
	}
	dst = dst[:len(pool)]
	piece := 1 << s.changed.shift
	s.changed.eachMarked(s.done, func(first int) {
		hi := min(first+piece, len(pool))
		copy(dst[first:hi], pool[first:hi])
	})
	pieces.Copy(dst[s.done:], pool[s.done:])
	s.done, s.end = 0, 0
	return dst, grew
}

// BeginCopy opens a copy of the state into c, taken in steps: CopyMore
// until it reports the sweep done, then FinishCopy, each between two
// commands. It allocates only when c is smaller than the pools (Reserve
// it ahead), and reports whether it had to grow c's pools. Between two
// steps, and only then, the goroutine that hands the engine the steps may
// Reserve c again for pools that grew. One copy is open at a time:
// BeginCopy while one is open, or with a c a CopyState or Snapshot is
// using, is a bug.
func (e *Engine) BeginCopy(c *StateCopy) (grew bool) {
	if e.copying != nil {
		panic("engine: BeginCopy while a copy is open")
	}
	e.copying = c
	var ordersGrew, levelsGrew bool
	c.orders, ordersGrew = c.orderSweep.begin(c.orders, e.orders, orderPieceShift)
	c.levels, levelsGrew = c.levelSweep.begin(c.levels, e.levels, levelPieceShift)
	return ordersGrew || levelsGrew
}

// CopyMore copies up to about budget more bytes of the open copy's pools
// and reports whether the sweep is done: FinishCopy then has only the
// changes since to copy.
func (e *Engine) CopyMore(budget int) (swept bool) {
	c := e.copying
	n := budget / orderBytes
	var copied int
	c.orders, copied = c.orderSweep.more(c.orders, e.orders, n)
	n -= copied
	c.levels, _ = c.levelSweep.more(c.levels, e.levels, n*orderBytes/levelBytes)
	return c.orderSweep.done >= c.orderSweep.end && c.levelSweep.done >= c.levelSweep.end
}

// FinishCopy completes the open copy: afterwards c encodes (Snapshot) the
// state as it is now, as a CopyState now would have copied it. It reports
// whether it had to grow c's pools: they outgrew c's room during the copy.
func (e *Engine) FinishCopy() (grew bool) {
	c := e.copying
	e.copying = nil
	var ordersGrew, levelsGrew bool
	c.orders, ordersGrew = c.orderSweep.finish(c.orders, e.orders)
	c.levels, levelsGrew = c.levelSweep.finish(c.levels, e.levels)
	listed := cap(c.listed.levels)
	e.listLevels(&c.listed)
	c.accounts = append(c.accounts[:0], e.accounts...)
	return ordersGrew || levelsGrew || cap(c.listed.levels) != listed
}

// DropCopy closes the open copy unfinished; c holds nothing usable.
func (e *Engine) DropCopy() { e.copying = nil }

// Copying reports whether a copy is open.
func (e *Engine) Copying() bool { return e.copying != nil }

// changeOrder is order oi, for changing: with a copy open it marks the
// order's piece of the pool (see the invariant above).
func (e *Engine) changeOrder(oi int32) *order {
	if e.copying != nil {
		e.copying.orderSweep.changed.mark(oi)
	}
	return &e.orders[oi]
}

// changeLevel is level li, for changing, like changeOrder.
func (e *Engine) changeLevel(li int32) *level {
	if e.copying != nil {
		e.copying.levelSweep.changed.mark(li)
	}
	return &e.levels[li]
}

func (c *changedPieces) mark(i int32) {
	p := uint(i) >> c.shift
	if w := p / 64; w < uint(len(c.bits)) {
		c.bits[w] |= 1 << (p % 64)
	}
}
