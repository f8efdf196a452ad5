package replicator

import (
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// heldFSM holds raft's FSM goroutine in its first Apply until release
// is closed: entries committed after it queue for the FSM, their futures
// unanswered.
type heldFSM struct{ held, release chan struct{} }

func (h *heldFSM) Apply(*raft.Log) any {
	select {
	case <-h.held:
	default:
		close(h.held)
		<-h.release
	}
	return nil
}

func (h *heldFSM) Snapshot() (raft.FSMSnapshot, error) {
	return nil, errors.New("test: no snapshot")
}
func (h *heldFSM) Restore(io.ReadCloser) error { return errors.New("test: no restore") }

// A barrier committed behind an entry raft's FSM goroutine still
// applies is never answered if raft shuts down meanwhile (hashicorp/raft
// issue 498): the goroutine answerWithin left reading it — its wait over
// — ends once the member stops all the same, raft's FSM goroutine still
// held. Before, it stayed blocked for the life of the process.
func TestAnAnswerRaftNeverGivesEndsItsReaderOnStop(t *testing.T) {
	c := raft.DefaultConfig()
	c.LocalID = "1"
	c.HeartbeatTimeout, c.ElectionTimeout, c.LeaderLeaseTimeout = 50*time.Millisecond, 50*time.Millisecond, 50*time.Millisecond
	c.Logger = hclog.NewNullLogger()
	store, snaps := raft.NewInmemStore(), raft.NewInmemSnapshotStore()
	addr, trans := raft.NewInmemTransport("")
	if err := raft.BootstrapCluster(c, store, store, snaps, trans, raft.Configuration{
		Servers: []raft.Server{{Suffrage: raft.Voter, ID: c.LocalID, Address: addr}},
	}); err != nil {
		t.Fatal(err)
	}
	fsm := &heldFSM{held: make(chan struct{}), release: make(chan struct{})}
	r, err := raft.NewRaft(c, fsm, store, store, snaps, trans)
	if err != nil {
		t.Fatal(err)
	}
	var down raft.Future // the first Shutdown's: only it waits for raft's goroutines
	t.Cleanup(func() {
		close(fsm.release)
		if down == nil {
			down = r.Shutdown()
		}
		if err := down.Error(); err != nil {
			t.Error(err)
		}
	})
	for deadline := time.Now().Add(10 * time.Second); r.State() != raft.Leader; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the single member was not elected in 10 s")
		}
	}
	r.Apply([]byte("held"), time.Second)
	select {
	case <-fsm.held:
	case <-time.After(10 * time.Second):
		t.Fatal("raft's FSM was not given the entry in 10 s")
	}

	base := goroutinesRunning("ringex/replicator.futureAnswer.func") // other tests' readers of futures a fake never answers
	stop := make(chan struct{})
	if answered, err := answerWithin(r.Barrier(time.Second), 20*time.Millisecond, stop); answered {
		t.Fatalf("a barrier behind a held FSM answered (%v): the test proves nothing", err)
	}
	if n := goroutinesRunning("ringex/replicator.futureAnswer.func"); n != base+1 {
		t.Fatalf("%d goroutines read a future, want the barrier's one and %d before it", n, base)
	}
	close(stop) // as Close does before it shuts raft down
	down = r.Shutdown()
	for deadline := time.Now().Add(10 * time.Second); goroutinesRunning("ringex/replicator.futureAnswer.func") > base; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the goroutine reading the barrier raft never answers still waits 10 s after the member stopped")
		}
	}
}

// goroutinesRunning counts the goroutines running fn: a function's
// full name, or its start ("replicator.(*cutTransport).refuse.func" is
// each goroutine refuse started).
func goroutinesRunning(fn string) int {
	buf := make([]byte, 1<<20)
	n := 0
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if strings.Contains(g, fn) {
			n++
		}
	}
	return n
}
