package replicator

import (
	"errors"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"github.com/rs/zerolog"
)

// leadership is what watchLeadership needs of raft: *raft.Raft through
// raftLeadership, a script in tests.
type leadership interface {
	// LeaderCh signals leadership won (true) and lost (false), keeping
	// only the latest signal the reader has not taken: a true after a
	// true is leadership lost and won again (raft.Raft.LeaderCh).
	LeaderCh() <-chan bool
	Barrier(timeout time.Duration) raft.Future
	State() raft.RaftState
	// Term is raft's current term.
	Term() uint64
}

type raftLeadership struct{ *raft.Raft }

// Term reads raft's current term; Stats is its only reader of it (once
// per election here).
func (l raftLeadership) Term() uint64 {
	t, _ := strconv.ParseUint(l.Stats()["term"], 10, 64)
	return t
}

// watch turns raft's leadership signals into OnRole calls.
func (r *Replicator) watch() {
	defer r.wg.Done()
	watchLeadership(raftLeadership{r.raft}, &r.ready, r.cfg.OnRole, r.Installed, r.stop, r.cfg.Logger)
}

// watchLeadership sets ready, and tells onRole, when this member leads
// and has applied a barrier of the term it leads in: every entry of
// earlier terms is applied (and so delivered into the input ring) before
// it takes inputs of its own. A barrier of an earlier leadership of its
// own does not do: another leader may have committed entries in between.
// Every signal ends the leadership ready was set for — a true too, which
// may come without the false before it — so ready is cleared first.
//
// Nor is a member ready whose FSM staged another state (installed): it
// is stopping to load it, and the state its ring and engine hold is not
// the cluster's — inputs taken on it would be skipped by every follower
// as already held.
func watchLeadership(l leadership, ready *atomic.Bool, onRole func(bool), installed func() bool, stop chan struct{}, log zerolog.Logger) {
	ch := l.LeaderCh()
	for {
		select {
		case <-stop:
			return
		case leader := <-ch:
			if ready.Swap(false) {
				onRole(false)
			}
			if leader && barrierOfThisTerm(l, stop, log) {
				if installed() {
					log.Warn().Msg("replicator: elected with a state staged to load: not taking inputs; the member stops to load it")
					continue
				}
				ready.Store(true)
				onRole(true)
			}
		}
	}
}

// barrierOfThisTerm runs a barrier (barrierWhileLeading) and reports
// whether this member still leads in the term the barrier was appended
// in. Raft appends a barrier in the term it is taken in, after the two
// reads of the term agree: the same term, and a member leads at most once
// in a term. False when it no longer leads, or leads in a later term:
// then a signal is pending (raft signals every leadership won), and its
// barrier is taken then.
func barrierOfThisTerm(l leadership, stop chan struct{}, log zerolog.Logger) bool {
	term := l.Term()
	barrier := func() error { return awaitFuture(l.Barrier(barrierEnqueue), stop) }
	leading := func() bool { return l.State() == raft.Leader }
	if !barrierWhileLeading(barrier, leading, stop, log) {
		return false
	}
	// State first: leading then, in the term read after, is leading in
	// that term.
	if !leading() {
		return false
	}
	if now := l.Term(); now != term {
		log.Info().Uint64("barrier_term", term).Uint64("term", now).Msg("replicator: leadership lost and won again during the barrier; another barrier")
		return false
	}
	return true
}

// awaitFuture waits for raft's answer to f, or for stop. Raft never
// answers a barrier or proposal whose entry committed but still waited
// for the FSM goroutine when raft shut down: that goroutine returns on
// shutdown and leaves the queued entries unanswered, their futures
// watching no shutdown (hashicorp/raft issue 498, open in v1.7.1). A
// member elected while the cluster stopped took a barrier, shut down with
// it queued, and its Close waited for ever for the watcher blocked on it
// (a member that never exited after SIGTERM, twice in CI). On stop the
// wait ends, and so does the goroutine reading the future
// (futureAnswer). stop is only received from; it is a chan both ways to
// be handed to raft's future.
func awaitFuture(f raft.Future, stop chan struct{}) error {
	select {
	case err := <-futureAnswer(f, stop):
		return err
	case <-stop:
		return raft.ErrRaftShutdown
	}
}

// barrierEnqueue is how long a barrier waits for raft to take it.
const barrierEnqueue = 10 * time.Second

// barrierWhileLeading runs barrier until it succeeds (true), or this node
// stops leading or is stopped (false). A barrier whose enqueue timed out
// (raft busy, say applying a long catch-up) is tried again: given up on,
// the node would stay leader and never take an input — a cluster with a
// leader and no service until the next election, which nothing starts.
func barrierWhileLeading(barrier func() error, leading func() bool, stop <-chan struct{}, log zerolog.Logger) bool {
	for {
		err := barrier()
		if err == nil {
			return true
		}
		select {
		case <-stop: // the member is closing: no failure
			return false
		default:
		}
		log.Warn().Err(err).Msg("replicator: barrier after election failed")
		if !errors.Is(err, raft.ErrEnqueueTimeout) || !leading() {
			return false
		}
	}
}
