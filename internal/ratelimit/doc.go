// Package ratelimit is a token bucket driven by the caller's clock, for
// limits that must be deterministic and testable: the time of each event
// is passed in (Unix nanoseconds) instead of read.
//
// Contract:
//
//  1. A bucket refills at perSec tokens per second and holds at most its
//     burst: one second's worth of events with New, any number with
//     NewBurst.
//  2. Take(now) spends one token if there is one and reports whether it
//     did; Has(now) reports whether Take would, spending nothing. A now
//     earlier than a previous one refills nothing (clocks that step back
//     cannot mint tokens); one more than a second earlier is a clock
//     stepped back, and the bucket refills from it on (nor can such a
//     step freeze it until the clock is back).
//  3. A Bucket is not safe for concurrent use: one goroutine owns it (a
//     session's or a subscriber's reader), or a lock guards it.
package ratelimit
