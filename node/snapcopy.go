package node

import (
	"fmt"
	"time"

	"github.com/ringex/ringex/engine"
)

// The state copy behind a snapshot is taken in steps between engine
// batches (engine.BeginCopy, CopyMore, FinishCopy), so that trading never
// waits for the whole copy. Copying 1 M resting orders at once held the
// engine 14–20 ms on the 2-core Xeon dev VM (`make snapshot-bench`):
// every order in flight waited as long, and the run's p99 went from 2 to
// 8.5 ms. In steps the engine waits ~25 µs per step and, at the end,
// only for the pieces that changed since the sweep copied them.
//
//  1. The snapshot input (EvSnapshot, on the engine goroutine) takes a
//     free state copy; a goroutine of its own (sweepCopy) makes it as
//     large as the engine's pools, before every step, as they grow — the
//     engine goroutine never allocates or faults in a copy's memory
//     unless the pools grow by more than an eighth within one step —
//     and hands the engine one step at a time with Processor.Do, which
//     runs it between two batches (at once when the engine is idle): the
//     first step opens the copy.
//  2. The snapshot is of the state after the batch the last step follows,
//     not at the snapshot input: its sequence is the engine's last input
//     then (view.seq), which the snapshot records like any other. Every
//     later input is in the journal, so recovery is the same.
//  3. One snapshot copy is taken at a time; a snapshot input that comes
//     while one is is skipped (counted, logged, and answered to the
//     RequestSnapshot that asked: ErrSnapshotSkipped), as when no copy is
//     free.
//     State (GET /state) takes its copy the same way (driveCopy); the two
//     take turns (copyMu), as the engine keeps one copy open at most.
//  4. If the engine stage stops first, the copy is finished from the
//     stopped engine — which stopped between two batches — and written:
//     a snapshot asked for just before a stop is not lost. Stop waits for
//     it (n.sweeping) before it closes the writer's queue. If the stage
//     failed (a handler error or panic, perhaps inside a command), the
//     copy is dropped: the state may be half a command.

// copyStepBytes is what one step copies (Node.copyStepBytes, smaller in
// tests): ~25 µs of memory copying on the dev VM (BenchmarkSnapshot/copy:
// ~10 GB/s).
const copyStepBytes = 256 << 10

// steppedCopy is one copy of the engine's state taken in steps: a
// snapshot's (openCopy) or the admin's (State). Its driver holds
// Node.copyMu, so one is taken at a time — the engine has one copy open
// at most — and the engine goroutine never waits for the lock.
type steppedCopy struct {
	state   *engine.StateCopy
	begun   bool // the engine's copy into state is open (or was, once finished)
	steps   int
	longest time.Duration // the longest step, BeginCopy's and FinishCopy's included
	// afterStep, nil but in tests (Node.stateStepHook), runs on the
	// driver's goroutine while the copy is open on the engine.
	afterStep func()
}

// openCopy is the snapshot copy being taken; the engine goroutine's (in
// Do tasks and batches), nil when none is open.
type openCopy struct {
	steppedCopy
	opened time.Time
}

// takeSnapshot opens a stepped copy of the engine's state for a snapshot
// (engine goroutine, at the snapshot input). With no copy free (two
// snapshots still being written) or one still being taken, the snapshot
// is skipped: it is counted and logged, and the error (ErrSnapshotSkipped)
// says why.
func (n *Node) takeSnapshot(seq int64) error {
	var err error
	if n.copying != nil {
		err = fmt.Errorf("%w: the last one's state is still being copied", ErrSnapshotSkipped)
	} else {
		select {
		case c := <-n.snapCopies:
			oc := &openCopy{steppedCopy: steppedCopy{state: c}, opened: time.Now()}
			n.copying = oc
			n.sweeping.Add(1)
			go n.sweepCopy(oc)
			return nil
		default:
			err = fmt.Errorf("%w: the writer is still busy with the last two", ErrSnapshotSkipped)
		}
	}
	n.stats.snapshots[snapshotSkipped].Add(1)
	n.log.Warn().Err(err).Int64("seq", seq).Msg("snapshot skipped")
	return err
}

// sweepCopy takes the snapshot copy oc and hands it to the snapshot
// writer, or drops it when the engine stage failed first.
func (n *Node) sweepCopy(oc *openCopy) {
	defer n.sweeping.Done()
	n.copyMu.Lock()
	defer n.copyMu.Unlock()
	if n.driveCopy(&oc.steppedCopy, func() { n.queueSnapshot(oc) }) {
		return
	}
	// The engine goroutine has exited: the state is this goroutine's.
	// Its failure shows once Done is closed, after Do has answered false.
	<-n.stats.engine.Done()
	if n.stats.engine.Err() != nil {
		n.eng.DropCopy()
		n.snapCopies <- oc.state
		n.copying = nil
		return
	}
	n.finishStopped(&oc.steppedCopy)
	n.queueSnapshot(oc)
}

// driveCopy hands the engine the copy's steps until it is finished —
// finished is then called on the engine goroutine, at the state copied —
// or until the engine is not running, when it reports false and sc is as
// far as it got. Before each step it makes sc's state as large as the
// engine's pools (as of the latest batch; Reserve leaves at least an
// eighth to spare for their growth since): a book that grows during the
// copy grows the copy here, not on the engine goroutine (the engine
// touches the copy only in steps, and Do orders each step after this
// goroutine's work before it). The caller holds copyMu.
func (n *Node) driveCopy(sc *steppedCopy, finished func()) bool {
	done := false
	for !done {
		sc.state.Reserve(n.poolSizes())
		if !n.stats.engine.Do(func() { done = n.copyStep(sc, finished) }) {
			return false
		}
		if !done && sc.afterStep != nil {
			sc.afterStep()
		}
	}
	return true
}

// copyStep copies one step of sc (engine goroutine, between batches) —
// the first opens it — and, once the sweep is done, finishes it and calls
// finished. It holds view.mu like a batch, for the admin's reads.
func (n *Node) copyStep(sc *steppedCopy, finished func()) (done bool) {
	n.view.mu.Lock()
	defer n.view.mu.Unlock()
	var swept bool
	sc.step(func() {
		n.beginCopy(sc)
		if swept = n.eng.CopyMore(n.copyStepBytes); swept {
			n.finishCopy()
		}
	})
	if swept {
		finished()
	}
	return swept
}

// step runs one step of sc on the engine's state, timed and counted.
func (sc *steppedCopy) step(f func()) {
	start := time.Now()
	f()
	sc.steps++
	sc.longest = max(sc.longest, time.Since(start))
}

// beginCopy opens the engine's copy into sc's state, once.
func (n *Node) beginCopy(sc *steppedCopy) {
	if sc.begun {
		return
	}
	sc.begun = true
	if n.eng.BeginCopy(sc.state) { // the pools outgrew driveCopy's reservation
		n.copyGrown()
	}
}

// finishCopy finishes the engine's open copy.
func (n *Node) finishCopy() {
	if n.eng.FinishCopy() { // the pools outgrew the reservation within one step
		n.copyGrown()
	}
}

// copyGrown counts and logs a state copy the engine goroutine had to grow.
func (n *Node) copyGrown() {
	n.stats.copiesGrown.Add(1)
	n.log.Warn().Msg("the engine's state copy was grown on the engine goroutine (trading waited for it)")
}

// finishStopped completes sc from an engine that is not running: the
// state holds still.
func (n *Node) finishStopped(sc *steppedCopy) {
	n.beginCopy(sc)
	if n.eng.Copying() {
		if sc.afterStep != nil {
			sc.afterStep()
		}
		sc.step(n.finishCopy)
	}
}

// queueSnapshot hands the finished snapshot copy oc to the snapshot
// writer.
func (n *Node) queueSnapshot(oc *openCopy) {
	n.copying = nil
	n.stats.copySteps.Add(int64(oc.steps))
	n.stats.snapPause.Observe(oc.longest.Seconds())
	n.snapJobs <- snapJob{seq: n.view.seq, sessions: n.sessionIDs, state: oc.state, copied: oc.longest, steps: oc.steps, sweep: time.Since(oc.opened)} // room for every copy: never blocks
}
