package output

import (
	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/internal/sortedmap"
)

// Level is one aggregated price level of a market-data book.
type Level struct {
	Price    int64
	Quantity int64
	Count    uint32
}

// MDBook is the market-data stage's copy of one instrument's aggregated
// book and trading state, rebuilt from the engine's EvBookClear /
// EvBookLevel / EvHalted / EvResumed events. New
// subscribers get their snapshot from it, so the engine never has to stop
// for them.
//
// Owned by the market-data goroutine; not safe for concurrent use.
type MDBook struct {
	Instrument uint32
	// Seq is the per-instrument market-data sequence: it counts the
	// updates (level changes and trades) published for this instrument,
	// and the images the book is rebuilt from (the node counts one when
	// its market-data port reopens). A snapshot carries the Seq of the
	// last update or image it includes, so a subscriber detects a gap
	// when an update is not Seq+1, and two snapshots with one Seq show
	// one book — within one run of one node: it starts at 0 with the
	// node, and cluster members count their own.
	Seq uint64
	// bids and asks hold the levels by key, best last: a bid's key is its
	// price, an ask's its negated price. In blocks (sortedmap): a deep
	// book's changes near its top moved every level behind them in one
	// sorted slice (BenchmarkMDBookApply/deep). Invariant: no level has
	// Quantity <= 0.
	bids, asks sortedmap.Map[Level]
	// Halted: the instrument takes no new orders (EvHalted until
	// EvResumed).
	Halted bool
	// Last is the last trade price (from the image's EvBookClear, then
	// every EvTrade); 0: none.
	Last int64
	// InputSeq is the input the book is as of: the Seq of the last event
	// applied — the last input that changed the book, or, after an image
	// (whose events carry the engine's last input), a later one. Every
	// input before it is in the book, and it in whole or in part (its
	// other events may be in the next fan-out batch). Two members holding
	// the same book may differ in it (one rebuilt its image later), so a
	// subscriber moving between members compares it with the updates it
	// saw of this instrument, not with another snapshot's. Invariant: it
	// only grows (events come in input order, and an image is of the
	// engine's state after every input up to its Seq).
	InputSeq int64
}

// Clear empties the book (EvBookClear: a full image follows, with an
// EvHalted if the instrument is halted).
func (b *MDBook) Clear() {
	b.bids.Clear()
	b.asks.Clear()
	b.Halted = false
}

// side returns a side's levels and the key of price on it.
func (b *MDBook) side(s engine.Side, price int64) (*sortedmap.Map[Level], int64) {
	if s == engine.Buy {
		return &b.bids, price
	}
	return &b.asks, -price
}

// Apply sets one level from an EvBookLevel: quantity 0 removes it.
func (b *MDBook) Apply(side engine.Side, price, qty int64, count uint32) {
	levels, key := b.side(side, price)
	if qty <= 0 {
		levels.Delete(key)
		return
	}
	levels.Set(key, Level{Price: price, Quantity: qty, Count: count})
}

// Depth is the number of levels on one side.
func (b *MDBook) Depth(side engine.Side) int {
	levels, _ := b.side(side, 0)
	return levels.Len()
}

// AppendLevels appends one side's levels to dst, best first.
func (b *MDBook) AppendLevels(dst []Level, side engine.Side) []Level {
	levels, _ := b.side(side, 0)
	for p := levels.Last(); p.Valid(); p = levels.Prev(p) {
		_, l := levels.At(p)
		dst = append(dst, l)
	}
	return dst
}
