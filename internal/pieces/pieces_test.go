package pieces

import (
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

// record is about the size of an engine order.
type record struct {
	a int64
	_ [96]byte
}

func numbered(n int) []int32 {
	s := make([]int32, n)
	for i := range s {
		s[i] = int32(i + 1)
	}
	return s
}

// Copy gives what copy into a slice of len(src) gives, across piece
// boundaries and into destinations shorter and longer than the source.
func TestCopyIsCopy(t *testing.T) {
	for _, n := range []int{0, 1, Piece - 1, Piece, Piece + 1, 3*Piece + 7} {
		src := numbered(n)
		for _, dstLen := range []int{0, n / 2, n + 5} {
			dst := slices.Repeat([]int32{-1}, dstLen)
			got := Copy(dst, src)
			if !slices.Equal(got, src) {
				t.Fatalf("Copy of %d elements over %d: not the source", n, dstLen)
			}
			if dstLen >= n && n > 0 && &got[0] != &dst[0] {
				t.Fatalf("Copy of %d elements over %d: moved a destination that had room", n, dstLen)
			}
		}
	}
}

// Reserve keeps the elements, makes the capacity, and leaves zeros in the
// room; a slice with the capacity already is returned as it is.
func TestReserveKeepsAndClears(t *testing.T) {
	s := numbered(Piece + 3)
	got := Reserve(s, 5*Piece+1)
	if !slices.Equal(got, s) || cap(got) < 5*Piece+1 {
		t.Fatalf("Reserve: len %d cap %d, or other elements", len(got), cap(got))
	}
	for i, v := range got[len(got):cap(got)] {
		if v != 0 {
			t.Fatalf("room element %d is %d, want 0", i, v)
		}
	}
	if again := Reserve(got, 5*Piece); &again[0] != &got[0] {
		t.Fatal("Reserve moved a slice that had the capacity")
	}
}

// Clear zeroes every element, across piece boundaries.
func TestClearIsClear(t *testing.T) {
	s := numbered(3*Piece + 5)
	Clear(s[1:])
	if s[0] != 1 || slices.ContainsFunc(s[1:], func(v int32) bool { return v != 0 }) {
		t.Fatal("Clear left elements, or cleared outside its slice")
	}
}

// Grow makes the room asked for, and growing one element at a time moves
// the slice only a logarithmic number of times.
func TestGrowIsAmortized(t *testing.T) {
	var s []record
	moves := 0
	for i := range 200_000 {
		before := cap(s)
		s = Grow(s, 1)
		if cap(s)-len(s) < 1 {
			t.Fatalf("Grow(s, 1) left no room at %d", i)
		}
		if cap(s) != before {
			moves++
		}
		s = append(s, record{a: int64(i)})
	}
	for i := range s {
		if s[i].a != int64(i) {
			t.Fatalf("element %d is %d after growing", i, s[i].a)
		}
	}
	if moves > 60 {
		t.Fatalf("%d moves to grow to %d elements one at a time", moves, len(s))
	}
}

// BenchmarkStopWhileReserving: how long a garbage collection takes
// (runtime.GC, the worst of each op's ten) while another goroutine
// reserves 300 MB of fresh memory — what every goroutine of a node waits
// if the reserving loop cannot be preempted. Reported as worst-gc-ms. On
// the 2-core Xeon dev VM: 47–211 ms with loops calling copy and clear
// themselves, 3–33 ms through copyPiece and clearPiece (three runs each,
// -benchtime 3x).
func BenchmarkStopWhileReserving(b *testing.B) {
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		for !stop.Load() {
			_ = Reserve([]record(nil), 3_000_000)
		}
	}()
	var worst time.Duration
	for b.Loop() {
		for range 10 {
			start := time.Now()
			runtime.GC()
			worst = max(worst, time.Since(start))
			time.Sleep(20 * time.Millisecond)
		}
	}
	stop.Store(true)
	<-done
	b.ReportMetric(float64(worst)/float64(time.Millisecond), "worst-gc-ms")
}
