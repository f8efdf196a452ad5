package disruptor

import (
	"fmt"
	"math"
	"sync/atomic"
)

// BatchHandler consumes the available range lo … hi (inclusive) at once:
// fsync once, flush a socket once. The processor advances its sequence to
// hi only after the handler returns nil. A non-nil error (or a panic)
// stops the pipeline: the group halts and reports it.
type BatchHandler func(lo, hi int64) error

// EventHandler adapts a per-event handler to a BatchHandler: h sees every
// slot of the batch in order, endOfBatch true on the last one. An error
// stops the batch there.
func EventHandler[T any](r *Ring[T], h func(seq int64, ev *T, endOfBatch bool) error) BatchHandler {
	return func(lo, hi int64) error {
		for s := lo; s <= hi; s++ {
			if err := h(s, r.At(s), s == hi); err != nil {
				return err
			}
		}
		return nil
	}
}

// noDrain marks a processor that is not draining (any real sequence,
// including InitialSequence, is a valid drain target).
const noDrain = math.MinInt64

// Processor is one consumer of a ring: a goroutine that waits on its
// barrier and hands each available range to its handler.
type Processor struct {
	name     string
	handler  BatchHandler
	maxBatch int64
	barrier  Barrier
	upstream []*Processor

	// seq is the last sequence the handler finished. Written only by the
	// processor's goroutine (and by AddGating before it starts).
	seq Sequence

	// drainTo, unless noDrain, makes the processor exit once it has
	// finished that sequence.
	drainTo atomic.Int64
	done    chan struct{}
	err     error // set before done is closed
}

// Name is the consumer's name, for errors and metrics.
func (p *Processor) Name() string { return p.name }

// Sequence is the consumer's progress: the last sequence its handler
// finished. Downstream consumers and producers wait on it.
func (p *Processor) Sequence() *Sequence { return &p.seq }

// Done is closed when the processor's goroutine has exited.
func (p *Processor) Done() <-chan struct{} { return p.done }

// Err is the processor's handler failure, valid once Done is closed.
func (p *Processor) Err() error {
	select {
	case <-p.done:
		return p.err
	default:
		return nil
	}
}

func (p *Processor) stopping(next int64) bool {
	d := p.drainTo.Load()
	return d != noDrain && next > d
}

// run is the processor's goroutine. fail is called once with a handler
// failure.
func (p *Processor) run(fail func(*Processor, error)) {
	defer close(p.done)
	var lo, hi int64 // the batch in the handler, for the failure report
	defer func() {
		if r := recover(); r != nil {
			p.err = fmt.Errorf("%w: %q panicked in batch %d…%d: %v", ErrHandler, p.name, lo, hi, r)
			fail(p, p.err)
		}
	}()
	s := p.barrier.seqr
	next := p.seq.Load() + 1
	stop := func() bool { return p.stopping(next) }
	for {
		if p.stopping(next) || s.halted.Load() {
			return
		}
		avail, err := p.barrier.waitFor(next, stop)
		if err != nil {
			return
		}
		if s.wait != BusySpin && avail-next+1 < p.lingerBatch() {
			avail = p.linger(next, avail)
		}
		if p.maxBatch > 0 && avail-next >= p.maxBatch {
			avail = next + p.maxBatch - 1
		}
		lo, hi = next, avail
		if err := p.handler(lo, hi); err != nil {
			p.err = fmt.Errorf("%w: %q in batch %d…%d: %w", ErrHandler, p.name, lo, hi, err)
			fail(p, p.err)
			return
		}
		// Invariant: every slot up to avail is finished by this handler
		// before a downstream consumer or a producer can see it as done.
		p.seq.Store(avail)
		s.sig.wake()
		next = avail + 1
	}
}

// lingerBatch is the batch worth lingering for: lingerBatch, or the
// consumer's maximum batch if that is smaller.
func (p *Processor) lingerBatch() int64 {
	if p.maxBatch > 0 && p.maxBatch < lingerBatch {
		return p.maxBatch
	}
	return lingerBatch
}

// linger gives a producer that is still advancing time to fill a larger
// batch. A consumer that takes every slot as soon as it appears trails the
// producer within the same cache lines, and each of its looks at the
// cursor costs the producer a cross-core transfer on its next publish,
// which keeps the consumer close: a stable slow state (measured SPSC ~60
// ns/op with ~8 slots per batch). So the consumer looks once more after a
// poll; if the cursor did not move, the producer paused and it takes what
// is there (a lone message costs that one poll, ~0.5 µs). If it moved,
// the consumer waits, in one go, as many polls as that pace needs to reach
// lingerBatch slots (at most lingerPolls in all), and looks once: two
// looks per batch instead of one per poll (BenchmarkThroughput SPSC-batch16
// ~3.9 → ~3.3 ns/op with ForWrite, SPSC ~21 → ~15). BusySpin, meant for
// latency on dedicated cores, does not linger.
func (p *Processor) linger(next, avail int64) int64 {
	delay(pollDelay)
	a := p.barrier.Available(next)
	if a == avail {
		return avail // the producer paused: take what is there
	}
	if missing := p.lingerBatch() - (a - next + 1); missing > 0 {
		polls := min(missing/(a-avail)+1, lingerPolls-1)
		delay(pollDelay * int(polls))
		a = p.barrier.Available(next)
	}
	return a
}
