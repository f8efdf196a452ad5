package engine

import (
	"testing"
)

// BenchmarkHaltCancelDeepBook times the operator's halt with
// cancel_orders on one instrument holding 1 000 000 resting orders (500
// levels a side, 1 000 orders a level, 1 000 accounts), market data on:
// one command, one engine turn: a report per order and a level event per
// level (1 001 001 events; 2 000 001 with a level event per cancel,
// before cancelBook's emptying). The book is built outside the timer.
// On the shared 2-core dev VM (2026-12-06): 28–133 ms with an event per
// cancel, 58–453 ms after (the machine's load, not the change); in a
// node, POST /halt returned after 0.8–2.8 s and an order on another
// instrument sent 20 ms into it waited 1.7–2.8 s for its ack, behind
// the million reports in the execution ring.
func BenchmarkHaltCancelDeepBook(b *testing.B) {
	const levels, perLevel = 500, 1000
	cfg := benchConfig()
	cfg.MaxOrders = 2 * levels * perLevel
	var sink countSink
	e, _ := NewEngine(cfg, &sink)
	e.SetMarketData(true)
	seq := int64(0)
	for range b.N {
		b.StopTimer()
		e.Apply(&Command{Seq: seq + 1, Type: CmdResume, Instrument: 1})
		seq++
		for _, s := range [...]Side{Buy, Sell} {
			for l := range int64(levels) {
				price := benchMid - 1 - l
				if s == Sell {
					price = benchMid + 1 + l
				}
				for k := range perLevel {
					seq++
					e.Apply(&Command{Seq: seq, Type: CmdNewOrder, Session: uint64(k%benchAccounts + 1), Account: uint32(k%benchAccounts + 1),
						Instrument: 1, Side: s, OrderType: Limit, TIF: GTC, Price: price, Quantity: 1})
				}
			}
		}
		if d := e.Depth(1, Buy) + e.Depth(1, Sell); d != 2*levels {
			b.Fatalf("depth %d, want %d levels", d, 2*levels)
		}
		sink.n = 0
		seq++
		b.StartTimer()
		e.Apply(&Command{Seq: seq, Type: CmdHalt, Instrument: 1, CancelOrders: true})
		b.StopTimer()
		if sink.n < 2*levels*perLevel {
			b.Fatalf("%d events for %d orders cancelled", sink.n, 2*levels*perLevel)
		}
		b.ReportMetric(float64(sink.n), "events/op")
		b.StartTimer()
	}
}
