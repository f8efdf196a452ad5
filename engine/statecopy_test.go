package engine

import (
	"bytes"
	"math/rand"
	"testing"
)

// A StateCopy encodes the snapshot of the moment it was taken, whatever
// the engine does after, and one StateCopy serves copy after copy of
// states that grow and shrink.
func TestStateCopyEncodesTheStateItCopied(t *testing.T) {
	const n = 30000
	cfg := randomConfig()
	e, _ := NewEngine(cfg, discard{})
	g := commandGen{rng: rand.New(rand.NewSource(7))}
	cmds := make([]Command, n)
	for i := range cmds {
		cmds[i] = g.next()
	}
	// Halts, resumes and mass cancels shrink the books now and then, so
	// that a later copy is smaller than an earlier one in the same memory.
	for i := 5000; i < n; i += 5000 {
		cmds[i] = Command{Seq: cmds[i].Seq, Timestamp: cmds[i].Timestamp, Type: CmdMassCancel, Account: uint32(1 + i/5000%4)}
	}
	var c StateCopy
	applied, rng := 0, rand.New(rand.NewSource(8))
	for cut := 0; cut < 10; cut++ {
		for end := min(applied+rng.Intn(n/8), n); applied < end; applied++ {
			e.Apply(&cmds[applied])
		}
		if cut == 4 {
			e.Apply(&Command{Seq: int64(n + 1), Type: CmdSuspendAccount, Account: 2})
		}
		want := e.AppendSnapshot(nil)
		if size := e.listed.encodedSize(e.levels, e.accounts); size != len(want) {
			t.Fatalf("cut %d: encodedSize %d, the encoding %d bytes", cut, size, len(want))
		}
		e.CopyState(&c)
		if got := c.AppendSnapshot(nil); !bytes.Equal(got, want) {
			t.Fatalf("cut %d (after %d commands): the copy encodes %d bytes, the engine %d, not the same", cut, applied, len(got), len(want))
		}
		// The engine goes on; the copy does not move.
		for end := min(applied+2000, n); applied < end; applied++ {
			e.Apply(&cmds[applied])
		}
		if got := c.AppendSnapshot(nil); !bytes.Equal(got, want) {
			t.Fatalf("cut %d: the copy changed when the engine applied more commands", cut)
		}
		if SnapshotHash(want) != SnapshotHash(c.AppendSnapshot(nil)) {
			t.Fatalf("cut %d: hashes differ", cut)
		}
		c.Reserve(e.Sizes())
	}
	if applied < n/2 {
		t.Fatalf("only %d of %d commands applied: the cuts did not cover the run", applied, n)
	}
}

// Encoding grows its buffer once, before it appends: growing it append by
// append moves it with a memmove nothing can preempt (appendSnapshot).
func TestSnapshotEncodingGrowsItsBufferOnce(t *testing.T) {
	e := randomlyTraded(10)
	var c StateCopy
	e.CopyState(&c)
	// (The race detector makes the encoder's small slices escape.)
	if allocs := testing.AllocsPerRun(20, func() { c.AppendSnapshot(nil) }); allocs != 1 && !raceEnabled {
		t.Fatalf("encoding into no buffer: %v allocations, want 1", allocs)
	}
	size := len(c.AppendSnapshot(nil))
	buf := make([]byte, 3, 3+size)
	if got := c.AppendSnapshot(buf); &got[0] != &buf[0] || len(got) != 3+size {
		t.Fatalf("encoding into a buffer with exactly its room moved it")
	}
}

// Once reserved, a copy of a state no larger than the last one allocates
// nothing on the engine goroutine.
func TestStateCopyReservedAllocatesNothing(t *testing.T) {
	e := randomlyTraded(9)
	var c StateCopy
	e.CopyState(&c)
	c.Reserve(e.Sizes())
	if allocs := testing.AllocsPerRun(50, func() { e.CopyState(&c) }); allocs != 0 {
		t.Fatalf("CopyState: %v allocations, want 0", allocs)
	}
	var buf []byte
	buf = e.AppendSnapshot(buf)
	if allocs := testing.AllocsPerRun(50, func() { buf = e.AppendSnapshot(buf[:0]) }); allocs != 0 {
		t.Fatalf("AppendSnapshot: %v allocations, want 0", allocs)
	}
}

// Reserve keeps at least an eighth to spare and grows a copy once per
// ~11 % of growth, not each time the pools grow: a growing book must not
// have its copies (110 MB each at 1 M orders) reallocated every second.
func TestReserveGrowsOncePerEighth(t *testing.T) {
	var c StateCopy
	c.Reserve(1000, 100)
	if cap(c.orders) < 1125 || cap(c.levels) < 112 || cap(c.listed.levels) < 112 {
		t.Fatalf("Reserve(1000, 100): room for %d orders, %d and %d levels, want an eighth more at least",
			cap(c.orders), cap(c.levels), cap(c.listed.levels))
	}
	grown := 0
	for orders := 1000; orders <= 2000; orders++ {
		before := cap(c.orders)
		c.Reserve(orders, 100)
		if cap(c.orders) < orders+orders/8 {
			t.Fatalf("Reserve(%d): room for %d orders, less than an eighth to spare", orders, cap(c.orders))
		}
		if cap(c.orders) != before {
			grown++
		}
	}
	if grown > 7 { // 1000 → 2000 is ~7 steps of 11 %
		t.Fatalf("growing the book from 1000 to 2000 orders one at a time reallocated the copy %d times", grown)
	}
}

// randomlyTraded is an engine after 20 000 random commands from seed.
func randomlyTraded(seed int64) *Engine {
	e, _ := NewEngine(randomConfig(), discard{})
	g := commandGen{rng: rand.New(rand.NewSource(seed))}
	for range 20000 {
		cmd := g.next()
		e.Apply(&cmd)
	}
	return e
}
