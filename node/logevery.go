package node

import (
	"sync/atomic"
	"time"
)

// logEvery lets one log line of a kind through per period: a line an
// outsider can cause (a scanner guessing admin tokens, a market-data
// connection subscribing to a book it cannot take, which needs no logon by default)
// would otherwise be one line per request, thousands a second. The line
// let through says how many were not logged since the last one.
type logEvery struct {
	loggedAt atomic.Int64 // Unix ns of the last line let through
	unlogged atomic.Int64 // lines not logged since
}

// allow reports whether a line may be logged now, at most one per every,
// and if so how many were held back before it.
func (l *logEvery) allow(every time.Duration) (ok bool, heldBack int64) {
	now, last := time.Now().UnixNano(), l.loggedAt.Load()
	if now-last < int64(every) || !l.loggedAt.CompareAndSwap(last, now) {
		l.unlogged.Add(1)
		return false, 0
	}
	return true, l.unlogged.Swap(0)
}
