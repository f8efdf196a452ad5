package disruptor

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// WaitStrategy says how a goroutine waits for a sequence to advance: a
// consumer for its producer or upstream stages, a producer for room in a
// full ring.
type WaitStrategy uint8

const (
	// Adaptive yields the processor a few times, then parks until woken.
	// The default: high throughput under load, near-zero CPU when idle,
	// and it never starves other goroutines on an oversubscribed machine
	// for long.
	Adaptive WaitStrategy = iota
	// Yielding polls with runtime.Gosched between looks and never parks:
	// lower wake-up latency than Adaptive after idle periods, but an idle
	// pipeline keeps its cores busy.
	Yielding
	// BusySpin polls without ever yielding. Only for goroutines on
	// dedicated cores: on a shared machine it takes a core from the stages
	// it waits for.
	BusySpin
)

func (ws WaitStrategy) String() string {
	switch ws {
	case Adaptive:
		return "adaptive"
	case Yielding:
		return "yielding"
	case BusySpin:
		return "busyspin"
	}
	return "unknown"
}

// The Adaptive schedule, measured on the 2-core dev machine with
// BenchmarkThroughput.
//
// Every look at a sequence another core writes pulls its cache line over;
// the writer then pays a cross-core transfer (~100 ns) on its next
// publish. A waiter that looks every few nanoseconds makes nearly every
// publish pay it. Looking about every pollDelay instead (BusySpin, and a
// consumer lingering for a fuller batch) lets the producer publish many
// slots per transfer, which the consumer then takes as one batch; a lone
// message waits at most about one pollDelay longer.
//
// A consumer that finds nothing yields between looks, so on a machine
// with more runnable goroutines than cores the stages it waits for get
// the processor; after yieldPolls yields it parks, so an idle pipeline
// costs no CPU. It does not poll first: the node's half-dozen stages each
// polling before they yield is CPU the load they wait for does not get.
// Measured with `ringex bench --rate 100000` against a node (server and
// load generator on the same two cores): the schedule went from ~8 µs of
// polls and 64 yields to ~2 µs of polls and 4 yields (node CPU per order
// −7 %, −20–33 % at 20 k/s and with fsync; no-fsync median ~425 → ~305
// µs), and on the M207 machine from those ~2 µs of polls to none (they
// were 25 % of the node's CPU profile at 100 k/s): with journal.sync=none
// the node's own end-to-end mean 40–46 → 24–25 µs and the median 243–270
// → 205–207 µs; with fsync the median 1.07–1.10 → 0.90–1.00 ms (a fresh
// default node, eleven pairs: median of medians 994 → 950 µs, p99 within
// the disk's noise) and node CPU −4–7 %; --rate 0, make cluster-bench and
// BenchmarkThroughput within noise.
//
// A producer waiting for room in a full ring waits the same way: a full
// ring means the consumers are the bottleneck, and the CPU a spinning
// producer burns is theirs on a 2-core machine.
//
// A consumer that finds fewer than lingerBatch slots while the producer is
// still advancing waits up to lingerPolls polls for a fuller batch (see
// Processor.linger, and there why not longer).
const (
	pollDelay   = 2048 // iterations of a ~1-cycle loop: ~0.5 µs
	yieldPolls  = 4    // ~1-2 µs of yielding on an idle machine
	lingerBatch = 256
	lingerPolls = 8 // at most ~4 µs
)

// delay busy-waits about iters cycles without touching shared memory.
// It hands its sum to a function the compiler may not inline, so the loop
// is not optimized away.
//
//go:noinline
func delay(iters int) {
	x := 0
	for j := 0; j < iters; j++ {
		x += j
	}
	delaySink(x)
}

//go:noinline
func delaySink(int) {}

// signal lets waiters park and wakers wake them. A waker pays one atomic
// load when nobody is parked: no lock, no syscall.
//
// Wakers publish with release stores (storeRelease), and a release store
// does not keep the waker's next load — of waiters — from being performed
// before the store is visible to other cores. A waker can therefore see
// no waiter while a goroutine that has just registered looks at the old
// sequence and parks: a lost wake-up. Closing that window with a fence on
// every publish (an XCHG) was most of the cost of a publish: measured on
// the 2-core dev machine, BenchmarkThroughput SPSC ~22 ns/op with it,
// ~15 without; MPSC4 70–84 and ~34. The waiting side bounds the window
// instead:
//
//  1. A waiter registers when it starts yielding, not when it parks. Its
//     last look before parking comes after yieldPolls yields — a
//     microsecond or more — and a store leaves the store buffer within
//     the time of a few cache misses, so that look sees every publish a
//     waker made before it missed the registration.
//  2. Should a store ever take longer, the look is not the last: a waiter
//     whose looks all came within recheckAfter of registering arms the
//     recheck timer before it parks, which wakes it after recheckAfter to
//     look again. A lost wake-up costs at most that delay, never a hang.
//     TimerWakeups counts the wake-ups only the timer delivered.
//  3. The same window opens at every rearm, not only at registering: a
//     waker whose load of notified ran ahead of its store can read the
//     true a broadcast left, just before a woken waiter clears it and
//     looks at the old sequence — and skip its broadcast. So a look
//     within recheckAfter of a waiter clearing a set notified arms the
//     timer too (rearmed). An idle ring, with no broadcasts, stays quiet.
type signal struct {
	_ cacheLinePad
	// waiters counts goroutines yielding before they park, or parked.
	// Written only then, so in a busy pipeline its cache line stays
	// shared and wakers read it for free.
	waiters atomic.Int32
	// notified is set by the waker that broadcasts and cleared by a
	// waiter before each look; it limits wakers to one broadcast per
	// parking round (a storm of broadcasts while a waiter is being
	// scheduled costs more than the data it waits for).
	notified atomic.Bool
	_        cacheLinePad
	mu       sync.Mutex
	cond     sync.Cond
	// recheck broadcasts recheckAfter after a parking waiter armed it.
	recheck *time.Timer
	// recheckDue is whether recheck is armed and has not fired; rechecks
	// counts its broadcasts, broadcasts the wakers'. All under mu.
	recheckDue bool
	// rearmed is when a waiter last cleared a set notified (under mu): a
	// waker that read notified before that may have a store still in
	// flight, so every look within recheckAfter of it arms the recheck.
	rearmed    time.Time
	rechecks   uint64
	broadcasts uint64
	// onPark, set by tests before use, runs under mu just before a
	// waiter sleeps.
	onPark func()
}

// recheckAfter bounds a wake-up lost to a release store (see signal). It
// is far above the time a store can take to become visible (microseconds
// at most), and long enough that the timer costs nothing measurable: at
// most one broadcast per recheckAfter per ring, and only while goroutines
// park.
const recheckAfter = time.Millisecond

// timerWakeups counts parked waiters the recheck timer found ready with
// no waker's broadcast: wake-ups the release-store window lost, or a waker
// that was about to deliver it.
var timerWakeups atomic.Int64

// TimerWakeups is how many times, in this process, a parked goroutine was
// found ready by the recheck timer rather than woken by the goroutine that
// published: each cost up to a millisecond of delay. Most are publishers
// the scheduler took off the core between their store and their wake-up
// call: a node on the 2-core dev machine counts ~20–30 per million orders
// at 100 k/s with release stores and as many with fenced ones.
func TimerWakeups() int64 { return timerWakeups.Load() }

func newSignal() *signal {
	s := &signal{}
	s.cond.L = &s.mu
	s.recheck = time.AfterFunc(time.Hour, s.recheckFired)
	s.recheck.Stop()
	return s
}

func (s *signal) recheckFired() {
	s.mu.Lock()
	s.recheckDue = false
	s.rechecks++
	s.cond.Broadcast()
	s.mu.Unlock()
}

// wake wakes parked waiters. Call it after any sequence advance.
func (s *signal) wake() {
	if s.waiters.Load() == 0 {
		return
	}
	if s.notified.Load() || s.notified.Swap(true) {
		return
	}
	s.broadcast()
}

// broadcast wakes every parked waiter unconditionally: for rare control
// events (halt, drain, gating changes).
func (s *signal) broadcast() {
	s.mu.Lock()
	s.broadcasts++
	s.cond.Broadcast()
	s.mu.Unlock()
}

// waitFor waits with strategy ws until ready() or stop() is true and
// reports whether ready() was.
//
// No lost wake-up, with wakers whose advance is visible before their load
// of waiters: a waiter increments waiters before it yields, then under mu
// clears notified before each look; a waker advances its sequence before
// loading waiters and swapping notified. Either the waker sees the waiter
// and broadcasts under mu (which it can take only once the waiter is
// inside Wait), or the waiter's look comes after the advance and sees it.
// A waker that finds notified already set comes after a broadcast that
// some waiter has not yet rearmed from, and every waiter rearms and looks
// again after that broadcast. For wakers that publish with a release
// store, see signal.
//
// ready and stop only look: waitFor may call each any number of times per
// wake-up (park calls ready once more after a timer's wake-up, to count
// it), and only its return value says what the last look saw. A ready
// that claimed or consumed would lose what every look but the last took
// (NextUnless's first version lost the slots it claimed so, and stalled
// the ring).
func (s *signal) waitFor(ws WaitStrategy, ready, stop func() bool) bool {
	var registered time.Time // zero until this waiter is counted in waiters
	for i := 0; ; i++ {
		if ok := ready(); ok || stop() {
			if !registered.IsZero() {
				s.waiters.Add(-1)
			}
			return ok
		}
		if ws == Adaptive && i == 0 { // yield, then park
			s.waiters.Add(1)
			registered = time.Now()
		}
		switch {
		case ws == BusySpin:
			delay(pollDelay)
		case ws == Yielding || i < yieldPolls:
			runtime.Gosched()
		default:
			return s.park(registered, ready, stop)
		}
	}
}

// park waits on cond until ready() or stop(), for a waiter counted in
// waiters since registered, and uncounts it.
func (s *signal) park(registered time.Time, ready, stop func() bool) bool {
	s.mu.Lock()
	ok := false
	for {
		if s.notified.Swap(false) {
			s.rearmed = time.Now()
		}
		settled := time.Since(registered) >= recheckAfter && time.Since(s.rearmed) >= recheckAfter
		if ok = ready(); ok || stop() {
			break
		}
		if !settled && !s.recheckDue {
			s.recheck.Reset(recheckAfter)
			s.recheckDue = true
		}
		fired, woken := s.rechecks, s.broadcasts
		if s.onPark != nil {
			s.onPark()
		}
		s.cond.Wait()
		if s.broadcasts == woken && s.rechecks != fired && ready() {
			timerWakeups.Add(1) // only the timer woke it
		}
	}
	s.mu.Unlock()
	s.waiters.Add(-1)
	return ok
}
