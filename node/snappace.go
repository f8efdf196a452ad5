package node

import (
	"errors"
	"time"
)

// snapshot.every_inputs paces snapshots by the last one taken, not the
// last one asked for: a snapshot that was skipped or whose write failed
// made it wait a whole interval (20 M inputs by default) before it asked
// again, the journal growing all the while.
//
//  1. It asks once every_inputs inputs have passed since the last
//     snapshot whose copy opened (lastSnapSeq; a skipped one sets
//     nothing), and not while a snapshot is under way — its copy open or
//     no copy free — which would skip it: it asks once that one is done.
//  2. After a write that failed it asks again at the first input after a
//     back-off, snapRetryFirst doubled with each failure in a row up to
//     snapRetryMost, so that a full disk costs a snapshot attempt (a log
//     line, ringex_snapshots_total{result="failed"}) a minute, not one
//     per batch. A snapshot written ends the back-off.

// snapRetryFirst and snapRetryMost bound the back-off after a failed
// snapshot write.
const (
	snapRetryFirst = time.Second
	snapRetryMost  = time.Minute
)

// snapshotEvery asks for a snapshot when snapshot.every_inputs says one
// is due (engine goroutine). Only a node that takes inputs asks — a
// cluster's followers snapshot when the leader's request reaches them —
// and from another goroutine: publishing into the input ring from a
// stage of that ring could wait on itself.
func (n *Node) snapshotEvery(seq int64) {
	every := n.cfg.Snapshot.EveryInputs
	if every <= 0 || !n.snapshotDue(seq, every) || n.snapshotUnderWay() || !n.live.Load() || n.refuseInput() || n.snapAsked.Swap(true) {
		return
	}
	go func() {
		// Not applied: ask again. (Applied, the engine cleared it at the
		// input; a skip included.)
		if err := n.RequestSnapshot(); err != nil && !errors.Is(err, ErrSnapshotSkipped) {
			n.snapAsked.Store(false)
		}
	}()
}

// asksForSnapshots reports whether snapshot.every_inputs asks for
// snapshots on this node now: it is set, the node takes inputs (a
// cluster's followers snapshot at the leader's requests) and is not
// stopping.
func (n *Node) asksForSnapshots() bool {
	select {
	case <-n.stopping():
		return false
	default:
	}
	return n.cfg.Snapshot.EveryInputs > 0 && n.live.Load() && !n.refuseInput()
}

// snapshotDue reports whether every inputs have passed since the last
// snapshot taken, or the back-off after a failed one has (engine
// goroutine).
func (n *Node) snapshotDue(seq, every int64) bool {
	if seq-n.lastSnapSeq >= every {
		return true
	}
	at := n.snapRetryAt.Load()
	return at != 0 && time.Now().UnixNano() >= at
}

// snapshotUnderWay reports whether a snapshot input now would be skipped
// (takeSnapshot): a copy is open, or none is free (engine goroutine).
func (n *Node) snapshotUnderWay() bool {
	return n.copying != nil || len(n.snapCopies) == 0
}

// snapshotFailed notes a snapshot write that failed and returns the
// back-off before snapshot.every_inputs asks again (the writer).
func (n *Node) snapshotFailed() time.Duration {
	failures := n.snapFailures.Add(1)
	wait := min(n.snapRetryFirst<<min(failures-1, 16), snapRetryMost)
	n.snapRetryAt.Store(time.Now().Add(wait).UnixNano())
	return wait
}

// snapshotStored ends the back-off: a snapshot is written (the writer).
func (n *Node) snapshotStored() {
	n.snapFailures.Store(0)
	n.snapRetryAt.Store(0)
}
