package disruptor

import (
	"errors"
	"fmt"
	"os"
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
		a [16]byte
		b int64
		c [2]struct{ x, y uint32 }
	}
	if _, err := NewRing[flat](8); err != nil {
		t.Fatalf("pointer-free slot rejected: %v", err)
	}
	check := func(name string, err error) {
		t.Helper()
		if !errors.Is(err, ErrPointerSlot) {
			t.Errorf("%s: %v, want ErrPointerSlot", name, err)
		}
	}
	_, err := NewRing[*int](8)
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

// Populate maps the whole ring: the process's resident memory grows by
// about the ring's size, and the slots still read as zero.
func TestPopulateMapsTheRing(t *testing.T) {
	rss := func() int64 {
		b, err := os.ReadFile("/proc/self/statm")
		if err != nil {
			t.Skip("no /proc/self/statm")
		}
		var size, resident int64
		fmt.Sscan(string(b), &size, &resident)
		return resident * int64(os.Getpagesize())
	}
	r, err := NewRing[[256]byte](1 << 16) // 16 MiB
	if err != nil {
		t.Fatal(err)
	}
	before := rss()
	if !r.Populate() {
		t.Skip("the kernel cannot populate (MADV_POPULATE_WRITE)")
	}
	if grown := rss() - before; grown < r.Bytes()*3/4 {
		t.Fatalf("resident memory grew %d bytes for a %d-byte ring", grown, r.Bytes())
	}
	for _, seq := range []int64{0, 1, 4095, 1<<16 - 1} {
		if *r.At(seq) != ([256]byte{}) {
			t.Fatalf("slot %d not zero after Populate", seq)
		}
	}
}
