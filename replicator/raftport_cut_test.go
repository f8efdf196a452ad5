package replicator

import (
	"bytes"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-msgpack/v2/codec"
	"github.com/hashicorp/raft"
	"github.com/rs/zerolog"

	"github.com/ringex/ringex/internal/testkit"
)

// The connections the raft port cuts off are counted, by the bound
// they missed (RaftPortCut): one that sends no first request in time as
// silent, one trickling a request as stalled. Before, a cut was only in
// raft's line about it, held back to one in 30 s: an operator could
// not alert on it.
func TestRaftPortCutsAreCounted(t *testing.T) {
	const timeout = 100 * time.Millisecond
	_, port, addr := countedMember(t, testBounds(timeout), nil)
	silent := testkit.DialFrom(t, addr, "127.0.0.2")
	closedByMember(t, silent, "a connection that sent nothing")
	if got, stalled := port.cutSilent.Load(), port.cutStalled.Load(); got != 1 || stalled != 0 {
		t.Fatalf("after one silent connection cut: silent %d, stalled %d; want 1 and 0", got, stalled)
	}

	// Its first byte let come late: under load a bound of the timeout
	// may cut the trickler as silent.
	bounds := testBounds(timeout)
	bounds.first = time.Minute
	_, port, addr = countedMember(t, bounds, nil)
	trickler := testkit.DialFrom(t, addr, "127.0.0.3")
	prefix := requestPrefix(t, 400) // 20 s at one byte each half timeout
	sent := 0
	for deadline := time.Now().Add(10 * time.Second); sent < len(prefix); sent++ {
		if time.Now().After(deadline) {
			t.Fatalf("the member still reads a request trickled for 10 s (%d bytes)", sent)
		}
		if _, err := trickler.Write(prefix[sent : sent+1]); err != nil {
			break
		}
		time.Sleep(timeout / 2) // the pace of the trickle, not a wait for the member
	}
	if sent == len(prefix) {
		t.Fatalf("the member read all %d bytes trickled", sent)
	}
	if got, stalled := port.cutSilent.Load(), port.cutStalled.Load(); got != 0 || stalled != 1 {
		t.Fatalf("after a trickler cut: silent %d, stalled %d; want 0 and 1", got, stalled)
	}
}

// A connection the stream layer hands over after the port closed (one
// accepted, or handshaken, as the member stopped) is closed and not
// counted as refused. Before, it was counted over the bound in all
// ("full"), and RingexRaftPortRefused fired at a member's stop.
func TestAConnectionAfterTheStopIsNoRefusal(t *testing.T) {
	layer := &handingStream{conns: make(chan net.Conn, 1), closed: make(chan struct{})}
	port := &boundedStream{StreamLayer: layer, bounds: testBounds(transportTimeout), held: map[*requestConn]struct{}{}, byAddress: map[string]int{}}
	if err := port.Close(); err != nil {
		t.Fatal(err)
	}
	ours, theirs := net.Pipe()
	defer theirs.Close()
	layer.conns <- ours
	if c, err := port.Accept(); err == nil {
		c.Close()
		t.Fatal("the closed port handed on a connection")
	}
	if full, address := port.refused.Load(), port.refusedAddress.Load(); full != 0 || address != 0 {
		t.Fatalf("a connection after the stop counted refused: full %d, address %d; want none", full, address)
	}
	closedByMember(t, theirs, "the connection handed over after the stop")
}

// handingStream is a stream layer that hands over the connections put
// in conns, after its Close too, before it says it is closed.
type handingStream struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func (s *handingStream) Accept() (net.Conn, error) {
	select {
	case c := <-s.conns:
		return c, nil
	default:
	}
	select {
	case c := <-s.conns:
		return c, nil
	case <-s.closed:
		return nil, net.ErrClosed
	}
}

func (s *handingStream) Close() error {
	s.once.Do(func() { close(s.closed) })
	return nil
}

func (s *handingStream) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }

func (s *handingStream) Dial(raft.ServerAddress, time.Duration) (net.Conn, error) {
	return nil, net.ErrClosed
}

// A peer that sends requests and reads none of their answers holds up
// neither the member's stop — its transport's Close returns, though an
// answer waits to be written — nor, once the transport's timeout passed
// with an answer unwritten, the connection: the member cuts it off and
// counts it stalled. Before, raft wrote answers with no deadline: once
// the sockets' buffers filled, the goroutine writing waited for good,
// holding its descriptor and its slot of the port while the member ran
// and after it stopped.
func TestAPeerNotReadingItsAnswersIsCutOff(t *testing.T) {
	for _, tc := range []struct {
		name     string
		timeout  time.Duration
		stop     bool // stop the member with an answer unwritten
		snapshot bool // the member isolated, a snapshot it refuses sent first (cutTransport.Close waits for its data)
	}{
		{name: "the stop", timeout: time.Minute, stop: true},
		{name: "the stop, a refused snapshot first", timeout: time.Minute, stop: true, snapshot: true},
		{name: "running", timeout: 500 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var w writeWatch
			// A connection's first request is let come late: under load
			// a bound of the test's timeout may cut the peer as silent.
			bounds := testBounds(tc.timeout)
			bounds.first = time.Minute
			member, port, addr := countedMember(t, bounds, w.watch)
			var first []byte
			if tc.snapshot {
				member.cut.Store(true)
				header := raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("2"), Addr: []byte("10.0.0.2:1")}
				first = rpcBytes(t, 2, &raft.InstallSnapshotRequest{RPCHeader: header, SnapshotVersion: raft.SnapshotVersionMax, Term: 2,
					LastLogIndex: 10, LastLogTerm: 2, ConfigurationIndex: 1, Size: 64 << 10})
				first = append(first, make([]byte, 64<<10)...)
			}
			peer := unreadingPeer(t, addr, first)
			if !tc.stop {
				awaitCutStalled(t, port)
				return
			}
			// A write of an answer the peer does not take: the sockets'
			// buffers, a few KiB each, are full.
			for deadline, last := time.Now().Add(10*time.Second), int64(-1); ; time.Sleep(5 * time.Millisecond) {
				if stuck, written := w.stuck(); stuck && written == last {
					break
				} else {
					last = written
				}
				if time.Now().After(deadline) {
					t.Fatal("no write of an answer waited within 10 s: the peer's buffers took them all")
				}
			}
			closed := make(chan error, 1)
			go func() { closed <- member.Close() }()
			select {
			case err := <-closed:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("the member's transport did not close within 30 s of its stop: held by a peer not reading its answers")
			}
			peer.Close()
		})
	}
}

// awaitCutStalled fails t unless, within 10 s, port holds no connection
// and cut one off as stalled, none as silent.
func awaitCutStalled(t *testing.T, port *boundedStream) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); heldConns(port) > 0 || port.cutStalled.Load() != 1; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("10 s after its answers stopped being taken the port holds %d connections, %d cut stalled, %d silent; want the peer's cut off and counted stalled",
				heldConns(port), port.cutStalled.Load(), port.cutSilent.Load())
		}
	}
	if got := port.cutSilent.Load(); got != 0 {
		t.Fatalf("%d connections cut as silent, want none", got)
	}
}

// countedMember is a member's transport over TCP on loopback, held to
// bounds, each connection it accepts wrapped by accepted (nil: none),
// answering as refusingMember does; it returns the transport, its port
// and its address. Closed when the test ends.
func countedMember(t *testing.T, bounds connBounds, accepted func(net.Conn) net.Conn) (*cutTransport, *boundedStream, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	inner, port := newBoundedTransport(tunedStream{tcpStream: tcpStream{ln: ln, advertise: ln.Addr()}, accepted: accepted}, bounds, hclog.NewNullLogger())
	member := answering(t, inner, nil, zerolog.Nop())
	return member, port, ln.Addr().String()
}

// tunedStream is a TCP stream layer that hands on each connection it
// accepts wrapped by accepted.
type tunedStream struct {
	tcpStream
	accepted func(net.Conn) net.Conn
}

func (s tunedStream) Accept() (net.Conn, error) {
	c, err := s.tcpStream.Accept()
	if err == nil && s.accepted != nil {
		c = s.accepted(c)
	}
	return c, err
}

// writeWatch follows the writes on the connections it watches.
type writeWatch struct {
	underway atomic.Int32 // writes begun, not returned
	written  atomic.Int64 // writes returned
}

// watch makes c's send buffer the least the kernel allows — a few KiB
// of answers fill it — and follows its writes.
func (w *writeWatch) watch(c net.Conn) net.Conn {
	c.(*net.TCPConn).SetWriteBuffer(1)
	return watchedConn{Conn: c, w: w}
}

// stuck: a write is under way; written: how many returned. A write
// under way while none returned between two looks waits.
func (w *writeWatch) stuck() (stuck bool, written int64) {
	return w.underway.Load() > 0, w.written.Load()
}

type watchedConn struct {
	net.Conn
	w *writeWatch
}

func (c watchedConn) Write(p []byte) (int, error) {
	c.w.underway.Add(1)
	defer c.w.written.Add(1)
	defer c.w.underway.Add(-1)
	return c.Conn.Write(p)
}

// unreadingPeer dials addr with the least receive buffer the kernel
// allows and sends first, then AppendEntries on the connection, far
// more than the buffers of their answers hold, reading none of the
// answers. The
// connection is closed, and the sending ended, when the test ends.
func unreadingPeer(t *testing.T, addr string, first []byte) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 10 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
		var err error
		rc.Control(func(fd uintptr) { err = testkit.SetReceiveBuffer(fd, 1) })
		return err
	}}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	flood := append(first, bytes.Repeat(rpcBytes(t, 0, &testAppend), 20_000)...)
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		conn.Write(flood) // until the member or the test closes the connection
	}()
	t.Cleanup(func() {
		conn.Close()
		<-sent
	})
	return conn
}

// rpcBytes is a request as raft's network transport (v1.7.1) sends it:
// its type byte, then req in msgpack.
func rpcBytes(t *testing.T, typ byte, req any) []byte {
	t.Helper()
	var b bytes.Buffer
	b.WriteByte(typ)
	if err := codec.NewEncoder(&b, &codec.MsgpackHandle{}).Encode(req); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// A member stopping while it sends a raft snapshot to a peer that reads
// none of it is not held by the send: once raft is told to shut down,
// Close closes the connections it dialed (cutSends, after
// closePipelines, as Replicator.Close does) and the send fails at once.
// Before, the send waited in its write for its deadline — the
// transport's timeout for each 256 KiB of the snapshot, here 8192 s for
// 1 GiB — and raft's shutdown, which waits for its replication
// goroutines, with it.
func TestAStopIsNotHeldByAPeerNotReadingASnapshot(t *testing.T) {
	peer, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	accepted := make(chan net.Conn, 1)
	go func() { // takes the connection and reads nothing
		if c, err := peer.Accept(); err == nil {
			accepted <- c
		}
	}()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	inner, port := newBoundedTransport(tcpStream{ln: ln, advertise: ln.Addr()}, testBounds(transportTimeout), hclog.NewNullLogger())
	member := newCutTransport(inner, nil, zerolog.Nop())
	defer member.Close()

	const size = 1 << 30
	sent := make(chan error, 1)
	go func() {
		header := raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("1"), Addr: []byte(ln.Addr().String())}
		req := raft.InstallSnapshotRequest{RPCHeader: header, SnapshotVersion: raft.SnapshotVersionMax, Term: 2, LastLogIndex: 10, LastLogTerm: 2,
			Configuration: raft.EncodeConfiguration(raft.Configuration{Servers: membership("10.0.0.1:1", "10.0.0.2:1")}), ConfigurationIndex: 1, Size: size}
		sent <- member.InstallSnapshot(serverID(2), raft.ServerAddress(peer.Addr().String()), &req, &raft.InstallSnapshotResponse{}, io.LimitReader(zeros{}, size))
	}()
	var conn net.Conn
	select {
	case conn = <-accepted:
		defer conn.Close()
	case err := <-sent:
		t.Fatalf("the snapshot's send ended before the peer took its connection: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the peer was not dialed within 10 s")
	}
	// Its connection dialed: the send is under way on it.
	for deadline := time.Now().Add(10 * time.Second); dialedConns(port) == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the peer took a connection the member's stream does not follow")
		}
	}
	member.closePipelines()
	port.cutSends()
	select {
	case err := <-sent:
		if err == nil {
			t.Fatal("a snapshot the peer read none of was sent")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the snapshot's send to a peer reading none of it still waits 10 s after the member's stop cut its sends")
	}
}

// zeros reads as zero bytes without end.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// dialedConns is how many connections port dialed and follows.
func dialedConns(port *boundedStream) int {
	port.mu.Lock()
	defer port.mu.Unlock()
	return len(port.dialed)
}
