package disruptor

import (
	"fmt"
	"math"
	"sync"
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

	// Work handed to the processor's goroutine by Do.
	taskMu  sync.Mutex
	tasks   []task // under taskMu
	exited  bool   // under taskMu: no task runs any more
	hasTask atomic.Bool
}

// task is one Do call: f, and done closed once it ran (ran) or never will.
type task struct {
	f    func()
	ran  *bool
	done chan struct{}
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

// Do runs f on the processor's goroutine between two batches — at once
// when it is waiting for slots, parked or not — and returns true once f
// has run. It returns false, without running f, when the processor has
// stopped or stops first. f must not wait for this processor.
//
// A stage whose state only its goroutine writes (the single-writer rule)
// can so be asked to change it when no slot is coming to wake it.
func (p *Processor) Do(f func()) bool {
	t := task{f: f, ran: new(bool), done: make(chan struct{})}
	p.taskMu.Lock()
	if p.exited {
		p.taskMu.Unlock()
		return false
	}
	p.tasks = append(p.tasks, t)
	p.hasTask.Store(true)
	p.taskMu.Unlock()
	p.barrier.seqr.sig.wake() // a parked processor looks at its stop condition
	<-t.done
	return *t.ran
}

// runTasks runs the tasks handed over by Do, one at a time, on the
// processor's goroutine. A task that panics stops the processor like a
// handler panic; its Do and those still queued return false.
func (p *Processor) runTasks() {
	for {
		p.taskMu.Lock()
		if len(p.tasks) == 0 {
			p.hasTask.Store(false)
			p.taskMu.Unlock()
			return
		}
		t := p.tasks[0]
		p.tasks = p.tasks[1:]
		p.taskMu.Unlock()
		func() {
			defer close(t.done)
			t.f()
			*t.ran = true
		}()
	}
}

// endTasks releases the Do calls still waiting: the processor has exited.
func (p *Processor) endTasks() {
	p.taskMu.Lock()
	defer p.taskMu.Unlock()
	p.exited = true
	for _, t := range p.tasks {
		close(t.done)
	}
	p.tasks = nil
}

// run is the processor's goroutine. fail is called once with a handler
// failure.
func (p *Processor) run(fail func(*Processor, error)) {
	defer close(p.done)
	defer p.endTasks()
	var lo, hi int64 // the batch in the handler, for the failure report
	inTask := false  // a Do task runs, not the handler: lo…hi is the batch before it
	defer func() {
		if r := recover(); r != nil {
			if inTask {
				p.err = fmt.Errorf("%w: %q panicked in a task (Do) after the batch of ring sequences %d…%d: %v", ErrHandler, p.name, lo, hi, r)
			} else {
				p.err = fmt.Errorf("%w: %q panicked in the batch of ring sequences %d…%d: %v", ErrHandler, p.name, lo, hi, r)
			}
			fail(p, p.err)
		}
	}()
	s := p.barrier.seqr
	next := p.seq.Load() + 1
	stop := func() bool { return p.stopping(next) || p.hasTask.Load() }
	for {
		if p.hasTask.Load() {
			inTask = true
			p.runTasks()
			inTask = false
		}
		if p.stopping(next) || s.halted.Load() {
			return
		}
		avail, err := p.barrier.waitFor(next, stop)
		if err != nil {
			if p.hasTask.Load() && !s.halted.Load() && !p.stopping(next) {
				continue // woken for a task, not to stop
			}
			return
		}
		if s.wait != BusySpin && avail-next+1 < p.lingerBatch() {
			avail = p.linger(next, avail)
		}
		if p.maxBatch > 0 && avail-next >= p.maxBatch {
			avail = next + p.maxBatch - 1
		}
		if d := p.drainTo.Load(); d != noDrain && avail > d {
			// Draining: no further than the target. Its siblings stop
			// there, and so the consumers after them all: a batch past it
			// would be handled here alone (journaled, never applied).
			avail = d
			if avail < next {
				// The target came between the stop check and the wait:
				// nothing of the batch is this consumer's. No handler
				// is called with an empty (backwards) range.
				continue
			}
		}
		lo, hi = next, avail
		if err := p.handler(lo, hi); err != nil {
			p.err = fmt.Errorf("%w: %q in the batch of ring sequences %d…%d: %w", ErrHandler, p.name, lo, hi, err)
			fail(p, p.err)
			return
		}
		// Invariant: every slot up to avail is finished by this handler
		// before a downstream consumer or a producer can see it as done.
		p.seq.publish(avail)
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

// linger gives a producer that is still advancing a few polls to fill a
// larger batch. A consumer that takes every slot as soon as it appears
// trails the producer within the same cache lines; each look then costs
// the producer a cross-core transfer on its next publish, which keeps the
// consumer close: a stable slow state (measured SPSC ~60 ns/op with ~8
// slots per batch). Waiting while the cursor still moves keeps the
// consumer about lingerBatch slots behind instead. A lone message costs
// one extra poll (~0.5 µs): the cursor did not move.
//
// It looks at the cursor after every poll and stops as soon as the
// producer pauses, because lingering is busy-waiting. Waiting longer
// between looks, or for larger batches (up to 4096 slots and ~8 µs, in
// one go or at doubling intervals), made BenchmarkThroughput faster
// (SPSC-batch16 ~3.4 → ~2.6 ns/op) and a three-node cluster on the
// 2-core dev machine 12–30 % slower: there the producer a stage waits
// for is often not running, and the spinning takes the core it needs.
// BusySpin, meant for latency on dedicated cores, does not linger.
func (p *Processor) linger(next, avail int64) int64 {
	want := p.lingerBatch()
	for range lingerPolls {
		delay(pollDelay)
		a := p.barrier.Available(next)
		if a == avail {
			break // the producer paused: take what is there
		}
		avail = a
		if avail-next+1 >= want {
			break
		}
	}
	return avail
}
