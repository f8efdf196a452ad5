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

// pause waits a little between two looks at the sequences, longer the
// longer nothing has come. Polling a sequence the producer is writing
// steals its cache line on every read; on the 2-core dev machine a
// cross-core line transfer costs ~100+ ns, so polling flat out made one
// SPSC message cost ~170 ns (BenchmarkThroughput). Backing off from ~20 ns
// to ~1 µs lets the producer publish many slots per transfer, which the
// consumer then takes as one batch, while a lone message still waits at
// most about a microsecond.
//
// spinDelay is the first pause, in loop iterations (about a cycle each).
const spinDelay = 64

func pause(i int) {
	x := 0
	for j := 0; j < spinDelay<<min(i/16, 5); j++ {
		x += j
	}
	runtime.KeepAlive(x) // keeps the delay loop from being optimized away
}

// signal lets waiters park and wakers wake them. Wakers pay one atomic load
// when nobody is parked.
type signal struct {
	_        cacheLinePad
	waiters  atomic.Int32
	notified atomic.Bool
	_        cacheLinePad
	mu       sync.Mutex
	cond     sync.Cond
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
	// One broadcast per parking round: until a woken waiter rearms
	// notified, later advances need not broadcast again (a storm of
	// broadcasts while the waiter is being scheduled costs more than the
	// data it waits for).
	if s.notified.Load() || s.notified.Swap(true) {
		return
	}
	s.mu.Lock()
	s.cond.Broadcast()
	s.mu.Unlock()
}

// waitFor waits, with strategy ws, until ready() or stop() is true.
//
// No lost wake-up: a parking waiter increments waiters, then under mu
// clears notified before each ready() check; a waker advances its sequence
// before loading waiters and swapping notified. Either the waker sees the
// waiter and broadcasts under mu (which it can take only once the waiter
// is inside Wait), or the waiter's check comes after the advance and sees
// it. A waker that finds notified already set comes before a broadcast
// that some waiter has not yet rearmed from, and every waiter rearms and
// rechecks after that broadcast.
func (s *signal) waitFor(ws WaitStrategy, ready, stop func() bool) {
	for i := 0; ; i++ {
		if ready() || stop() {
			return
		}
		switch {
		case ws == BusySpin || i < spinTries:
			pause(i)
		case ws == Yielding || i < spinTries+yieldTries:
			runtime.Gosched()
		default:
			s.waiters.Add(1)
			s.mu.Lock()
			for {
				s.notified.Store(false)
				if ready() || stop() {
					break
				}
				s.cond.Wait()
			}
			s.mu.Unlock()
			s.waiters.Add(-1)
			return
		}
	}
}
