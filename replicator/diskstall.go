package replicator

import (
	"errors"
	"fmt"
	"time"
)

// ErrDiskStalled says a write or fsync of this member's raft log (or a
// read of it), its stable store or its raft snapshots (or of the node's own files,
// Config.DiskWaiting) ran longer than
// Config.DiskStallTimeout: the disk stopped answering.
var ErrDiskStalled = errors.New("replicator: disk stalled: a write, fsync or read has not returned")

// watchDisk stops a member whose disk stopped answering (contract item
// 9): a write or read of its raft log, a write of its stable store, its raft snapshots or
// the node's files (Config.DiskWaiting) waited too long. Raft alone would keep such a leader for ever: its main loop waits
// in the log store's write, while its heartbeat goroutines go on telling
// the followers it lives, so none calls an election and nothing more is
// committed. Cut off first (Isolate), the member's heartbeats stop and
// the others elect a leader within an election timeout; OnFatal then
// stops the node — whose stop may itself wait on the disk, so the
// process should exit rather than stop (the node's serve command does).
// It looks every quarter of the timeout: a stall is caught within 1.25
// of it, at four wake-ups per timeout when idle.
func (r *Replicator) watchDisk() {
	defer r.wg.Done()
	limit := r.cfg.DiskStallTimeout
	tick := time.NewTicker(limit / 4)
	defer tick.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-tick.C:
		}
		waited, what := r.logs.Pending.Oldest(), "raft log"
		if d := r.StateWaiting(); d > waited {
			waited, what = d, "raft stable store (term and vote) or raft snapshots"
		}
		if r.cfg.DiskWaiting != nil {
			if d := r.cfg.DiskWaiting(); d > waited {
				waited, what = d, "node's journal or snapshots"
			}
		}
		if waited > limit {
			r.Isolate(true)
			r.cfg.OnFatal(fmt.Errorf("%w: a disk operation of the %s has waited %v (the limit is %v); cut off from the peers so that another member leads",
				ErrDiskStalled, what, waited.Round(time.Millisecond), limit))
			return
		}
	}
}

// LogWaiting is how long the raft log's oldest write or read under way
// has waited for the disk (0: none under way).
func (r *Replicator) LogWaiting() time.Duration { return r.logs.Pending.Oldest() }

// StateWaiting is how long the oldest write under way of raft's other
// files has waited for the disk (0: none under way): the stable store's
// (a term or a vote: raft's main loop waits in it, a candidate's or a
// voter's) and the raft snapshots' (Compact's, or a follower's install
// of the leader's state, which raft's main loop writes).
func (r *Replicator) StateWaiting() time.Duration {
	return max(r.stable.Pending.Oldest(), r.snapsPending.Oldest())
}
