package replicator

import (
	"errors"
	"fmt"
	"time"
)

// ErrDiskStalled says a write or fsync of this member's raft log (or a
// read of it), its stable store, its raft snapshots or its file of fenced
// addresses (or of the node's own files, Config.DiskWaiting) ran longer than
// Config.DiskStallTimeout: the disk stopped answering.
var ErrDiskStalled = errors.New("replicator: disk stalled: a write, fsync or read has not returned")

// watchDisk stops a member whose disk stopped answering (contract item
// 9): a write or read of its raft log, a write of its stable store, its
// raft snapshots, its file of fenced addresses or the node's files
// (Config.DiskWaiting) waited too long. Raft alone would keep such a leader for ever: its main loop waits
// in the log store's write, while its heartbeat goroutines go on telling
// the followers it lives, so none calls an election and nothing more is
// committed. Cut off first (Isolate), the member's heartbeats stop and
// the others elect a leader within an election timeout; OnFatal then
// stops the node — whose stop may itself wait on the disk, so the
// process should exit rather than stop (the node's serve command does).
//
// It wakes every quarter of the timeout and judges a wait by the time
// the process ran (diskWatch), not by the clock alone: a process frozen
// for longer than the timeout (SIGSTOP, a paused or migrated VM) with a
// write in flight is not stopped when the disk answers after the wake.
// A stall is caught at the fifth wake-up after it began at the latest:
// within 1.25 of the timeout when the wake-ups come on time, later by as
// much as they come late when the process is starved of CPU or frozen;
// four wake-ups per timeout when idle.
func (r *Replicator) watchDisk() {
	defer r.wg.Done()
	limit := r.cfg.DiskStallTimeout
	w := newDiskWatch(limit, time.Now())
	wake := time.NewTimer(w.every)
	defer wake.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-wake.C:
		}
		waited, what := r.logs.Pending.Oldest(), "raft log"
		if d := r.StateWaiting(); d > waited {
			waited, what = d, "raft stable store (term and vote), raft snapshots or file of fenced addresses"
		}
		if r.cfg.DiskWaiting != nil {
			if d := r.cfg.DiskWaiting(); d > waited {
				waited, what = d, "node's journal or snapshots"
			}
		}
		// The clock read after the waits: a freeze between them shortens
		// the wait as judged, never lengthens it.
		if ran := w.judge(time.Now(), waited); ran >= limit {
			r.stopCutOff(fmt.Errorf("%w: a disk operation of the %s has waited %v while this process ran (%v in all; the limit is %v); cut off from the peers so that another member leads",
				ErrDiskStalled, what, ran.Round(time.Millisecond), waited.Round(time.Millisecond), limit))
			return
		}
		// Reset after the wake, not a ticker: wake-ups are at least every
		// apart, which judge's count relies on.
		wake.Reset(w.every)
	}
}

// stopCutOff cuts the member off (Isolate), then tells OnFatal of err:
// a member whose disk stalled under its raft state (watchDisk) or failed
// under its file of fenced addresses (ErrFenceNotWritten), so that
// another member leads while the node stops (its stop may itself wait on
// the disk).
func (r *Replicator) stopCutOff(err error) {
	r.Isolate(true)
	r.cfg.OnFatal(err)
}

// diskWatch tells a disk that stopped answering from a process that did
// not run. A wait under way is read as a duration on the clock, which
// goes on while the process is frozen or starved; the watch counts
// instead at most every (a quarter of the limit) of running time per
// wake-up of its own — a wake-up that came later than every after the
// one before says the process did not run for the rest, and that rest is
// not counted: the disk may have answered the moment the process ran
// again. A wait that began between two wake-ups counts what is left of
// every after the first of them: the process ran at most that long
// before it froze, or the watch would have woken sooner. So a wait counts
// every per whole gap between wake-ups it spans, and at most every for
// the one it began in: it reaches limit at the fifth wake-up after it
// began at the latest, however late they came; when they come on time,
// it counts its time by the clock less how late each wake-up was.
//
// Owned by the watchDisk goroutine; a test drives it with its own times.
type diskWatch struct {
	limit, every time.Duration
	// wakes are the watch's start and its latest wake-ups, oldest first,
	// each at least every after the one before; the last is the one
	// judged at. Enough are kept that a wait begun before the oldest has
	// counted more than limit.
	wakes []time.Time
}

func newDiskWatch(limit time.Duration, start time.Time) *diskWatch {
	return &diskWatch{limit: limit, every: limit / 4, wakes: []time.Time{start}}
}

// judge takes a wake-up at now, at least every after the last, and
// returns how much of the process's running time a disk operation under
// way for waited (by the clock) at now has waited (0: none under way).
func (w *diskWatch) judge(now time.Time, waited time.Duration) time.Duration {
	w.wakes = append(w.wakes, now)
	if keep := int(w.limit/w.every) + 2; len(w.wakes) > keep {
		w.wakes = w.wakes[len(w.wakes)-keep:]
	}
	if waited <= 0 {
		return 0
	}
	began := now.Add(-waited)
	var ran time.Duration
	for i := len(w.wakes) - 1; i > 0; i-- {
		if from := w.wakes[i-1]; !began.Before(from) {
			return ran + max(0, from.Add(w.every).Sub(began))
		}
		ran += w.every
	}
	// Begun before the oldest wake-up kept: counted whole from there
	// back — more than limit once that many wake-ups came, and before
	// the watch's start there was none to know better.
	return ran + w.wakes[0].Sub(began)
}

// LogWaiting is how long the raft log's oldest write or read under way
// has waited for the disk (0: none under way).
func (r *Replicator) LogWaiting() time.Duration { return r.logs.Pending.Oldest() }

// StateWaiting is how long the oldest write under way of raft's other
// files has waited for the disk (0: none under way): the stable store's
// (a term or a vote: raft's main loop waits in it, a candidate's or a
// voter's), the raft snapshots' (Compact's, or a follower's install
// of the leader's state, which raft's main loop writes) and the file of
// fenced addresses' (a committed move applied: raft's FSM goroutine
// waits in it, and every apply after it, a leader's Propose among them).
func (r *Replicator) StateWaiting() time.Duration {
	return max(r.stable.Pending.Oldest(), r.snapsPending.Oldest(), r.trans.fence.pending.Oldest())
}
