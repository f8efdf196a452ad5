package node

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/replicator"
)

// A leader deposed with inputs in flight waits for their fate
// (awaitFate). When it is elected again and ready without them (its
// barrier applied every entry its log holds), they were dropped and the
// node must stop. awaitFate told that only by seeing the node a follower
// at one of its 2 ms polls: a re-election it did not see (the stage
// goroutine descheduled through the follower spell, or the watch
// goroutine handed raft's coalesced "true after true", whose false window
// is one barrier) left the ready leader's replicator stage waiting for
// ever — no input committed, no step-down.
func TestAwaitFateSeesAReelectionItDidNotWatch(t *testing.T) {
	addr := testkit.ReserveAddrs(t, 1)[0]
	r, err := replicator.Open(replicator.Config{NodeID: 1, Listen: addr, Peers: []replicator.Peer{{ID: 1, Raft: addr}},
		Dir: t.TempDir(), Bootstrap: true, Incarnation: 1, Logger: zerolog.Nop(), Applied: 0,
		Deliver: func(*replicator.Batch) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	n := &Node{log: zerolog.Nop(), stopCh: make(chan struct{}), cl: &cluster{r: r}, base: 1}
	// The window went out in the leadership the stage last saw; it was
	// lost, and won again before the stage looked: ready, without the
	// entries (the replicator applied nothing of them).
	n.onRole(true)

	done := make(chan error, 1)
	go func() {
		done <- n.awaitFate(9, 9, fmt.Errorf("%w: leadership lost while committing log", replicator.ErrNotLeader))
	}()
	select {
	case err := <-done:
		if !errors.Is(err, ErrInputsLost) {
			t.Fatalf("awaitFate: %v, want ErrInputsLost", err)
		}
	case <-time.After(3 * time.Second):
		close(n.stopCh)
		<-done
		t.Fatal("the ready leader's replicator stage still waits for inputs its new term dropped")
	}
}
