package replicator

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// A leader held for its FSM (fsmReads) holds raft's main loop only
// with no batch in hand: batchSent emulates processLogs' batching, and a
// count off by one entry — a barrier, a membership entry or a no-op
// counted as raft does not — holds the loop with entries read and never
// sent, which the FSM would wait for for ever. Here the log mixes every
// type raft writes (commands, the no-op and barrier of each term,
// extra barriers, membership entries) over several raft batches, and
// after a whole-cluster restart the leader re-applies it all through
// processLogs under a one-byte budget: every read past the entry after
// what the FSM took is held where batchSent says a batch went out. It
// must still apply the log and lead.
func TestAHeldLeaderAppliesALogOfEveryEntryType(t *testing.T) {
	// Writing the log is the setup's: its leader losing the lead — the
	// one it found or one it handed the lead to — voids it.
	var (
		l    *member
		last int64
	)
	ms, _, _ := startBacklogMembers(t, func(first *member, fs []*member) error {
		l = first
		all := append(fs, first)
		next := int64(2)
		for round := range 6 {
			end, err := commitManyOrLost(t, l, next, 64+32*round)
			if err != nil {
				return err
			}
			next = end + 1
			if err := raftOrLost(t, l, l.r.raft.Barrier(0).Error()); err != nil {
				return err
			}
			// The same membership again: a membership entry, nothing changed.
			self := l.r.cfg.Peers[l.r.cfg.NodeID-1]
			if err := raftOrLost(t, l, l.r.raft.AddVoter(serverID(self.ID), raft.ServerAddress(self.Raft), 0, 0).Error()); err != nil {
				return err
			}
			if round%2 == 1 { // a new term: its no-op, and the barrier Ready appends
				// Raft gives a handover one election timeout, which a
				// loaded machine may overrun ("leadership transfer
				// timeout", no sentinel): the lead is in doubt then — l
				// may lead on, or the member it picked win later — and the
				// setup is voided as for a lead lost.
				err := l.r.raft.LeadershipTransfer().Error()
				if err != nil && strings.Contains(err.Error(), "leadership transfer timeout") {
					return fmt.Errorf("member %d handing the lead over: %w", l.r.cfg.NodeID, err)
				}
				if err := raftOrLost(t, l, err); err != nil {
					return err
				}
				l = waitLeader(t, all, l)
			}
		}
		last = next - 1
		return nil
	})
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		behind := 0
		for _, m := range ms {
			if m.r.Applied() < last {
				behind++
			}
		}
		if behind == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d members did not apply input %d", behind, last)
		}
	}
	types := map[raft.LogType]int{}
	for i := uint64(1); i <= l.r.raft.LastIndex(); i++ {
		var e raft.Log
		if err := l.r.logs.GetLog(i, &e); err != nil {
			t.Fatal(err)
		}
		types[e.Type]++
	}
	if handed := types[raft.LogCommand] + types[raft.LogBarrier] + types[raft.LogConfiguration]; handed < 3*raftBatchEntries ||
		types[raft.LogBarrier] < 6 || types[raft.LogConfiguration] < 6 || types[raft.LogNoop] < 3 {
		t.Fatalf("the log is not the mix this test needs: %v", types)
	}

	ms = restartAll(t, ms, func(_ int, c *Config) { c.FSMBacklogBytes = 1 })
	l = waitRaftLeader(t, ms, 20*time.Second)
	// The member raft elected may lose the lead before it is ready (a
	// loaded machine): the wait follows raft's leader.
	for deadline := time.Now().Add(30 * time.Second); !l.r.Ready(); time.Sleep(10 * time.Millisecond) {
		if m := raftLeader(ms); m != nil {
			l = m
		}
		if time.Now().After(deadline) {
			t.Fatalf("the leader is not ready after 30 s: raft applied %d, its FSM took %d of %d (reads held: %d)",
				l.r.raft.AppliedIndex(), l.r.fsm.taken.Load(), l.r.raft.LastIndex(), l.r.reads.waiting.Load())
		}
	}
	// The lead may move (a loaded machine) to a member that will not take
	// it back (behind by the one-byte budget): any ready leader commits.
	l = commitWhileLeading(t, anyLeader(t, ms), last+1, 1)
	if got := l.r.Applied(); got != last+1 {
		t.Fatalf("the leader applied up to input %d, not %d", got, last+1)
	}
}

// waitRaftLeader waits up to within for a member of ms that raft
// elected.
func waitRaftLeader(t *testing.T, ms []*member, within time.Duration) *member {
	t.Helper()
	for deadline := time.Now().Add(within); ; time.Sleep(10 * time.Millisecond) {
		if m := raftLeader(ms); m != nil {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("no member elected in %v", within)
		}
	}
}

// raftLeader is the member raft has elected, nil with none.
func raftLeader(ms []*member) *member {
	for _, m := range ms {
		if m.r.raft.State() == raft.Leader {
			return m
		}
	}
	return nil
}

// heldLeader elects the member whose node is behind (its FSM stalled)
// with a log of four budgets past it, as TestALeaderQueuesABoundedBacklogForItsFSM
// does, and waits until raft's main loop is held reading for its FSM.
func heldLeader(t *testing.T) (lag *member, last int64, release func()) {
	t.Helper()
	lag, _, last, release = laggingLeaderAhead(t)
	for deadline := time.Now().Add(20 * time.Second); lag.r.reads.waiting.Load() == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("raft's reads for the FSM were not held (state %v)", lag.r.raft.State())
		}
	}
	return lag, last, release
}

// Closed while raft's main loop waits to read for its FSM, a leader
// stops once its node takes no more inputs (a stopping node's halted
// ring answers Deliver ErrDeliveryStopped): the read held is let go and
// raft shuts down — nothing is left waiting for an FSM that will not
// take the rest.
func TestALeaderHeldForItsFSMCloses(t *testing.T) {
	lag, _, release := heldLeader(t)
	closed := make(chan error, 1)
	go func() { closed <- lag.r.Close() }()
	stopped := func() error { return ErrDeliveryStopped }
	lag.beforeDeliver.Store(&stopped)
	release() // the delivery under way ends; the next one finds the ring halted
	select {
	case <-closed:
	case <-time.After(20 * time.Second):
		lag.closeHung.Store(true)
		t.Fatalf("Close has not returned 20 s after the node stopped taking inputs (reads held: %d)", lag.r.reads.waiting.Load())
	}
	if n := lag.r.reads.waiting.Load(); n != 0 {
		t.Fatalf("%d reads still held after Close", n)
	}
}
