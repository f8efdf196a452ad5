package disruptor

import (
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
)

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
	// And from one thread per processor: a guest whose hypervisor backs
	// a page only when it is first touched (and takes back what the
	// guest freed) faults slowly — on the 2-core Xeon dev VM, 5 GiB took
	// 15.5 s from one thread and 9.3 s from two (fresh memory each time;
	// memory touched moments before: 0.8 and 0.4 s).
	const chunk = 32 << 20
	mem = mem[lo:]
	chunks := (len(mem) + chunk - 1) / chunk
	var next atomic.Int64
	var failed atomic.Bool
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), chunks) {
		wg.Go(func() {
			for !failed.Load() {
				i := int(next.Add(1) - 1)
				if i >= chunks {
					return
				}
				if syscall.Madvise(mem[i*chunk:min((i+1)*chunk, len(mem))], madvPopulateWrite) != nil {
					failed.Store(true)
				}
			}
		})
	}
	wg.Wait()
	return !failed.Load()
}
