//go:build !race

package disruptor

import "sync/atomic"

// storeRelease stores v into *a with release ordering only: a MOV, where
// a.Store is an XCHG that also drains the store buffer. The value of an
// atomic.Int64 is its first word (its other fields take no space);
// TestStoreRelease checks it.
//
//go:noescape
func storeRelease(a *atomic.Int64, v int64)

// storeRelease32 is storeRelease for an atomic.Int32.
//
//go:noescape
func storeRelease32(a *atomic.Int32, v int32)
