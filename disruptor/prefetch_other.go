//go:build !amd64

package disruptor

// prefetchForWrite is amd64-only; elsewhere writes take their cache misses
// where they happen.
func prefetchForWrite(uintptr) {}
