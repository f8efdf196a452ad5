package disruptor

import (
	"fmt"
	"reflect"
	"unsafe"
)

// Ring is a pre-allocated array of slots indexed by sequence: the slot of
// sequence s is s & (Size-1). It holds no synchronization of its own; a
// Sequencer says who may touch which slot when.
type Ring[T any] struct {
	slots []T
	mask  int64
}

// NewRing allocates a ring of size slots, size a power of two. The slot
// type must be pointer-free (fixed-size arrays, integers, structs of
// those) so the garbage collector never scans the ring.
func NewRing[T any](size int) (*Ring[T], error) {
	if err := checkSize(size); err != nil {
		return nil, err
	}
	if t := reflect.TypeFor[T](); hasPointers(t) {
		return nil, fmt.Errorf("%w: %v", ErrPointerSlot, t)
	}
	return &Ring[T]{slots: make([]T, size), mask: int64(size - 1)}, nil
}

func checkSize(size int) error {
	if size < 1 || size&(size-1) != 0 || size > 1<<40 {
		return fmt.Errorf("%w: %d", ErrSize, size)
	}
	return nil
}

// hasPointers reports whether values of t hold anything the garbage
// collector must scan.
func hasPointers(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Array:
		return t.Len() > 0 && hasPointers(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if hasPointers(t.Field(i).Type) {
				return true
			}
		}
		return false
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return false
	default:
		return true
	}
}

// At returns the slot of sequence seq.
func (r *Ring[T]) At(seq int64) *T { return &r.slots[seq&r.mask] }

// Size is the number of slots.
func (r *Ring[T]) Size() int { return len(r.slots) }

// Bytes is the ring's memory: slots × slot size.
func (r *Ring[T]) Bytes() int64 {
	var zero T
	return int64(len(r.slots)) * int64(unsafe.Sizeof(zero))
}
