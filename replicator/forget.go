package replicator

import (
	"fmt"
	"slices"
	"time"

	"github.com/hashicorp/raft"
)

// Dropped inputs and the raft log.
//
// An operator gets past an input the engine cannot apply by listing it in
// the journal's drops file on every member (ringex journal drop); each
// node then rejects it instead of applying it. A member without the list
// would meet it in the log: a member that joins with an empty data
// directory, or comes back after being down all through the incident,
// is sent it by the leader and applies it — its state then differs from
// every other member's — or panics on it as the others did. Raft keeps
// its trailing entries (Config.TrailingEntries; in a young cluster, every
// entry from the first) for such a member.
//
// So a member whose node lists dropped inputs (Config.Dropped) keeps no
// entry holding an input at or before the greatest one its node has
// taken once a raft snapshot covers that entry: a member behind it is
// sent the node's state instead, whose stream carries the list. At Open,
// before raft starts, it removes what its newest raft snapshot covers;
// then, as the node takes the inputs, it takes a raft snapshot if none
// covers them yet (Compact) and removes the rest (forgetDropped). One at
// a time, from the greatest taken: an entry far ahead of the node (a
// stale one, after a journal cut) holds back none before it.
//
// Invariant: the log's batch entries hold increasing inputs — the FSM
// stops at a batch that does not follow the last (ErrDiverged) — so the
// entries holding inputs at or before a sequence are a prefix of them.

// forgetPoll is how often forgetDropped looks whether the node has taken
// the greatest dropped input.
const forgetPoll = time.Second

// lastHolding returns the greatest index of a batch entry holding an
// input at or before seq; ok is false when no entry does.
func (s *LogStore) lastHolding(seq int64) (index uint64, ok bool) {
	end, first := s.prefixEnd(func(h Header) bool { return h.First <= seq })
	return end, first != 0 && end >= first
}

// forgetThrough removes from logs (through del, raft's view of them) the
// entries holding inputs at or before seq that the raft snapshot at
// snapIndex covers. done reports that none is left.
func forgetThrough(logs *LogStore, del raft.LogStore, seq int64, snapIndex uint64) (removed uint64, done bool, err error) {
	index, ok := logs.lastHolding(seq)
	if !ok {
		return 0, true, nil
	}
	first, err := logs.FirstIndex()
	if err != nil {
		return 0, false, err
	}
	if upTo := min(index, snapIndex); upTo >= first {
		if err := del.DeleteRange(first, upTo); err != nil {
			return 0, false, err
		}
		removed = upTo - first + 1
	}
	// Looked at again: an entry that could not be read (compacted while
	// the search ran) ended the search early.
	_, left := logs.lastHolding(seq)
	return removed, !left, nil
}

// coveringSnapshot is the index of the newest raft snapshot when it
// lists every dropped input it holds (Config.SnapshotListsDrops): a
// member behind may be sent it in place of their entries; 0 when there
// is none. stale: there is one, and it does not list them or cannot be
// read — a member sent it would replay a dropped input it was not told
// of (a raft snapshot taken before the drop), so one that lists them
// must be taken (Compact) whether or not the log still holds an entry.
func (r *Replicator) coveringSnapshot() (index uint64, stale bool, err error) {
	metas, err := r.fsm.snaps.List()
	if err != nil || len(metas) == 0 {
		return 0, false, err
	}
	m := metas[0]
	if r.cfg.SnapshotListsDrops == nil {
		return m.Index, false, nil
	}
	if r.listsDrops.id != m.ID {
		r.listsDrops.id, r.listsDrops.ok = m.ID, r.snapshotListsDrops(m.ID)
	}
	if !r.listsDrops.ok {
		return 0, true, nil
	}
	return m.Index, false, nil
}

// snapshotListsDrops asks Config.SnapshotListsDrops of raft snapshot id.
func (r *Replicator) snapshotListsDrops(id string) bool {
	_, rc, err := r.fsm.snaps.Open(id)
	if err == nil {
		var ok bool
		ok, err = r.cfg.SnapshotListsDrops(rc)
		rc.Close()
		if err == nil {
			if !ok {
				r.cfg.Logger.Info().Str("snapshot", id).Int64("dropped_through", r.lastDropped()).
					Msg("replicator: the newest raft snapshot holds a dropped input it does not list (taken before the drop): its entries stay until one that lists them is taken")
			}
			return ok
		}
	}
	r.cfg.Logger.Warn().Err(err).Str("snapshot", id).Msg("replicator: reading the newest raft snapshot's dropped inputs; it covers none")
	return false
}

// droppedAtMost is the greatest dropped input at or before seq, 0 when
// there is none.
func (r *Replicator) droppedAtMost(seq int64) int64 {
	i, _ := slices.BinarySearch(r.cfg.Dropped, seq+1)
	if i == 0 {
		return 0
	}
	return r.cfg.Dropped[i-1]
}

// lastDropped is the greatest dropped input, 0 when there is none.
func (r *Replicator) lastDropped() int64 {
	if len(r.cfg.Dropped) == 0 {
		return 0
	}
	return r.cfg.Dropped[len(r.cfg.Dropped)-1]
}

// forgetAtOpen removes, before raft runs, the entries holding the dropped
// inputs the node holds that the newest raft snapshot covers. It returns
// the greatest dropped input no entry holds any more and no stale
// snapshot does (0: none).
func (r *Replicator) forgetAtOpen() (forgotten int64, err error) {
	seq := r.droppedAtMost(r.cfg.Applied)
	if seq == 0 {
		return 0, nil
	}
	// Only a raft snapshot that lists the dropped inputs it holds covers
	// their entries: a member behind is sent it instead.
	covering, stale, _ := r.coveringSnapshot()
	removed, done, err := forgetThrough(r.logs, r.logs, seq, covering)
	if err != nil {
		return 0, fmt.Errorf("replicator: removing the dropped inputs' entries from the log: %w", err)
	}
	if removed > 0 {
		r.cfg.Logger.Info().Int64("dropped_through", seq).Uint64("entries", removed).
			Msg("replicator: removed the raft log's entries of the dropped inputs that its snapshot covers")
	}
	if !done || stale {
		return 0, nil
	}
	r.noteForgotten(seq, 0)
	return seq, nil
}

// DroppedInLog counts the dropped inputs the node has taken whose
// entries this member's log may still hold: while above 0, a member
// behind may be sent one of them from the log (docs/runbook.md, "An input
// the engine cannot apply").
func (r *Replicator) DroppedInLog() int {
	applied, forgotten := r.Applied(), r.forgotten.Load()
	count := 0
	for _, seq := range r.cfg.Dropped {
		if seq > forgotten && seq <= applied {
			count++
		}
	}
	return count
}

// noteForgotten records and logs that the log holds no dropped input up
// to seq.
func (r *Replicator) noteForgotten(seq int64, removed uint64) {
	r.forgotten.Store(seq)
	if last := r.lastDropped(); seq < last {
		r.cfg.Logger.Info().Int64("dropped_through", seq).Int64("ahead", last).Uint64("entries", removed).
			Msg("replicator: the raft log holds no dropped input up to dropped_through now; one the node has yet to take is ahead")
		return
	}
	r.cfg.Logger.Info().Int64("dropped_through", seq).Uint64("entries", removed).
		Msg("replicator: the raft log holds no dropped input now: a member behind them is sent this node's state, which lists them")
}

// forgetDropped removes the entries holding inputs up to the greatest
// dropped one the node has taken, past forgotten, taking a raft snapshot
// that covers them first when none does — again as the node takes more.
// It runs until the last dropped input is done or the member closes; a
// failure is logged and tried again.
func (r *Replicator) forgetDropped(forgotten int64) {
	defer r.wg.Done()
	t := time.NewTicker(forgetPoll)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
		}
		if r.fsm.installed.Load() {
			return // stopping to load the leader's state: the next start goes on
		}
		seq := r.droppedAtMost(r.Applied())
		if seq <= forgotten {
			continue
		}
		removed, done, err := r.forgetNow(seq)
		if err != nil {
			r.cfg.Logger.Warn().Err(err).Int64("dropped_through", seq).Msg("replicator: removing the dropped inputs' entries from the raft log; trying again")
			continue
		}
		if done {
			forgotten = seq
			r.noteForgotten(seq, removed)
			if seq == r.lastDropped() {
				return
			}
		}
	}
}

// forgetNow is one try of forgetDropped. Its Compact takes nothing
// until raft has applied an entry since the member started (raft answers
// "nothing new"): a stale snapshot stays on a member that applied none.
// Only a leader sends its raft snapshot, and a leader has applied one —
// the barrier of its term (barrierOfThisTerm), which raft hands its FSM
// runner (TestAStaleRaftSnapshotIsReplacedEvenWithNoEntryLeft, idle).
func (r *Replicator) forgetNow(seq int64) (removed uint64, done bool, err error) {
	snap, stale, err := r.coveringSnapshot()
	if err != nil {
		return 0, false, err
	}
	// Never past what raft applied: a snapshot a leader is installing
	// here is listed before raft restores it, and its restore may fail.
	removed, done, err = forgetThrough(r.logs, r.cache, seq, min(snap, r.raft.AppliedIndex()))
	if (done && !stale) || err != nil {
		return removed, done && !stale, err
	}
	if index, ok := r.logs.lastHolding(seq); ok && r.raft.AppliedIndex() < index {
		// A raft snapshot now would not cover it: raft has yet to apply
		// the entries the node held from its journal at its start. Taken
		// anyway, each try wrote the node's whole state again (every
		// second while a member caught up).
		return removed, false, nil
	}
	if err := r.Compact(); err != nil {
		return removed, false, err
	}
	if snap, stale, err = r.coveringSnapshot(); err != nil {
		return removed, false, err
	}
	more, done, err := forgetThrough(r.logs, r.cache, seq, min(snap, r.raft.AppliedIndex()))
	return removed + more, done && !stale, err
}
