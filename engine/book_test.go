package engine

import (
	"errors"
	"math/rand"
	"slices"
	"testing"
)

// sideLevels lists a side's level prices best first.
func sideLevels(e *Engine, s *side) []int64 {
	var prices []int64
	s.each(func(li int32) bool { prices = append(prices, e.levels[li].price); return true })
	return prices
}

// When the price moves away — here 50 000 ticks up, a bid left resting
// where it started — the side's window follows the best level, and the
// book reads the same as before the move.
func TestWindowFollowsThePrice(t *testing.T) {
	cfg := benchConfig()
	e, err := NewEngine(cfg, discard{})
	if err != nil {
		t.Fatal(err)
	}
	seq := int64(0)
	bid := func(price int64) {
		seq++
		c := Command{Type: CmdNewOrder, Seq: seq, Timestamp: seq, Account: 1, Instrument: 1, Side: Buy, OrderType: Limit, TIF: GTC,
			Price: price, Quantity: 1, STP: STPAllow}
		e.Apply(&c)
	}
	bids := &e.books[0].bids
	bid(benchMid) // the window is placed around it
	startLo := bids.lo
	var want []int64
	for p := int64(benchMid + 50_000); p < benchMid+50_100; p++ { // the market has moved
		bid(p)
		want = append(want, p)
	}
	slices.Reverse(want)
	want = append(want, benchMid)
	if bids.lo == startLo {
		t.Fatal("the window stayed where the price was")
	}
	if _, in := bids.slot(benchMid + 50_099); !in || bids.n != 100 || bids.out.Len() != 1 {
		t.Fatalf("best bid in the window %v; window %d levels, overflow %d", in, bids.n, bids.out.Len())
	}
	if got := sideLevels(e, bids); !slices.Equal(got, want) {
		t.Fatalf("book after the move: %v…, want %v…", got[:3], want[:3])
	}
	if err := checkInvariants(e); err != nil {
		t.Fatal(err)
	}
}

// A window that holds much of the side stays where it is when a far
// better level comes and goes: moving it would cost every level it holds,
// over and over.
func TestWindowHoldingTheBookStays(t *testing.T) {
	e, err := NewEngine(benchConfig(), discard{})
	if err != nil {
		t.Fatal(err)
	}
	seq := int64(0)
	order := func(typ CommandType, price int64, id uint64) {
		seq++
		c := Command{Type: typ, Seq: seq, Timestamp: seq, Account: 1, Instrument: 1, Side: Buy, OrderType: Limit, TIF: GTC,
			Price: price, Quantity: 1, STP: STPAllow, OrderID: id}
		e.Apply(&c)
	}
	for k := range int64(2000) {
		order(CmdNewOrder, benchMid-k, 0)
	}
	bids := &e.books[0].bids
	lo := bids.lo
	for range 10 {
		order(CmdNewOrder, benchMid+100_000, 0) // far better: the overflow's, and the side's best
		order(CmdCancel, 0, uint64(seq))
	}
	if bids.lo != lo || bids.n != 2000 || bids.out.Len() != 0 {
		t.Fatalf("window moved (lo %d → %d), holds %d levels, overflow %d", lo, bids.lo, bids.n, bids.out.Len())
	}
	if err := checkInvariants(e); err != nil {
		t.Fatal(err)
	}
}

// A dropped engine's windows go back empty — every slot -1, every bit 0,
// whatever levels they held (emptyWindows' invariant) — and restores that
// take them, one failing after reading every book and one that keeps
// them, build the state the dropped engine had.
func TestDroppedWindowsComeBackEmpty(t *testing.T) {
	cfg := randomConfig()
	e, err := NewEngine(cfg, discard{})
	if err != nil {
		t.Fatal(err)
	}
	g := commandGen{rng: rand.New(rand.NewSource(9))}
	for range 3000 {
		c := g.next()
		e.Apply(&c)
	}
	snap, hash := e.AppendSnapshot(nil), e.StateHash()
	var held []window
	for i := range e.books {
		for _, s := range []*side{&e.books[i].bids, &e.books[i].asks} {
			if s.n > 0 {
				held = append(held, window{s.win, s.bits})
			}
		}
	}
	if len(held) < 2 {
		t.Fatalf("%d windows hold levels, want a few", len(held))
	}
	e.dropWindows()
	for k, w := range held {
		if i := slices.IndexFunc(w.win, func(li int32) bool { return li != -1 }); i >= 0 {
			t.Fatalf("window %d dropped with slot %d holding level %d", k, i, w.win[i])
		}
		if i := slices.IndexFunc(w.bits, func(b uint64) bool { return b != 0 }); i >= 0 {
			t.Fatalf("window %d dropped with occupancy word %d %#x", k, i, w.bits[i])
		}
	}
	for range 2 {
		if _, err := RestoreEngine(cfg, append(slices.Clone(snap), 0), discard{}); !errors.Is(err, ErrCorruptSnapshot) {
			t.Fatalf("trailing byte: %v", err)
		}
		r, err := RestoreEngine(cfg, snap, discard{})
		if err != nil {
			t.Fatal(err)
		}
		if err := checkInvariants(r); err != nil {
			t.Fatal(err)
		}
		if r.StateHash() != hash {
			t.Fatal("restored into windows taken back: another state")
		}
		r.dropWindows()
	}
}
