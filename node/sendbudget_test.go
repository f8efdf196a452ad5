package node

import (
	"testing"
	"time"

	"github.com/ringex/ringex/client"
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

// Over the send budget the client that stopped reading is cut, not the
// one that reads and is handed a burst: a client that reads as fast as it
// can mass-cancels 20 000 orders (~3 MB of Cancelled reports, three times
// the 1 MiB floor) while one that stopped reading holds ~3 MiB of a 4 MiB
// budget. The reader gets every report. (Before, the budget cut whichever
// connection it was handed bytes for over the floor: the reader, as a slow
// consumer, while the stalled client kept its connection.)
func TestSendBudgetCutsTheStalledClientNotTheReader(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	setConfig(t, cfg, map[string]string{
		"rings.output_slots":     "65536",
		"node.send_budget_bytes": "4194304", // 4 MiB
		"gateway.read_timeout":   "60s",     // the stalled client is not cut for silence during the test
		"journal.sync":           "none",
	})
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	btc, eth := cfg.Instruments[0], cfg.Instruments[1]

	// A client that stopped reading: its Accepted reports pile up to ~3 MiB.
	// Each 500 orders are sent once the engine has applied those before
	// and the sender staged their reports, so that what the node holds for
	// them is counted before more are sent: bounded by the orders sent, not
	// by a time (a loaded machine took over 10 s for them), and at most a
	// batch past the mark. (Sent every 20 ms instead, orders still in the
	// sockets went on piling up by an amount that depended on the load.)
	stalled := dialNotReading(t, addrs.Gateway, 2, cfg.Accounts[1].Secret)
	enc := proto.NewEncoder()
	id := uint64(0)
	start := n.in.published()
	for n.sendBudget.Used() < 3<<20 {
		if id >= 100_000 { // ~15 MB of reports: more than the sockets and the mark hold
			t.Fatalf("stalled client holds only %d bytes after %d orders", n.sendBudget.Used(), id)
		}
		for range 500 {
			id++
			o := limit(id, wire.SideSell, btc.ReferencePrice+int64(1+id%40)*btc.TickSize, 1)
			if _, err := stalled.Write(enc.NewOrder(id+1, o)); err != nil {
				t.Fatal(err)
			}
		}
		waitUntil(t, func() bool { // the engine publishes a batch's events before its own progress
			return n.stats.engine.Sequence().Load() >= start+int64(id) && n.stats.sender.Sequence().Load() >= n.exec.published()
		})
	}
	t.Logf("stalled client holds %d bytes unsent of a %d budget", n.sendBudget.Used(), 4<<20)

	// A client that reads everything, as fast as it can.
	reader := dial(t, addrs.Gateway, 1)
	const orders = 20_000 // 3 MB of Cancelled reports
	for from := 1; from <= orders; from += 5000 {
		for k := from; k < from+5000; k++ {
			o := limit(uint64(k), wire.SideBuy, eth.ReferencePrice-int64(1+k%5000)*eth.TickSize, eth.LotSize)
			o.Instrument = eth.ID
			reader.NewOrder(o)
		}
		nextWithin(t, reader, ordersWithin(5000), func(m client.Message) bool { return m.Report.ClientOrderID == uint64(from+4999) })
	}
	reader.MassCancel(eth.ID)
	reader.SetReadDeadline(time.Now().Add(ordersWithin(orders)))
	for cancelled := 0; cancelled < orders; {
		m, err := reader.Next()
		if err != nil {
			time.Sleep(200 * time.Millisecond) // the session's reader counts its cause
			t.Fatalf("the reading client was cut after %d of %d cancels (%v); slow-consumer disconnects %d; the stalled client still holds %d bytes",
				cancelled, orders, err, n.gw.Counters.Disconnects[gateway.CauseSlowConsumer].Load(), n.sendBudget.Used())
		}
		if m.Type == wire.MessageExecutionReport && m.Report.Kind == wire.ExecKindCancelled {
			cancelled++
		}
	}
	// The stalled client is cut only if the reader was ever handed more
	// than the floor unsent: likely, not certain (output's
	// TestBudgetCutsTheStalledClientNotTheOneHandedABurst is the certain
	// case).
	cut := n.gw.Counters.Disconnects[gateway.CauseSlowConsumer].Load()
	t.Logf("slow-consumer disconnects %d; queued %d bytes", cut, n.sendBudget.Used())
	if cut > 0 { // and its bytes go with it
		waitUntil(t, func() bool { return n.sendBudget.Used() < 1<<20 })
	}
}
