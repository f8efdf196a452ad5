package output

import (
	"math/rand/v2"
	"testing"

	"github.com/ringex/ringex/engine"
)

// BenchmarkMDBookApply: one level event on a book of depth levels per
// side (a tick apart from the mid), the levels near the top added and
// removed — where a book changes most. "deep" is 20 000 levels a side: a
// price band of ±10 000 ticks (the default config's ETH-USD) full.
func BenchmarkMDBookApply(b *testing.B) {
	for _, bc := range []struct {
		name  string
		depth int
	}{{"shallow", 1000}, {"deep", 20_000}} {
		b.Run(bc.name, func(b *testing.B) {
			const mid = 1_000_000
			var book MDBook
			for i := 1; i <= bc.depth; i++ {
				book.Apply(engine.Buy, int64(mid-i), 5, 1)
				book.Apply(engine.Sell, int64(mid+i), 5, 1)
			}
			r := rand.New(rand.NewPCG(1, 1))
			type change struct {
				side engine.Side
				off  int64 // ticks from the mid, 1..10
			}
			changes := make([]change, 1<<16)
			for i := range changes {
				changes[i] = change{engine.Side(1 + r.IntN(2)), int64(1 + r.IntN(10))}
			}
			var gone [3][11]bool // by side and offset: the top levels start present
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				c := changes[i&(len(changes)-1)]
				price, qty := mid+c.off, int64(0) // a top level empties or comes back
				if c.side == engine.Buy {
					price = mid - c.off
				}
				if gone[c.side][c.off] {
					qty = 5
				}
				gone[c.side][c.off] = !gone[c.side][c.off]
				book.Apply(c.side, price, qty, 1)
			}
		})
	}
}
