package testkit

import "runtime"

// AllocatedBy is the bytes f allocates: TotalAlloc's growth over it,
// which no collection lowers. Other goroutines' allocations in the
// meantime are counted too: a bound on it is an upper bound.
func AllocatedBy(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}
