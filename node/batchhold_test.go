package node

import (
	"sync"
	"testing"
)

// batchHold holds a stage at the start of a batch when a test asks
// (holdNext), until it lets go (release): what is published to the
// stage meanwhile comes in its next batch, together.
type batchHold struct {
	stage string // for the failure message: "execution sender"
	// hold and held are buffered; let is closed once, by the test or at
	// its end.
	hold, held, let chan struct{}
	once            sync.Once
}

// holdBatches sets *hook, a stage's batch hook (senderBatchHook,
// journalBatchHook), to hold the stage when asked — before the node
// starts, then — and unsets it when the test ends. The test releases
// the stage before it stops the node: a test failing while the stage is
// held (or about to be) must not leave Stop waiting for it for good.
func holdBatches(t testing.TB, stage string, hook *func()) *batchHold {
	h := &batchHold{stage: stage, hold: make(chan struct{}, 1), held: make(chan struct{}, 1), let: make(chan struct{})}
	*hook = func() {
		select {
		case <-h.hold:
			h.held <- struct{}{}
			<-h.let
		default:
		}
	}
	t.Cleanup(func() {
		h.release()
		*hook = nil
	})
	return h
}

// holdSender holds the execution sender: the events the engine
// publishes meanwhile go out in its next batch, together.
func holdSender(t testing.TB) *batchHold {
	return holdBatches(t, "execution sender", &senderBatchHook)
}

// holdNext has the stage's next batch held.
func (h *batchHold) holdNext() { h.hold <- struct{}{} }

// awaitHeld waits (at most 10 s) for the stage to be held.
func (h *batchHold) awaitHeld(t testing.TB) {
	t.Helper()
	received(t, h.held, "the "+h.stage+" was not held in 10 s")
}

// release lets the stage go on, now and for good.
func (h *batchHold) release() { h.once.Do(func() { close(h.let) }) }
