package disruptor

import (
	"errors"
	"fmt"
)

// Sentinel errors.
var (
	// ErrFull is returned by TryNext when the claim would overwrite an
	// unconsumed slot.
	ErrFull = errors.New("disruptor: ring full")
	// ErrHalted is returned by waits on a halted group or sequencer.
	ErrHalted = errors.New("disruptor: halted")
	// ErrClaimTooLarge is returned for a claim of more slots than the ring
	// holds (or fewer than one).
	ErrClaimTooLarge = errors.New("disruptor: claim larger than ring")
	// ErrSize is returned for a ring size that is not a power of two >= 1.
	ErrSize = errors.New("disruptor: size must be a power of two")
)

// Ring is a pre-allocated array of slots indexed by sequence.
type Ring[T any] struct {
	slots []T
	mask  int64
}

// NewRing allocates a ring of size slots.
func NewRing[T any](size int) (*Ring[T], error) {
	if err := checkSize(size); err != nil {
		return nil, err
	}
	return &Ring[T]{slots: make([]T, size), mask: int64(size - 1)}, nil
}

func checkSize(size int) error {
	if size < 1 || size&(size-1) != 0 {
		return fmt.Errorf("%w: %d", ErrSize, size)
	}
	return nil
}

// At returns the slot of sequence seq.
func (r *Ring[T]) At(seq int64) *T { return &r.slots[seq&r.mask] }

// Size is the number of slots.
func (r *Ring[T]) Size() int { return len(r.slots) }
