package disruptor

import "syscall"

// madvPopulateWrite is MADV_POPULATE_WRITE (Linux 5.14): fault in every
// page of a range, writable, in one call.
const madvPopulateWrite = 23

// populate asks for huge pages over the aligned middle of mem and faults
// all of it in without writing to it. It reports false when the kernel
// cannot populate (older than 5.14).
func populate(mem []byte) bool {
	const huge = 2 << 20
	start := (huge - int(uintptrOf(mem))%huge) % huge
	if end := len(mem) - (len(mem)-start)%huge; start < end {
		_ = syscall.Madvise(mem[start:end], syscall.MADV_HUGEPAGE) // best effort
	}
	const page = 4096
	lo := (page - int(uintptrOf(mem))%page) % page
	if lo >= len(mem) {
		return false
	}
	return syscall.Madvise(mem[lo:], madvPopulateWrite) == nil
}
