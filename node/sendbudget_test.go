package node

import (
	"testing"

	"github.com/ringex/ringex/gateway"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// A session that stops reading while its orders' reports pile up is
// disconnected as a slow consumer once the node's send budget is spent —
// long before its own, far larger, send buffer would cut it — and a
// session that reads meanwhile gets every report.
func TestSendBudgetCutsTheClientThatStoppedReading(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Set("gateway.send_buffer_bytes", "67108864") // 64 MiB: never reached here
	cfg.Set("node.send_budget_bytes", "1048576")     // 1 MiB, the floor
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	if budget, ok := metricValue(scrapeMetrics(t, addrs.Admin), "ringex_send_budget_bytes"); !ok || budget != 1048576 {
		t.Fatalf("ringex_send_budget_bytes %v (served %v), want the configured 1048576", budget, ok)
	}
	ref, tick := cfg.Instruments[0].ReferencePrice, cfg.Instruments[0].TickSize

	stuck := dialNotReading(t, addrs.Gateway, 1, cfg.Accounts[0].Secret)
	const rounds = 60_000 // 120 000 reports, ~18 MB: a quarter of the send buffer
	sent := make(chan int, 1)
	go func() {
		enc := proto.NewEncoder()
		i := 0
		for ; i < rounds; i++ {
			o := limit(uint64(i+1), wire.SideBuy, ref-tick*int64(1+i%50), 1)
			if _, err := stuck.Write(enc.NewOrder(uint64(2*i+2), o)); err != nil {
				break
			}
			if _, err := stuck.Write(enc.MassCancel(uint64(2*i+3), 0)); err != nil {
				break
			}
		}
		sent <- i
	}()

	fast := dial(t, addrs.Gateway, 2)
	for i := uint64(1); n.gw.Counters.Disconnects[gateway.CauseSlowConsumer].Load() == 0; i++ {
		if i > rounds {
			t.Fatalf("the client that stopped reading still connected after %d orders of the one that reads; queued %d bytes", i, n.sendBudget.Used())
		}
		fast.NewOrder(limit(i, wire.SideSell, ref+tick*int64(1+i%50), 1))
		next(t, fast, report(wire.ExecKindAccepted))
		fast.Cancel(proto.Cancel{OrigClientOrderID: i, Instrument: 1})
		next(t, fast, report(wire.ExecKindCancelled))
	}
	if got := <-sent; got >= rounds {
		t.Fatalf("the client that stopped reading sent all %d rounds before it was cut", got)
	}
	for i := uint64(1); i <= 100; i++ { // and the one that reads goes on
		fast.NewOrder(limit(rounds+i, wire.SideSell, ref+tick, 1))
		next(t, fast, report(wire.ExecKindAccepted))
	}
	waitUntil(t, func() bool { return n.sendBudget.Used() < 1<<20 })
}
