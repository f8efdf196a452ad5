package disruptor

import (
	"slices"
	"testing"
	"time"
)

// Drain and Remove at the same time (Group's methods are safe for
// concurrent use): Drain sets every consumer's drain target to what was
// published then; a Remove after it never raises the target of a
// consumer after another, whose upstream stops at Drain's target — both
// return. Before, Remove raised it to what was published later: the
// removed consumer waited for a slot its upstream would never finish,
// Drain never halted the ring, and neither call returned.
func TestDrainWithConcurrentRemove(t *testing.T) {
	ring, seqr := newTestRing(t, 8, 1, Adaptive)
	g := NewGroup(seqr, nil)
	u := mustAdd(t, g, Consumer{Name: "u", Handler: nop})
	entered := make(chan struct{})
	release := make(chan struct{})
	firstCall := true
	p := mustAdd(t, g, Consumer{Name: "p", After: []*Processor{u}, Handler: func(lo, hi int64) error {
		if firstCall {
			firstCall = false
			close(entered)
			<-release
		}
		return nil
	}})
	mustStart(t, g)
	pub := func() {
		hi, err := seqr.Next(1)
		if err != nil {
			t.Fatal(err)
		}
		ring.At(hi).seq = hi
		seqr.Publish(hi, hi)
	}
	pub() // 0: p takes it and is held in its handler
	<-entered
	pub() // 1: u finishes it
	for u.Sequence().Load() < 1 {
		time.Sleep(time.Millisecond)
	}
	drained := make(chan error, 1)
	go func() { drained <- g.Drain() }() // target 1
	// Drain has given every consumer its target (then waits for p):
	// polled, not slept on — published before it, slot 2 would be in
	// Drain's target and the race not run.
	awaitCond(t, "Drain's targets", func() bool { return u.drainTo.Load() == 1 && p.drainTo.Load() == 1 })
	pub() // 2
	removed := make(chan error, 1)
	go func() { removed <- g.Remove(p) }() // target 2
	awaitCond(t, "Remove taking p out of the group", func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return !slices.Contains(g.procs, p)
	})
	close(release)
	select {
	case err := <-drained:
		if err != nil {
			t.Error(err)
		}
	case <-time.After(2 * time.Second):
		t.Errorf("Drain hung: p at %d waits for u (stopped at %d) to reach 2", p.Sequence().Load(), u.Sequence().Load())
		g.Halt() // unblock both
		<-drained
	}
	<-removed
}

// Do on a consumer of a group that was never started, then drained,
// returns false (contract 9: nothing hangs after a halt; Do returns false
// once the processor has stopped). Before, it blocked for ever: only a
// processor that ran released Do's callers.
func TestDoOnAnUnstartedDrainedGroup(t *testing.T) {
	_, seqr := newTestRing(t, 8, 1, Adaptive)
	g := NewGroup(seqr, nil)
	p := mustAdd(t, g, Consumer{Name: "p", Handler: nop})
	if err := g.Drain(); err != nil {
		t.Fatal(err)
	}
	done := make(chan bool, 1)
	go func() { done <- p.Do(func() {}) }()
	select {
	case ran := <-done:
		if ran {
			t.Error("Do ran on a processor that never started")
		}
	case <-time.After(2 * time.Second):
		t.Error("Do on a drained (never started) group's consumer hung")
	}
}

// awaitCond polls cond until it holds, failing the test after 5 s.
func awaitCond(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5 s", what)
		}
	}
}
