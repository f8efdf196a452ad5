package disruptor

import (
	"testing"
	"time"
)

type testEvent struct {
	producer int64
	value    int64
	seq      int64
	marks    [3]int64
}

func newTestRing(t testing.TB, size, producers int, ws WaitStrategy) (*Ring[testEvent], Sequencer) {
	t.Helper()
	r, err := NewRing[testEvent](size)
	if err != nil {
		t.Fatal(err)
	}
	var s Sequencer
	if producers == 1 {
		s, err = NewSingleProducer(size, ws)
	} else {
		s, err = NewMultiProducer(size, ws)
	}
	if err != nil {
		t.Fatal(err)
	}
	return r, s
}

func mustAdd(t testing.TB, g *Group, c Consumer) *Processor {
	t.Helper()
	p, err := g.Add(c)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustStart(t testing.TB, g *Group) {
	t.Helper()
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
}

// within fails the test if f does not return within a generous bound: a
// hang detector, not a timing claim.
func within(t testing.TB, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("%s: hung", what)
	}
}

func nop(lo, hi int64) error { return nil }
