package pieces

// Piece is how many elements are copied or cleared between two
// preemption points: ~0.4 MB of a node's orders.
const Piece = 4096

// Copy copies src over dst (replaced if short) and returns dst with
// len(src) elements.
func Copy[T any](dst, src []T) []T {
	if cap(dst) < len(src) {
		// Not slices.Grow: it appends to what dst holds, which moves it
		// all with one memmove, and clears the rest with one memclr.
		// What dst held is overwritten here, so nothing is moved; a large
		// make zeroes in preemptible chunks, or takes fresh zero pages.
		dst = make([]T, len(src))
	}
	dst = dst[:len(src)]
	for i := 0; i < len(src); i += Piece {
		copyPiece(dst[i:], src[i:min(i+Piece, len(src))])
	}
	return dst
}

// Reserve grows s's capacity to at least n elements and writes zeros over
// the room after len(s), so that its pages are mapped.
func Reserve[T any](s []T, n int) []T {
	if cap(s) >= n {
		return s
	}
	grown := Copy(make([]T, 0, n), s)
	Clear(grown[len(grown):cap(grown)])
	return grown
}

// Clear writes zeros over s.
func Clear[T any](s []T) {
	for i := 0; i < len(s); i += Piece {
		clearPiece(s[i:min(i+Piece, len(s))])
	}
}

// Grow makes room for more elements after len(s), as slices.Grow does —
// a quarter more than the capacity at least, so that growing step by
// step stays linear — with the room written like Reserve's.
func Grow[T any](s []T, more int) []T {
	if cap(s)-len(s) >= more {
		return s
	}
	return Reserve(s, max(len(s)+more, cap(s)+cap(s)/4))
}

// copyPiece and clearPiece are the preemption points (contract 1).
//
//go:noinline
func copyPiece[T any](dst, src []T) { copy(dst, src) }

//go:noinline
func clearPiece[T any](s []T) { clear(s) }
