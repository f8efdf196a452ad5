package disruptor

import (
	"fmt"
	"math"
	"sync/atomic"
)

// noDrain marks a processor that is not draining (any real sequence,
// including InitialSequence, is a valid drain target).
const noDrain = math.MinInt64

// BatchHandler consumes the published range lo … hi (inclusive). The
// processor advances its sequence to hi only after it returns.
type BatchHandler func(lo, hi int64)

// EventHandler adapts a per-event handler to a BatchHandler: h sees every
// slot of the batch in order, endOfBatch true on the last one.
func EventHandler[T any](r *Ring[T], h func(seq int64, ev *T, endOfBatch bool)) BatchHandler {
	return func(lo, hi int64) {
		for s := lo; s <= hi; s++ {
			h(s, r.At(s), s == hi)
		}
	}
}

// Processor is one consumer of a ring: a goroutine that waits for
// published (and upstream-finished) slots and hands them to its handler in
// batches.
type Processor struct {
	name     string
	seqr     Sequencer
	seq      *Sequence // this consumer's progress; written only by its goroutine
	deps     []*Sequence
	handler  BatchHandler
	maxBatch int64

	stopped atomic.Bool
	// drainTo, unless noDrain, makes the processor exit once it has
	// consumed that sequence.
	drainTo atomic.Int64
	done    chan struct{}
	err     error // set before done is closed
}

func newProcessor(name string, seqr Sequencer, h BatchHandler, maxBatch int, deps []*Processor) *Processor {
	p := &Processor{
		name:     name,
		seqr:     seqr,
		seq:      NewSequence(InitialSequence),
		handler:  h,
		maxBatch: int64(maxBatch),
		done:     make(chan struct{}),
	}
	p.drainTo.Store(noDrain)
	for _, d := range deps {
		p.deps = append(p.deps, d.seq)
	}
	return p
}

// Name is the processor's name (for metrics and errors).
func (p *Processor) Name() string { return p.name }

// Sequence is the processor's progress: the last sequence its handler
// finished. Downstream stages and gating read it.
func (p *Processor) Sequence() *Sequence { return p.seq }

// Done is closed when the processor's goroutine has exited.
func (p *Processor) Done() <-chan struct{} { return p.done }

// available returns the highest sequence >= next this consumer may read,
// or next-1.
func (p *Processor) available(next int64) int64 {
	if len(p.deps) > 0 {
		return minSequence(p.deps, p.seqr.claimed())
	}
	return p.seqr.highestPublished(next, p.seqr.claimed())
}

func (p *Processor) shouldStop(next int64) bool {
	if p.stopped.Load() || p.seqr.Halted() {
		return true
	}
	d := p.drainTo.Load()
	return d != noDrain && next > d
}

// run is the processor's goroutine. report is called once with a panic.
func (p *Processor) run(report func(*Processor, error)) {
	defer close(p.done)
	var lo, hi int64 // the batch in the handler, for the panic report
	defer func() {
		if r := recover(); r != nil {
			p.err = fmt.Errorf("disruptor: handler %q panicked in batch %d…%d: %v", p.name, lo, hi, r)
			report(p, p.err)
		}
	}()
	sig := p.seqr.base().signal
	ws := p.seqr.base().wait
	next := p.seq.Load() + 1
	for {
		avail := p.available(next)
		if avail < next {
			sig.waitFor(ws,
				func() bool { avail = p.available(next); return avail >= next },
				func() bool { return p.shouldStop(next) })
		}
		if avail < next || p.stopped.Load() || p.seqr.Halted() {
			return
		}
		if p.maxBatch > 0 && avail-next >= p.maxBatch {
			avail = next + p.maxBatch - 1
		}
		lo, hi = next, avail
		p.handler(lo, hi)
		// Invariant: every slot <= avail is finished by this handler
		// before any downstream stage or producer can see it as free.
		p.seq.Store(avail)
		sig.wake()
		next = avail + 1
		if d := p.drainTo.Load(); d != noDrain && next > d {
			return
		}
	}
}
