package gateway

import "github.com/ringex/ringex/internal/ratelimit"

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
	reject, disconnect ratelimit.Bucket
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
	r.reject = ratelimit.New(r.rejectPerSec, now)
	r.disconnect = ratelimit.New(r.disconnectPerSec, now)
	return r
}

// newLimiter returns a limiter at acct's rates: its own where it sets
// them, else the gateway's.
func (g *Gateway) newLimiter(acct Account, now int64) *rateLimiter {
	rejectRate, disconnectRate := g.cfg.RejectRate, g.cfg.DisconnectRate
	if acct.RejectRate > 0 {
		rejectRate = acct.RejectRate
	}
	if acct.DisconnectRate > 0 {
		disconnectRate = acct.DisconnectRate
	}
	return newRateLimiter(rejectRate, disconnectRate, now)
}

// take accounts one message received at now.
func (r *rateLimiter) take(now int64) verdict {
	if r.disconnectPerSec > 0 && !r.disconnect.Take(now) {
		return disconnectSession
	}
	if r.rejectPerSec > 0 && !r.reject.Take(now) {
		return rejectMsg
	}
	return allow
}
