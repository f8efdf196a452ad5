package disruptor

import (
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
)

// Sequencer hands out the slots of a ring to producers and tells consumers
// which slots are published. Use NewSingleProducer when exactly one
// goroutine claims, NewMultiProducer otherwise. A Sequencer only counts:
// the slots themselves live in a Ring of the same size.
type Sequencer interface {
	// Next claims n slots, waiting while the ring is full, and returns
	// the highest claimed sequence: the claim is hi-n+1 … hi. It returns
	// ErrClaimSize when n is not in 1 … Size (such a claim could never
	// succeed) and ErrHalted when the pipeline is halted, also while
	// waiting.
	Next(n int64) (hi int64, err error)
	// TryNext is Next without waiting: ErrFull when the claim would
	// overwrite a slot some consumer has not finished.
	TryNext(n int64) (hi int64, err error)
	// Publish makes the claimed slots lo … hi visible to consumers. Every
	// claimed slot must be published, or consumers wait for it forever.
	Publish(lo, hi int64)
	// Published returns the highest sequence up to which every slot is
	// published. For a multi-producer ring it scans the availability
	// buffer: not for hot paths.
	Published() int64
	// Size is the number of slots.
	Size() int64
	// AddGating makes producers wait for seqs too, so they never
	// overwrite a slot those consumers have not finished. Safe on a
	// running ring: each seq is set to the cursor (the new consumer
	// starts after it), which AddGating returns — the published cursor
	// of a single-producer ring, the claim cursor of a multi-producer
	// one.
	AddGating(seqs ...*Sequence) (start int64)
	// RemoveGating stops producers waiting for seqs. Safe on a running
	// ring.
	RemoveGating(seqs ...*Sequence)
	// Halt stops the ring for good: every waiter (producers in Next,
	// consumers) is woken and returns ErrHalted; claims fail from now on.
	Halt()
	// Halted reports whether Halt was called.
	Halted() bool
	// Wake wakes every goroutine waiting on the ring to look again: for
	// a producer in NextUnless whose refuse turned true while no
	// consumer advances (a claim that gives up at a deadline).
	Wake()

	core() *sequencer
	// claimed is the highest claimed sequence. A SingleProducer's is
	// its producer's to read.
	claimed() int64
}

// sequencer is what both producer kinds share: size, waiting, gating,
// halting, and what a consumer needs to find published slots.
type sequencer struct {
	size int64
	mask int64
	wait WaitStrategy
	sig  *signal
	// cursor is the published cursor of a single-producer ring and the
	// claim cursor of a multi-producer one.
	cursor *Sequence
	// avail (multi-producer only) holds, per slot, the roundMark of the
	// last sequence published into it (0, round -1, before any).
	// Invariant: for m the slowest gating sequence and s in m+1 … m+size,
	// slot s is published iff avail[s&mask] == roundMark(s, shift); an
	// unpublished slot holds the mark of the round before. No producer
	// writes past m+size (its claim may, while it waits for room). The
	// truncation to int32 is safe because the marks compared are at most
	// one round apart.
	avail []atomic.Int32
	shift uint
	// pubSeen (multi-producer only) is a sequence Published found
	// published, with every one before it: while the slowest gating
	// sequence is below it, those slots stay published (none is reused
	// before every consumer passes it), and a scan starts after it. Without
	// it every call scanned from the slowest consumer up — the whole ring
	// when the engine lags and it is full: 16 M marks, ~15 ms, per
	// follower batch, logon and gauge read.
	pubSeen atomic.Int64

	halted atomic.Bool

	gatingMu sync.Mutex
	// gating is replaced copy-on-write under gatingMu and read lock-free
	// by producers.
	gating atomic.Pointer[[]*Sequence]
}

func (s *sequencer) init(size int, ws WaitStrategy, cursor *Sequence) error {
	if err := checkSize(size); err != nil {
		return err
	}
	if ws > BusySpin {
		return fmt.Errorf("disruptor: unknown wait strategy %d", ws)
	}
	s.size, s.mask, s.wait, s.sig, s.cursor = int64(size), int64(size-1), ws, newSignal(), cursor
	s.cursor.Store(InitialSequence)
	s.pubSeen.Store(InitialSequence)
	s.gating.Store(&[]*Sequence{})
	return nil
}

func (s *sequencer) core() *sequencer { return s }

// Size is the number of slots.
func (s *sequencer) Size() int64 { return s.size }

// Halted reports whether Halt was called.
func (s *sequencer) Halted() bool { return s.halted.Load() }

// Halt stops the ring: waiters return ErrHalted.
func (s *sequencer) Halt() {
	s.halted.Store(true)
	s.sig.broadcast()
}

// Wake wakes every waiter to look again (Sequencer.Wake).
func (s *sequencer) Wake() { s.sig.broadcast() }

func (s *sequencer) checkClaim(n int64) error {
	if n < 1 || n > s.size {
		return fmt.Errorf("%w: %d slots of %d", ErrClaimSize, n, s.size)
	}
	if s.halted.Load() {
		return ErrHalted
	}
	return nil
}

// Published returns the highest sequence up to which every slot is
// published: at least what was published when it was called.
//
// Every slot a consumer finished was published, so the scan starts after
// the slowest gating sequence, read before the claim cursor (which it
// therefore never exceeds). A consumer added at run time counts as having
// finished everything up to its start, the claim cursor: while it is the
// slowest, slots claimed before it and not yet published count too, which
// no consumer of the ring will read. While it scans, consumers may finish a slot
// and a producer reuse it: a round newer than the slot's own also means
// published. Reading the cursor first, as this once did, let the
// consumers pass it before the scan, and returned that stale cursor —
// below slots already reused.
func (s *sequencer) Published() int64 {
	if s.avail == nil {
		return s.cursor.Load()
	}
	g := *s.gating.Load()
	if len(g) == 0 {
		// Nothing bounds the producers: only the last ring below the
		// claim cursor can still hold its own round.
		hi := s.cursor.Load()
		return s.highestPublished(max(hi-s.size+1, 0), hi)
	}
	m := minSequence(g, math.MaxInt64)
	top := min(s.cursor.Load(), m+s.size)
	from := m + 1
	seen := s.pubSeen.Load()
	if seen > m {
		// Published when seen, and not reused since: the slowest
		// consumer has not passed it. (A slot reused meanwhile holds a
		// newer round: published too, as below.)
		from = min(seen, top) + 1
	}
	pub := top
	for seq := from; seq <= top; seq++ {
		if s.avail[seq&s.mask].Load()-roundMark(seq, s.shift) < 0 {
			pub = seq - 1
			break
		}
	}
	for pub > seen && !s.pubSeen.CompareAndSwap(seen, pub) {
		seen = s.pubSeen.Load()
	}
	return pub
}

// highestPublished returns the highest sequence in lo-1 … hi up to which
// every slot from lo is published, in one pass. hi must not exceed the
// claim cursor.
func (s *sequencer) highestPublished(lo, hi int64) int64 {
	if s.avail == nil {
		return hi
	}
	for seq := lo; seq <= hi; seq++ {
		if s.avail[seq&s.mask].Load() != roundMark(seq, s.shift) {
			return seq - 1
		}
	}
	return hi
}

// roundMark is what a multi-producer ring's availability buffer holds
// for a slot once seq is published into it: seq's round (seq >> shift,
// the ring's size being 1 << shift) plus one, so that the buffer's zero
// value reads as round -1 — nothing published — and needs no writing.
func roundMark(seq int64, shift uint) int32 { return int32(seq>>shift) + 1 }

// AddGating adds consumer sequences producers must not overtake, and
// starts them at the cursor: the published cursor of a single-producer
// ring, the claim cursor of a multi-producer one. A consumer added to a
// multi-producer ring therefore skips a slot claimed before AddGating and
// published after it.
//
// A producer may have checked the old gating set just before the new one
// is stored; setting each seq to the cursor again after the store puts
// the new consumer's start past every slot such a producer can overwrite
// (the LMAX two-step). It must be the claim cursor for several producers:
// their cached gating minimum (gateCache) is bounded by the claim cursor
// they read before the gating set, not by what is published. Starting at
// a published cursor read with a scan let a consumer start below slots
// producers then reused: it waited for ever for a round the slot had
// passed, and the ring stopped.
func (s *sequencer) AddGating(seqs ...*Sequence) int64 {
	s.gatingMu.Lock()
	defer s.gatingMu.Unlock()
	first := s.cursor.Load()
	for _, q := range seqs {
		q.Store(first)
	}
	next := append(slices.Clone(*s.gating.Load()), seqs...)
	s.gating.Store(&next)
	if testHookAddGating != nil {
		testHookAddGating()
	}
	// Invariant: the cursor never moves backwards, so no seq does.
	start := s.cursor.Load()
	if start == first {
		return start
	}
	for _, q := range seqs {
		q.Store(start)
	}
	// A producer may have parked on the first value; nothing else would
	// wake it (the new consumer waits for that producer's slots).
	s.sig.broadcast()
	return start
}

// testHookAddGating, when set by a test, runs between AddGating's two
// steps.
var testHookAddGating func()

// RemoveGating drops consumer sequences and wakes producers that waited
// for them.
func (s *sequencer) RemoveGating(seqs ...*Sequence) {
	s.gatingMu.Lock()
	next := slices.DeleteFunc(slices.Clone(*s.gating.Load()), func(g *Sequence) bool {
		return slices.Contains(seqs, g)
	})
	s.gating.Store(&next)
	s.gatingMu.Unlock()
	s.sig.broadcast()
}

// waitGating waits until every gating sequence is >= wrap, or floor is
// when none gates, and returns the gating minimum for the producer's
// cache (see gateMin).
func (s *sequencer) waitGating(wrap, floor int64) (int64, error) {
	var m, cache int64
	ready := func() bool { m, cache = s.gateMin(floor); return m >= wrap }
	if ready() {
		return cache, nil
	}
	if !s.sig.waitFor(s.wait, ready, func() bool { return s.halted.Load() }) {
		return cache, ErrHalted
	}
	return cache, nil
}

// gateMin returns the smallest of floor (the producer's claim cursor) and
// the gating sequences, and what the producer may cache as the gating
// minimum: the same, or InitialSequence when no consumer gates. Caching
// floor then would let the producer pass a consumer added later without
// looking at it.
func (s *sequencer) gateMin(floor int64) (m, cache int64) {
	g := *s.gating.Load()
	m = minSequence(g, floor)
	if len(g) == 0 {
		return m, InitialSequence
	}
	return m, m
}
