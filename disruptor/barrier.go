package disruptor

import "math"

// Barrier is what a consumer waits on: the ring's published slots when it
// has no upstream, else the sequences of its upstream consumers.
type Barrier struct {
	seqr *sequencer
	// deps are the upstream consumers' sequences; empty means the
	// producer's publish cursor.
	deps []*Sequence
}

// NewBarrier returns a barrier on seqr's published slots, or, when deps
// are given, on the slowest of those upstream sequences.
func NewBarrier(seqr Sequencer, deps ...*Sequence) *Barrier {
	return &Barrier{seqr: seqr.core(), deps: deps}
}

// Available returns the highest sequence a consumer whose next sequence is
// next may read now: every slot up to it is published and finished by
// every upstream. It is next-1 when there is none.
func (b *Barrier) Available(next int64) int64 {
	if len(b.deps) > 0 {
		// Invariant: an upstream sequence never passes a published slot,
		// so the slowest upstream bounds what is published too.
		return minSequence(b.deps, math.MaxInt64)
	}
	return b.seqr.highestPublished(next, b.seqr.cursor.Load())
}

// Done records that the consumer whose sequence is seq has finished every
// slot up to upTo, and wakes the goroutines parked on the ring: producers
// waiting for room and consumers downstream of seq. A consumer written by
// hand (outside a Group) advances its gating sequence with Done; a bare
// seq.Store wakes nobody, and a producer parked on a full ring would wait
// for ever.
func (b *Barrier) Done(seq *Sequence, upTo int64) {
	seq.publish(upTo)
	b.seqr.sig.wake()
}

// WaitFor waits with the ring's wait strategy until Available(next) >=
// next and returns it, or returns ErrHalted when the ring is halted.
func (b *Barrier) WaitFor(next int64) (int64, error) {
	return b.waitFor(next, func() bool { return false })
}

// waitFor is WaitFor that also gives up (with ErrHalted) when stop() is
// true.
func (b *Barrier) waitFor(next int64, stop func() bool) (int64, error) {
	avail := b.Available(next)
	if avail >= next {
		return avail, nil
	}
	s := b.seqr
	if !s.sig.waitFor(s.wait,
		func() bool { avail = b.Available(next); return avail >= next },
		func() bool { return s.halted.Load() || stop() }) {
		return avail, ErrHalted
	}
	return avail, nil
}
