// Package pieces copies, clears and grows large slices a piece at a time,
// so that the goroutine doing it can be stopped between any two pieces.
//
// One copy or clear of a large slice is one call to the runtime's memmove
// or memclr: assembly, where a preemption signal is refused, holding its
// thread for as long as the kernel takes to map the pages it writes
// (hundreds of milliseconds for hundreds of megabytes of fresh memory on
// the 2-core Xeon dev VM). Meanwhile the runtime cannot stop the goroutine
// — and a garbage collection that must stop the world stops every other
// goroutine until it can: a node whose snapshot writer reserved its state
// copies so held every goroutine for up to 569 ms (execution trace), its
// encoding of a snapshot into a buffer growing append by append for
// 150–370 ms at a time.
//
// Contract:
//
//  1. Every function here does at most Piece elements of copying or
//     clearing between two points where a requested preemption happens:
//     calls to a function that is not inlined and has a stack check (a
//     loop that calls copy or clear itself has none; it is stopped only by
//     a signal that happens to land between two pieces).
//  2. Results are what the plain operations give: Clear is clear; Copy
//     is copy into dst, or into a new slice when dst is too short (what
//     dst held is not moved: it is overwritten); Reserve and Grow are
//     slices.Grow with the new room written (zeros), so its pages are
//     mapped before use. None of them calls slices.Grow or append to grow
//     a slice: both move the old elements with one memmove and clear the
//     new room with one memclr.
//  3. Nothing is shared: the functions are safe on any goroutine that
//     owns the slices it passes.
package pieces
