package disruptor

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// WaitStrategy says how a goroutine waits for a sequence to advance.
type WaitStrategy uint8

const (
	// Adaptive spins briefly, then yields the processor, then parks until
	// woken. The default: low latency under load, near-zero CPU when idle.
	Adaptive WaitStrategy = iota
	// Yielding spins with runtime.Gosched and never parks. Lower wake-up
	// latency than Adaptive, but an idle pipeline keeps cores busy.
	Yielding
	// BusySpin never yields. Only for goroutines pinned to dedicated
	// cores; on a shared machine it starves other stages.
	BusySpin
)

// Tuned on the 2-core dev machine: a park/unpark round trip costs a few
// microseconds, so ~100 spins plus ~50 yields bridge the gaps inside a busy
// stream without sleeping, while an idle consumer parks within well under a
// millisecond.
const (
	spinTries  = 100
	yieldTries = 50
)

// signal lets waiters park and wakers wake them. Wakers pay one atomic load
// when nobody is parked.
type signal struct {
	_       cacheLinePad
	waiters atomic.Int32
	_       cacheLinePad
	mu      sync.Mutex
	cond    sync.Cond
}

func newSignal() *signal {
	s := &signal{}
	s.cond.L = &s.mu
	return s
}

// wake wakes every parked waiter. Call it after any sequence advance.
func (s *signal) wake() {
	if s.waiters.Load() == 0 {
		return
	}
	s.mu.Lock()
	s.cond.Broadcast()
	s.mu.Unlock()
}

// waitFor waits, with strategy ws, until ready() or stop() is true.
//
// No lost wake-up: a parking waiter increments waiters before its last
// ready() check under mu; a waker advances its sequence before loading
// waiters. Either the waker sees the waiter and broadcasts under mu, or the
// waiter's check sees the advance.
func (s *signal) waitFor(ws WaitStrategy, ready, stop func() bool) {
	for i := 0; ; i++ {
		if ready() || stop() {
			return
		}
		switch {
		case ws == BusySpin || i < spinTries:
			// spin
		case ws == Yielding || i < spinTries+yieldTries:
			runtime.Gosched()
		default:
			s.waiters.Add(1)
			s.mu.Lock()
			for !ready() && !stop() {
				s.cond.Wait()
			}
			s.mu.Unlock()
			s.waiters.Add(-1)
			return
		}
	}
}
