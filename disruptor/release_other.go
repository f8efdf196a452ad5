//go:build !amd64 || race

package disruptor

import "sync/atomic"

// storeRelease is a sequentially consistent store where no release-only
// store is written (other architectures), and under the race detector,
// which does not see stores made in assembly: it would report every slot
// a consumer reads as a race with the producer that wrote it.
func storeRelease(a *atomic.Int64, v int64) { a.Store(v) }

// storeRelease32 is storeRelease for an atomic.Int32.
func storeRelease32(a *atomic.Int32, v int32) { a.Store(v) }
