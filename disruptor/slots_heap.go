//go:build !linux || race

package disruptor

// allocSlots allocates n slots on the Go heap (see slots_mmap.go for why
// Linux builds without the race detector map them instead).
func allocSlots[T any](n int) ([]T, func()) { return make([]T, n), nil }
