package node

import (
	"flag"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/ringex/ringex/proto/wire"
)

var stateOrders = flag.Int("state.orders", 5000, "resting orders in BenchmarkState's book")

// BenchmarkState measures GET /state's work on a node holding
// -state.orders resting orders: per op, a whole State (stepped copy on
// the engine goroutine, then its hash on the caller's) — what one request
// costs, and what a client asking in a loop makes the engine pay —
// against the copy's steps alone, timed on the engine goroutine
// (engine-ns/op: the time trading waits for per request), and GET /state
// asked in a loop over HTTP (rested: stateRestFactor).
//
//	go test ./node -run '^$' -bench BenchmarkState -args -state.orders=5000
//
// The 2-core dev VM, 2026-12-06: 5 000 orders 0.74 ms per State, 14 µs
// of it (2 steps) on the engine goroutine; 50 000 orders 6.4 ms, 0.22 ms
// (17 steps). The hash of the copy is most of it.
func BenchmarkState(b *testing.B) {
	cfg := testConfig(b, b.TempDir())
	setConfig(b, cfg, map[string]string{"journal.sync": "none", "rings.input_slots": "16384", "rings.output_slots": "16384"})
	for i := range cfg.Accounts {
		cfg.Accounts[i].MaxOpenOrders = 0
	}
	n, addrs, _ := startNode(b, cfg)
	defer n.Stop()
	c := dial(b, addrs.Gateway, 1)
	in := cfg.Instruments[0]
	for i := range *stateOrders {
		c.NewOrder(limit(uint64(i+1), wire.SideBuy, in.ReferencePrice-int64(1+i%50)*in.TickSize, 1))
		if i%1000 == 999 || i == *stateOrders-1 {
			for range i%1000 + 1 {
				next(b, c, report(wire.ExecKindAccepted))
			}
		}
	}
	b.Run("State", func(b *testing.B) {
		steps := n.stats.stateCopySteps.Load()
		for b.Loop() {
			n.stateNow()
		}
		b.ReportMetric(float64(n.stats.stateCopySteps.Load()-steps)/float64(b.N), "steps/op")
	})
	b.Run("GET", func(b *testing.B) { // a client asking in a loop: rested by stateGate
		for b.Loop() {
			resp, err := http.Get("http://" + addrs.Admin + "/state")
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
	b.Run("engine", func(b *testing.B) {
		n.stateTurn <- struct{}{} // State's copy is this benchmark's
		defer func() { <-n.stateTurn }()
		var busy time.Duration
		for b.Loop() {
			sc := steppedCopy{state: &n.stateCopy}
			n.copyMu.Lock()
			for done := false; !done; {
				sc.state.Reserve(n.poolSizes())
				n.stats.engine.Do(func() {
					start := time.Now()
					done = n.copyStep(&sc, func() {})
					busy += time.Since(start)
				})
			}
			n.copyMu.Unlock()
		}
		b.ReportMetric(float64(busy.Nanoseconds())/float64(b.N), "engine-ns/op")
	})
}
