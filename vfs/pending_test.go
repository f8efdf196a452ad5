package vfs

import (
	"path/filepath"
	"testing"
	"time"
)

// A write the disk never answers shows in Oldest, growing, until it
// returns; nothing under way reads 0.
func TestPendingShowsAWriteTheDiskHolds(t *testing.T) {
	stall := new(Stall)
	var p Pending
	fs := Observed(Observed(Default, stall), &p)
	f, err := fs.Create(filepath.Join(t.TempDir(), "seg"))
	must(t, err)
	defer f.Close()
	must(t, f.Sync())
	if d := p.Oldest(); d != 0 {
		t.Fatalf("Oldest %v with nothing under way, want 0", d)
	}
	stall.Hold()
	done := make(chan error, 1)
	go func() { done <- f.Sync() }()
	for deadline := time.Now().Add(5 * time.Second); p.Oldest() < 50*time.Millisecond; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("Oldest %v 5 s into a held fsync", p.Oldest())
		}
	}
	select {
	case err := <-done:
		t.Fatalf("the fsync returned (%v) while the disk was stalled", err)
	default:
	}
	stall.Release()
	must(t, <-done)
	if d := p.Oldest(); d != 0 {
		t.Fatalf("Oldest %v after the fsync returned, want 0", d)
	}
}

// Oldest is the oldest of several operations under way.
func TestPendingOldestOfSeveral(t *testing.T) {
	var p Pending
	first := p.Begin()
	time.Sleep(20 * time.Millisecond)
	beforeSecond := time.Now()
	second := p.Begin()
	if d := p.Oldest(); d < 20*time.Millisecond {
		t.Fatalf("Oldest %v, want the first's age (>= 20ms)", d)
	}
	p.End(first)
	if d, bound := p.Oldest(), time.Since(beforeSecond); d > bound {
		t.Fatalf("Oldest %v after the first ended, want the second's (at most %v)", d, bound)
	}
	p.End(second)
	if d := p.Oldest(); d != 0 {
		t.Fatalf("Oldest %v with nothing under way, want 0", d)
	}
}

// The cost Pending adds to each timed write or fsync (a journal batch
// takes two: its write and its fdatasync).
func BenchmarkPendingBeginEnd(b *testing.B) {
	var p Pending
	for b.Loop() {
		p.End(p.Begin())
	}
}
