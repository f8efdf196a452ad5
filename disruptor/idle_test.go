package disruptor

import (
	"os"
	"syscall"
	"testing"
	"time"
)

// TestIdleCPU measures the CPU a started, idle diamond pipeline burns. It
// is a measurement, not an assertion on a busy machine: it runs only with
// RINGEX_IDLE_CPU=1 (make idle-cpu) and fails above 5% of one core.
func TestIdleCPU(t *testing.T) {
	if os.Getenv("RINGEX_IDLE_CPU") == "" {
		t.Skip("set RINGEX_IDLE_CPU=1 to measure (make idle-cpu)")
	}
	ring, seqr := newTestRing(t, 1<<12, 2)
	g := NewGroup(seqr, nil)
	var ups []*Processor
	for i := 0; i < 3; i++ {
		ups = append(ups, g.Add("up", EventHandler(ring, func(int64, *testEvent, bool) {}), 0))
	}
	g.Add("engine", EventHandler(ring, func(int64, *testEvent, bool) {}), 0, ups...)
	g.Start()
	// Some traffic first, so every stage has spun up and gone idle.
	for i := 0; i < 10000; i++ {
		hi, _ := seqr.Next(1)
		seqr.Publish(hi, hi)
	}
	time.Sleep(100 * time.Millisecond)
	before := cpuTime()
	start := time.Now()
	time.Sleep(3 * time.Second)
	used := cpuTime() - before
	wall := time.Since(start)
	pct := 100 * used.Seconds() / wall.Seconds()
	t.Logf("idle pipeline (4 consumers): %.2f%% of one core over %v", pct, wall.Round(time.Millisecond))
	g.Halt()
	_ = g.Wait()
	if pct > 5 {
		t.Fatalf("idle pipeline uses %.2f%% of one core, want < 5%%", pct)
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
