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
	// In chunks, so the process's memory-map lock is let go between
	// them: one call over a multi-GiB ring held it for seconds, and any
	// thread that needed it (the Go heap growing, say) waited that long.
	const chunk = 32 << 20
	for mem = mem[lo:]; len(mem) > 0; {
		n := min(chunk, len(mem))
		if syscall.Madvise(mem[:n], madvPopulateWrite) != nil {
			return false
		}
		mem = mem[n:]
	}
	return true
}
