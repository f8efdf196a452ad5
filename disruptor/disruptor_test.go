package disruptor

import (
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type testEvent struct {
	producer int64
	value    int64
	marks    [3]int64
}

func newTestRing(t testing.TB, size, producers int) (*Ring[testEvent], Sequencer) {
	t.Helper()
	r, err := NewRing[testEvent](size)
	if err != nil {
		t.Fatal(err)
	}
	var s Sequencer
	if producers == 1 {
		s, err = NewSingleProducer(size, Adaptive)
	} else {
		s, err = NewMultiProducer(size, Adaptive)
	}
	if err != nil {
		t.Fatal(err)
	}
	return r, s
}

// Every producer's values arrive exactly once and in its order, with random
// claim sizes and thousands of wraps of a small ring.
func TestOrderingNoLoss(t *testing.T) {
	for _, producers := range []int{1, 2, 4, 8} {
		t.Run(fmt.Sprintf("producers=%d", producers), func(t *testing.T) {
			const perProducer = 20000
			ring, seqr := newTestRing(t, 64, producers)
			next := make([]int64, producers)
			var seen atomic.Int64
			var fail atomic.Value
			g := NewGroup(seqr, nil)
			g.Add("check", EventHandler(ring, func(_ int64, ev *testEvent, _ bool) {
				if ev.value != next[ev.producer] {
					fail.CompareAndSwap(nil, fmt.Sprintf("producer %d: got %d want %d", ev.producer, ev.value, next[ev.producer]))
				}
				next[ev.producer]++
				seen.Add(1)
			}), 0)
			g.Start()
			var wg sync.WaitGroup
			for p := 0; p < producers; p++ {
				wg.Add(1)
				go func(p int) {
					defer wg.Done()
					rng := rand.New(rand.NewSource(int64(p)))
					for v := int64(0); v < perProducer; {
						n := min(int64(1+rng.Intn(8)), perProducer-v)
						hi, err := seqr.Next(n)
						if err != nil {
							t.Error(err)
							return
						}
						for s := hi - n + 1; s <= hi; s++ {
							*ring.At(s) = testEvent{producer: int64(p), value: v}
							v++
						}
						seqr.Publish(hi-n+1, hi)
					}
				}(p)
			}
			wg.Wait()
			if err := g.Drain(); err != nil {
				t.Fatal(err)
			}
			if f := fail.Load(); f != nil {
				t.Fatal(f)
			}
			if got := seen.Load(); got != int64(producers*perProducer) {
				t.Fatalf("consumed %d, want %d", got, producers*perProducer)
			}
		})
	}
}

// The gated consumer never sees a slot before all three upstreams marked it.
func TestDiamondGating(t *testing.T) {
	const n = 20000
	ring, seqr := newTestRing(t, 32, 2)
	g := NewGroup(seqr, nil)
	var ups []*Processor
	for i := 0; i < 3; i++ {
		i := i
		ups = append(ups, g.Add(fmt.Sprintf("up%d", i), EventHandler(ring, func(seq int64, ev *testEvent, _ bool) {
			ev.marks[i] = seq
		}), 1+i*3))
	}
	var bad, count atomic.Int64
	g.Add("engine", EventHandler(ring, func(seq int64, ev *testEvent, _ bool) {
		for i := range ev.marks {
			if ev.marks[i] != seq {
				bad.Add(1)
			}
		}
		count.Add(1)
	}), 0, ups...)
	g.Start()
	for i := int64(0); i < n; i++ {
		hi, err := seqr.Next(1)
		if err != nil {
			t.Fatal(err)
		}
		*ring.At(hi) = testEvent{marks: [3]int64{-1, -1, -1}}
		seqr.Publish(hi, hi)
	}
	if err := g.Drain(); err != nil {
		t.Fatal(err)
	}
	if bad.Load() != 0 || count.Load() != n {
		t.Fatalf("unmarked slots seen: %d, consumed %d", bad.Load(), count.Load())
	}
}

func TestTryNextOnFullRing(t *testing.T) {
	for _, producers := range []int{1, 2} {
		ring, seqr := newTestRing(t, 8, producers)
		release := make(chan struct{})
		g := NewGroup(seqr, nil)
		g.Add("blocked", func(lo, hi int64) { <-release }, 0)
		g.Start()
		_ = ring
		hi, err := seqr.TryNext(8)
		if err != nil {
			t.Fatalf("producers=%d: claim of an empty ring: %v", producers, err)
		}
		seqr.Publish(hi-7, hi)
		if _, err := seqr.TryNext(1); !errors.Is(err, ErrFull) {
			t.Fatalf("producers=%d: TryNext on a full ring = %v, want ErrFull", producers, err)
		}
		close(release)
		deadline := time.Now().Add(5 * time.Second)
		for {
			if _, err := seqr.TryNext(1); err == nil {
				break
			} else if time.Now().After(deadline) {
				t.Fatalf("ring never drained: %v", err)
			}
			time.Sleep(time.Millisecond)
		}
		g.Halt()
		_ = g.Wait()
	}
}

func TestClaimTooLarge(t *testing.T) {
	_, seqr := newTestRing(t, 8, 2)
	for _, n := range []int64{0, -1, 9} {
		if _, err := seqr.Next(n); !errors.Is(err, ErrClaimTooLarge) {
			t.Fatalf("Next(%d) = %v", n, err)
		}
		if _, err := seqr.TryNext(n); !errors.Is(err, ErrClaimTooLarge) {
			t.Fatalf("TryNext(%d) = %v", n, err)
		}
	}
	if _, err := NewRing[int](12); !errors.Is(err, ErrSize) {
		t.Fatalf("NewRing(12) = %v", err)
	}
}

// Halt wakes a producer blocked on a full ring and a parked consumer.
func TestHaltUnblocksEveryone(t *testing.T) {
	for _, producers := range []int{1, 2} {
		_, seqr := newTestRing(t, 4, producers)
		g := NewGroup(seqr, nil)
		block := make(chan struct{})
		g.Add("stuck", func(lo, hi int64) { <-block }, 0)
		idle := g.Add("idle", func(lo, hi int64) {}, 0)
		g.Start()
		_ = idle
		hi, _ := seqr.Next(4)
		seqr.Publish(hi-3, hi)
		errc := make(chan error, 1)
		go func() { _, err := seqr.Next(1); errc <- err }()
		time.Sleep(20 * time.Millisecond) // let it park
		g.Halt()
		select {
		case err := <-errc:
			if !errors.Is(err, ErrHalted) {
				t.Fatalf("blocked Next after Halt = %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("producer still blocked after Halt")
		}
		close(block)
		if err := g.Wait(); err != nil {
			t.Fatal(err)
		}
		if _, err := seqr.Next(1); !errors.Is(err, ErrHalted) {
			t.Fatalf("Next on halted ring = %v", err)
		}
	}
}

// A handler panic is reported, halts the group, and Wait returns it.
func TestHandlerPanicStopsPipeline(t *testing.T) {
	ring, seqr := newTestRing(t, 8, 1)
	var reported atomic.Value
	g := NewGroup(seqr, func(name string, err error) { reported.Store(name + ": " + err.Error()) })
	up := g.Add("boom", EventHandler(ring, func(seq int64, _ *testEvent, _ bool) {
		if seq == 5 {
			panic("bad input")
		}
	}), 0)
	g.Add("down", func(lo, hi int64) {}, 0, up)
	g.Start()
	for i := 0; i < 6; i++ {
		hi, err := seqr.Next(1)
		if err != nil {
			break
		}
		seqr.Publish(hi, hi)
	}
	done := make(chan error, 1)
	go func() { done <- g.Wait() }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "bad input") || !strings.Contains(err.Error(), `"boom"`) {
			t.Fatalf("Wait = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("pipeline hung after a handler panic")
	}
	if r, _ := reported.Load().(string); !strings.HasPrefix(r, "boom: ") {
		t.Fatalf("error handler got %q", r)
	}
	if _, err := seqr.Next(1); !errors.Is(err, ErrHalted) {
		t.Fatalf("Next after panic = %v, want ErrHalted", err)
	}
}

// Drain consumes everything published, then stops.
func TestDrainConsumesEverything(t *testing.T) {
	ring, seqr := newTestRing(t, 16, 2)
	var sum atomic.Int64
	g := NewGroup(seqr, nil)
	g.Add("slow", EventHandler(ring, func(_ int64, ev *testEvent, _ bool) {
		time.Sleep(10 * time.Microsecond)
		sum.Add(ev.value)
	}), 4)
	g.Start()
	want := int64(0)
	for i := int64(1); i <= 500; i++ {
		hi, _ := seqr.Next(1)
		ring.At(hi).value = i
		seqr.Publish(hi, hi)
		want += i
	}
	if err := g.Drain(); err != nil {
		t.Fatal(err)
	}
	if sum.Load() != want {
		t.Fatalf("sum %d, want %d", sum.Load(), want)
	}
}

// A consumer deployed on a running ring sees what is published after it,
// gates the producer while deployed, and releases it when undeployed.
func TestDeployUndeployWhileRunning(t *testing.T) {
	ring, seqr := newTestRing(t, 8, 2)
	g := NewGroup(seqr, nil)
	var base atomic.Int64
	g.Add("base", func(lo, hi int64) { base.Store(hi) }, 0)
	g.Start()
	publish := func(v int64) {
		hi, err := seqr.Next(1)
		if err != nil {
			t.Fatal(err)
		}
		ring.At(hi).value = v
		seqr.Publish(hi, hi)
	}
	for i := int64(0); i < 20; i++ {
		publish(i)
	}
	var got []int64
	var mu sync.Mutex
	release := make(chan struct{})
	md := g.Deploy("md", EventHandler(ring, func(_ int64, ev *testEvent, _ bool) {
		<-release
		mu.Lock()
		got = append(got, ev.value)
		mu.Unlock()
	}), 0)
	publish(100)
	// md is stuck on slot 100: the producer can fill the ring but not wrap.
	for i := 0; i < 7; i++ {
		publish(101 + int64(i))
	}
	if _, err := seqr.TryNext(1); !errors.Is(err, ErrFull) {
		t.Fatalf("deployed consumer does not gate the producer: %v", err)
	}
	close(release)
	g.Undeploy(md)
	mu.Lock()
	if len(got) != 8 || got[0] != 100 || got[7] != 107 {
		t.Fatalf("deployed consumer saw %v", got)
	}
	mu.Unlock()
	// Undeployed: it no longer gates; the ring keeps flowing.
	for i := 0; i < 100; i++ {
		publish(int64(i))
	}
	if err := g.Drain(); err != nil {
		t.Fatal(err)
	}
}

func TestSteadyStateAllocatesNothing(t *testing.T) {
	for _, producers := range []int{1, 2} {
		ring, seqr := newTestRing(t, 1024, producers)
		g := NewGroup(seqr, nil)
		var sum int64
		g.Add("sum", EventHandler(ring, func(_ int64, ev *testEvent, _ bool) { sum += ev.value }), 0)
		g.Start()
		allocs := testing.AllocsPerRun(10000, func() {
			hi, _ := seqr.Next(1)
			ring.At(hi).value = 1
			seqr.Publish(hi, hi)
		})
		if err := g.Drain(); err != nil {
			t.Fatal(err)
		}
		if allocs != 0 {
			t.Fatalf("producers=%d: %v allocs per claim/publish, want 0", producers, allocs)
		}
	}
}
