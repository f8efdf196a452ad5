package engine

import (
	"fmt"
	"testing"
)

// The benchmarks in this file time the single commands that do the most
// work in one engine turn — every other session's orders wait behind
// them — and report the time per order they touch (ns/order) beside the
// time per command. Each iteration's book is built outside the timer.
// BenchmarkHaltCancelDeepBook (haltcancel_bench_test.go) is the halt
// that cancels its book.
//
// On the shared 2-core dev VM (2026-12-07, four runs of 5 ops): a mass
// cancel 17–42 ns an order (1 000: 22–24 µs; 100 000: 1.7–2.7 ms;
// 1 000 000: 20–43 ms), the kill switch 23–46 ns an order, the halt's
// 17–24 ns; a sweep of the match limit's 65 535 orders 1.2–2.2 ms
// (19–34 ns an order, the market order and the replace alike) and a
// refused FOK's walk of them 0.16–0.45 ms. Matching is bounded by the
// match limit; cancelling an account's orders by its max_open_orders
// (engine.max_open_orders in a node); a halt's by its book.
//
//	go test ./engine -run '^$' -bench 'MassCancel|SuspendAccount|Sweep' -benchtime 5x

// restOrders rests n one-lot GTC orders of account on side s of
// instrument 1, spread over levels price levels from the mid outward
// (none crossing), and returns the last sequence used.
func restOrders(e *Engine, seq int64, account uint32, s Side, n, levels int) int64 {
	for i := range n {
		price := benchMid - 1 - int64(i%levels)
		if s == Sell {
			price = benchMid + 1 + int64(i%levels)
		}
		seq++
		e.Apply(&Command{Seq: seq, Type: CmdNewOrder, Session: uint64(account), Account: account, Instrument: 1,
			Side: s, OrderType: Limit, TIF: GTC, Price: price, Quantity: 1})
	}
	return seq
}

// reportPerOrder reports the timed time per order touched.
func reportPerOrder(b *testing.B, orders int) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(orders), "ns/order")
}

// BenchmarkMassCancel: one account's CmdMassCancel of all its resting
// orders, as many as the default config's max_open_orders allow (1 000:
// account 4; 100 000: accounts 1 and 2; 1 000 000: account 3), spread
// over 1 000 levels a side, with 4 000 orders of other accounts beside
// them, market data on. An account with max_open_orders 0 may rest up to
// MaxLiveOrders (8.4 M): the cost is linear in the orders, so ns/order
// times 8.4 M is its command.
func BenchmarkMassCancel(b *testing.B) {
	for _, n := range []int{1_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			benchAccountCancel(b, n, func(seq int64) *Command {
				return &Command{Seq: seq, Type: CmdMassCancel, Session: 7, Account: 7}
			})
		})
	}
}

// BenchmarkSuspendAccount: the operator's kill switch (CmdSuspendAccount)
// on an account with 1 000 000 resting orders, which it cancels in the
// same walk as a mass cancel.
func BenchmarkSuspendAccount(b *testing.B) {
	benchAccountCancel(b, 1_000_000, func(seq int64) *Command {
		return &Command{Seq: seq, Type: CmdSuspendAccount, Account: 7}
	})
}

// benchAccountCancel times cmd, which must cancel every one of account
// 7's n resting orders.
func benchAccountCancel(b *testing.B, n int, cmd func(seq int64) *Command) {
	const levels, others = 1000, 4000
	cfg := benchConfig()
	cfg.MaxOrders = n + others
	var sink countSink
	e, _ := NewEngine(cfg, &sink)
	e.SetMarketData(true)
	seq := int64(0)
	b.ReportAllocs()
	b.ResetTimer() // NewEngine's pools are not the command's
	for range b.N {
		b.StopTimer()
		seq++
		e.Apply(&Command{Seq: seq, Type: CmdResumeAccount, Account: 7})
		for _, s := range [...]Side{Buy, Sell} {
			seq = restOrders(e, seq, 7, s, n/2, levels)
			for a := range uint32(others / 2) {
				seq = restOrders(e, seq, 100+a%100, s, 1, levels)
			}
		}
		seq++
		b.StartTimer()
		e.Apply(cmd(seq))
		b.StopTimer()
		if open := e.OpenOrders(7); open != 0 {
			b.Fatalf("%d orders of the account left", open)
		}
		e.Apply(&Command{Seq: seq + 1, Type: CmdHalt, Instrument: 1, CancelOrders: true})
		e.Apply(&Command{Seq: seq + 2, Type: CmdResume, Instrument: 1})
		seq += 2
		b.StartTimer()
	}
	reportPerOrder(b, n)
}

// BenchmarkSweep: one command meeting the match limit's 65 535 resting
// one-lot orders of other accounts on 100 levels — a market IOC order
// (no price band), and a replace of a resting bid to a price through
// every level (it loses its place and trades as a new order would) —
// and, as the baseline of a walk without trades, a FOK asking one lot
// more than the book holds, refused (the fill check stops at the match
// limit too).
func BenchmarkSweep(b *testing.B) {
	const levels = 100
	for _, tc := range []struct {
		name string
		cmd  Command
	}{
		{"market-ioc", Command{Type: CmdNewOrder, OrderType: Market, TIF: IOC, Quantity: MaxQuantity}},
		{"replace", Command{Type: CmdReplace, Price: benchMid + levels, Quantity: MaxQuantity}},
		{"fok-refused", Command{Type: CmdNewOrder, OrderType: Limit, TIF: FOK, Price: benchMid + levels, Quantity: maxMatches + 1}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			cfg := benchConfig()
			cfg.MaxOrders = maxMatches + 2
			var sink countSink
			e, _ := NewEngine(cfg, &sink)
			e.SetMarketData(true)
			seq := int64(0)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				e.Apply(&Command{Seq: seq + 1, Type: CmdHalt, Instrument: 1, CancelOrders: true})
				e.Apply(&Command{Seq: seq + 2, Type: CmdResume, Instrument: 1})
				seq += 2
				for i := range maxMatches {
					seq = restOrders(e, seq, uint32(2+i%(benchAccounts-1)), Sell, 1, levels)
				}
				seq = restOrders(e, seq, 1, Buy, 1, 1)
				bid := uint64(seq)
				c := tc.cmd
				seq++
				c.Seq, c.Session, c.Account, c.Instrument, c.Side = seq, 1, 1, 1, Buy
				if c.Type == CmdReplace {
					c.OrderID = bid
				}
				sink.n = 0
				b.StartTimer()
				e.Apply(&c)
				b.StopTimer()
				if want := e.LiveOrders() < maxMatches; want != (tc.name != "fok-refused") {
					b.Fatalf("%d orders live after %s", e.LiveOrders(), tc.name)
				}
				b.StartTimer()
			}
			reportPerOrder(b, maxMatches)
		})
	}
}
