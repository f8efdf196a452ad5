package replicator

import (
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/raft"
)

// fsmReads is the log as raft reads it (its cache of recent entries
// over the LogStore), with a leader's reads for its FSM held to
// Config.FSMBacklogBytes (contract item 10). A follower's FSM is bounded
// by what it takes for committed (commitLimit); a leader's commit index
// is what a majority stored, which cannot be lowered without holding
// back the followers' acknowledgements. After a whole-cluster restart
// the elected leader applies its log since its newest raft snapshot:
// raft's main loop (processLogs) reads each entry and queues it for the
// FSM, 128 batches of up to MaxAppendEntries entries (~6 GB of
// proposeChunk entries) before it waits. Here that read waits instead,
// while the entries raft read and the FSM has not taken would pass the
// budget — the same wait, sooner (at most one raft batch past the
// budget: batchSent). Raft's replication goroutines read
// through here too, and are never held: only a read from processLogs is
// (readForFSM), so the followers are sent the log as before.
type fsmReads struct {
	raft.LogStore
	r *Replicator
	// armed: r.raft is set (stored after it: reading armed orders the
	// read of r.raft after the write).
	armed atomic.Bool
	// limit is a limit leaderFSMLimit gave: the budget only grows as the
	// FSM takes entries, so a read up to it never waits.
	limit atomic.Uint64
	// waiting counts the reads held; the FSM wakes them (took) only then.
	waiting atomic.Int32
	mu      sync.Mutex
	taken   sync.Cond // L is mu; broadcast when the FSM took an entry or on close
	closed  bool      // under mu: Close; nothing more is held

	// The processLogs call under way (batchSent), on raft's main
	// goroutine only: its first index, the last index counted, and the
	// entries it hands the FSM among them.
	callFrom, counted uint64
	handed            int
}

func newFSMReads(logs raft.LogStore, r *Replicator) *fsmReads {
	g := &fsmReads{LogStore: logs, r: r}
	g.taken.L = &g.mu
	return g
}

// GetLog implements raft.LogStore.
func (g *fsmReads) GetLog(index uint64, l *raft.Log) error {
	if index > g.limit.Load() && g.armed.Load() {
		g.hold(index)
	}
	return g.LogStore.GetLog(index, l)
}

// IsMonotonic passes the store's answer on (raft.MonotonicLogStore).
func (g *fsmReads) IsMonotonic() bool {
	m, ok := g.LogStore.(raft.MonotonicLogStore)
	return ok && m.IsMonotonic()
}

// hold waits, when raft's main loop reads index for a leader's FSM,
// until the FSM has taken enough for the entries after what it took, up
// to index, to fit the budget — or the member closes.
func (g *fsmReads) hold(index uint64) {
	if g.r.raft.State() != raft.Leader || g.within(index) || g.r.fsm.installed.Load() || !readForFSM() || !g.batchSent(index) {
		return
	}
	g.waiting.Add(1)
	defer g.waiting.Add(-1)
	g.mu.Lock()
	defer g.mu.Unlock()
	for !g.closed && !g.within(index) {
		g.taken.Wait()
	}
}

// batchSent reports whether raft's processLogs, reading index, has
// handed the FSM every entry it read before: it sends them in batches of
// raftBatchEntries, and one held in hand would never reach the FSM
// (which then took all it had, so nothing would ever let the read go).
// Held only there, raft holds at most a batch more than the budget.
// It counts, from the call's first index (raft's applied index + 1:
// raft raises it once the call is done), the entries raft hands the FSM
// (prepareLog): commands, barriers and memberships, not no-ops.
func (g *fsmReads) batchSent(index uint64) bool {
	if from := g.r.raft.AppliedIndex() + 1; from != g.callFrom || g.counted >= index || g.counted+1 < from {
		g.callFrom, g.counted, g.handed = from, from-1, 0
	}
	var l raft.Log
	for ; g.counted+1 < index; g.counted++ {
		if g.r.logs.GetLog(g.counted+1, &l) != nil {
			return false // raft's own read fails too
		}
		if l.Type == raft.LogCommand || l.Type == raft.LogBarrier || l.Type == raft.LogConfiguration {
			g.handed++
		}
	}
	return g.handed%raftBatchEntries == 0
}

// within reports whether index is within the leader's FSM budget, and
// keeps the limit for the reads after.
func (g *fsmReads) within(index uint64) bool {
	limit := g.r.leaderFSMLimit(index - 1)
	for old := g.limit.Load(); limit > old && !g.limit.CompareAndSwap(old, limit); old = g.limit.Load() {
	}
	return index <= limit
}

// took wakes the reads held, after the FSM took an entry.
func (g *fsmReads) took() {
	if g.waiting.Load() > 0 {
		g.mu.Lock()
		g.taken.Broadcast()
		g.mu.Unlock()
	}
}

// close lets every read held go, and holds none after (Replicator.Close,
// before raft's shutdown, which waits for its main loop).
func (g *fsmReads) close() {
	g.mu.Lock()
	g.closed = true
	g.taken.Broadcast()
	g.mu.Unlock()
}

// raftProcessLogs is the function of raft (v1.7.1) whose reads queue
// entries for the FSM; TestALeaderQueuesABoundedBacklogForItsFSM fails
// if an upgrade renames it.
const raftProcessLogs = "github.com/hashicorp/raft.(*Raft).processLogs"

// readForFSM reports whether the caller's caller was called by raft's
// processLogs. Asked only of a leader's reads past the budget, while it
// applies a backlog, never on a steady leader's path.
func readForFSM() bool {
	var pcs [8]uintptr
	frames := runtime.CallersFrames(pcs[:runtime.Callers(3, pcs[:])])
	for {
		f, more := frames.Next()
		if f.Function == raftProcessLogs {
			return true
		}
		if !more {
			return false
		}
	}
}

// leaderFSMLimit is the last index up to which the entries after what
// the FSM took fit in FSMBacklogBytes (at least one), counting from past
// the entries up to before that raft never hands it (no-ops, barriers:
// taken does not move over them, and would never let an entry after
// them through).
func (r *Replicator) leaderFSMLimit(before uint64) uint64 {
	taken := r.fsm.taken.Load()
	last, _ := r.logs.Within(taken, r.cfg.FSMBacklogBytes)
	if last > before {
		return last // reads no entry: a steady leader's replication reads come here
	}
	if done := r.unhandedAfter(taken, before); done > taken {
		last, _ = r.logs.Within(done, r.cfg.FSMBacklogBytes)
	}
	return last
}
