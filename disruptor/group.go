package disruptor

import (
	"fmt"
	"slices"
	"sync"
)

// Consumer describes one stage consuming a ring.
type Consumer struct {
	// Name identifies the stage in errors and metrics.
	Name string
	// Handler consumes each available range.
	Handler BatchHandler
	// MaxBatch bounds the range handed to Handler; 0 means unbounded.
	MaxBatch int
	// After lists the upstream stages: the consumer sees a slot only
	// after all of them finished it. Empty means it sees a slot as soon
	// as it is published.
	After []*Processor
}

// Validate checks c on its own.
func (c Consumer) Validate() error {
	if c.Handler == nil {
		return fmt.Errorf("%w: %q has no handler", ErrConsumer, c.Name)
	}
	if c.MaxBatch < 0 {
		return fmt.Errorf("%w: %q max batch %d", ErrConsumer, c.Name, c.MaxBatch)
	}
	return nil
}

// Group runs the consumers of one ring: it wires their barriers, gates
// the producers on every consumer, and owns their lifecycle. Its methods
// are safe for concurrent use.
type Group struct {
	seqr    Sequencer
	onError func(name string, err error)

	mu      sync.Mutex
	procs   []*Processor // registered and not removed
	started bool
	err     error // first handler failure
}

// NewGroup returns a group consuming seqr's ring. onError (may be nil) is
// called once per failed consumer, from that consumer's goroutine.
func NewGroup(seqr Sequencer, onError func(name string, err error)) *Group {
	return &Group{seqr: seqr, onError: onError}
}

// Add registers a consumer. Before Start it waits for Start; on a running
// group it is deployed at once: it starts after the ring's cursor (see
// Sequencer.AddGating), gates the producers from then on, and sees every
// slot claimed after Add returns (once its upstreams finished it).
func (g *Group) Add(c Consumer) (*Processor, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	p := &Processor{
		name:     c.Name,
		handler:  c.Handler,
		maxBatch: int64(c.MaxBatch),
		upstream: slices.Clone(c.After),
		done:     make(chan struct{}),
	}
	p.drainTo.Store(noDrain)
	p.seq.Store(InitialSequence)
	deps := make([]*Sequence, 0, len(c.After))
	for _, u := range c.After {
		if !slices.Contains(g.procs, u) {
			return nil, fmt.Errorf("%w: %q is after a consumer not in this group", ErrConsumer, c.Name)
		}
		deps = append(deps, &u.seq)
	}
	p.barrier = Barrier{seqr: g.seqr.core(), deps: deps}
	g.procs = append(g.procs, p)
	if g.started {
		g.seqr.AddGating(&p.seq)
		go p.run(g.fail)
	}
	return p, nil
}

// Start gates the producers on every consumer and starts them, all after
// the ring's cursor. Start before producing: a producer on a ring that no
// consumer gates claims without bound.
func (g *Group) Start() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.started {
		return ErrStarted
	}
	g.started = true
	seqs := make([]*Sequence, len(g.procs))
	for i, p := range g.procs {
		seqs[i] = &p.seq
	}
	g.seqr.AddGating(seqs...)
	for _, p := range g.procs {
		go p.run(g.fail)
	}
	return nil
}

// Remove undeploys a consumer from a running group: it first consumes
// everything published when Remove was called, then its goroutine exits
// and it stops gating the producers. No other consumer may be after it.
// It returns the consumer's handler failure, if any.
func (g *Group) Remove(p *Processor) error {
	g.mu.Lock()
	if !slices.Contains(g.procs, p) {
		g.mu.Unlock()
		return fmt.Errorf("%w: %q is not in this group", ErrConsumer, p.name)
	}
	for _, q := range g.procs {
		if slices.Contains(q.upstream, p) {
			g.mu.Unlock()
			return fmt.Errorf("%w: %q is upstream of %q", ErrConsumer, p.name, q.name)
		}
	}
	started := g.started
	g.procs = slices.DeleteFunc(g.procs, func(q *Processor) bool { return q == p })
	g.mu.Unlock()
	if started {
		p.lowerDrain(g.seqr.Published())
		g.seqr.core().sig.broadcast()
		<-p.done
		g.seqr.RemoveGating(&p.seq)
	}
	return p.err
}

// Drain lets every consumer finish everything published so far, stops
// them, then halts the ring (so a producer blocked on a full ring returns
// ErrHalted instead of hanging). It returns the first handler failure.
// A slot claimed but not yet published is not waited for.
func (g *Group) Drain() error {
	g.mu.Lock()
	procs := slices.Clone(g.procs)
	started := g.started
	g.mu.Unlock()
	if started {
		target := g.seqr.Published()
		for _, p := range procs {
			p.lowerDrain(target)
		}
		g.seqr.core().sig.broadcast()
	}
	err := g.Wait()
	g.seqr.Halt()
	if !started {
		for _, p := range procs {
			p.endTasks() // never ran: release Do callers
		}
	}
	return err
}

// lowerDrain sets the processor's drain target to target unless it is
// already lower: a consumer must never be asked to drain past a target
// its upstreams were given (Drain and Remove racing).
func (p *Processor) lowerDrain(target int64) {
	for {
		d := p.drainTo.Load()
		if d != noDrain && d <= target {
			return
		}
		if p.drainTo.CompareAndSwap(d, target) {
			return
		}
	}
}

// Halt stops every consumer now, leaving unconsumed slots unconsumed, and
// fails blocked and later claims with ErrHalted. Wait for the consumers'
// goroutines with Wait.
func (g *Group) Halt() { g.seqr.Halt() }

// Wait blocks until every consumer has stopped (after Drain, Halt or a
// handler failure) and returns the first handler failure.
func (g *Group) Wait() error {
	g.mu.Lock()
	procs := slices.Clone(g.procs)
	started := g.started
	g.mu.Unlock()
	if started {
		for _, p := range procs {
			<-p.done
		}
	}
	return g.Err()
}

// Err returns the first handler failure so far.
func (g *Group) Err() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}

// fail records a handler failure, reports it and halts the ring: a failed
// stage stops the pipeline visibly, every waiter is woken.
func (g *Group) fail(p *Processor, err error) {
	g.mu.Lock()
	if g.err == nil {
		g.err = err
	}
	g.mu.Unlock()
	g.seqr.Halt()
	if g.onError != nil {
		g.onError(p.name, err)
	}
}
