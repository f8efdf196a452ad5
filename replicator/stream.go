package replicator

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/rs/zerolog"
)

// transportTimeout is the raft transport's I/O timeout: each RPC this
// member sends must be written and answered within it (an
// InstallSnapshot within it per 256 KiB of data, raft's TimeoutScale),
// and no read of a request under way on a connection it accepted waits
// longer than it for a byte, nor a request longer than it per 256 KiB
// and one more (requestConn.requestBound).
const transportTimeout = 2 * time.Second

// transportPool is how many idle connections the transport keeps to
// each peer.
const transportPool = 3

// errNotAdvertisable refuses a raft address no peer could dial.
var errNotAdvertisable = errors.New("replicator: the raft address is not advertisable (an unspecified IP)")

// maxAcceptedConns is how many connections a member's raft port holds
// at once (portBounds: more in a cluster of ten members or more); one
// more is closed as soon as it is accepted (boundedStream). Without a
// bound anyone who reaches the port could open connections until the
// process ran out of descriptors — the node's clients' and journal's
// included.
const maxAcceptedConns = 256

// connsPerPeer is the most connections one peer holds to a member's
// raft port, with room to spare: raft (v1.7.1) keeps one pool of
// connections for each peer — up to transportPool idle ones — and
// dials one more for each call under way beyond them — its heartbeats,
// its pipeline, a request outside the pipeline or a snapshot, a vote, a
// leadership transfer: about ten in all. A connection a peer left
// behind it (a process killed, its host gone) goes with the peer's
// close or TCP keep-alive.
const connsPerPeer = 16

// portBounds are the raft port's bounds on connections held at once,
// for a cluster of peers members: perAddress from one remote address
// (remoteIP: an IPv4 address, an IPv6 /64), room for every other member
// — they may all share one (a test cluster, one host running several, a
// subnet's /64) — and most in all, maxAcceptedConns or room for one
// address at its bound and every other member besides. Without the one
// per address, one host could hold every slot and keep the members
// out.
func portBounds(peers int) (perAddress, most int) {
	perAddress = connsPerPeer * max(peers-1, 1)
	return perAddress, max(maxAcceptedConns, 2*perAddress)
}

// connBounds are the bounds a member's raft port holds the connections
// it accepts to (boundedStream, requestConn).
type connBounds struct {
	// timeout: each byte of a request under way (requestConn).
	timeout time.Duration
	// first: a connection's first request, from its accept. A peer
	// dials only to send a request at once (raft v1.7.1 genericRPC,
	// InstallSnapshot), except its pipeline, which sends its first
	// within 2 CommitTimeouts (pipelineReplicate, nothing new to send):
	// firstRequestWithin.
	first time.Duration
	// max: connections held at once; perAddress: from one remote
	// address (portBounds).
	max, perAddress int
	// log: the connections refused over max or perAddress, at warn,
	// once per raftRepeatEvery at most for each.
	log zerolog.Logger
}

// firstRequestWithin is how long a member's raft port waits for a
// connection's first request: the transport's timeout past the latest a
// peer's pipeline sends its first (2 CommitTimeouts). It holds for the
// peer's pipeline only when the peer's CommitTimeout is this member's
// (Config.Validate says what a longer one costs).
func firstRequestWithin(commitTimeout time.Duration) time.Duration {
	return transportTimeout + 2*commitTimeout
}

// newTCPTransport is raft's network transport over plain TCP, listening
// on listen and advertising advertise (nil: the address it listens on),
// each connection it accepts held to bounds by port.
func newTCPTransport(listen string, advertise net.Addr, bounds connBounds, log hclog.Logger) (trans *raft.NetworkTransport, port *boundedStream, err error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, nil, err
	}
	if advertise == nil {
		advertise = ln.Addr()
	}
	if a, ok := advertise.(*net.TCPAddr); !ok || a.IP == nil || a.IP.IsUnspecified() {
		ln.Close()
		return nil, nil, errNotAdvertisable
	}
	trans, port = newBoundedTransport(tcpStream{ln: ln, advertise: advertise}, bounds, log)
	return trans, port, nil
}

// newBoundedTransport is raft's network transport over stream, each
// connection it accepts held to bounds by port, and closed with the
// transport.
func newBoundedTransport(stream raft.StreamLayer, bounds connBounds, log hclog.Logger) (trans *raft.NetworkTransport, port *boundedStream) {
	port = &boundedStream{StreamLayer: stream, bounds: bounds, held: map[*requestConn]struct{}{}, byAddress: map[string]int{}}
	return raft.NewNetworkTransportWithLogger(port, transportPool, bounds.timeout, log), port
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

// boundedStream hands raft each connection it accepts as a requestConn,
// at most bounds.max at once and bounds.perAddress from one remote
// address, and closes those it holds when it closes:
// each idle one at once, each with a request under way once its answer
// is written (or it stalls: requestConn). Raft (v1.7.1) leaves each
// accepted connection's goroutine reading it after the transport's
// Close (NetworkTransport.Close closes only the listener): until the
// peer closed it, a stopped member kept a goroutine and a descriptor
// for each. A request under way is let finish: its answer may be one
// a closing member owes (cutTransport.Close: a refused snapshot's).
type boundedStream struct {
	raft.StreamLayer
	bounds connBounds
	// refused: connections closed over bounds.max, refusedAddress over
	// bounds.perAddress, since the start; over holds back repeats of the
	// lines saying so.
	refused        atomic.Uint64
	refusedAddress atomic.Uint64
	over           raftRepeats
	// cutSilent: connections closed for sending no first request in
	// time; cutStalled: for a request under way, or its answer, held
	// past its bound (requestConn); since the start (RaftPortCut).
	cutSilent  atomic.Uint64
	cutStalled atomic.Uint64
	// closed: Close was called; none more is taken, and a connection
	// held is closed as soon as no request is under way on it. Set
	// under mu.
	closed atomic.Bool

	mu        sync.Mutex
	held      map[*requestConn]struct{} // under mu: accepted, not closed
	byAddress map[string]int            // under mu: held by remote address (requestConn.address); none at 0
	// dialed: the connections this member dialed, not closed; sendsCut:
	// cutSends was called, none more is dialed. Under mu.
	dialed   map[*dialedConn]struct{}
	sendsCut bool
}

// errSendsCut: raft is stopping, nothing more is sent (cutSends).
var errSendsCut = errors.New("replicator: the member is stopping: nothing more is sent")

// Dial dials a peer, the connection followed until closed (cutSends).
func (s *boundedStream) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	c, err := s.StreamLayer.Dial(addr, timeout)
	if err != nil {
		return nil, err
	}
	dc := &dialedConn{Conn: c, stream: s}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sendsCut {
		c.Close()
		return nil, errSendsCut
	}
	if s.dialed == nil {
		s.dialed = map[*dialedConn]struct{}{}
	}
	s.dialed[dc] = struct{}{}
	return dc, nil
}

// cutSends closes every connection this member dialed, and any it
// dials later fails: raft is stopping (Replicator.Close, once raft was
// told to shut down), and its shutdown waits for its replication
// goroutines. One sending a raft snapshot to a peer that reads none of
// it (frozen, gone with no reset, not honest) waits in its write until
// the send's deadline — raft's timeout for each 256 KiB of the
// snapshot (v1.7.1 InstallSnapshot): 2 s per 256 KiB, 200 s for 25 MB —
// and the member's stop waited with it, past the minute systemd gives
// (TimeoutStopSec). Closed, the write fails at once.
func (s *boundedStream) cutSends() {
	s.mu.Lock()
	s.sendsCut = true
	dialed := make([]*dialedConn, 0, len(s.dialed))
	for c := range s.dialed {
		dialed = append(dialed, c)
	}
	s.mu.Unlock()
	for _, c := range dialed {
		c.Close()
	}
}

// dialedConn is a connection this member dialed (boundedStream.Dial).
type dialedConn struct {
	net.Conn
	stream *boundedStream
}

// Close closes the connection and drops it from the stream's.
func (c *dialedConn) Close() error {
	c.stream.mu.Lock()
	delete(c.stream.dialed, c)
	c.stream.mu.Unlock()
	return c.Conn.Close()
}

// Accept returns the next connection the stream holds to bounds. One
// over bounds.max or bounds.perAddress is closed at once, and the next
// taken: an error here
// raft would log at error and back off on, every member's connection
// waiting behind it.
func (s *boundedStream) Accept() (net.Conn, error) {
	for {
		c, err := s.StreamLayer.Accept()
		if err != nil {
			return nil, err
		}
		rc := &requestConn{Conn: c, timeout: s.bounds.timeout, stream: s, address: remoteIP(c)}
		if held, fromAddress, closed, ok := s.hold(rc); !ok {
			c.Close()
			if !closed {
				s.noteRefused(c, held, fromAddress)
			}
			continue
		}
		c.SetReadDeadline(time.Now().Add(s.bounds.first))
		rc.deadline.Store(true)
		return rc, nil
	}
}

// hold takes c into held unless the stream closed (closed), or that
// holds bounds.max already, or bounds.perAddress from c's address; it
// returns how many it holds, and how many from c's address. A
// connection the stream layer hands over after the stream closed (one
// accepted, or handshaken, as it closed) is no refusal: a peer's
// connections reach a stopping member at every stop, and counted over a
// bound they raised RingexRaftPortRefused at each.
func (s *boundedStream) hold(c *requestConn) (held, fromAddress int, closed, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fromAddress = s.byAddress[c.address]
	if s.closed.Load() {
		return len(s.held), fromAddress, true, false
	}
	if len(s.held) >= s.bounds.max || fromAddress >= s.bounds.perAddress {
		return len(s.held), fromAddress, false, false
	}
	s.held[c] = struct{}{}
	s.byAddress[c.address]++
	return len(s.held), fromAddress + 1, false, true
}

// release drops c from held; a second release of c changes nothing.
func (s *boundedStream) release(c *requestConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.held[c]; !ok {
		return
	}
	delete(s.held, c)
	if s.byAddress[c.address]--; s.byAddress[c.address] <= 0 {
		delete(s.byAddress, c.address)
	}
}

// noteRefused counts c, closed over a bound — bounds.perAddress when
// fromAddress reached it, else bounds.max — and logs it at warn: once,
// then at most once per raftRepeatEvery for each bound while refusals
// go on, saying how many were held back — a flood of connections would
// otherwise write a line for each.
func (s *boundedStream) noteRefused(c net.Conn, held, fromAddress int) {
	counter, key, why := &s.refused, "over the bound", "it holds as many as it may (maxAcceptedConns); a peer's connection is refused too until some close"
	if fromAddress >= s.bounds.perAddress {
		counter, key, why = &s.refusedAddress, "over the address's bound", "it holds as many from the address as it may (connsPerPeer for each other member)"
	}
	total := counter.Add(1)
	ok, heldBack := s.over.allow(key, time.Now())
	if !ok {
		return
	}
	e := s.bounds.log.Warn().Str("remote", c.RemoteAddr().String()).Int("held", held).Int("held_from_address", fromAddress).Uint64("refused_since_start", total)
	if heldBack > 0 {
		e = e.Int("held_back", heldBack) // refusals since the last logged
	}
	e.Msg("replicator: closed a connection to the raft port at once: " + why)
}

// Close stops accepting and closes every connection held with no
// request under way; the rest close once their answer is written
// (requestConn.Read). The goroutines raft reads them on end.
func (s *boundedStream) Close() error {
	err := s.StreamLayer.Close()
	s.mu.Lock()
	s.closed.Store(true)
	var idle []*requestConn
	for c := range s.held {
		if !c.underway.Load() {
			idle = append(idle, c)
		}
	}
	s.mu.Unlock()
	for _, c := range idle {
		c.Close()
	}
	return err
}

// errCutOff is what a connection this member closed because a request
// did not come in time (requestConn) fails with from then on: raft logs
// it, and zerologWriter tells its lines apart by it.
var errCutOff = errors.New("replicator: connection closed by this member: a request did not come within its bound")

// requestConn is a connection a member accepted, on which a peer sends
// requests and waits for each answer. Raft (v1.7.1 handleConn) reads it
// with no deadline: a member keeps its connections open and idle
// between requests. But its first request must start within the
// stream's bound of the accept (connBounds.first): a peer dials only
// to send one; a connection that sends none is no peer's, and held it
// kept a goroutine and a descriptor for good. And a request under way
// — its bytes read since the last answer was written, as far as its
// end: an InstallSnapshot's data included, which raft or a refusal
// (refuse) reads after the request — is held to requestBound: each
// byte within the timeout of the one before, and the whole at the pace
// its sender holds itself to. A read past either closes the
// connection: nothing more is read or answered on it (errCutOff).
// Without it a sender that stalled mid-request (a process frozen, a
// peer gone with no reset, a sender not honest) held the goroutine
// reading it for good — raft's own, which answers nothing meanwhile,
// when it was a snapshot raft took — for the sender's write deadline
// bounds only a sender alive and honest; and with the byte bound alone
// one trickling a byte a little faster than the timeout held it, and
// its slot of the port, for good.
//
// A request is under way from the read that returns its first bytes
// until the write of its answer returned: raft reads a connection's
// next request only once it wrote the answer to the one before (or
// reads it with it, from a sender pipelining, whose requests follow
// one another).
type requestConn struct {
	net.Conn
	timeout time.Duration
	stream  *boundedStream
	address string // remoteIP: what it counts against in the stream's bound per address
	// underway: bytes were read since the last write returned.
	// started: bytes were read. deadline: a read deadline is set (from
	// the accept, for the first request). cut: closed for errCutOff.
	// Read on one goroutine at a time (raft's for the connection, or,
	// while it waits for an answer, the one reading an InstallSnapshot's
	// data), as Write (raft's).
	underway atomic.Bool
	started  atomic.Bool
	deadline atomic.Bool
	cut      atomic.Bool
	// The request under way, owned by the goroutine reading it: begun,
	// when its first bytes were read; got, its bytes read since; due,
	// the read deadline set for it (zero: none yet). Invariant, at each
	// Read while it is under way: requestBound(now) <= due <=
	// requestBound(now) + timeout/deadlineSlackParts.
	begun time.Time
	got   int64
	due   time.Time
	// writeDue: the write deadline set (Write; zero: none yet), owned by
	// the goroutine writing. Invariant, at each Write: now + timeout <=
	// writeDue <= now + timeout + timeout/deadlineSlackParts.
	writeDue time.Time
}

// deadlineSlackParts: a request's read deadline is set again only once
// its bound passed the one set, and then an eighth of the timeout past
// the bound — so once in an eighth of the timeout at most while bytes
// flow, not at every read (a read deadline costs about as much as a
// short read: the runtime's poller locks and moves a timer), and a
// connection is cut at most that eighth late.
const deadlineSlackParts = 8

// requestScale is how many bytes of a request a sender has one more
// timeout for: raft's TimeoutScale (v1.7.1 NetworkTransport, the
// default: the transports here leave it), by which an InstallSnapshot's
// sender scales its own deadline to the snapshot's size.
const requestScale = raft.DefaultTimeoutScale

// requestBound is the latest the next byte of the request under way
// may come at, now: the timeout after now (no byte for the timeout),
// and no later than a timeout past its start plus one more for each
// requestScale of its bytes read so far. That is the pace its sender
// holds itself to, with a timeout to spare: raft (v1.7.1) gives an
// InstallSnapshot — the whole state, sent in one request, of no bound
// in size — its timeout once per requestScale of the size, and any
// other request its timeout for the whole; the largest of those, an
// AppendEntries of raftBatchEntries entries of up to proposeChunk
// inputs (~51 MB), is well inside it. A sender keeping its own deadline
// at an even pace is never cut; one trickling bytes, however close
// together, is, a timeout after its bytes fall behind that pace — it
// holds a connection only by sending 128 KiB a second on it (at the
// 2 s transportTimeout).
func (c *requestConn) requestBound(now time.Time) time.Time {
	whole := c.begun.Add(c.timeout * time.Duration(1+c.got/requestScale))
	return minTime(now.Add(c.timeout), whole)
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func (c *requestConn) Read(p []byte) (int, error) {
	if c.cut.Load() {
		return 0, errCutOff
	}
	if c.stream.closed.Load() && !c.underway.Load() {
		c.Close() // the stream closed: no next request is read
		return 0, net.ErrClosed
	}
	if c.underway.Load() {
		// A deadline already set at or past the bound stands (the
		// invariant on due): no system's timer is moved.
		if bound := c.requestBound(time.Now()); c.due.IsZero() || c.due.Before(bound) {
			c.due = bound.Add(c.timeout / deadlineSlackParts)
			c.Conn.SetReadDeadline(c.due)
			c.deadline.Store(true)
		}
	} else if c.started.Load() && c.deadline.Swap(false) {
		c.Conn.SetReadDeadline(time.Time{})
	}
	n, err := c.Conn.Read(p)
	if n > 0 {
		if !c.underway.Swap(true) {
			c.begun, c.got, c.due = time.Now(), 0, time.Time{}
		}
		c.got += int64(n)
		c.started.Store(true)
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		if !c.started.Load() {
			return n, c.cutOff(&c.stream.cutSilent, "no first request since the connection was accepted")
		}
		return n, c.cutOff(&c.stream.cutStalled, "a request under way fell behind its bound: no byte for the transport's timeout, or its bytes slower than its sender's own deadline allows")
	}
	return n, err
}

// cutOff closes the connection for errCutOff, why, and counts it once in
// counter (RaftPortCut); it returns the error the call that found it
// fails with.
func (c *requestConn) cutOff(counter *atomic.Uint64, why string) error {
	if !c.cut.Swap(true) {
		counter.Add(1)
	}
	c.Close()
	return fmt.Errorf("%w (%s)", errCutOff, why)
}

// Write writes an answer, each within the transport's timeout: a peer
// sends its requests with a deadline of the timeout for the answer
// (raft v1.7.1 genericRPC; its pipeline reads each answer within it),
// so one not taken by then is a peer gone, frozen or not honest. Raft
// writes with no deadline: a peer that sent requests and read none of
// their answers — once the sockets' buffers filled — held the goroutine
// writing, its descriptor and its slot of the port for good, past the
// member's stop too (a connection is closed at the stop only once its
// answer is written). The deadline is moved as the read's is
// (deadlineSlackParts): not at every answer.
func (c *requestConn) Write(p []byte) (int, error) {
	if c.cut.Load() {
		return 0, errCutOff
	}
	if bound := time.Now().Add(c.timeout); c.writeDue.Before(bound) {
		c.writeDue = bound.Add(c.timeout / deadlineSlackParts)
		c.Conn.SetWriteDeadline(c.writeDue)
	}
	n, err := c.Conn.Write(p)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return n, c.cutOff(&c.stream.cutStalled, "an answer was not taken within the transport's timeout")
	}
	// Answered once written, not before: the stream's Close closes a
	// connection with no request under way at once, and did so under
	// the write — a member stopping as soon as it staged a leader's
	// state (ErrInstalled) lost its answer to the install, and the
	// leader sent the state again at its next start. Raft writes an
	// answer in one Write (handleConn's flush: its answers are far
	// below its writer's 4 KiB).
	c.underway.Store(false)
	return n, err
}

// Close closes the connection and drops it from the stream's.
func (c *requestConn) Close() error {
	c.stream.release(c)
	return c.Conn.Close()
}

// RaftPortRefused counts the connections the raft port closed as soon
// as it accepted them, since Open: full, over its bound in all; address,
// over one remote address's (portBounds) — with TLS, those refused a
// handshake over its bounds too (handshakeBoundsFor).
func (r *Replicator) RaftPortRefused() (full, address uint64) {
	full, address = r.port.refused.Load(), r.port.refusedAddress.Load()
	if t, ok := r.port.StreamLayer.(*tlsStream); ok {
		full, address = full+t.refused.Load(), address+t.refusedAddress.Load()
	}
	return full, address
}

// RaftPortCut counts the connections the raft port closed on a bound of
// time, since Open (requestConn): silent, no first request within
// firstRequestWithin of its accept (with TLS, or no handshake within
// handshakeTimeout); stalled, a request under way, or its answer, held
// past its bound. Raft logs each (errCutOff), its repeats held back.
func (r *Replicator) RaftPortCut() (silent, stalled uint64) {
	silent, stalled = r.port.cutSilent.Load(), r.port.cutStalled.Load()
	if t, ok := r.port.StreamLayer.(*tlsStream); ok {
		silent += t.silent.Load()
	}
	return silent, stalled
}
