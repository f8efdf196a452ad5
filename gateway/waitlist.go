package gateway

import (
	"container/list"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Waitlist lists a port's connections that hold a slot without having
// done what makes it theirs — on the order-entry port, sent their Logon;
// on the market-data port, logged on (when it requires a logon) or
// subscribed — so that a connection over the port's limit can take the
// slot of one of them (Evict) instead of being refused. Clients do that
// as soon as they are connected: a connection still listed when the
// slots run out is most likely one kept open only to hold a slot, and
// from a few addresses, within their per-address bound, enough of them
// kept every client out for as long as they were renewed.
//
// A connection is listed at a level; Evict takes from the lowest level
// that lists any, the oldest connection there (by when it was accepted,
// whenever it was listed). Each connection's reader moves it between
// levels and out (Relist, Settle); an evicted one is out for good.
// Safe for concurrent use.
type Waitlist struct {
	mu sync.Mutex
	// levels each list their *Waiters by Waiter.seq, oldest first.
	levels []list.List
	// accepted numbers the Waiters made, in the order of their
	// connections.
	accepted uint64
	// evicting counts the connections evicted whose readers have not
	// called Gone. Invariant: evicting <= maxEvicting.
	evicting int
}

// Waiter is one connection of a Waitlist. Its fields are under the
// Waitlist's mu; evicted is set under it, and read without it
// (Evicted: a reader asks at every message).
type Waiter struct {
	conn    net.Conn
	seq     uint64
	at      *list.Element // nil while not listed
	level   int
	evicted atomic.Bool
}

// maxEvicting bounds the connections evicted and not yet gone: each may
// take a second to be told why (on the order-entry port, and the
// lingering close after it: RefusedLinger), and a port holds at most
// its maximum connections plus maxEvicting.
const maxEvicting = 64

// NewWaitlist returns a Waitlist with levels levels, 0 evicted first.
func NewWaitlist(levels int) *Waitlist {
	return &Waitlist{levels: make([]list.List, levels)}
}

// Add lists a connection just accepted, at level.
func (l *Waitlist) Add(conn net.Conn, level int) *Waiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.accepted++
	w := &Waiter{conn: conn, seq: l.accepted}
	l.list(w, level)
	return w
}

// Relist lists w at level (out of any level it was listed at), unless it
// was evicted, which it reports. Listed at level already, it stays
// where it is: a reader may relist on every message.
func (l *Waitlist) Relist(w *Waiter, level int) (evicted bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if w.evicted.Load() {
		return true
	}
	if w.at != nil && w.level == level {
		return false
	}
	l.unlist(w)
	l.list(w, level)
	return false
}

// Settle takes w out of the list — its connection did what makes its
// slot its own, or ended — and reports whether it was evicted: it is
// not served then (the connection admitted in its place took its slot,
// even if what w did crossed the eviction), and its reader calls Gone
// once it is closed.
func (l *Waitlist) Settle(w *Waiter) (evicted bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.unlist(w)
	return w.evicted.Load()
}

// Evicted reports whether w was evicted. A reader that sets a read
// deadline after w was listed asks it, once the deadline is set: it may
// have overwritten Evict's wake-up.
func (l *Waitlist) Evicted(w *Waiter) bool {
	return w.evicted.Load()
}

// Evict makes room for a connection over the port's limit by evicting
// the oldest connection listed at the lowest level, and reports whether
// there was one (and fewer than maxEvicting on their way out). Its reader
// is woken — a read deadline now — and finds it evicted (Settle,
// Evicted): it tells its client why and closes the connection, then
// calls Gone.
func (l *Waitlist) Evict() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.evicting >= maxEvicting {
		return false
	}
	for i := range l.levels {
		front := l.levels[i].Front()
		if front == nil {
			continue
		}
		w := front.Value.(*Waiter)
		l.unlist(w)
		w.evicted.Store(true)
		l.evicting++
		// Under mu, after evicted is set: a reader that has not yet set
		// its read deadline sees evicted when it asks (Evicted, Settle),
		// and one that has is woken by this one.
		w.conn.SetReadDeadline(time.Now())
		return true
	}
	return false
}

// Gone ends an evicted connection's eviction: it is closed.
func (l *Waitlist) Gone() {
	l.mu.Lock()
	l.evicting--
	l.mu.Unlock()
}

// Listed is how many connections are listed, at every level.
func (l *Waitlist) Listed() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for i := range l.levels {
		n += l.levels[i].Len()
	}
	return n
}

// list puts w at level, in the order of acceptance. Called with mu held.
func (l *Waitlist) list(w *Waiter, level int) {
	q := &l.levels[level]
	w.level = level
	for e := q.Back(); e != nil; e = e.Prev() {
		if e.Value.(*Waiter).seq < w.seq {
			w.at = q.InsertAfter(w, e)
			return
		}
	}
	w.at = q.PushFront(w)
}

// unlist takes w out of its level, if listed. Called with mu held.
func (l *Waitlist) unlist(w *Waiter) {
	if w.at != nil {
		l.levels[w.level].Remove(w.at)
		w.at = nil
	}
}
