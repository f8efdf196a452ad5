package replicator

import (
	"errors"
	"net"
	"os"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// transportTimeout is the raft transport's I/O timeout: each RPC this
// member sends must be written and answered within it (an
// InstallSnapshot within it per 256 KiB of data, raft's TimeoutScale),
// and no read of a request under way on a connection it accepted waits
// longer than it for a byte (requestConn).
const transportTimeout = 2 * time.Second

// transportPool is how many idle connections the transport keeps to
// each peer.
const transportPool = 3

// errNotAdvertisable refuses a raft address no peer could dial.
var errNotAdvertisable = errors.New("replicator: the raft address is not advertisable (an unspecified IP)")

// newTCPTransport is raft's network transport over plain TCP, listening
// on listen and advertising advertise (nil: the address it listens on),
// each connection it accepts a requestConn bounded by timeout.
func newTCPTransport(listen string, advertise net.Addr, timeout time.Duration, log hclog.Logger) (*raft.NetworkTransport, error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, err
	}
	if advertise == nil {
		advertise = ln.Addr()
	}
	if a, ok := advertise.(*net.TCPAddr); !ok || a.IP == nil || a.IP.IsUnspecified() {
		ln.Close()
		return nil, errNotAdvertisable
	}
	return newBoundedTransport(tcpStream{ln: ln, advertise: advertise}, timeout, log), nil
}

// newBoundedTransport is raft's network transport over stream, each
// connection it accepts a requestConn bounded by timeout.
func newBoundedTransport(stream raft.StreamLayer, timeout time.Duration, log hclog.Logger) *raft.NetworkTransport {
	return raft.NewNetworkTransportWithLogger(boundedStream{StreamLayer: stream, timeout: timeout}, transportPool, timeout, log)
}

// tcpStream is raft's stream layer over plain TCP (raft's own,
// TCPStreamLayer, cannot be wrapped: only raft makes one).
type tcpStream struct {
	ln        net.Listener
	advertise net.Addr
}

func (s tcpStream) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return net.DialTimeout("tcp", string(addr), timeout)
}

func (s tcpStream) Accept() (net.Conn, error) { return s.ln.Accept() }
func (s tcpStream) Close() error              { return s.ln.Close() }
func (s tcpStream) Addr() net.Addr            { return s.advertise }

// boundedStream hands raft each connection it accepts as a requestConn.
type boundedStream struct {
	raft.StreamLayer
	timeout time.Duration
}

func (s boundedStream) Accept() (net.Conn, error) {
	c, err := s.StreamLayer.Accept()
	if err != nil {
		return nil, err
	}
	return &requestConn{Conn: c, timeout: s.timeout}, nil
}

// requestConn is a connection a member accepted, on which a peer sends
// requests and waits for each answer. Raft (v1.7.1 handleConn) reads it
// with no deadline: a member keeps its connections open and idle
// between requests. But a request under way — its bytes read since
// the last answer was written, as far as its end: an InstallSnapshot's
// data included, which raft or a refusal (refuse) reads after the
// request — is read with timeout for each byte to come, and a read past
// it closes the connection: nothing more is read or answered on it.
// Without it a sender that stalled mid-request (a process frozen, a
// peer gone with no reset, a sender not honest) held the goroutine
// reading it for good — raft's own, which answers nothing meanwhile,
// when it was a snapshot raft took — for the sender's write deadline
// bounds only a sender alive and honest.
//
// A request is under way from the read that returns its first bytes to
// the write of its answer: raft reads a connection's next request only
// once it wrote the answer to the one before (or reads it with it,
// from a sender pipelining, whose requests follow one another).
type requestConn struct {
	net.Conn
	timeout time.Duration
	// underway: bytes were read since the last write. deadline: a read
	// deadline is set. Read on one goroutine at a time (raft's for the
	// connection, or, while it waits for an answer, the one reading an
	// InstallSnapshot's data), as Write (raft's).
	underway atomic.Bool
	deadline atomic.Bool
}

func (c *requestConn) Read(p []byte) (int, error) {
	if c.underway.Load() {
		c.Conn.SetReadDeadline(time.Now().Add(c.timeout))
		c.deadline.Store(true)
	} else if c.deadline.Swap(false) {
		c.Conn.SetReadDeadline(time.Time{})
	}
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.underway.Store(true)
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		c.Conn.Close()
	}
	return n, err
}

func (c *requestConn) Write(p []byte) (int, error) {
	c.underway.Store(false)
	return c.Conn.Write(p)
}
