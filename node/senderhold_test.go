package node

import (
	"sync"
	"testing"
	"time"
)

// senderHold holds the execution sender at the start of a batch when a
// test asks (holdNext), until it lets go (release): the events the
// engine publishes meanwhile go out in the sender's next batch,
// together.
type senderHold struct {
	// hold and held are buffered; let is closed once, by the test or at
	// its end.
	hold, held, let chan struct{}
	once            sync.Once
}

// holdSender sets senderBatchHook (before the node starts, then) to
// hold the sender when asked, and unsets it when the test ends. The
// test releases the sender before it stops the node: a test failing
// while the sender is held (or about to be) must not leave Stop waiting
// for it for good.
func holdSender(t testing.TB) *senderHold {
	h := &senderHold{hold: make(chan struct{}, 1), held: make(chan struct{}, 1), let: make(chan struct{})}
	senderBatchHook = func() {
		select {
		case <-h.hold:
			h.held <- struct{}{}
			<-h.let
		default:
		}
	}
	t.Cleanup(func() {
		h.release()
		senderBatchHook = nil
	})
	return h
}

// holdNext has the sender's next batch held.
func (h *senderHold) holdNext() { h.hold <- struct{}{} }

// awaitHeld waits (at most 10 s) for the sender to be held.
func (h *senderHold) awaitHeld(t testing.TB) {
	t.Helper()
	select {
	case <-h.held:
	case <-time.After(10 * time.Second):
		t.Fatal("the execution sender was not held in 10 s")
	}
}

// release lets the sender go on, now and for good.
func (h *senderHold) release() { h.once.Do(func() { close(h.let) }) }
