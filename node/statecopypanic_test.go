package node

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// stateWithin is n.State bounded by 10 s.
func stateWithin(t *testing.T, n *Node) (NodeState, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return n.State(ctx)
}

// panicOnce is a stateStepHook that panics the first time it runs.
func panicOnce() func() {
	var calls atomic.Int32
	return func() {
		if calls.Add(1) == 1 {
			panic("injected: between two steps of the state copy")
		}
	}
}

// A panic on State's goroutine between two steps of its copy, with the
// engine running, leaves no copy open on the engine: the next GET /state
// is answered and the engine goes on trading and snapshotting. Before,
// the engine's copy stayed open, and the next copy's first step (on the
// engine goroutine) panicked in BeginCopy: the engine stage failed.
func TestStatePanicMidCopyLeavesNoCopyOpen(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	n.copyStepBytes = 128 // about one order a step: the copy spans many batches
	c := dial(t, addrs.Gateway, 4)
	restBids(t, c, cfg.Instruments[0], 1, 100)
	n.stateStepHook = panicOnce() // read by State's goroutine, started after
	if _, err := stateWithin(t, n); !errors.Is(err, ErrStateInternal) {
		t.Fatalf("State with a panic between its copy's steps: %v, want ErrStateInternal", err)
	}
	st, err := stateWithin(t, n)
	select {
	case <-n.stats.engine.Done():
		t.Fatalf("the engine stage stopped after a panic in State's copy: %v", n.stats.engine.Err())
	default:
	}
	if err != nil || st.Hash == "" {
		t.Fatalf("State after a panic in the last one's copy: %+v, %v", st, err)
	}
	restBids(t, c, cfg.Instruments[0], 101, 101)
	if err := n.RequestSnapshot(); err != nil {
		t.Fatalf("a snapshot after a panic in State's copy: %v", err)
	}
}

// The same with the engine stopped (the copy is begun and finished on
// State's goroutine, under view.mu): the next State answers the state
// the node stopped in. Before, the copy left open made every later
// State panic in BeginCopy ("a copy is open"): ErrStateInternal for good.
func TestStatePanicMidCopyOfAStoppedEngine(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, addrs, _ := startNode(t, cfg)
	c := dial(t, addrs.Gateway, 4)
	restBids(t, c, cfg.Instruments[0], 1, 100)
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	n.stateStepHook = panicOnce()
	if _, err := stateWithin(t, n); !errors.Is(err, ErrStateInternal) {
		t.Fatalf("State of a stopped engine with a panic in its copy: %v, want ErrStateInternal", err)
	}
	st, err := stateWithin(t, n)
	if f := n.Final(); err != nil || st.Seq != f.LastSeq || st.Hash != fmt.Sprintf("%016x", f.Hash) {
		t.Fatalf("State of a stopped engine after a panic in the last one's copy: %+v, %v; the node stopped at %+v", st, err, f)
	}
}
