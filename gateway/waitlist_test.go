package gateway

import (
	"errors"
	"net"
	"os"
	"slices"
	"testing"
)

// waitlistOf lists n pipe connections at the levels given in turn.
func waitlistOf(t *testing.T, l *Waitlist, n int, levels ...int) ([]net.Conn, []*Waiter) {
	t.Helper()
	var conns []net.Conn
	var ws []*Waiter
	for i := range n {
		a, b := net.Pipe()
		t.Cleanup(func() { a.Close(); b.Close() })
		conns = append(conns, a)
		ws = append(ws, l.Add(a, levels[i%len(levels)]))
	}
	return conns, ws
}

// evictOne evicts and returns the index of the one evicted (-1: none).
func evictOne(t *testing.T, l *Waitlist, conns []net.Conn, ws []*Waiter, done map[int]bool) int {
	t.Helper()
	if !l.Evict() {
		return -1
	}
	for i, w := range ws {
		if l.Evicted(w) && !done[i] {
			done[i] = true
			// Woken: a read deadline in the past.
			if _, err := conns[i].Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("evicted connection %d not woken: read %v", i, err)
			}
			return i
		}
	}
	t.Fatal("Evict reported an eviction, no connection evicted")
	return -1
}

// Evict takes the lowest level first, and within a level the connection
// accepted first, however it was listed again since; a settled
// connection is never taken, and an evicted one is never listed again.
func TestWaitlistEvictsOldestOfLowestLevel(t *testing.T) {
	l := NewWaitlist(2)
	conns, ws := waitlistOf(t, l, 5, 0, 1) // 0, 2, 4 at level 0; 1, 3 at level 1
	// 0 goes to level 1 after 1 and 3 were listed: still its oldest.
	if l.Relist(ws[0], 1) || l.Relist(ws[4], 1) {
		t.Fatal("a connection never evicted relisted as evicted")
	}
	if l.Settle(ws[3]) {
		t.Fatal("a connection never evicted settled as evicted")
	}
	done := map[int]bool{}
	var order []int
	for i := evictOne(t, l, conns, ws, done); i >= 0; i = evictOne(t, l, conns, ws, done) {
		order = append(order, i)
	}
	if want := []int{2, 0, 1, 4}; !slices.Equal(order, want) {
		t.Fatalf("evicted %v, want %v", order, want)
	}
	if !l.Relist(ws[0], 0) || !l.Settle(ws[0]) {
		t.Fatal("an evicted connection relisted or settled as not evicted")
	}
	if l.Evict() {
		t.Fatal("evicted an evicted connection again")
	}
}

// At most maxEvicting connections are on their way out: beyond, Evict
// makes no room until one of them is Gone.
func TestWaitlistBoundsTheEvicting(t *testing.T) {
	l := NewWaitlist(1)
	waitlistOf(t, l, maxEvicting+2, 0)
	for i := range maxEvicting {
		if !l.Evict() {
			t.Fatalf("eviction %d refused", i+1)
		}
	}
	if l.Evict() {
		t.Fatalf("evicted %d at once", maxEvicting+1)
	}
	l.Gone()
	if !l.Evict() {
		t.Fatal("no eviction once one evicted connection was gone")
	}
}
