package output

import (
	"slices"

	"github.com/ringex/ringex/engine"
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
	// updates (level changes and trades) published for this instrument.
	// A snapshot carries the Seq of the last update it includes, so a
	// subscriber detects a gap when an update is not Seq+1.
	Seq uint64
	// Invariant: Bids sorted by price descending, Asks ascending; no level
	// has Quantity <= 0.
	Bids []Level
	Asks []Level
	// Halted: the instrument takes no new orders (EvHalted until
	// EvResumed).
	Halted bool
	// Last is the last trade price (from the image's EvBookClear, then
	// every EvTrade); 0: none.
	Last int64
}

// Clear empties the book (EvBookClear: a full image follows, with an
// EvHalted if the instrument is halted).
func (b *MDBook) Clear() {
	b.Bids = b.Bids[:0]
	b.Asks = b.Asks[:0]
	b.Halted = false
}

// Apply sets one level from an EvBookLevel: quantity 0 removes it.
func (b *MDBook) Apply(side engine.Side, price, qty int64, count uint32) {
	levels, better := &b.Asks, func(a, p int64) int { return cmpInt64(a, p) }
	if side == engine.Buy {
		levels, better = &b.Bids, func(a, p int64) int { return cmpInt64(p, a) }
	}
	i, found := slices.BinarySearchFunc(*levels, price, func(l Level, p int64) int { return better(l.Price, p) })
	switch {
	case qty <= 0 && found:
		*levels = slices.Delete(*levels, i, i+1)
	case qty <= 0:
	case found:
		(*levels)[i] = Level{Price: price, Quantity: qty, Count: count}
	default:
		*levels = slices.Insert(*levels, i, Level{Price: price, Quantity: qty, Count: count})
	}
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
