package replicator

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/rs/zerolog"
)

// scriptedLeadership plays raft's side of watchLeadership: a term, a
// state, and LeaderCh keeping only the latest signal as raft's does.
type scriptedLeadership struct {
	ch     chan bool
	ready  *atomic.Bool
	events chan string
	// duringBarrier, when set, runs inside the next Barrier, after raft
	// would have appended it: a leadership change while it commits.
	duringBarrier func()
	// barrierFuture, when set, is what Barrier returns instead of a
	// committed barrier.
	barrierFuture raft.Future

	mu     sync.Mutex
	term   uint64
	leader bool
}

func newScriptedLeadership(ready *atomic.Bool) *scriptedLeadership {
	return &scriptedLeadership{ch: make(chan bool, 1), ready: ready, events: make(chan string, 16)}
}

// signal changes leadership as raft does: term and state, then the
// signal, which replaces one not yet taken (overrideNotifyBool).
func (l *scriptedLeadership) signal(term uint64, leader bool) {
	l.mu.Lock()
	l.term, l.leader = term, leader
	l.mu.Unlock()
	select {
	case <-l.ch:
	default:
	}
	l.ch <- leader
}

func (l *scriptedLeadership) LeaderCh() <-chan bool { return l.ch }

func (l *scriptedLeadership) State() raft.RaftState {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.leader {
		return raft.Leader
	}
	return raft.Follower
}

func (l *scriptedLeadership) Term() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.term
}

type barrierDone struct{}

func (barrierDone) Error() error { return nil }

// Barrier is appended in the current term and commits.
func (l *scriptedLeadership) Barrier(time.Duration) raft.Future {
	l.events <- fmt.Sprintf("barrier in term %d (ready %v)", l.Term(), l.ready.Load())
	if f := l.duringBarrier; f != nil {
		l.duringBarrier = nil
		f()
	}
	if l.barrierFuture != nil {
		return l.barrierFuture
	}
	return barrierDone{}
}

func (l *scriptedLeadership) onRole(leader bool) {
	l.events <- fmt.Sprintf("role %v in term %d", leader, l.Term())
}

// expect reads the next events; bounded, so a missing one fails.
func (l *scriptedLeadership) expect(t *testing.T, want ...string) {
	t.Helper()
	for _, w := range want {
		select {
		case got := <-l.events:
			if got != w {
				t.Fatalf("got %q, want %q", got, w)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no event; want %q", w)
		}
	}
}

func runWatch(t *testing.T, l *scriptedLeadership, ready *atomic.Bool) {
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		watchLeadership(l, ready, l.onRole, stop, zerolog.Nop())
	}()
	t.Cleanup(func() { close(stop); <-done })
}

// A leader whose barrier was appended in its term and committed after it
// lost leadership and won it again — another leader may have committed
// entries in between — is not ready on that barrier: it takes one of the
// term it now leads in. It was ready on the old one.
func TestReadyNeedsABarrierOfTheTermItLeadsIn(t *testing.T) {
	var ready atomic.Bool
	l := newScriptedLeadership(&ready)
	runWatch(t, l, &ready)
	l.duringBarrier = func() { l.signal(6, false); l.signal(8, true) }
	l.signal(5, true)
	l.expect(t, "barrier in term 5 (ready false)", "barrier in term 8 (ready false)", "role true in term 8")
}

// Raft keeps only the latest leadership signal: lost and won again
// before the watcher looked, it sees true after true. That leadership
// ended: the member stops being ready (onRole false) before the barrier
// of the new term. It stayed ready throughout, its sessions kept, and
// never said it had lost leadership.
func TestReadyEndsWithTheLeadershipItWasSetFor(t *testing.T) {
	var ready atomic.Bool
	l := newScriptedLeadership(&ready)
	runWatch(t, l, &ready)
	l.signal(5, true)
	l.expect(t, "barrier in term 5 (ready false)", "role true in term 5")
	l.mu.Lock()
	l.term = 6 // lost: its false is replaced by the true below
	l.mu.Unlock()
	l.signal(7, true)
	l.expect(t, "role false in term 7", "barrier in term 7 (ready false)", "role true in term 7")
	l.signal(7, false)
	l.expect(t, "role false in term 7")
}

// unanswered is a raft future never answered until release is closed:
// raft's answer to a barrier committed but still queued for its FSM when
// it shut down.
type unanswered struct{ release chan struct{} }

func (u unanswered) Error() error { <-u.release; return raft.ErrRaftShutdown }

// A member elected as the cluster stops takes a barrier; raft shuts down
// with it queued for the FSM and never answers it. The watcher returns
// on stop all the same: Close waits for it, and the member never exited.
func TestWatchReturnsOnStopWithABarrierRaftNeverAnswers(t *testing.T) {
	var ready atomic.Bool
	l := newScriptedLeadership(&ready)
	never := unanswered{release: make(chan struct{})}
	t.Cleanup(func() { close(never.release) }) // the abandoned reader exits
	l.barrierFuture = never
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		watchLeadership(l, &ready, l.onRole, stop, zerolog.Nop())
	}()
	l.signal(5, true)
	l.expect(t, "barrier in term 5 (ready false)")
	close(stop)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the watcher still waits for a barrier raft will never answer after stop")
	}
	if ready.Load() {
		t.Fatal("ready on a barrier never answered")
	}
	select {
	case e := <-l.events:
		t.Fatalf("unexpected %q", e)
	default:
	}
}
