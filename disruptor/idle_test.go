package disruptor

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/ringex/ringex/internal/testkit"
)

// TestIdleCPU measures the CPU a started but idle pipeline burns: the
// exchange's diamond (three parallel stages, one gated on all three) on a
// multi-producer ring, after a burst of traffic so every stage has run
// and gone idle. It reports the process's CPU time (user + system, from
// getrusage) as a percentage of one core over ~3 s.
//
// A measurement, not an assertion for a busy CI machine: it runs only with
// RINGEX_IDLE_CPU=1 (make idle-cpu), and fails above 5% of one core.
func TestIdleCPU(t *testing.T) {
	if os.Getenv("RINGEX_IDLE_CPU") == "" {
		t.Skip("set RINGEX_IDLE_CPU=1 to measure (make idle-cpu)")
	}
	ring, seqr := newTestRing(t, 1<<12, 2, Adaptive)
	g := NewGroup(seqr, nil)
	var ups []*Processor
	for i := range 3 {
		ups = append(ups, mustAdd(t, g, Consumer{Name: fmt.Sprint("up", i), Handler: nop}))
	}
	mustAdd(t, g, Consumer{Name: "engine", After: ups, Handler: EventHandler(ring, func(int64, *testEvent, bool) error { return nil })})
	mustStart(t, g)
	for range 100000 {
		hi, _ := seqr.Next(1)
		seqr.Publish(hi, hi)
	}
	time.Sleep(100 * time.Millisecond) // let every stage go idle
	before, start := testkit.CPUTime(), time.Now()
	time.Sleep(3 * time.Second)
	used, wall := testkit.CPUTime()-before, time.Since(start)
	pct := 100 * used.Seconds() / wall.Seconds()
	t.Logf("idle pipeline (4 consumers, adaptive wait): %.2f%% of one core (%v CPU over %v)",
		pct, used, wall.Round(time.Millisecond))
	if err := g.Drain(); err != nil {
		t.Fatal(err)
	}
	if pct > 5 {
		t.Fatalf("idle pipeline uses %.2f%% of one core, want < 5%%", pct)
	}
}
