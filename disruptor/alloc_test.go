package disruptor

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
)

// Claim, publish and consume allocate nothing in steady state. The run
// waits for the consumer each time, so its allocations count too
// (AllocsPerRun counts the whole process).
func TestSteadyStateAllocatesNothing(t *testing.T) {
	for _, producers := range []int{1, 2} {
		t.Run(fmt.Sprintf("producers=%d", producers), func(t *testing.T) {
			ring, seqr := newTestRing(t, 1024, producers, Adaptive)
			g := NewGroup(seqr, nil)
			var sum int64
			up := mustAdd(t, g, Consumer{Name: "sum", Handler: EventHandler(ring, func(_ int64, ev *testEvent, _ bool) error {
				sum += ev.value
				return nil
			})})
			last := mustAdd(t, g, Consumer{Name: "after", After: []*Processor{up}, Handler: nop})
			mustStart(t, g)
			step := func(n int64) {
				hi, _ := seqr.Next(n)
				for s := hi - n + 1; s <= hi; s++ {
					ring.At(s).value = 1
				}
				seqr.Publish(hi-n+1, hi)
				for last.Sequence().Load() < hi {
					runtime.Gosched() // AllocsPerRun runs with GOMAXPROCS=1
				}
			}
			step(100) // warm up: goroutines started and parked once
			if a := testing.AllocsPerRun(2000, func() { step(1) }); a != 0 {
				t.Errorf("%v allocs per claim/publish/consume of 1", a)
			}
			if a := testing.AllocsPerRun(2000, func() { step(7) }); a != 0 {
				t.Errorf("%v allocs per claim/publish/consume of 7", a)
			}
			if a := testing.AllocsPerRun(2000, func() {
				hi, err := seqr.TryNext(1)
				if err == nil {
					seqr.Publish(hi, hi)
				}
			}); a != 0 {
				t.Errorf("%v allocs per TryNext/publish", a)
			}
			var refused atomic.Bool
			if a := testing.AllocsPerRun(2000, func() {
				hi, _ := NextUnless(seqr, 1, refused.Load)
				seqr.Publish(hi, hi)
				for last.Sequence().Load() < hi {
					runtime.Gosched()
				}
			}); a != 0 {
				t.Errorf("%v allocs per NextUnless/publish/consume", a)
			}
			if err := g.Drain(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
