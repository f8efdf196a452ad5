package disruptor

import (
	"os"
	"syscall"
	"testing"
	"unsafe"
)

// resident counts the pages of b the kernel has mapped (mincore).
func resident(t *testing.T, b []byte) int {
	t.Helper()
	page := uintptr(os.Getpagesize())
	start := uintptrOf(b) &^ (page - 1)
	end := uintptrOf(b) + uintptr(len(b))
	vec := make([]byte, (end-start+page-1)/page)
	if _, _, errno := syscall.Syscall(syscall.SYS_MINCORE, start, end-start, uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
		t.Skipf("mincore: %v", errno)
	}
	n := 0
	for _, v := range vec {
		n += int(v & 1)
	}
	return n
}

// Populate maps the whole ring (every page resident, whatever the heap
// held before), and the slots still read as zero. 80 MiB: three chunks,
// the last one partial, populated from several threads.
func TestPopulateMapsTheRing(t *testing.T) {
	r, err := NewRing[[320]byte](1 << 18)
	if err != nil {
		t.Fatal(err)
	}
	mem := unsafe.Slice((*byte)(unsafe.Pointer(&r.slots[0])), r.Bytes())
	if !r.Populate() {
		t.Skip("the kernel cannot populate (MADV_POPULATE_WRITE)")
	}
	pages := (len(mem) + os.Getpagesize() - 1) / os.Getpagesize()
	if got := resident(t, mem); got < pages {
		t.Fatalf("%d of the ring's %d pages resident after Populate", got, pages)
	}
	for _, seq := range []int64{0, 1, 4095, 1<<18 - 1} {
		if *r.At(seq) != ([320]byte{}) {
			t.Fatalf("slot %d not zero after Populate", seq)
		}
	}
}
