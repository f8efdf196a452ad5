package disruptor

import "errors"

// Sentinel errors. Wrapped errors keep these as their cause: test with
// errors.Is.
var (
	// ErrFull is returned by TryNext when the claim would overwrite a slot
	// some consumer has not finished.
	ErrFull = errors.New("disruptor: ring full")
	// ErrRefused is returned by NextUnless when its refuse function says
	// the producer may no longer claim; nothing is claimed.
	ErrRefused = errors.New("disruptor: claim refused")
	// ErrHalted is returned by claims and waits on a halted or drained
	// pipeline.
	ErrHalted = errors.New("disruptor: halted")
	// ErrClaimSize is returned for a claim of fewer than one slot or more
	// slots than the ring holds: such a claim could never succeed.
	ErrClaimSize = errors.New("disruptor: claim larger than ring")
	// ErrSize is returned for a ring size that is not a power of two.
	ErrSize = errors.New("disruptor: size must be a power of two")
	// ErrPointerSlot is returned by NewRing for a slot type that holds
	// pointers (the garbage collector would scan the whole ring).
	ErrPointerSlot = errors.New("disruptor: slot type contains pointers")
	// ErrConsumer is returned for an invalid consumer: no handler, an
	// upstream from another group, or one removed while others depend on
	// it.
	ErrConsumer = errors.New("disruptor: invalid consumer")
	// ErrStarted is returned by a second Start.
	ErrStarted = errors.New("disruptor: group already started")
	// ErrHandler wraps a handler's panic or returned error.
	ErrHandler = errors.New("disruptor: handler failed")
)
