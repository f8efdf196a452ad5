package disruptor

import (
	"testing"
	"time"
)

// Drain stops every consumer at one sequence — what was published when it
// was called — also while producers go on publishing: a consumer behind
// the target when Drain was called took a batch past it, while its
// siblings stopped at the target, and the consumer after them all stopped
// there too. In the node: the journaller journaled inputs the engine never
// applied (a cluster follower's raft delivers while its ring drains).
func TestDrainStopsEveryConsumerAtTheTarget(t *testing.T) {
	_, seqr := newTestRing(t, 64, 1, Adaptive)
	g := NewGroup(seqr, nil)
	entered, release := make(chan struct{}), make(chan struct{})
	first := true
	a := mustAdd(t, g, Consumer{Name: "journaller", Handler: func(lo, hi int64) error {
		if first {
			first = false
			close(entered)
			<-release // a slow fsync
		}
		return nil
	}})
	b := mustAdd(t, g, Consumer{Name: "unmarshaler", Handler: func(lo, hi int64) error { return nil }})
	e := mustAdd(t, g, Consumer{Name: "engine", Handler: func(lo, hi int64) error { return nil }, After: []*Processor{a, b}})
	mustStart(t, g)
	publish := func(n int) {
		for range n {
			hi, err := seqr.Next(1)
			if err != nil {
				t.Fatal(err)
			}
			seqr.Publish(hi, hi)
		}
	}
	publish(1) // 0: the journaller takes it alone and holds it
	<-entered
	publish(4) // 1…4
	waitFor := func(cond func() bool) {
		for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("timed out")
			}
		}
	}
	waitFor(func() bool { return b.Sequence().Load() == 4 })
	drained := make(chan error, 1)
	go func() { drained <- g.Drain() }() // target 4
	// Polled, not slept on: published before Drain read the target, 5…9
	// would be in it, and every consumer would rightly handle them.
	waitFor(func() bool { return a.drainTo.Load() == 4 && b.drainTo.Load() == 4 && e.drainTo.Load() == 4 })
	publish(5) // 5…9, after the target: a producer that has not heard of the stop
	close(release)
	within(t, "drain", func() {
		if err := <-drained; err != nil {
			t.Error(err)
		}
	})
	if a.Sequence().Load() != e.Sequence().Load() || b.Sequence().Load() != e.Sequence().Load() {
		t.Fatalf("after Drain: journaller at %d, unmarshaler at %d, engine at %d: the journaller handled inputs the engine never will",
			a.Sequence().Load(), b.Sequence().Load(), e.Sequence().Load())
	}
}
