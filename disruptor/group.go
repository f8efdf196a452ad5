package disruptor

import "sync"

// Group runs the consumers of one ring: it wires their dependencies,
// gates the producer on the last consumers, and owns their lifecycle.
//
// Build it with Add before Start; Deploy and Undeploy change consumers of
// a running group.
type Group struct {
	seqr    Sequencer
	onError func(name string, err error)

	mu    sync.Mutex
	procs []*Processor
	err   error // first handler panic
}

// NewGroup returns a group consuming seqr's ring. onError (may be nil) is
// called once per failed processor, from its goroutine.
func NewGroup(seqr Sequencer, onError func(name string, err error)) *Group {
	return &Group{seqr: seqr, onError: onError}
}

// Add registers a consumer before Start. It sees a slot only after every
// processor in deps finished it (after the producer published it when
// deps is empty). maxBatch <= 0 means unbounded batches.
func (g *Group) Add(name string, h BatchHandler, maxBatch int, deps ...*Processor) *Processor {
	p := newProcessor(name, g.seqr, h, maxBatch, deps)
	g.mu.Lock()
	g.procs = append(g.procs, p)
	g.mu.Unlock()
	return p
}

// Start gates the producer on the consumers nobody depends on and starts
// every processor's goroutine. Processors start after the ring's current
// published sequence.
func (g *Group) Start() {
	g.mu.Lock()
	defer g.mu.Unlock()
	start := g.seqr.Published()
	for _, p := range g.procs {
		p.seq.Store(start)
	}
	g.seqr.AddGating(leaves(g.procs)...)
	for _, p := range g.procs {
		go p.run(g.fail)
	}
}

// Deploy adds and starts a consumer on a running ring. It starts after the
// slowest of its dependencies (or the last published slot) and gates the
// producer from then on.
func (g *Group) Deploy(name string, h BatchHandler, maxBatch int, deps ...*Processor) *Processor {
	p := newProcessor(name, g.seqr, h, maxBatch, deps)
	if len(p.deps) > 0 {
		p.seq.Store(minSequence(p.deps, g.seqr.claimed()))
	} else {
		p.seq.Store(g.seqr.Published())
	}
	g.seqr.AddGating(p.seq)
	g.mu.Lock()
	g.procs = append(g.procs, p)
	g.mu.Unlock()
	go p.run(g.fail)
	return p
}

// Undeploy drains p (it consumes everything published when Undeploy was
// called), stops its goroutine, and removes it from the producer's gating.
// No other processor may depend on p.
func (g *Group) Undeploy(p *Processor) {
	p.drainTo.Store(g.seqr.Published())
	g.seqr.base().signal.wake()
	<-p.done
	g.seqr.RemoveGating(p.seq)
	g.mu.Lock()
	for i, q := range g.procs {
		if q == p {
			g.procs = append(g.procs[:i], g.procs[i+1:]...)
			break
		}
	}
	g.mu.Unlock()
}

// Drain lets every processor consume everything published so far, then
// stops them, and returns the first handler error. Stop producers first:
// a slot claimed and never published would be waited for until Halt.
func (g *Group) Drain() error {
	g.mu.Lock()
	procs := append([]*Processor(nil), g.procs...)
	g.mu.Unlock()
	target := g.seqr.claimed()
	for _, p := range procs {
		p.drainTo.Store(target)
	}
	g.seqr.base().signal.wake()
	return g.Wait()
}

// Halt stops every processor now (unconsumed slots stay unconsumed) and
// fails blocked producers with ErrHalted.
func (g *Group) Halt() { g.seqr.Halt() }

// Wait blocks until every processor has exited and returns the first
// handler error.
func (g *Group) Wait() error {
	g.mu.Lock()
	procs := append([]*Processor(nil), g.procs...)
	g.mu.Unlock()
	for _, p := range procs {
		<-p.done
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}

// Err returns the first handler error so far.
func (g *Group) Err() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}

func (g *Group) fail(p *Processor, err error) {
	g.mu.Lock()
	if g.err == nil {
		g.err = err
	}
	g.mu.Unlock()
	if g.onError != nil {
		g.onError(p.name, err)
	}
	// A failed stage stops the pipeline visibly: everyone is woken.
	g.seqr.Halt()
}

// leaves returns the sequences of processors no other processor depends
// on: the ones the producer must not overtake.
func leaves(procs []*Processor) []*Sequence {
	used := map[*Sequence]bool{}
	for _, p := range procs {
		for _, d := range p.deps {
			used[d] = true
		}
	}
	var out []*Sequence
	for _, p := range procs {
		if !used[p.seq] {
			out = append(out, p.seq)
		}
	}
	return out
}
