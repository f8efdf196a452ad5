package node

import (
	"errors"
	"sync"
	"time"

	"github.com/ringex/ringex/proto"
)

// ErrSnapshotSkipped: the engine applied the snapshot input, but no
// snapshot is taken of it — the last one's state is still being copied,
// or both state copies are still with the writer (snapcopy.go). Asking
// again once the one under way is written is safe.
var ErrSnapshotSkipped = errors.New("node: snapshot skipped")

// RequestSnapshot asks for a snapshot: its copy of the state opens at
// the next input and, taken in steps between batches, is of the state at
// the input the engine has reached when it finishes (snapcopy.go). It
// returns once the engine has applied the input: nil when the copy is
// being taken (the writer then writes it, or counts and logs why not),
// ErrSnapshotSkipped when none is, or why the input was not applied.
func (n *Node) RequestSnapshot() error {
	deadline := time.Now().Add(n.ctlWait)
	var seq int64
	slot, err := n.claimControl(deadline, 0, func(e *proto.Encoder) []byte { return e.SnapshotRequest(0) }, func(slot int64) {
		seq = n.base + slot
		n.snapAnswers.expect(seq) // before the engine can reach it
	}, func(slot int64) { n.snapAnswers.take(n.base + slot) }) // nobody will
	if err != nil {
		return err
	}
	answer := n.snapAnswers.take // whatever happens, the entry goes
	if err := n.awaitApplied(slot, deadline); err != nil {
		answer(seq)
		return err
	}
	return answer(seq)
}

// snapAnswers holds, by input sequence, what became of the snapshot
// inputs a RequestSnapshot waits for: expected before the input is
// published, answered on the engine goroutine at the input, taken by the
// requester once the engine has applied it. Inputs nobody waits for (a
// follower's, replicated from the leader) leave nothing.
type snapAnswers struct {
	mu      sync.Mutex
	waiting map[int64]error // nil: a snapshot copy was opened at the input
}

func (a *snapAnswers) expect(seq int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.waiting == nil {
		a.waiting = make(map[int64]error)
	}
	a.waiting[seq] = nil
}

// answer records err for the snapshot input seq, if it is expected
// (engine goroutine).
func (a *snapAnswers) answer(seq int64, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.waiting[seq]; ok {
		a.waiting[seq] = err
	}
}

// take returns and forgets the answer for seq.
func (a *snapAnswers) take(seq int64) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	err := a.waiting[seq]
	delete(a.waiting, seq)
	return err
}
