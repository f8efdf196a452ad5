package disruptor

import "sync/atomic"

// cacheLinePad keeps hot atomics on their own cache line (128 bytes covers
// adjacent-line prefetch on x86).
type cacheLinePad [120]byte

// Sequence is a padded atomic int64: a producer cursor or a consumer's
// progress. Padding keeps two sequences written by different goroutines
// off the same cache line.
type Sequence struct {
	_ cacheLinePad
	v atomic.Int64
	_ cacheLinePad
}

// InitialSequence is the value of a sequence that has seen nothing.
const InitialSequence = -1

// NewSequence returns a sequence set to v.
func NewSequence(v int64) *Sequence {
	s := &Sequence{}
	s.v.Store(v)
	return s
}

// Load returns the sequence.
func (s *Sequence) Load() int64 { return s.v.Load() }

// Store sets the sequence.
func (s *Sequence) Store(v int64) { s.v.Store(v) }

func minSequence(seqs []*Sequence, floor int64) int64 {
	m := floor
	for _, s := range seqs {
		if v := s.v.Load(); v < m {
			m = v
		}
	}
	return m
}
