package gateway

// rateLimiter is a per-session token bucket with two thresholds: messages
// above the reject rate are rejected, and a session that keeps sending
// above the disconnect rate is disconnected. Time is passed in (Unix
// nanoseconds, the frame's receive time), so the limiter is deterministic
// and testable.
//
// Owned by the session's reader goroutine.
type rateLimiter struct {
	rejectPerSec     float64
	disconnectPerSec float64
	// Two buckets refilled at their own rates, each holding at most one
	// second's worth of messages (the burst allowance).
	reject, disconnect bucket
}

type bucket struct {
	tokens float64
	last   int64
}

// verdict of one message.
type verdict uint8

const (
	allow verdict = iota
	rejectMsg
	disconnectSession
)

// newRateLimiter returns a limiter; a non-positive rate disables that
// threshold.
func newRateLimiter(rejectPerSec, disconnectPerSec int, now int64) *rateLimiter {
	r := &rateLimiter{rejectPerSec: float64(rejectPerSec), disconnectPerSec: float64(disconnectPerSec)}
	r.reject = bucket{tokens: r.rejectPerSec, last: now}
	r.disconnect = bucket{tokens: r.disconnectPerSec, last: now}
	return r
}

// take accounts one message received at now.
func (r *rateLimiter) take(now int64) verdict {
	if r.disconnectPerSec > 0 && !r.disconnect.take(now, r.disconnectPerSec) {
		return disconnectSession
	}
	if r.rejectPerSec > 0 && !r.reject.take(now, r.rejectPerSec) {
		return rejectMsg
	}
	return allow
}

func (b *bucket) take(now int64, perSec float64) bool {
	if now > b.last {
		b.tokens += float64(now-b.last) * perSec / 1e9
		if b.tokens > perSec {
			b.tokens = perSec
		}
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
