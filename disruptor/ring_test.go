package disruptor

import (
	"errors"
	"testing"
)

func TestNewRingSize(t *testing.T) {
	for _, tc := range []struct {
		size int
		ok   bool
	}{{1, true}, {2, true}, {1024, true}, {0, false}, {-4, false}, {3, false}, {12, false}} {
		_, err := NewRing[int64](tc.size)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrSize)) {
			t.Errorf("NewRing(%d) = %v", tc.size, err)
		}
		_, err = NewSingleProducer(tc.size, Adaptive)
		if (err == nil) != tc.ok {
			t.Errorf("NewSingleProducer(%d) = %v", tc.size, err)
		}
		_, err = NewMultiProducer(tc.size, Adaptive)
		if (err == nil) != tc.ok {
			t.Errorf("NewMultiProducer(%d) = %v", tc.size, err)
		}
	}
}

func TestNewRingRejectsPointers(t *testing.T) {
	type flat struct {
		A [16]byte
		B int64
		C [2]struct{ X, Y uint32 }
	}
	r, err := NewRing[flat](8)
	if err != nil {
		t.Fatalf("pointer-free slot rejected: %v", err)
	}
	r.At(3).C[1].Y = 7
	if r.At(11).C[1].Y != 7 { // slot 11 is slot 3 one lap later
		t.Fatal("slot index is not sequence & mask")
	}
	check := func(name string, err error) {
		t.Helper()
		if !errors.Is(err, ErrPointerSlot) {
			t.Errorf("%s: %v, want ErrPointerSlot", name, err)
		}
	}
	_, err = NewRing[*int](8)
	check("*int", err)
	_, err = NewRing[string](8)
	check("string", err)
	_, err = NewRing[struct {
		n int
		b []byte
	}](8)
	check("struct with slice", err)
	_, err = NewRing[[4]any](8)
	check("[4]any", err)
}

func TestRingIndexAndBytes(t *testing.T) {
	r, err := NewRing[[32]byte](16)
	if err != nil {
		t.Fatal(err)
	}
	if r.Bytes() != 16*32 || r.Size() != 16 {
		t.Fatalf("Bytes %d Size %d", r.Bytes(), r.Size())
	}
	if r.At(3) != r.At(3+16) || r.At(3) != r.At(3+16*1000) || r.At(3) == r.At(4) {
		t.Fatal("slot of sequence s is not s & mask")
	}
}

// ForWrite is At for a producer: the same slot for every sequence, and a
// prefetch once per cache line of slots, on rings large enough to have one
// ahead.
func TestForWriteIsAt(t *testing.T) {
	// The mask is slots per cache line, minus one.
	checkForWrite(t, mustRing[int64](t, 1024), 7)
	checkForWrite(t, mustRing[[24]byte](t, 1024), 1)
	checkForWrite(t, mustRing[[64]byte](t, 64), 0)
	checkForWrite(t, mustRing[[256]byte](t, 64), 0)
	checkForWrite(t, mustRing[int64](t, 16), -1) // 128 bytes: nothing to prefetch ahead
}

func mustRing[T any](t *testing.T, size int) *Ring[T] {
	t.Helper()
	r, err := NewRing[T](size)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func checkForWrite[T any](t *testing.T, r *Ring[T], prefetchMask int64) {
	t.Helper()
	if r.prefetchMask != prefetchMask {
		t.Errorf("%d slots of %d bytes: prefetchMask %d, want %d", r.Size(), r.slotBytes, r.prefetchMask, prefetchMask)
	}
	if ahead := r.ahead * int64(r.slotBytes); (prefetchMask >= 0) != (ahead > 0) || ahead > prefetchBytes {
		t.Errorf("%d slots of %d bytes: prefetches %d bytes ahead", r.Size(), r.slotBytes, ahead)
	}
	for seq := int64(0); seq < 3*int64(r.Size())+5; seq++ {
		if r.ForWrite(seq) != r.At(seq) {
			t.Fatalf("ForWrite(%d) is not At(%d)", seq, seq)
		}
	}
}

// ForWriteRange is ForWrite for a whole claim: the slots of lo..hi in
// order, split in two only where the range wraps past the ring's end, and
// slices that cannot grow into slots outside the range.
func TestForWriteRange(t *testing.T) {
	checkForWriteRange(t, mustRing[int64](t, 64))
	checkForWriteRange(t, mustRing[[24]byte](t, 32))
	checkForWriteRange(t, mustRing[[256]byte](t, 16))
	checkForWriteRange(t, mustRing[int64](t, 16)) // nothing to prefetch ahead
	checkForWriteRange(t, mustRing[int64](t, 1))
}

func checkForWriteRange[T any](t *testing.T, r *Ring[T]) {
	t.Helper()
	size := int64(r.Size())
	for lo := int64(0); lo < 3*size; lo++ {
		for n := int64(1); n <= size; n++ {
			hi := lo + n - 1
			first, second := r.ForWriteRange(lo, hi)
			if int64(len(first)+len(second)) != n {
				t.Fatalf("%d slots: ForWriteRange(%d, %d) has %d+%d slots", size, lo, hi, len(first), len(second))
			}
			if wraps := lo&(size-1)+n > size; wraps != (len(second) > 0) {
				t.Fatalf("%d slots: ForWriteRange(%d, %d): second has %d slots", size, lo, hi, len(second))
			}
			if cap(first) != len(first) || cap(second) != len(second) {
				t.Fatalf("%d slots: ForWriteRange(%d, %d) can grow past the range", size, lo, hi)
			}
			s := lo
			for _, part := range [][]T{first, second} {
				for i := range part {
					if &part[i] != r.At(s) {
						t.Fatalf("%d slots: ForWriteRange(%d, %d): slot for %d is not At(%d)", size, lo, hi, s, s)
					}
					s++
				}
			}
		}
	}
}
