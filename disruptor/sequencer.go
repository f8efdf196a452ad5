package disruptor

import (
	"fmt"
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
	// running ring: each seq is set to the published cursor (the new
	// consumer starts after it), which AddGating returns.
	AddGating(seqs ...*Sequence) (start int64)
	// RemoveGating stops producers waiting for seqs. Safe on a running
	// ring.
	RemoveGating(seqs ...*Sequence)
	// Halt stops the ring for good: every waiter (producers in Next,
	// consumers) is woken and returns ErrHalted; claims fail from now on.
	Halt()
	// Halted reports whether Halt was called.
	Halted() bool

	core() *sequencer
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
	// avail (multi-producer only) holds, per slot, the round
	// (sequence >> shift, truncated to int32) of the last sequence
	// published into it.
	// Invariant: slot s is published iff avail[s&mask] == int32(s>>shift),
	// for s within one ring size of the claim cursor. The truncation is
	// safe because a slot's stale value is always exactly one round
	// behind.
	avail []atomic.Int32
	shift uint

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
// published.
func (s *sequencer) Published() int64 {
	hi := s.cursor.Load()
	if s.avail == nil {
		return hi
	}
	// Everything a consumer finished was published, and a sequence more
	// than a ring below the claim cursor was overwritten, so was published
	// earlier; scan only the rest.
	lo := max(hi-s.size+1, 0)
	if g := *s.gating.Load(); len(g) > 0 {
		lo = max(lo, minSequence(g, hi)+1)
	}
	return s.highestPublished(lo, hi)
}

// highestPublished returns the highest sequence in lo-1 … hi up to which
// every slot from lo is published, in one pass. hi must not exceed the
// claim cursor.
func (s *sequencer) highestPublished(lo, hi int64) int64 {
	if s.avail == nil {
		return hi
	}
	for seq := lo; seq <= hi; seq++ {
		if s.avail[seq&s.mask].Load() != int32(seq>>s.shift) {
			return seq - 1
		}
	}
	return hi
}

// AddGating adds consumer sequences producers must not overtake.
//
// A producer may have checked the old gating set just before the new one
// is stored; its claims reach at most one ring beyond what was then
// published. Setting each seq to the published cursor again after the
// store puts the new consumer's start past every slot such a claim can
// overwrite (the LMAX two-step).
func (s *sequencer) AddGating(seqs ...*Sequence) int64 {
	s.gatingMu.Lock()
	defer s.gatingMu.Unlock()
	start := s.Published()
	for _, q := range seqs {
		q.Store(start)
	}
	next := append(slices.Clone(*s.gating.Load()), seqs...)
	s.gating.Store(&next)
	start = s.Published()
	for _, q := range seqs {
		q.Store(start)
	}
	return start
}

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

// waitGating waits until every gating sequence is >= wrap and returns the
// gating minimum it saw (floor when there is no gating).
func (s *sequencer) waitGating(wrap, floor int64) (int64, error) {
	var m int64
	ready := func() bool { m = minSequence(*s.gating.Load(), floor); return m >= wrap }
	if ready() {
		return m, nil
	}
	if !s.sig.waitFor(s.wait, gateSpins, ready, func() bool { return s.halted.Load() }) {
		return m, ErrHalted
	}
	return m, nil
}
