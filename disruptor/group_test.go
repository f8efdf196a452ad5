package disruptor

import (
	"errors"
	"fmt"
	"math/rand"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// Every producer's values arrive exactly once and in its order, with
// random claim sizes and thousands of wraps of a small ring.
func TestOrderingNoLoss(t *testing.T) {
	type tc struct {
		producers int
		ws        WaitStrategy
	}
	cases := []tc{{1, Adaptive}, {2, Adaptive}, {4, Adaptive}, {8, Adaptive}, {1, Yielding}, {2, Yielding}, {2, BusySpin}}
	for _, c := range cases {
		t.Run(fmt.Sprintf("producers=%d/%v", c.producers, c.ws), func(t *testing.T) {
			const perProducer = 20000
			ring, seqr := newTestRing(t, 64, c.producers, c.ws)
			next := make([]int64, c.producers)
			var seen int64
			var fail error
			g := NewGroup(seqr, nil)
			mustAdd(t, g, Consumer{Name: "check", Handler: EventHandler(ring, func(seq int64, ev *testEvent, _ bool) error {
				if ev.value != next[ev.producer] || ev.seq != seq {
					return fmt.Errorf("seq %d: producer %d value %d (slot seq %d), want value %d",
						seq, ev.producer, ev.value, ev.seq, next[ev.producer])
				}
				next[ev.producer]++
				seen++
				return nil
			})})
			mustStart(t, g)
			var wg sync.WaitGroup
			for p := range c.producers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					rng := rand.New(rand.NewSource(int64(p)))
					for v := int64(0); v < perProducer; {
						n := min(int64(1+rng.Intn(8)), perProducer-v)
						var hi int64
						var err error
						if rng.Intn(4) == 0 {
							for hi, err = seqr.TryNext(n); errors.Is(err, ErrFull); hi, err = seqr.TryNext(n) {
								runtime.Gosched() // a full ring: let the consumer run
							}
						} else {
							hi, err = seqr.Next(n)
						}
						if err != nil {
							t.Error(err)
							return
						}
						for s := hi - n + 1; s <= hi; s++ {
							*ring.At(s) = testEvent{producer: int64(p), value: v, seq: s}
							v++
						}
						seqr.Publish(hi-n+1, hi)
					}
				}()
			}
			wg.Wait()
			within(t, "Drain", func() { fail = g.Drain() })
			if fail != nil {
				t.Fatal(fail)
			}
			if seen != int64(c.producers*perProducer) {
				t.Fatalf("consumed %d, want %d", seen, c.producers*perProducer)
			}
		})
	}
}

// The consumer gated on three parallel upstreams never sees a slot before
// every upstream finished it.
func TestDiamondGating(t *testing.T) {
	for _, producers := range []int{1, 3} {
		t.Run(fmt.Sprintf("producers=%d", producers), func(t *testing.T) {
			const perProducer = 10000
			ring, seqr := newTestRing(t, 32, producers, Adaptive)
			g := NewGroup(seqr, nil)
			var ups []*Processor
			for i := range 3 {
				ups = append(ups, mustAdd(t, g, Consumer{
					Name: fmt.Sprintf("up%d", i),
					Handler: EventHandler(ring, func(seq int64, ev *testEvent, _ bool) error {
						ev.marks[i] = seq
						return nil
					}),
					MaxBatch: 1 + i*3, // different paces
				}))
			}
			var count int64
			mustAdd(t, g, Consumer{Name: "engine", After: ups, Handler: EventHandler(ring, func(seq int64, ev *testEvent, _ bool) error {
				for i, m := range ev.marks {
					if m != seq {
						return fmt.Errorf("seq %d seen before up%d finished it (mark %d)", seq, i, m)
					}
				}
				count++
				return nil
			})})
			mustStart(t, g)
			var wg sync.WaitGroup
			for range producers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range perProducer {
						hi, err := seqr.Next(1)
						if err != nil {
							t.Error(err)
							return
						}
						*ring.At(hi) = testEvent{marks: [3]int64{-1, -1, -1}}
						seqr.Publish(hi, hi)
					}
				}()
			}
			wg.Wait()
			var err error
			within(t, "Drain", func() { err = g.Drain() })
			if err != nil {
				t.Fatal(err)
			}
			if count != int64(producers*perProducer) {
				t.Fatalf("engine consumed %d, want %d", count, producers*perProducer)
			}
		})
	}
}

// Batches honour MaxBatch, and the event adapter flags the end of each.
func TestBatchesAndEndOfBatch(t *testing.T) {
	ring, seqr := newTestRing(t, 64, 1, Adaptive)
	g := NewGroup(seqr, nil)
	var batches, ends, events int64
	var tooBig error
	hold := make(chan struct{})
	mustAdd(t, g, Consumer{Name: "range", MaxBatch: 5, Handler: func(lo, hi int64) error {
		<-hold // the first batch waits until all 40 are published
		if hi-lo+1 > 5 {
			tooBig = fmt.Errorf("batch %d…%d", lo, hi)
		}
		batches++
		return nil
	}})
	mustAdd(t, g, Consumer{Name: "events", Handler: EventHandler(ring, func(_ int64, _ *testEvent, end bool) error {
		<-hold
		events++
		if end {
			ends++
		}
		return nil
	})})
	mustStart(t, g)
	for range 40 {
		hi, _ := seqr.Next(1)
		seqr.Publish(hi, hi)
	}
	close(hold)
	if err := g.Drain(); err != nil {
		t.Fatal(err)
	}
	if tooBig != nil {
		t.Fatal(tooBig)
	}
	if batches < 8 || events != 40 || ends < 1 || ends >= 40 {
		t.Fatalf("batches %d events %d ends %d", batches, events, ends)
	}
}

// Halt stops consumers (also parked ones) and blocked producers.
func TestHalt(t *testing.T) {
	for _, producers := range []int{1, 2} {
		_, seqr := newTestRing(t, 4, producers, Adaptive)
		g := NewGroup(seqr, nil)
		block := make(chan struct{})
		mustAdd(t, g, Consumer{Name: "stuck", Handler: func(lo, hi int64) error { <-block; return nil }})
		mustAdd(t, g, Consumer{Name: "idle", Handler: nop})
		mustStart(t, g)
		hi, _ := seqr.Next(4)
		seqr.Publish(hi-3, hi)
		errc := make(chan error)
		go func() { _, err := seqr.Next(1); errc <- err }()
		g.Halt()
		within(t, "blocked Next after Halt", func() {
			if err := <-errc; !errors.Is(err, ErrHalted) {
				t.Errorf("blocked Next after Halt = %v", err)
			}
		})
		close(block)
		within(t, "Wait after Halt", func() {
			if err := g.Wait(); err != nil {
				t.Error(err)
			}
		})
	}
}

// Drain consumes everything published, stops, and fails later claims.
func TestDrain(t *testing.T) {
	ring, seqr := newTestRing(t, 16, 2, Adaptive)
	var sum atomic.Int64
	g := NewGroup(seqr, nil)
	up := mustAdd(t, g, Consumer{Name: "slow", MaxBatch: 4, Handler: EventHandler(ring, func(_ int64, ev *testEvent, _ bool) error {
		sum.Add(ev.value)
		return nil
	})})
	var down atomic.Int64
	mustAdd(t, g, Consumer{Name: "down", After: []*Processor{up}, Handler: func(lo, hi int64) error {
		down.Store(hi)
		return nil
	}})
	mustStart(t, g)
	want := int64(0)
	for i := int64(1); i <= 500; i++ {
		hi, err := seqr.Next(1)
		if err != nil {
			t.Fatal(err)
		}
		ring.At(hi).value = i
		seqr.Publish(hi, hi)
		want += i
	}
	within(t, "Drain", func() {
		if err := g.Drain(); err != nil {
			t.Error(err)
		}
	})
	if sum.Load() != want || down.Load() != 499 {
		t.Fatalf("sum %d, want %d; downstream at %d, want 499", sum.Load(), want, down.Load())
	}
	if _, err := seqr.Next(1); !errors.Is(err, ErrHalted) {
		t.Fatalf("Next after Drain = %v, want ErrHalted", err)
	}
}

// A producer blocked on a full ring is released by Drain with ErrHalted.
func TestDrainReleasesBlockedProducer(t *testing.T) {
	_, seqr := newTestRing(t, 4, 1, Adaptive)
	g := NewGroup(seqr, nil)
	release := make(chan struct{})
	mustAdd(t, g, Consumer{Name: "slow", MaxBatch: 1, Handler: func(lo, hi int64) error { <-release; return nil }})
	mustStart(t, g)
	hi, _ := seqr.Next(4)
	seqr.Publish(0, hi)
	errc := make(chan error)
	go func() {
		var err error
		for err == nil {
			var hi int64
			if hi, err = seqr.Next(1); err == nil {
				seqr.Publish(hi, hi)
			}
		}
		errc <- err
	}()
	drained := make(chan error)
	go func() { drained <- g.Drain() }()
	close(release)
	within(t, "Drain with a blocked producer", func() {
		if err := <-drained; err != nil {
			t.Error(err)
		}
		if err := <-errc; !errors.Is(err, ErrHalted) {
			t.Errorf("producer after Drain: %v", err)
		}
	})
}

// A handler panic or error is reported, halts the pipeline (downstream,
// producers), and Wait and Drain return it.
func TestHandlerFailureStopsPipeline(t *testing.T) {
	for _, mode := range []string{"panic", "error"} {
		t.Run(mode, func(t *testing.T) {
			ring, seqr := newTestRing(t, 8, 1, Adaptive)
			var reported atomic.Value
			g := NewGroup(seqr, func(name string, err error) { reported.Store(name + ": " + err.Error()) })
			up := mustAdd(t, g, Consumer{Name: "boom", Handler: EventHandler(ring, func(seq int64, _ *testEvent, _ bool) error {
				if seq == 5 {
					if mode == "panic" {
						panic("bad input")
					}
					return errors.New("bad input")
				}
				return nil
			})})
			mustAdd(t, g, Consumer{Name: "down", After: []*Processor{up}, Handler: nop})
			mustStart(t, g)
			var claimErr error
			within(t, "producer", func() {
				for claimErr == nil {
					var hi int64
					if hi, claimErr = seqr.Next(1); claimErr == nil {
						seqr.Publish(hi, hi)
					}
				}
			})
			if !errors.Is(claimErr, ErrHalted) {
				t.Fatalf("Next after failure = %v, want ErrHalted", claimErr)
			}
			var err error
			within(t, "Wait", func() { err = g.Wait() })
			if !errors.Is(err, ErrHandler) || !strings.Contains(err.Error(), "bad input") || !strings.Contains(err.Error(), `"boom"`) {
				t.Fatalf("Wait = %v", err)
			}
			if err := g.Drain(); !errors.Is(err, ErrHandler) {
				t.Fatalf("Drain = %v", err)
			}
			if r, _ := reported.Load().(string); !strings.HasPrefix(r, "boom: ") {
				t.Fatalf("error handler got %q", r)
			}
		})
	}
}

// A consumer added to a running ring sees everything published after it
// was added, gates the producer while deployed, and releases it when
// removed.
func TestAddRemoveWhileRunning(t *testing.T) {
	ring, seqr := newTestRing(t, 8, 2, Adaptive)
	g := NewGroup(seqr, nil)
	mustAdd(t, g, Consumer{Name: "base", Handler: nop})
	mustStart(t, g)
	publish := func(v int64) {
		hi, err := seqr.Next(1)
		if err != nil {
			t.Fatal(err)
		}
		ring.At(hi).value = v
		seqr.Publish(hi, hi)
	}
	for i := range int64(20) {
		publish(i)
	}
	var got []int64
	release := make(chan struct{})
	md := mustAdd(t, g, Consumer{Name: "md", Handler: EventHandler(ring, func(_ int64, ev *testEvent, _ bool) error {
		<-release
		got = append(got, ev.value)
		return nil
	})})
	for i := range int64(8) {
		publish(100 + i)
	}
	// md is stuck on the first of those: the ring is full for it.
	if _, err := seqr.TryNext(1); !errors.Is(err, ErrFull) {
		t.Fatalf("added consumer does not gate the producer: %v", err)
	}
	close(release)
	within(t, "Remove", func() {
		if err := g.Remove(md); err != nil {
			t.Error(err)
		}
	})
	if len(got) != 8 || got[0] != 100 || got[7] != 107 {
		t.Fatalf("added consumer saw %v", got)
	}
	for i := range int64(100) { // removed: no longer gates
		publish(i)
	}
	if err := g.Drain(); err != nil {
		t.Fatal(err)
	}
}

// Adding and removing consumers (some after others) while two producers
// run flat out: a consumer never reads a slot a producer overwrote (each
// slot carries its own sequence), and never misses one.
func TestAddRemoveGatingRace(t *testing.T) {
	ring, seqr := newTestRing(t, 16, 2, Adaptive)
	g := NewGroup(seqr, nil)
	mustAdd(t, g, Consumer{Name: "base", Handler: nop})
	mustStart(t, g)
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				hi, err := seqr.Next(2)
				if err != nil {
					t.Error(err)
					return
				}
				ring.At(hi - 1).seq = hi - 1
				ring.At(hi).seq = hi
				seqr.Publish(hi-1, hi)
			}
		}()
	}
	checker := func(name string) Consumer {
		var want int64 = -1
		return Consumer{Name: name, Handler: func(lo, hi int64) error {
			if want >= 0 && lo != want {
				return fmt.Errorf("%s: batch starts at %d, want %d", name, lo, want)
			}
			for s := lo; s <= hi; s++ {
				if got := ring.At(s).seq; got != s {
					return fmt.Errorf("%s: slot of %d holds %d: overwritten", name, s, got)
				}
			}
			want = hi + 1
			return nil
		}}
	}
	for i := range 200 {
		a := mustAdd(t, g, checker(fmt.Sprint("a", i)))
		c := checker(fmt.Sprint("b", i))
		c.After = []*Processor{a}
		b := mustAdd(t, g, c)
		within(t, "added consumer's progress", func() {
			for start := b.Sequence().Load(); b.Sequence().Load() < start+50; {
				runtime.Gosched()
			}
		})
		if err := g.Remove(a); !errors.Is(err, ErrConsumer) {
			t.Fatalf("removing an upstream: %v", err)
		}
		within(t, "Remove", func() {
			if err := g.Remove(b); err != nil {
				t.Error(err)
			}
			if err := g.Remove(a); err != nil {
				t.Error(err)
			}
		})
	}
	stop.Store(true)
	wg.Wait()
	if err := g.Drain(); err != nil {
		t.Fatal(err)
	}
}

func TestGroupMisuse(t *testing.T) {
	_, seqr := newTestRing(t, 8, 1, Adaptive)
	g := NewGroup(seqr, nil)
	if _, err := g.Add(Consumer{Name: "nil"}); !errors.Is(err, ErrConsumer) {
		t.Errorf("Add without handler = %v", err)
	}
	other := NewGroup(seqr, nil)
	foreign := mustAdd(t, other, Consumer{Name: "foreign", Handler: nop})
	if _, err := g.Add(Consumer{Name: "x", Handler: nop, After: []*Processor{foreign}}); !errors.Is(err, ErrConsumer) {
		t.Errorf("Add after a foreign consumer = %v", err)
	}
	if err := g.Remove(foreign); !errors.Is(err, ErrConsumer) {
		t.Errorf("Remove of a foreign consumer = %v", err)
	}
	mustStart(t, g)
	if err := g.Start(); !errors.Is(err, ErrStarted) {
		t.Errorf("second Start = %v", err)
	}
	g.Halt()
	if err := g.Wait(); err != nil {
		t.Error(err)
	}
}

// A hand-written consumer loop on a Barrier.
func TestBarrierWaitFor(t *testing.T) {
	ring, seqr := newTestRing(t, 8, 2, Adaptive)
	seq := NewSequence(0)
	seqr.AddGating(seq)
	b := NewBarrier(seqr)
	done := make(chan int64)
	go func() {
		sum, next := int64(0), seq.Load()+1
		for {
			avail, err := b.WaitFor(next)
			if err != nil {
				done <- sum
				return
			}
			for s := next; s <= avail; s++ {
				sum += ring.At(s).value
			}
			b.Done(seq, avail) // wakes the producer if the ring was full
			next = avail + 1
		}
	}()
	for i := range int64(100) {
		hi, _ := seqr.Next(1)
		ring.At(hi).value = i
		seqr.Publish(hi, hi)
	}
	within(t, "consume", func() { _, _ = NewBarrier(seqr, seq).WaitFor(99) })
	seqr.Halt()
	within(t, "WaitFor after Halt", func() {
		if sum := <-done; sum != 99*100/2 {
			t.Errorf("sum %d", sum)
		}
	})
}
