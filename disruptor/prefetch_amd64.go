package disruptor

// prefetchForWrite asks the CPU to bring the cache line holding addr into
// this core's cache, owned for writing. A hint: no fault, no data change,
// whatever addr is.
func prefetchForWrite(addr uintptr)
