package node

import (
	"net"
	"sync"
)

// adminMaxConnections bounds the connections the admin port holds at
// once: an operator's commands, a Prometheus scrape and probes need a
// few. Unbounded, whoever reached the port — no token needed to hold a
// connection: one answered 401 stays open, idle, for a minute — could
// take the process's file descriptors from the gateway's clients and
// the journal's next segment, which the other ports' max_connections
// keep for them.
const adminMaxConnections = 64

// limitListener hands out at most cap(slots) connections at a time:
// Accept waits for one to close before it takes the next from the
// kernel's backlog, where a connection holds no file descriptor of the
// process.
type limitListener struct {
	net.Listener
	slots     chan struct{}
	closed    chan struct{}
	closeOnce sync.Once
}

func newLimitListener(ln net.Listener, n int) *limitListener {
	return &limitListener{Listener: ln, slots: make(chan struct{}, n), closed: make(chan struct{})}
}

// Accept waits for a free slot, then for a connection.
func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	case <-l.closed:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &limitConn{Conn: c, free: l.slots}, nil
}

// Close closes the listener and ends an Accept waiting for a slot.
func (l *limitListener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// limitConn frees its slot when it is closed, once.
type limitConn struct {
	net.Conn
	free     chan struct{}
	freeOnce sync.Once
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.freeOnce.Do(func() { <-c.free })
	return err
}
