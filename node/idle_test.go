package node

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/proto/wire"
)

// TestIdleNodeCPU measures the CPU a started, idle node burns: every
// stage deployed, a trading session and a market-data subscriber
// connected (so the fan-out is deployed too) after a burst of orders, then
// ~3 s of nothing. It reports the process's CPU time as a percentage of
// one core.
//
// A measurement, not an assertion for a busy CI machine: it runs only with
// RINGEX_IDLE_CPU=1 (make idle-cpu), and fails above 5% of one core or
// 300 context switches (something waking up with nothing to do).
func TestIdleNodeCPU(t *testing.T) {
	if os.Getenv("RINGEX_IDLE_CPU") == "" {
		t.Skip("set RINGEX_IDLE_CPU=1 to measure (make idle-cpu)")
	}
	cfg := testConfig(t, t.TempDir())
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	md, err := client.DialMarketData(addrs.MarketData, client.Options{AutoFlush: true})
	if err != nil {
		t.Fatal(err)
	}
	defer md.Close()
	md.Subscribe(1)
	next(t, md, func(m client.Message) bool { return m.Type == wire.MessageBookSnapshot })
	c := dial(t, addrs.Gateway, 1)
	ref, tick := cfg.Instruments[0].ReferencePrice, cfg.Instruments[0].TickSize
	for i := uint64(1); i <= 2000; i++ {
		c.NewOrder(limit(i, wire.SideBuy, ref-tick*int64(1+i%50), 1))
	}
	next(t, c, func(m client.Message) bool { return m.Report.ClientOrderID == 2000 })
	time.Sleep(200 * time.Millisecond) // let every stage go idle
	before, switches, start := testkit.CPUTime(), contextSwitches(), time.Now()
	time.Sleep(3 * time.Second)
	used, woke, wall := testkit.CPUTime()-before, contextSwitches()-switches, time.Since(start)
	pct := 100 * used.Seconds() / wall.Seconds()
	t.Logf("idle node (all stages deployed, one session, one subscriber): %.2f%% of one core (%v CPU over %v), %d context switches",
		pct, used, wall.Round(time.Millisecond), woke)
	if pct > 5 {
		t.Fatalf("idle node uses %.2f%% of one core, want < 5%%", pct)
	}
	// A goroutine waking every millisecond costs under 1% of a core —
	// below the CPU bound — but 3000 switches here; an idle node makes a
	// few dozen (the heartbeats, the runtime's own).
	if woke > 300 {
		t.Fatalf("idle node: %d context switches in %v, want < 300: something wakes up while there is nothing to do", woke, wall.Round(time.Millisecond))
	}
}

// contextSwitches is the process's context switches so far, over all its
// threads (Linux /proc; 0 elsewhere).
func contextSwitches() int64 {
	var total int64
	tasks, _ := filepath.Glob("/proc/self/task/*/status")
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // the thread ended
		}
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && (k == "voluntary_ctxt_switches" || k == "nonvoluntary_ctxt_switches") {
				n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				total += n
			}
		}
	}
	return total
}
