package node

import (
	"container/list"
	"net"
	"net/http"
	"sync"
	"time"
)

// adminMaxConnections bounds the connections the admin port holds at
// once: an operator's commands, a Prometheus scrape and probes need a
// few. Unbounded, whoever reached the port — no token needed to hold a
// connection: one answered 401 stays open, idle, for a minute — could
// take the process's file descriptors from the gateway's clients and
// the journal's next segment, which the other ports' max_connections
// keep for them.
const adminMaxConnections = 64

// limitListener hands out at most cap(slots) connections at a time. A
// connection accepted with every slot taken closes the one that has
// waited longest for a request (waitingConns) to take its slot, or, with
// none waiting, waits for one to close: the slots cannot be held by
// keeping connections open — a probe needs no token, and 64 keep-alive
// connections each asking /healthz within the idle minute kept the
// operator out for good — only by requests under way, which
// ReadHeaderTimeout, the handlers and adminWriteStall bound.
type limitListener struct {
	net.Listener
	slots     chan struct{}
	waiting   *waitingConns
	closed    chan struct{}
	closeOnce sync.Once
}

func newLimitListener(ln net.Listener, n int, waiting *waitingConns) *limitListener {
	return &limitListener{Listener: ln, slots: make(chan struct{}, n), waiting: waiting, closed: make(chan struct{})}
}

// Accept takes a connection, then a slot for it: the one a waiting
// connection gives up, or the next to free. The connection holds a file
// descriptor meanwhile: the port holds at most cap(slots) + 1.
func (l *limitListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	select {
	case l.slots <- struct{}{}:
	default:
		l.waiting.closeOldest() // its Close frees its slot
		select {
		case l.slots <- struct{}{}:
		case <-l.closed:
			c.Close()
			return nil, net.ErrClosed
		}
	}
	return &limitConn{Conn: c, free: l.slots}, nil
}

// Close closes the listener and ends an Accept waiting for a slot.
func (l *limitListener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// adminWriteStall bounds how long one write to an admin connection may
// wait for its client to read. A request is under way while its answer
// is written, and the admin server has no WriteTimeout (a profile is
// answered after the seconds it asks for): a client sending requests and
// never reading their answers held its slot for good, and 64 of them,
// no token needed for /healthz, the whole port. A variable for tests.
var adminWriteStall = 10 * time.Second

// limitConn frees its slot when it is closed, once, and bounds each of
// its writes by adminWriteStall — or by the write deadline net/http or
// TLS asked for (SetDeadline, SetWriteDeadline), when that is earlier.
type limitConn struct {
	net.Conn
	free     chan struct{}
	freeOnce sync.Once
	mu       sync.Mutex
	asked    time.Time // the write deadline asked for; zero: none
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.freeOnce.Do(func() { <-c.free })
	return err
}

func (c *limitConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	deadline := time.Now().Add(adminWriteStall)
	if !c.asked.IsZero() && c.asked.Before(deadline) {
		deadline = c.asked
	}
	c.mu.Unlock()
	if err := c.Conn.SetWriteDeadline(deadline); err != nil {
		return 0, err
	}
	return c.Conn.Write(b)
}

func (c *limitConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	c.asked = t
	c.mu.Unlock()
	return c.Conn.SetWriteDeadline(t)
}

func (c *limitConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.asked = t
	c.mu.Unlock()
	return c.Conn.SetDeadline(t)
}

// waitingConns lists the admin port's connections waiting for a request
// — accepted and sent none yet, or idle between keep-alive requests —
// longest waiting first. Its track is the http.Server's ConnState, so it
// holds the connections the server serves (a *tls.Conn over a
// limitConn on a TLS port).
type waitingConns struct {
	mu    sync.Mutex
	order list.List // of net.Conn
	at    map[net.Conn]*list.Element
}

func newWaitingConns() *waitingConns {
	return &waitingConns{at: map[net.Conn]*list.Element{}}
}

// track follows c's state: waiting while new or idle, otherwise not.
func (w *waitingConns) track(c net.Conn, s http.ConnState) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if e, ok := w.at[c]; ok {
		w.order.Remove(e)
		delete(w.at, c)
	}
	if s == http.StateNew || s == http.StateIdle {
		w.at[c] = w.order.PushBack(c)
	}
}

// closeOldest closes the connection that has waited longest for a
// request, if there is one. One whose request began as it was picked
// loses it (its client sees the connection reset): only when the port is
// full.
func (w *waitingConns) closeOldest() {
	w.mu.Lock()
	e := w.order.Front()
	if e == nil {
		w.mu.Unlock()
		return
	}
	c := w.order.Remove(e).(net.Conn)
	delete(w.at, c)
	w.mu.Unlock()
	c.Close()
}
