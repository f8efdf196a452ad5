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

// A waiter registered more than recheckAfter ago is woken by a broadcast
// (some other advance on the ring), finds nothing for itself and parks
// again. A second waker published its own advance with a release store
// (MOV) and then loaded notified: on x86-TSO that load may be performed
// before the store is visible, so it can read the notified=true left by
// the first broadcast (before the waiter's rearm) while the waiter's look
// after the rearm still reads the old sequence. The waker skips the
// broadcast; the waiter, "settled", arms no recheck timer: it sleeps with
// ready() true until some unrelated broadcast.
//
// The test plays the TSO outcome in program order: the second waker's
// load of notified before the waiter rearms, its store after the waiter
// looked. A look within recheckAfter of clearing a set notified now arms
// the timer, which delivers the wake-up.
func TestRecheckAfterARearm(t *testing.T) {
	s := newSignal()
	var ready, stop atomic.Bool
	var parks atomic.Int32
	var landAt atomic.Int32 // the park after which waker 2's store lands
	s.onPark = func() {
		if parks.Add(1) == landAt.Load() {
			ready.Store(true) // right after the waiter's look, before it sleeps
		}
	}
	done := make(chan bool, 1)
	go func() { done <- s.waitFor(Adaptive, ready.Load, stop.Load) }()
	// Idle long enough that the waiter's registration is older than
	// recheckAfter and the one recheck has fired (waiter parked twice).
	deadline := time.Now().Add(2 * time.Second)
	for parks.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if parks.Load() < 2 {
		t.Fatalf("waiter parked %d times", parks.Load())
	}
	before := TimerWakeups()
	landAt.Store(3)

	// Waker 1 (another stage's advance, nothing for this waiter):
	// notified.Swap(true) and broadcast. We hold mu over the broadcast so
	// that waker 2's load of notified falls before the waiter's rearm.
	s.mu.Lock()
	if s.notified.Swap(true) {
		t.Fatal("notified already set")
	}
	s.broadcasts++
	s.cond.Broadcast()
	// Waker 2: its release store of the sequence is still in the store
	// buffer; its wake() reads waiters (1) and notified (true): no broadcast.
	s.wake()
	s.mu.Unlock()
	// The waiter rearms, looks (old value), parks again.
	for parks.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Microsecond)
	}
	if parks.Load() < 3 {
		t.Fatalf("waiter did not park again")
	}

	select {
	case ok := <-done:
		t.Logf("woken after the store landed (ok=%v), timer wake-ups +%d", ok, TimerWakeups()-before)
	case <-time.After(200 * recheckAfter):
		t.Errorf("waiter still parked %v after its sequence advanced (ready()=%v); no timer armed: lost wake-up with no bound", 200*recheckAfter, ready.Load())
		stop.Store(true)
		s.broadcast()
		<-done
	}
}
