package disruptor

import (
	"sync/atomic"
	"testing"
	"time"
)

// storeRelease writes the value an atomic load reads: the assembly
// version assumes the value is the first word of atomic.Int64/Int32.
func TestStoreRelease(t *testing.T) {
	var a struct {
		pad [3]int64
		v   atomic.Int64
		w   atomic.Int32
	}
	storeRelease(&a.v, -1<<40+7)
	storeRelease32(&a.w, -5)
	if got := a.v.Load(); got != -1<<40+7 {
		t.Fatalf("int64: read %d", got)
	}
	if got := a.w.Load(); got != -5 {
		t.Fatalf("int32: read %d", got)
	}
	if a.pad != [3]int64{} {
		t.Fatalf("neighbours written: %v", a.pad)
	}
}

// parkedWaiter starts a goroutine waiting on s until ready or stop is set
// and returns once it is about to sleep in park; the channel delivers
// waitFor's result.
func parkedWaiter(t *testing.T, s *signal, ready, stop *atomic.Bool) <-chan bool {
	t.Helper()
	parked := make(chan struct{}, 1)
	s.onPark = func() {
		select {
		case parked <- struct{}{}:
		default:
		}
	}
	done := make(chan bool, 1)
	go func() { done <- s.waitFor(Adaptive, ready.Load, stop.Load) }()
	within(t, "parking", func() { <-parked })
	return done
}

// A lost wake-up — the sequence advanced and nobody woke the parked
// waiter, what a waker's release store can cause — costs the recheck
// delay, not a hang, and is counted.
func TestRecheckDeliversLostWakeup(t *testing.T) {
	s := newSignal()
	var ready, stop atomic.Bool
	before := TimerWakeups()
	done := parkedWaiter(t, s, &ready, &stop)
	ready.Store(true) // and no wake()
	within(t, "lost wake-up", func() {
		if !<-done {
			t.Error("waitFor reported stop, want ready")
		}
	})
	if got := TimerWakeups() - before; got != 1 {
		t.Fatalf("TimerWakeups rose by %d, want 1", got)
	}
	if n := s.waiters.Load(); n != 0 {
		t.Fatalf("waiters = %d after the waiter left", n)
	}
}

// An idle waiter is rechecked once: every look after the first recheck
// comes recheckAfter after it registered, so it does not arm the timer
// again, and an idle pipeline stays quiet.
func TestRecheckFiresOncePerIdleWaiter(t *testing.T) {
	s := newSignal()
	var ready, stop atomic.Bool
	done := parkedWaiter(t, s, &ready, &stop)
	rechecks := func() uint64 {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.rechecks
	}
	within(t, "first recheck", func() {
		for rechecks() == 0 {
			time.Sleep(time.Millisecond)
		}
	})
	// Room for a wrongly re-armed timer to fire many times.
	time.Sleep(50 * recheckAfter)
	if n := rechecks(); n != 1 {
		t.Fatalf("recheck fired %d times for one idle waiter, want 1", n)
	}
	stop.Store(true)
	s.broadcast()
	within(t, "stop", func() {
		if <-done {
			t.Error("waitFor reported ready, want stop")
		}
	})
}

// A waker that sees the parked waiter wakes it itself: the timer plays no
// part.
func TestWakeNeedsNoRecheck(t *testing.T) {
	s := newSignal()
	var ready, stop atomic.Bool
	before := TimerWakeups()
	done := parkedWaiter(t, s, &ready, &stop)
	ready.Store(true)
	s.wake()
	within(t, "wake", func() { <-done })
	if got := TimerWakeups() - before; got != 0 {
		t.Fatalf("TimerWakeups rose by %d for a woken waiter", got)
	}
}

// Single slots published with pauses, so the consumers park between most
// of them: every slot arrives, in order, at both stages of a chain. Run
// without the race detector (make test does) this exercises the release
// stores and the recheck together.
func TestParkingBetweenSlots(t *testing.T) {
	const n = 3000
	r, seqr := newTestRing(t, 64, 1, Adaptive)
	g := NewGroup(seqr, nil)
	var seen [2]int64
	var bad atomic.Value
	check := func(stage int) BatchHandler {
		return func(lo, hi int64) error {
			for s := lo; s <= hi; s++ {
				if v := r.At(s).value; v != seen[stage] {
					bad.Store([2]int64{seen[stage], v})
				}
				seen[stage]++
			}
			return nil
		}
	}
	first := mustAdd(t, g, Consumer{Name: "first", Handler: check(0)})
	mustAdd(t, g, Consumer{Name: "second", After: []*Processor{first}, Handler: check(1)})
	mustStart(t, g)
	before := TimerWakeups()
	within(t, "publishing", func() {
		for i := range int64(n) {
			hi, err := seqr.Next(1)
			if err != nil {
				t.Error(err)
				return
			}
			r.ForWrite(hi).value = i
			seqr.Publish(hi, hi)
			// A pause of 0–40 µs: some slots find a consumer polling,
			// most a parked one.
			if d := i % 5; d > 0 {
				time.Sleep(time.Duration(d) * 10 * time.Microsecond)
			}
		}
	})
	within(t, "drain", func() {
		if err := g.Drain(); err != nil {
			t.Error(err)
		}
	})
	if b := bad.Load(); b != nil {
		t.Fatalf("out of order: want %d, got %d", b.([2]int64)[0], b.([2]int64)[1])
	}
	if seen != [2]int64{n, n} {
		t.Fatalf("seen %v, want %d each", seen, n)
	}
	t.Logf("timer wake-ups: %d in %d slots", TimerWakeups()-before, n)
}
