package ratelimit

// Bucket is a token bucket refilled at perSec tokens per second up to
// burst tokens.
type Bucket struct {
	perSec float64
	burst  float64
	tokens float64
	last   int64 // Unix ns of the last refill
}

// New returns a full bucket for perSec events per second, as of now: a
// burst of one second's worth.
func New(perSec float64, now int64) Bucket {
	return NewBurst(perSec, perSec, now)
}

// NewBurst returns a full bucket of burst tokens refilled at perSec
// tokens per second, as of now.
func NewBurst(perSec, burst float64, now int64) Bucket {
	return Bucket{perSec: perSec, burst: burst, tokens: burst, last: now}
}

// Take spends one token for an event at now and reports whether there
// was one.
func (b *Bucket) Take(now int64) bool {
	if !b.Has(now) {
		return false
	}
	b.tokens--
	return true
}

// Has reports whether an event at now would get a token, without
// spending it.
func (b *Bucket) Has(now int64) bool {
	b.refill(now)
	return b.tokens >= 1
}

// Full reports whether the bucket has refilled to its burst by now: it
// remembers nothing a fresh bucket would not.
func (b *Bucket) Full(now int64) bool {
	b.refill(now)
	return b.tokens >= b.burst
}

// refill adds what has accrued since the last refill. A clock that steps
// back adds nothing, and the bucket refills from the new time on: kept
// at the old one, it refilled nothing until the clock was back there —
// for an hour after NTP set the clock back an hour, every session was
// refused past its burst and cut off for its rate.
func (b *Bucket) refill(now int64) {
	switch {
	case now > b.last:
		b.tokens += float64(now-b.last) * b.perSec / 1e9
		if b.tokens > b.burst {
			b.tokens = b.burst
		}
		b.last = now
	case now < b.last-int64(stepBack):
		// A clock stepped back, not stamps of concurrent callers
		// arriving out of order (those must not refill an interval
		// twice): refill from the new time on.
		b.last = now
	}
	// Invariant: 0 <= tokens <= burst.
}

// stepBack is how far before the last refill a now must be to count as a
// clock stepped back rather than a caller's stamp taken before a lock.
const stepBack = 1e9 // 1 s, in ns
