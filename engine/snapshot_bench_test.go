package engine

import (
	"fmt"
	"math/rand"
	"testing"
)

// BenchmarkSnapshot: how long encoding a snapshot (AppendSnapshot) and
// copying the state to encode elsewhere (CopyState, what a node's engine
// goroutine pays) take, and how long a restart spends restoring it, for
// books of 10k, 100k and 1M resting orders over 2000 price levels.
func BenchmarkSnapshot(b *testing.B) {
	for _, orders := range []int{10_000, 100_000, 1_000_000} {
		cfg := benchConfig()
		cfg.MaxOrders = 1 << 21
		e, err := NewEngine(cfg, discard{})
		if err != nil {
			b.Fatal(err)
		}
		for i := 1; i <= orders; i++ {
			s, px := Buy, int64(benchMid-1-i%1000)
			if i%2 == 0 {
				s, px = Sell, int64(benchMid+1+i%1000)
			}
			e.Apply(&Command{Type: CmdNewOrder, Seq: int64(i), Timestamp: int64(i), Account: uint32(1 + i%benchAccounts),
				ClientOrderID: uint64(i), Instrument: 1, Side: s, OrderType: Limit, TIF: GTC, Price: px, Quantity: 1})
		}
		snap := e.AppendSnapshot(nil)
		b.Run(fmt.Sprintf("append/%d", orders), func(b *testing.B) {
			buf := make([]byte, 0, len(snap))
			b.SetBytes(int64(len(snap)))
			for b.Loop() {
				buf = e.AppendSnapshot(buf[:0])
			}
		})
		// What a node's engine goroutine pays instead of append: the
		// copy is encoded on another goroutine.
		b.Run(fmt.Sprintf("copy/%d", orders), func(b *testing.B) {
			var c StateCopy
			e.CopyState(&c)
			c.Reserve(e.Sizes())
			b.SetBytes(int64(len(snap)))
			for b.Loop() {
				e.CopyState(&c)
			}
		})
		// A copy in steps (BeginCopy, CopyMore, FinishCopy): the engine
		// waits only for FinishCopy, after a sweep of 256 KiB steps with
		// ten cancels and ten new orders (random resting orders, so
		// random pieces of the pools change) between two steps.
		b.Run(fmt.Sprintf("finish/%d", orders), func(b *testing.B) {
			var c StateCopy
			c.Reserve(e.Sizes())
			seq := int64(orders)
			rng := rand.New(rand.NewSource(1))
			steps := 0
			for b.Loop() {
				b.StopTimer()
				e.BeginCopy(&c)
				for !e.CopyMore(256 << 10) {
					steps++
					for range 10 {
						seq++
						j := 1 + rng.Intn(orders)
						e.Apply(&Command{Type: CmdCancel, Seq: seq, Timestamp: seq, Account: uint32(1 + j%benchAccounts), Instrument: 1, OrigClientOrderID: uint64(j)})
						seq++
						s, px := Buy, int64(benchMid-1-rng.Intn(1000))
						if rng.Intn(2) == 0 {
							s, px = Sell, int64(benchMid+1+rng.Intn(1000))
						}
						e.Apply(&Command{Type: CmdNewOrder, Seq: seq, Timestamp: seq, Account: uint32(1 + j%benchAccounts),
							ClientOrderID: uint64(j), Instrument: 1, Side: s, OrderType: Limit, TIF: GTC, Price: px, Quantity: 1})
					}
				}
				b.StartTimer()
				e.FinishCopy()
			}
			b.ReportMetric(float64(steps)/float64(b.N), "steps/op")
		})
		b.Run(fmt.Sprintf("restore/%d", orders), func(b *testing.B) {
			b.SetBytes(int64(len(snap)))
			for b.Loop() {
				if _, err := RestoreEngine(cfg, snap, discard{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
