package ratelimit

import (
	"testing"
	"time"
)

func TestBucketBurstRefillAndClockStep(t *testing.T) {
	t0 := time.Unix(100, 0).UnixNano()
	b := New(10, t0)
	for i := range 10 {
		if !b.Take(t0) {
			t.Fatalf("burst: event %d refused", i)
		}
	}
	if b.Take(t0) {
		t.Fatal("11th event of the same instant allowed")
	}
	if !b.Take(t0 + int64(100*time.Millisecond)) { // one token back
		t.Fatal("refill after 100 ms refused")
	}
	if b.Take(t0 + int64(100*time.Millisecond)) {
		t.Fatal("second event on one refilled token allowed")
	}
	// A clock that steps back mints nothing.
	if b.Take(t0 - int64(time.Hour)) {
		t.Fatal("backwards clock refilled the bucket")
	}
	// Idle for an hour: at most one second's worth.
	later := t0 + int64(time.Hour)
	n := 0
	for b.Take(later) {
		n++
	}
	if n != 10 {
		t.Fatalf("after an idle hour %d events allowed, want the burst of 10", n)
	}
}
