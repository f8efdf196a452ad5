package disruptor

import "sync/atomic"

// cacheLinePad keeps a hot atomic on its own cache line. 128 bytes covers
// the adjacent-line prefetcher of x86, which pulls cache lines in pairs.
type cacheLinePad [128 - 8]byte

// Sequence is a padded atomic int64: a producer cursor or a consumer's
// progress. The padding keeps two sequences written by different
// goroutines off the same cache line (no false sharing).
type Sequence struct {
	_ cacheLinePad
	v atomic.Int64
	_ cacheLinePad
}

// InitialSequence is the value of a sequence that has seen nothing:
// sequences count from 0.
const InitialSequence = -1

// NewSequence returns a sequence set to v.
func NewSequence(v int64) *Sequence {
	s := &Sequence{}
	s.v.Store(v)
	return s
}

// Load returns the sequence.
func (s *Sequence) Load() int64 { return s.v.Load() }

// Store sets the sequence. Only the sequence's owner stores.
func (s *Sequence) Store(v int64) { s.v.Store(v) }

// publish sets the sequence with a release store: cheaper than Store, but
// a load that follows it may be performed before other cores see it. The
// owner's next wake therefore relies on the wait strategy's recheck (see
// signal), and a producer fences before it reads the gating sequences
// (see SingleProducer.fence).
func (s *Sequence) publish(v int64) { storeRelease(&s.v, v) }

// minSequence returns the smallest of floor and every sequence in seqs.
func minSequence(seqs []*Sequence, floor int64) int64 {
	m := floor
	for _, s := range seqs {
		if v := s.v.Load(); v < m {
			m = v
		}
	}
	return m
}
