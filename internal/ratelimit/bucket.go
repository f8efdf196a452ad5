package ratelimit

// Bucket is a token bucket refilled at PerSec tokens per second.
type Bucket struct {
	perSec float64
	tokens float64
	last   int64 // Unix ns of the last refill
}

// New returns a full bucket for perSec events per second, as of now.
func New(perSec float64, now int64) Bucket {
	return Bucket{perSec: perSec, tokens: perSec, last: now}
}

// Take spends one token for an event at now and reports whether there
// was one.
func (b *Bucket) Take(now int64) bool {
	if now > b.last {
		b.tokens += float64(now-b.last) * b.perSec / 1e9
		if b.tokens > b.perSec {
			b.tokens = b.perSec
		}
		b.last = now
	}
	// Invariant: 0 <= tokens <= perSec.
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
