package output

import (
	"math/rand"
	"sort"
	"testing"

	"github.com/ringex/ringex/engine"
)

// The book built from level events equals a map-based reference after many
// random updates, with both sides sorted best first — thousands of
// levels deep, so that its blocks split and merge.
func TestMDBookMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	var b MDBook
	ref := map[engine.Side]map[int64]Level{engine.Buy: {}, engine.Sell: {}}
	for i := 0; i < 40000; i++ {
		side := engine.Side(1 + rng.Intn(2))
		price := int64(rng.Intn(5000))
		qty := int64(rng.Intn(4)) * int64(1+rng.Intn(10)) // 0 removes
		b.Apply(side, price, qty, uint32(qty))
		if qty == 0 {
			delete(ref[side], price)
		} else {
			ref[side][price] = Level{price, qty, uint32(qty)}
		}
	}
	check := func(side engine.Side, got []Level, desc bool) {
		var want []Level
		for _, l := range ref[side] {
			want = append(want, l)
		}
		sort.Slice(want, func(i, j int) bool {
			if desc {
				return want[i].Price > want[j].Price
			}
			return want[i].Price < want[j].Price
		})
		if len(got) != len(want) {
			t.Fatalf("side %d: %d levels, want %d", side, len(got), len(want))
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("side %d level %d = %+v, want %+v", side, i, got[i], want[i])
			}
		}
	}
	check(engine.Buy, b.AppendLevels(nil, engine.Buy), true)
	check(engine.Sell, b.AppendLevels(nil, engine.Sell), false)
	if b.Depth(engine.Buy) != len(ref[engine.Buy]) || b.Depth(engine.Sell) != len(ref[engine.Sell]) {
		t.Fatalf("depth %d/%d, want %d/%d", b.Depth(engine.Buy), b.Depth(engine.Sell), len(ref[engine.Buy]), len(ref[engine.Sell]))
	}
	b.Clear()
	if b.Depth(engine.Buy)+b.Depth(engine.Sell) != 0 || len(b.AppendLevels(nil, engine.Buy)) != 0 {
		t.Fatal("Clear left levels")
	}
}
