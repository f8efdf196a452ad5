//go:build linux && !race

package disruptor

import (
	"syscall"
	"unsafe"
)

// allocSlots maps n slots of anonymous memory outside the Go heap and
// returns them with the function that unmaps them. Slot types are
// pointer-free, so the garbage collector has nothing to find there; kept
// off the heap, a ring no longer counts toward the collector's heap goal,
// which GOGC sets as a multiple of the live heap. With gigabytes of rings
// on the heap, the goal was gigabytes above the live data: the heap grew
// into fresh pages for all of it between collections, and a cluster
// leader took a page fault for nearly every 4 KiB it allocated (55 k
// faults in 10 s at 200 k orders/s: a fifth of its CPU, profiled as the
// memmove that touched them).
//
// Race-detector builds keep rings on the heap (slots_heap.go): the race
// detector checks accesses to Go memory only, and the rings are where the
// disruptor's ordering most needs checking.
func allocSlots[T any](n int) ([]T, func()) {
	var zero T
	size := int(unsafe.Sizeof(zero)) * n
	if size == 0 {
		return make([]T, n), nil
	}
	mem, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANONYMOUS)
	if err != nil {
		return make([]T, n), nil // no address space to spare: the heap will do
	}
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(mem))), n), func() { _ = syscall.Munmap(mem) }
}
