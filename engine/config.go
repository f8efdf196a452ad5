package engine

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
)

// maxID bounds instrument and account ids: the engine indexes them
// directly in slices.
const maxID = 1 << 20

// Instrument is one tradable product.
type Instrument struct {
	ID     uint32
	Symbol string
	// TickSize: every limit price is a positive multiple of it.
	TickSize int64
	// LotSize: every quantity is a positive multiple of it.
	LotSize int64
	// PriceBand is the furthest a limit price may be from the reference
	// price, and the furthest a market order trades from it. 0: no band.
	PriceBand int64
	// ReferencePrice is the reference before the first trade (0: none).
	ReferencePrice int64
}

// Account is one trading account and its risk limits (0: no limit).
type Account struct {
	ID            uint32
	MaxOrderQty   int64
	MaxNotional   int64 // price × quantity of one order (a market order: what it would trade)
	MaxOpenOrders int64
}

// Config is everything the engine is built from.
type Config struct {
	Instruments []Instrument
	Accounts    []Account
	// MaxOrders sizes the order pool up front (it grows if exceeded); 0
	// sizes it for defaultMaxOrders. A node's config asks for 1024 or
	// more (config.Validate); a test asks for less when an engine per
	// input is its cost (FuzzRestore).
	MaxOrders int
	// MapPools has NewEngine write its pools' memory, so that the pages
	// are mapped before trading reaches them: a page fault on the engine
	// goroutine is trading waiting.
	MapPools bool
	// HaltClearChunk bounds the cancels a halt with CancelOrders emits per
	// input (doc.go, Halts): the halt's input cancels up to this many of
	// the book's orders, and every input after it as many more, until the
	// book is empty. 0: the halt's input cancels the whole book.
	HaltClearChunk int
}

// ErrConfig is wrapped by every Config validation error.
var ErrConfig = errors.New("engine: invalid config")

// Validate checks the config.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrConfig}, a...)...))
	}
	seen := map[uint32]bool{}
	for _, in := range c.Instruments {
		switch {
		case in.ID == 0 || in.ID >= maxID:
			bad("instrument %q: id %d not in 1…%d", in.Symbol, in.ID, maxID-1)
		case seen[in.ID]:
			bad("instrument id %d appears twice", in.ID)
		case in.TickSize <= 0 || in.LotSize <= 0:
			bad("instrument %d: tick size and lot size must be positive", in.ID)
		case in.PriceBand < 0 || in.ReferencePrice < 0:
			bad("instrument %d: price band and reference price must not be negative", in.ID)
		}
		seen[in.ID] = true
	}
	seen = map[uint32]bool{}
	for _, a := range c.Accounts {
		switch {
		case a.ID == 0 || a.ID >= maxID:
			bad("account id %d not in 1…%d", a.ID, maxID-1)
		case seen[a.ID]:
			bad("account id %d appears twice", a.ID)
		case a.MaxOrderQty < 0 || a.MaxNotional < 0 || a.MaxOpenOrders < 0:
			bad("account %d: limits must not be negative", a.ID)
		}
		seen[a.ID] = true
	}
	if c.MaxOrders < 0 {
		bad("MaxOrders must not be negative")
	}
	if c.HaltClearChunk < 0 {
		bad("HaltClearChunk must not be negative")
	}
	return errors.Join(errs...)
}

// Semantics numbers what the engine does with its commands. Bump it with
// every change that decides some input differently or gives an input a
// meaning it did not have (a new command type): it is part of
// Fingerprint, so a node or cluster member running another engine stops
// rather than replay or apply inputs to a different state.
//
//	1: until 2026-12-03 (and every build before this constant)
//	2: CmdOrderStatus, CmdSuspendAccount, CmdResumeAccount
//	3: CmdResend
//	4: a market order's max-notional check is on what it would trade (it
//	   was on the reference price, and none without one)
//	5: a new order beyond MaxLiveOrders live orders is refused (overflow)
//	6: CmdHalt with CancelOrders cancels the instrument's resting orders
//	   (a build before it would halt and keep them)
//	7: a market order's max-notional check walks the book as match does:
//	   no further than the match limit (it refused orders the limit stops
//	   within max_notional), past the account's own orders that
//	   self-trade prevention cancels (it let them trade beyond
//	   max_notional) and not past one that stops it (it refused orders
//	   stopped within max_notional)
//	8: the own orders an order's STPCancelResting cancels count against
//	   its match limit as its trades do (uncounted, the FOK and market
//	   checks walked every one of them, and a refused order could be
//	   sent again and again)
const Semantics = 8

// Fingerprint is a hash of everything in c that decides how a command is
// matched or refused — each instrument's id, tick, lot, band and
// reference price, each account's id and limits — in id order, so that
// listing them in another order changes nothing, of the engine's
// Semantics beyond 1, and of HaltClearChunk when it is not 0 (it decides
// which input cancels which order of a halted book). Symbols and
// MaxOrders do not decide anything.
// Never 0 (which callers use for "unknown").
//
// Inputs replayed under a config (or engine) with another fingerprint than
// they were first decided under may be decided differently.
func (c Config) Fingerprint() uint64 {
	ins := slices.SortedFunc(slices.Values(c.Instruments), func(a, b Instrument) int { return cmp.Compare(a.ID, b.ID) })
	accts := slices.SortedFunc(slices.Values(c.Accounts), func(a, b Account) int { return cmp.Compare(a.ID, b.ID) })
	le := binary.LittleEndian
	var b []byte
	if Semantics > 1 { // semantics 1 hashed no version: its fingerprints stay as they were
		b = le.AppendUint32(b, Semantics)
	}
	b = le.AppendUint32(b, uint32(len(ins)))
	for _, in := range ins {
		b = le.AppendUint32(b, in.ID)
		for _, v := range []int64{in.TickSize, in.LotSize, in.PriceBand, in.ReferencePrice} {
			b = le.AppendUint64(b, uint64(v))
		}
	}
	b = le.AppendUint32(b, uint32(len(accts)))
	for _, a := range accts {
		b = le.AppendUint32(b, a.ID)
		for _, v := range []int64{a.MaxOrderQty, a.MaxNotional, a.MaxOpenOrders} {
			b = le.AppendUint64(b, uint64(v))
		}
	}
	if c.HaltClearChunk != 0 { // 0, the whole book at once, hashes nothing: its fingerprints stay as they were
		b = le.AppendUint64(b, uint64(c.HaltClearChunk))
	}
	h := fnv.New64a()
	h.Write(b)
	return max(h.Sum64(), 1)
}
