package node

import (
	"sync"
	"time"
)

// Answers under way at a Logout (proto/README.md, session flow point
// 8). The node answers every message a session sent before its Logout,
// waiting at most the second the gateway gives it
// (gateway.Config.AwaitAnswers). The answer to a ResendReports may still
// be on its way once the execution sender has passed the request — sent
// by the resend worker or by a goroutine of its own (resend.go) — and the
// session waits for its ResendDone too, within the same second.

// resendsUnderway counts, per session, the resend answers handed off the
// execution sender and not over yet (their ResendDone sent, or given up:
// the session or the node gone). The zero value is ready.
//
// Invariant: a session's count is raised on the sender before its batch
// ends — so before the sender's sequence passes the request — and
// lowered by whichever goroutine ends the answer: once the sender has
// passed every event published before a Logout, a count of 0 means that
// no answer of the session's is left to send.
type resendsUnderway struct {
	mu sync.Mutex
	of map[uint64]int
}

// begin counts an answer to session's request handed off the sender.
func (u *resendsUnderway) begin(session uint64) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.of == nil {
		u.of = map[uint64]int{}
	}
	u.of[session]++
}

// end counts one of session's answers over.
func (u *resendsUnderway) end(session uint64) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.of[session]--; u.of[session] <= 0 {
		delete(u.of, session)
	}
}

// any reports whether an answer to session's requests is under way.
func (u *resendsUnderway) any(session uint64) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.of[session] > 0
}

// awaitResends waits until no answer to session's requests is under way,
// or deadline passes, or the node stops.
func (n *Node) awaitResends(session uint64, deadline time.Time) {
	if !n.resendsUnderway.any(session) {
		return
	}
	if awaitingResends != nil {
		awaitingResends(session)
	}
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for n.resendsUnderway.any(session) && time.Now().Before(deadline) {
		select {
		case <-tick.C:
		case <-n.stopCh:
			return
		}
	}
}

// awaitingResends, when set, is called as a session that logged out
// begins to wait for its resend answers under way (a variable for tests:
// set only while no node runs).
var awaitingResends func(session uint64)
