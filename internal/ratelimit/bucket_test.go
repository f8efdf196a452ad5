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

// A burst apart from the rate: ten failures a minute, all at once, then
// one back every six seconds; Has never spends.
func TestBurstBucket(t *testing.T) {
	t0 := time.Unix(100, 0).UnixNano()
	b := NewBurst(10.0/60, 10, t0)
	for i := range 10 {
		if !b.Has(t0) || !b.Take(t0) {
			t.Fatalf("burst: event %d refused", i)
		}
	}
	if b.Has(t0) || b.Take(t0) {
		t.Fatal("11th event of the same minute allowed")
	}
	if b.Has(t0 + int64(5*time.Second)) {
		t.Fatal("a token back after 5 s, want 6 s")
	}
	six := t0 + int64(6010*time.Millisecond) // floating point: 6 s × 10/60 is a hair under one token
	// Has spends nothing.
	for range 3 {
		if !b.Has(six) {
			t.Fatal("after 6 s: no token")
		}
	}
	if !b.Take(six) || b.Take(six) {
		t.Fatal("after 6 s: want exactly one token")
	}
	if b.Full(six + int64(53*time.Second)) {
		t.Fatal("full before a whole minute of refill")
	}
	if !b.Full(six + int64(time.Minute)) {
		t.Fatal("not full after a minute")
	}
}

// A clock stepped back (NTP, a VM resumed) does not freeze the bucket: it
// refills from the new time. Before, it refilled nothing until the clock
// was back at the last refill — for an hour after a one-hour step, a
// steady 5 events/s against a 10/s bucket was refused once its burst was
// spent.
func TestBucketKeepsRefillingAfterClockStepsBack(t *testing.T) {
	sec := int64(time.Second)
	now := time.Unix(1_000_000, 0).UnixNano()
	b := New(10, now)
	for i := range 50 { // 10 s at 5/s: well under the rate
		if !b.Take(now) {
			t.Fatalf("before the step: event %d refused", i)
		}
		now += sec / 5
	}
	now -= int64(time.Hour)
	for i := range 100 { // 20 s more at 5/s
		if !b.Take(now) {
			t.Fatalf("after a 1 h clock step back, event %d at half the rate refused: the bucket stopped refilling", i)
		}
		now += sec / 5
	}
}

// Stamps taken before a lock that reach the bucket out of order by less
// than a second (the logon guard stamps a logon, then takes its lock) are
// not a clock stepped back: they mint nothing. Over 10 s a 1/s bucket
// with a burst of 1 gives at most 11 tokens, however its callers' stamps
// interleave. (The first fix for steps back refilled from each earlier
// stamp, and the next call refilled the same interval again: 19.)
func TestReorderedStampsMintNothing(t *testing.T) {
	ms := int64(time.Millisecond)
	t0 := time.Unix(1_000_000, 0).UnixNano()
	b := NewBurst(1, 1, t0)
	got := 0
	for now := t0 + 10*ms; now <= t0+10*int64(time.Second); now += 10 * ms {
		if b.Take(now) {
			got++
		}
		if b.Take(now - 9*ms) { // stamped 9 ms earlier, took the lock later
			got++
		}
	}
	if got > 11 {
		t.Fatalf("%d tokens in 10 s from a 1/s bucket with a burst of 1 (at most 11): out-of-order stamps mint tokens", got)
	}
}
