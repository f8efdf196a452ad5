package disruptor

import (
	"fmt"
	"reflect"
	"runtime"
	"unsafe"
)

// Ring is a pre-allocated array of slots indexed by sequence: the slot of
// sequence s is s & (Size-1). It holds no synchronization of its own; a
// Sequencer says who may touch which slot when.
type Ring[T any] struct {
	slots []T
	mask  int64
	// ahead is how many slots ahead of the one it fills ForWrite
	// prefetches; 0 on a ring too small to be worth it. ForWrite
	// prefetches when seq&prefetchMask == 0: once per cache line
	// (prefetchMask+1 slots share a line), or, on a ring with ahead 0,
	// only at sequence 0, where prefetchAhead does nothing.
	ahead, prefetchMask int64
	slotBytes           uintptr
}

// prefetchBytes is how far ahead of the slot it fills a producer's
// ForWrite prefetches. Measured with BenchmarkThroughput on the 2-core
// dev machine (8-byte slots, interleaved runs): 256 to 512 B ahead
// measured alike (SPSC 13.5–16 ns/op); 1 and 2 KiB less well (20–26).
const prefetchBytes = 512

// cacheLine is the cache line size of the CPUs ringex runs on.
const cacheLine = 64

// NewRing allocates a ring of size slots, size a power of two. The slot
// type must be pointer-free (fixed-size arrays, integers, structs of
// those): on Linux the slots live outside the Go heap (see allocSlots),
// where the garbage collector would not see a pointer.
//
// The memory is released when the Ring becomes unreachable, so a slot
// pointer from At must not outlive its Ring.
func NewRing[T any](size int) (*Ring[T], error) {
	if err := checkSize(size); err != nil {
		return nil, err
	}
	if t := reflect.TypeFor[T](); hasPointers(t) {
		return nil, fmt.Errorf("%w: %v", ErrPointerSlot, t)
	}
	slots, release := allocSlots[T](size)
	r := &Ring[T]{slots: slots, mask: int64(size - 1), prefetchMask: -1}
	var zero T
	if r.slotBytes = unsafe.Sizeof(zero); r.slotBytes > 0 && r.Bytes() >= 4*prefetchBytes {
		r.ahead = max(1, prefetchBytes/int64(r.slotBytes))
		lineSlots := int64(1)
		for lineSlots*2*int64(r.slotBytes) <= cacheLine {
			lineSlots *= 2
		}
		r.prefetchMask = lineSlots - 1
	}
	if release != nil {
		runtime.AddCleanup(r, func(release func()) { release() }, release)
	}
	return r, nil
}

func checkSize(size int) error {
	if size < 1 || size&(size-1) != 0 || size > 1<<40 {
		return fmt.Errorf("%w: %d", ErrSize, size)
	}
	return nil
}

// hasPointers reports whether values of t hold anything the garbage
// collector must scan.
func hasPointers(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Array:
		return t.Len() > 0 && hasPointers(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if hasPointers(t.Field(i).Type) {
				return true
			}
		}
		return false
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return false
	default:
		return true
	}
}

// At returns the slot of sequence seq.
func (r *Ring[T]) At(seq int64) *T { return &r.slots[seq&r.mask] }

// ForWrite returns the slot of sequence seq, which the caller claimed and
// is about to fill, and asks the CPU to start taking ownership of the
// memory a little further on, which this producer fills next.
//
// A producer's publish waits for its slot writes, and the cache line of a
// slot a consumer on another core has read must first come back from that
// core: on the 2-core dev machine that transfer, once per line of slots,
// was most of the cost of a single-slot publish (BenchmarkThroughput SPSC
// 35–42 ns/op with At, 12–16 with ForWrite). Prefetched ahead, the transfer
// happens while the producer works on the slots before. It is only a
// hint: prefetching a slot a consumer is still reading changes nothing in
// it. Consumers use At: a consumer prefetching for write would take lines
// away from the producer.
func (r *Ring[T]) ForWrite(seq int64) *T {
	if seq&r.prefetchMask == 0 { // kept this small, ForWrite inlines
		r.prefetchAhead(seq)
	}
	return &r.slots[seq&r.mask]
}

// ForWriteRange returns the slots of sequences lo..hi, which the caller
// claimed and is about to fill, as one slice, or two when the range wraps
// past the ring's end (then second holds the slots from index 0); hi-lo+1
// must not exceed Size. A batch producer filling slices skips ForWrite's
// per-slot index and prefetch checks: measured on the 2-core dev machine
// (Turin-like VM), BenchmarkThroughput/SPSC-batch16 ring 3.0–4.0 ns/op
// with ForWrite per slot, 2.4–2.8 with ForWriteRange (runs alternated).
// Slots are large on the node's rings, where copying them costs far more
// than the checks, so its producers use ForWrite.
//
// Unlike ForWrite it prefetches nothing: a producer filling whole lines
// in order is what the CPU's own stream prefetcher follows, and the
// software prefetch (a call and a loop per claim) only added its cost.
// Measured on the Xeon VM (2026-12-03, three alternating rounds of three
// runs): SPSC-batch16 ring 2.2–2.7 ns/op without, 2.7–3.9 prefetching
// 512 B ahead (1, 2 and 4 KiB alike); chan ÷ ring 38–41 against 26–35.
func (r *Ring[T]) ForWriteRange(lo, hi int64) (first, second []T) {
	i, j := lo&r.mask, hi&r.mask
	if i <= j {
		return r.slots[i : j+1 : j+1], nil
	}
	return r.slots[i:], r.slots[: j+1 : j+1]
}

// prefetchAhead prefetches every cache line of the slot ahead slots after
// seq for writing. Consecutive slots are contiguous, so stepping one line
// at a time from each slot's start reaches every line of the ring.
func (r *Ring[T]) prefetchAhead(seq int64) {
	if r.ahead == 0 {
		return
	}
	p := uintptr(unsafe.Pointer(&r.slots[(seq+r.ahead)&r.mask]))
	for off := uintptr(0); off < r.slotBytes; off += cacheLine {
		prefetchForWrite(p + off)
	}
}

// Size is the number of slots.
func (r *Ring[T]) Size() int { return len(r.slots) }

// Bytes is the ring's memory: slots × slot size.
func (r *Ring[T]) Bytes() int64 {
	return int64(len(r.slots)) * int64(r.slotBytes)
}

// Populate maps all of the ring's memory now instead of on first use,
// without writing to it, so it is safe while the ring is in use. A fresh
// ring is mapped lazily: until the producer has wrapped once, every new
// page it reaches costs a page fault inside the publish path (measured on
// the 2-core dev machine: 2^24 input slots, 448k orders/s before the first
// wrap, 693k with the ring mapped). On Linux it also asks for transparent
// huge pages, which spares the TLB and makes mapping a few GiB take
// seconds rather than tens of seconds of 4 KiB faults. It reports false
// where the kernel cannot populate (not Linux, or Linux before 5.14).
func (r *Ring[T]) Populate() bool {
	if len(r.slots) == 0 {
		return true
	}
	return populate(unsafe.Slice((*byte)(unsafe.Pointer(&r.slots[0])), r.Bytes()))
}

func uintptrOf(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }
