package engine

import (
	"fmt"
	"maps"
	"math/rand"
	"slices"
	"testing"
)

// mdShadow is a market-data subscriber's book built from nothing but the
// engine's book events: EvBookClear, EvBookLevel, EvHalted, EvResumed,
// and the trades' prices.
type mdShadow struct {
	levels map[uint32]map[Side]map[int64]LevelInfo
	halted map[uint32]bool
	last   map[uint32]int64
}

func newMDShadow() *mdShadow {
	return &mdShadow{levels: map[uint32]map[Side]map[int64]LevelInfo{}, halted: map[uint32]bool{}, last: map[uint32]int64{}}
}

func (m *mdShadow) Emit(ev *Event) {
	switch ev.Type {
	case EvBookClear:
		m.levels[ev.Instrument] = map[Side]map[int64]LevelInfo{Buy: {}, Sell: {}}
		m.halted[ev.Instrument] = false
		m.last[ev.Instrument] = ev.Price
	case EvBookLevel:
		lv := m.levels[ev.Instrument][ev.Side]
		if ev.Quantity == 0 {
			delete(lv, ev.Price)
		} else {
			lv[ev.Price] = LevelInfo{ev.Price, ev.Quantity, ev.Count}
		}
	case EvHalted, EvResumed:
		m.halted[ev.Instrument] = ev.Type == EvHalted
	case EvTrade:
		m.last[ev.Instrument] = ev.Price
	}
}

// differs reports how the shadow differs from e's books, "" when it
// does not.
func (m *mdShadow) differs(e *Engine) string {
	for _, inst := range e.Instruments() {
		for _, s := range []Side{Buy, Sell} {
			var want []LevelInfo
			e.Levels(inst, s, func(l LevelInfo) bool { want = append(want, l); return true })
			got := slices.SortedFunc(maps.Values(m.levels[inst][s]), func(a, b LevelInfo) int {
				if s == Buy {
					return int(b.Price - a.Price)
				}
				return int(a.Price - b.Price)
			})
			if !slices.Equal(got, want) {
				return fmt.Sprintf("inst %d %v: market data %v, book %v", inst, s, got, want)
			}
		}
		if m.halted[inst] != e.Halted(inst) || m.last[inst] != e.LastTrade(inst) {
			return fmt.Sprintf("inst %d: market data halted=%v last=%d, engine halted=%v last=%d",
				inst, m.halted[inst], m.last[inst], e.Halted(inst), e.LastTrade(inst))
		}
	}
	return ""
}

// TestMarketDataFollowsTheBook: a subscriber that applies the engine's
// book events holds, after every command, exactly the engine's books —
// also across snapshots restored into another engine that switches its
// market data on (an image) and goes on; a halted book cleared at once
// or a few orders an input (haltclear.go).
func TestMarketDataFollowsTheBook(t *testing.T) {
	n := 30000
	if raceEnabled {
		n = 8000
	}
	for _, chunk := range []int{0, 3} {
		for seed := int64(1); seed <= 2; seed++ {
			followTheBook(t, n, chunk, seed)
		}
	}
}

// followTheBook runs n of seed's commands on an engine clearing halted
// books chunk orders an input, its market data followed by a shadow.
func followTheBook(t *testing.T, n, chunk int, seed int64) {
	t.Helper()
	cfg := randomConfig()
	cfg.HaltClearChunk = chunk
	md := newMDShadow()
	e, err := NewEngine(cfg, md)
	if err != nil {
		t.Fatal(err)
	}
	e.SetMarketData(true)
	g := commandGen{rng: rand.New(rand.NewSource(seed))}
	for i := 0; i < n; i++ {
		c := g.next()
		e.Apply(&c)
		if d := md.differs(e); d != "" {
			t.Fatalf("chunk %d seed %d command %d %+v: %s", chunk, seed, i, c, d)
		}
		if i%5000 == 4999 { // restart from a snapshot: a new image
			md = newMDShadow()
			e, err = RestoreEngine(cfg, e.AppendSnapshot(nil), md)
			if err != nil {
				t.Fatal(err)
			}
			e.SetAppliedSeq(c.Seq)
			e.SetMarketData(true)
			if d := md.differs(e); d != "" {
				t.Fatalf("chunk %d seed %d image after restore at %d: %s", chunk, seed, i, d)
			}
		}
	}
}
