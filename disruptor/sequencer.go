package disruptor

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
)

// Sequencer hands out slots of a ring to producers. Use NewSingleProducer
// when exactly one goroutine claims, NewMultiProducer otherwise.
type Sequencer interface {
	// Next claims n slots, waiting while the ring is full, and returns
	// the highest claimed sequence (the range is hi-n+1 … hi). It returns
	// ErrHalted when the ring is halted while waiting and ErrClaimTooLarge
	// when n is not in 1 … size.
	Next(n int64) (hi int64, err error)
	// TryNext is Next without waiting: ErrFull when the slots are not free.
	TryNext(n int64) (hi int64, err error)
	// Publish makes the claimed range lo … hi visible to consumers.
	Publish(lo, hi int64)
	// Published returns the highest sequence below which every slot is
	// published.
	Published() int64
	// Size is the ring size in slots.
	Size() int64
	// AddGating makes the producer wait for seqs too. Safe while running.
	AddGating(seqs ...*Sequence)
	// RemoveGating stops waiting for seq. Safe while running.
	RemoveGating(seq *Sequence)
	// Halt wakes every waiter with ErrHalted; claims fail from now on.
	Halt()
	// Halted reports whether Halt was called.
	Halted() bool

	base() *sequencer
	// highestPublished returns the highest sequence in lo … avail below
	// which every slot is published (lo-1 if lo is not).
	highestPublished(lo, avail int64) int64
	// claimed is the highest claimed sequence.
	claimed() int64
}

// sequencer is what both producer kinds share: size, waiting, gating.
type sequencer struct {
	size   int64
	mask   int64
	wait   WaitStrategy
	signal *signal
	halted atomic.Bool

	gatingMu sync.Mutex
	// gating is replaced copy-on-write under gatingMu and read lock-free
	// by producers.
	gating atomic.Pointer[[]*Sequence]
}

func (s *sequencer) init(size int, ws WaitStrategy) error {
	if err := checkSize(size); err != nil {
		return err
	}
	s.size, s.mask, s.wait, s.signal = int64(size), int64(size-1), ws, newSignal()
	s.gating.Store(&[]*Sequence{})
	return nil
}

func (s *sequencer) base() *sequencer { return s }

// Size is the ring size.
func (s *sequencer) Size() int64 { return s.size }

// AddGating adds consumer sequences the producer must not overtake.
func (s *sequencer) AddGating(seqs ...*Sequence) {
	s.gatingMu.Lock()
	defer s.gatingMu.Unlock()
	next := append(slices.Clone(*s.gating.Load()), seqs...)
	s.gating.Store(&next)
}

// RemoveGating drops one consumer sequence and wakes producers that waited
// for it.
func (s *sequencer) RemoveGating(seq *Sequence) {
	s.gatingMu.Lock()
	next := slices.DeleteFunc(slices.Clone(*s.gating.Load()), func(g *Sequence) bool { return g == seq })
	s.gating.Store(&next)
	s.gatingMu.Unlock()
	s.signal.wake()
}

// Halt stops the ring: waiters return ErrHalted.
func (s *sequencer) Halt() {
	s.halted.Store(true)
	s.signal.mu.Lock()
	s.signal.cond.Broadcast()
	s.signal.mu.Unlock()
}

// Halted reports whether the ring is halted.
func (s *sequencer) Halted() bool { return s.halted.Load() }

func (s *sequencer) checkClaim(n int64) error {
	if n < 1 || n > s.size {
		return fmt.Errorf("%w: %d of %d", ErrClaimTooLarge, n, s.size)
	}
	if s.halted.Load() {
		return ErrHalted
	}
	return nil
}

// waitForGating waits until every gating sequence is >= wrap and returns
// the gating minimum it saw (capped at limit).
func (s *sequencer) waitForGating(wrap, limit int64) (int64, error) {
	var m int64
	s.signal.waitFor(s.wait,
		func() bool { m = minSequence(*s.gating.Load(), limit); return m >= wrap },
		s.halted.Load)
	if m < wrap {
		return m, ErrHalted
	}
	return m, nil
}

// SingleProducer is the sequencer of a ring with exactly one producing
// goroutine: claims are plain field updates, publish one atomic store.
type SingleProducer struct {
	sequencer
	// The producer's own fields sit on their own cache line: consumers
	// read the sequencer's fields (halted, gating) while polling.
	_ cacheLinePad
	// Owned by the producer goroutine.
	next       int64 // highest claimed
	cachedGate int64 // a gating minimum seen earlier; only grows
	_          cacheLinePad
	cursor     Sequence // highest published
}

// NewSingleProducer returns a sequencer for a ring of size slots.
func NewSingleProducer(size int, ws WaitStrategy) (*SingleProducer, error) {
	p := &SingleProducer{next: InitialSequence, cachedGate: InitialSequence}
	if err := p.init(size, ws); err != nil {
		return nil, err
	}
	p.cursor.Store(InitialSequence)
	return p, nil
}

// Next claims n slots, waiting while the ring is full.
func (p *SingleProducer) Next(n int64) (int64, error) {
	if err := p.checkClaim(n); err != nil {
		return 0, err
	}
	hi := p.next + n
	// Invariant: hi - size <= min(gating) before the claim is handed out.
	if wrap := hi - p.size; wrap > p.cachedGate {
		m, err := p.waitForGating(wrap, p.next)
		if err != nil {
			return 0, err
		}
		p.cachedGate = m
	}
	p.next = hi
	return hi, nil
}

// TryNext claims n slots or returns ErrFull.
func (p *SingleProducer) TryNext(n int64) (int64, error) {
	if err := p.checkClaim(n); err != nil {
		return 0, err
	}
	hi := p.next + n
	if wrap := hi - p.size; wrap > p.cachedGate {
		m := minSequence(*p.gating.Load(), p.next)
		p.cachedGate = m
		if wrap > m {
			return 0, ErrFull
		}
	}
	p.next = hi
	return hi, nil
}

// Publish makes lo … hi visible.
func (p *SingleProducer) Publish(_, hi int64) {
	p.cursor.Store(hi)
	p.signal.wake()
}

// Published returns the highest published sequence.
func (p *SingleProducer) Published() int64 { return p.cursor.Load() }

func (p *SingleProducer) highestPublished(_, avail int64) int64 { return avail }
func (p *SingleProducer) claimed() int64                        { return p.cursor.Load() }

// MultiProducer is the sequencer of a ring claimed by several goroutines.
// Claims are one atomic add (Next) or a compare-and-swap (TryNext); each
// publish marks its slots in an availability buffer, so producers never
// wait for each other.
type MultiProducer struct {
	sequencer
	claim     Sequence // highest claimed
	gateCache Sequence // a gating minimum seen earlier
	// available[i] holds the round (sequence >> shift) of the last
	// sequence published into slot i.
	available []atomic.Int32
	shift     uint
}

// NewMultiProducer returns a sequencer for a ring of size slots.
func NewMultiProducer(size int, ws WaitStrategy) (*MultiProducer, error) {
	p := &MultiProducer{}
	if err := p.init(size, ws); err != nil {
		return nil, err
	}
	p.available = make([]atomic.Int32, size)
	for size>>p.shift > 1 {
		p.shift++
	}
	p.claim.Store(InitialSequence)
	p.gateCache.Store(InitialSequence)
	for i := range p.available {
		p.available[i].Store(-1)
	}
	return p, nil
}

// Next claims n slots, waiting while the ring is full.
func (p *MultiProducer) Next(n int64) (int64, error) {
	if err := p.checkClaim(n); err != nil {
		return 0, err
	}
	hi := p.claim.v.Add(n)
	if wrap := hi - p.size; wrap > p.gateCache.Load() {
		m, err := p.waitForGating(wrap, hi-n)
		if err != nil {
			return 0, err
		}
		p.gateCache.Store(m)
	}
	return hi, nil
}

// TryNext claims n slots or returns ErrFull.
func (p *MultiProducer) TryNext(n int64) (int64, error) {
	if err := p.checkClaim(n); err != nil {
		return 0, err
	}
	for {
		cur := p.claim.Load()
		hi := cur + n
		if wrap := hi - p.size; wrap > p.gateCache.Load() {
			m := minSequence(*p.gating.Load(), cur)
			p.gateCache.Store(m)
			if wrap > m {
				return 0, ErrFull
			}
		}
		if p.claim.v.CompareAndSwap(cur, hi) {
			return hi, nil
		}
	}
}

// Publish marks lo … hi available.
func (p *MultiProducer) Publish(lo, hi int64) {
	for s := lo; s <= hi; s++ {
		p.available[s&p.mask].Store(int32(s >> p.shift))
	}
	p.signal.wake()
}

// Published returns the highest sequence below which all are published.
func (p *MultiProducer) Published() int64 {
	// Everything below the slowest consumer was published once.
	lo := minSequence(*p.gating.Load(), p.claim.Load()) + 1
	return p.highestPublished(lo, p.claim.Load())
}

func (p *MultiProducer) highestPublished(lo, avail int64) int64 {
	for s := lo; s <= avail; s++ {
		if p.available[s&p.mask].Load() != int32(s>>p.shift) {
			return s - 1
		}
	}
	return avail
}

func (p *MultiProducer) claimed() int64 { return p.claim.Load() }
