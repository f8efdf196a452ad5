package engine

import (
	"testing"
	"time"
)

// BenchmarkHaltCancelDeepBook times the operator's halt with
// cancel_orders on one instrument holding 1 000 000 resting orders ("1M": 500
// levels a side, 1 000 orders a level, 1 000 accounts), market data on:
// one command, one engine turn: a report per order and a level event per
// level (1 001 001 events; 2 000 001 with a level event per cancel,
// before the clear's emptying). The book is built outside the timer.
// On the shared 2-core dev VM (2026-12-06): 28–133 ms with an event per
// cancel, 58–453 ms after (the machine's load, not the change); in a
// node, POST /halt returned after 0.8–2.8 s and an order on another
// instrument sent 20 ms into it waited 1.7–2.8 s for its ack, behind
// the million reports in the execution ring. 2026-12-07, load average
// 10–12: 22–105 ms here (a book built across the levels in turn, tried
// too, took as long: 60–100 ms); in a node with 1 000 logged-on accounts
// reading (node's BenchmarkHaltCancelManySessions, which says where the
// time goes) every cancel was read and another order acked 0.77–2.76 s
// after the halt (0.39–1.68 s, means of three runs, at load average 5.5). By CPU profile the node spent 0.55–0.65 µs a cancel —
// its engine turn 0.23–0.30 µs of it, several times this benchmark's
// (the execution ring's copy and publish, and caches shared with the
// sender and the sessions' writers on 2 cores), the sender 0.19–0.22 and
// the socket writes 0.11–0.12, 65–270 reports a write. In wall time the
// halt took 0.8–2.8 µs a report, placing its book 2.3–6.9 µs an order in
// the same runs: no per-report waste downstream; the seconds are the
// process getting half to three quarters of a core of a loaded machine.
// At the most a book can hold ("max": 8 388 000 orders, 1 000 levels of
// MaxLiveOrders/1000) on E26 (2 vCPU AMD EPYC, 2026-12-07, load average
// 10): 434–482 ms, 52–57 ns an order; "1M" beside it 38–44 ms.
//
// "chunk=N": the same books cleared N orders an input (HaltClearChunk,
// haltclear.go): the halt's input, then a CmdNoop an input until the
// clear ends, all timed (ns/op: the whole clear); max-input-ns is the
// longest one input took, the engine's longest stretch on one input.
//
//	go test ./engine -run '^$' -bench HaltCancelDeepBook -benchtime 3x
//	go test ./node -run '^$' -bench HaltCancelManySessions -benchtime 3x
func BenchmarkHaltCancelDeepBook(b *testing.B) {
	b.Run("1M", func(b *testing.B) { benchHaltCancel(b, 1000, 0) })
	b.Run("max", func(b *testing.B) { benchHaltCancel(b, MaxLiveOrders/1000, 0) })
	b.Run("max/chunk=4096", func(b *testing.B) { benchHaltCancel(b, MaxLiveOrders/1000, 4096) })
	b.Run("max/chunk=65536", func(b *testing.B) { benchHaltCancel(b, MaxLiveOrders/1000, 65536) })
}

// benchHaltCancel times the halt of a book of 500 levels a side,
// perLevel orders a level, cleared chunk orders an input (0: at once).
func benchHaltCancel(b *testing.B, perLevel, chunk int) {
	const levels = 500
	cfg := benchConfig()
	cfg.MaxOrders = 2 * levels * perLevel
	cfg.HaltClearChunk = chunk
	var sink countSink
	e, _ := NewEngine(cfg, &sink)
	e.SetMarketData(true)
	seq := int64(0)
	var longest time.Duration // over every iteration
	inputs := 0
	b.ResetTimer() // NewEngine's pools are not the halt's
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
		start := time.Now()
		e.Apply(&Command{Seq: seq, Type: CmdHalt, Instrument: 1, CancelOrders: true})
		longest, inputs = max(longest, time.Since(start)), inputs+1
		for e.ClearPending() {
			seq++
			at := time.Now()
			e.Apply(&Command{Seq: seq, Type: CmdNoop})
			longest, inputs = max(longest, time.Since(at)), inputs+1
		}
		b.StopTimer()
		if sink.n < 2*levels*perLevel {
			b.Fatalf("%d events for %d orders cancelled", sink.n, 2*levels*perLevel)
		}
		b.ReportMetric(float64(sink.n), "events/op")
		b.StartTimer()
	}
	b.ReportMetric(float64(longest.Nanoseconds()), "max-input-ns")
	b.ReportMetric(float64(inputs)/float64(b.N), "inputs/op")
	reportPerOrder(b, 2*levels*perLevel)
}
