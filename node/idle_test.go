package node

import (
	"os"
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
// RINGEX_IDLE_CPU=1 (make idle-cpu), and fails above 5% of one core.
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
	before, start := testkit.CPUTime(), time.Now()
	time.Sleep(3 * time.Second)
	used, wall := testkit.CPUTime()-before, time.Since(start)
	pct := 100 * used.Seconds() / wall.Seconds()
	t.Logf("idle node (all stages deployed, one session, one subscriber): %.2f%% of one core (%v CPU over %v)",
		pct, used, wall.Round(time.Millisecond))
	if pct > 5 {
		t.Fatalf("idle node uses %.2f%% of one core, want < 5%%", pct)
	}
}
