package replicator

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/rs/zerolog"

	"github.com/ringex/ringex/internal/testkit"
)

// An InstallSnapshot a member refuses unread — its sender fenced, its
// membership not decoding, the member cut off — is answered with the
// refusal however much data follows it, and the connection it came on
// goes on: the next request on it is read and answered. Before, the
// network transport read the data after the answer as the connection's
// next request, found none and closed the connection: a request after
// it was never answered, and a sender still writing data larger than
// the sockets hold lost the answer to a reset — a fenced process never
// heard it was fenced.
func TestARefusedSnapshotsDataIsReadBeforeTheNextRequest(t *testing.T) {
	// The sender is member 2 at 10.0.0.2:1, as its requests' header says.
	header := raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("2"), Addr: []byte("10.0.0.2:1")}
	for _, tc := range []struct {
		name    string
		refusal string // in the answer to the snapshot, and to the request after it when isolated
		isolate bool
	}{
		{name: "fenced", refusal: fencedMark},
		{name: "its membership not decoding", refusal: "does not decode"},
		{name: "isolated", refusal: ErrIsolated.Error(), isolate: true},
	} {
		for _, size := range []int{16, 8 << 20} { // within the sockets' buffers, and far beyond
			fence := openFenceListing(t, "")
			fence.observe(membership("10.0.0.1:1", "10.0.0.2:1"))
			configuration := raft.EncodeConfiguration(raft.Configuration{Servers: membership("10.0.0.1:1", "10.0.0.2:1")})
			switch tc.name {
			case "fenced":
				fence.observe(membership("10.0.0.1:1", "10.0.0.9:1")) // member 2 moved from where the sender is
			case "its membership not decoding":
				configuration = []byte("not a membership")
			}
			member := refusingMember(t, fence, zerolog.Nop(), transportTimeout)
			member.cut.Store(tc.isolate)
			from, _ := oneConnTransport(t, member.LocalAddr())

			state := bytes.Repeat([]byte{0xfe}, size) // no request's first byte
			req := raft.InstallSnapshotRequest{RPCHeader: header, SnapshotVersion: raft.SnapshotVersionMax, Term: 2,
				LastLogIndex: 10, LastLogTerm: 2, Configuration: configuration, ConfigurationIndex: 1, Size: int64(size)}
			err := from.InstallSnapshot(serverID(1), member.LocalAddr(), &req, &raft.InstallSnapshotResponse{}, bytes.NewReader(state))
			if err == nil || !strings.Contains(err.Error(), tc.refusal) {
				t.Fatalf("%s, %d bytes of data: the snapshot answered %v, want the refusal (%s)", tc.name, size, err, tc.refusal)
			}
			// The connection's next request.
			var resp raft.AppendEntriesResponse
			err = from.AppendEntries(serverID(1), member.LocalAddr(), &testAppend, &resp)
			if tc.isolate {
				if err == nil || !strings.Contains(err.Error(), tc.refusal) {
					t.Fatalf("%s, %d bytes of data: the request after the snapshot answered %v, want %s", tc.name, size, err, tc.refusal)
				}
			} else if err != nil || !resp.Success {
				t.Fatalf("%s, %d bytes of data: the request after the snapshot answered %+v (%v), want success", tc.name, size, resp, err)
			}
		}
	}
}

// A sender that stalls in an InstallSnapshot the member refuses — its
// request sent, its data not — has its connection closed once no byte
// of the data came for the member's transport timeout, and the
// goroutine reading the data to drop it (refuse) ends. Before, that
// goroutine read on for as long as the sender held the connection
// open: for good, a sender frozen or not honest, whose write deadline
// is its own. Raft's line about the answer it then could not write is
// a warning: this member closed the connection, and is sound (it was
// an error, "failed to flush response").
func TestARefusedSnapshotsStalledSenderIsCutOff(t *testing.T) {
	var raftLog testkit.SyncBuffer
	member := refusingMemberLogged(t, nil, zerolog.Nop(), zerolog.New(&raftLog), 100*time.Millisecond)
	from, conn := oneConnTransport(t, member.LocalAddr())
	const drain = "ringex/replicator.(*cutTransport).refuse.func"
	base := goroutinesRunning(drain) // other tests' drains still running
	stall := &stalledReader{reached: make(chan struct{}), release: make(chan struct{})}
	sent := make(chan error, 1)
	go func() {
		header := raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("2"), Addr: []byte("10.0.0.2:1")}
		req := raft.InstallSnapshotRequest{RPCHeader: header, SnapshotVersion: raft.SnapshotVersionMax, Term: 2,
			LastLogIndex: 10, LastLogTerm: 2, Configuration: []byte("not a membership"), ConfigurationIndex: 1, Size: 1 << 20}
		sent <- from.InstallSnapshot(serverID(1), member.LocalAddr(), &req, &raft.InstallSnapshotResponse{}, stall)
	}()
	defer func() {
		close(stall.release)
		conn.Close() // whatever the member did: the sender reads no answer
		select {
		case <-sent:
		case <-time.After(10 * time.Second):
			t.Error("the sender still waits 10 s after its data ended")
		}
	}()

	// The request went out (raft flushes it before it reads the data,
	// and sets the connection's deadline before both); the member closes
	// the connection: the sender's end reads its end.
	select {
	case <-stall.reached:
	case err := <-sent:
		t.Fatalf("the sender ended before it read its data: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the sender did not read its data within 10 s")
	}
	closedByMember(t, conn, "the stalled sender's connection")
	for deadline := time.Now().Add(10 * time.Second); goroutinesRunning(drain) > base; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the goroutine reading the refused snapshot's data still runs 10 s after the member closed its connection")
		}
	}
	if line := awaitLogged(t, &raftLog, "failed to flush response"); line.Level != "warn" || !strings.Contains(line.Message, errCutOff.Error()) {
		t.Fatalf("raft's line about the refusal it could not write: %+v, want a warning naming the cut (%s)", line, errCutOff)
	}
}

// stalledReader is a snapshot's data that has nothing to give: its
// first read closes reached, and each waits for release, then ends.
type stalledReader struct {
	reached, release chan struct{}
	once             sync.Once
}

func (s *stalledReader) Read([]byte) (int, error) {
	s.once.Do(func() { close(s.reached) })
	<-s.release
	return 0, io.EOF
}

// refusingMember is a member's transport (cutTransport, with fence,
// logging to log) listening on loopback as Open's does, with timeout
// its I/O timeout and its bound for a connection's first request
// (testBounds), whose raft answers each AppendEntries passed on to it
// with success. Closed when the test ends.
func refusingMember(t testing.TB, fence *fence, log zerolog.Logger, timeout time.Duration) *cutTransport {
	t.Helper()
	return refusingMemberLogged(t, fence, log, zerolog.Nop(), timeout)
}

// refusingMemberLogged is refusingMember with raft's lines written to
// raftLog, as Open's zerologWriter writes them.
func refusingMemberLogged(t testing.TB, fence *fence, log, raftLog zerolog.Logger, timeout time.Duration) *cutTransport {
	t.Helper()
	hlog := hclog.New(&hclog.LoggerOptions{Name: "raft", Level: hclog.Info, Output: zerologWriter{log: raftLog, repeats: &raftRepeats{}}, DisableTime: true})
	inner, _, err := newTCPTransport("127.0.0.1:0", nil, testBounds(timeout), hlog)
	if err != nil {
		t.Fatal(err)
	}
	return answering(t, inner, fence, log)
}

// answering is refusingMember over inner.
func answering(t testing.TB, inner *raft.NetworkTransport, fence *fence, log zerolog.Logger) *cutTransport {
	t.Helper()
	member := newCutTransport(inner, fence, log)
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop); member.Close() })
	go func() {
		for {
			select {
			case rpc := <-member.Consumer():
				if _, ok := rpc.Command.(*raft.AppendEntriesRequest); ok {
					rpc.Respond(&raft.AppendEntriesResponse{Term: 2, Success: true}, nil)
				} else {
					rpc.Respond(nil, fmt.Errorf("passed on to raft: %T", rpc.Command))
				}
			case <-stop:
				return
			}
		}
	}()
	return member
}

// testBounds holds a test transport's connections to timeout, for each
// byte of a request under way and for a connection's first request, at
// most as many at once as a member of three holds (portBounds).
func testBounds(timeout time.Duration) connBounds {
	perAddress, most := portBounds(3)
	return connBounds{timeout: timeout, first: timeout, max: most, perAddress: perAddress, log: zerolog.Nop()}
}

// oneConnTransport is a network transport whose every request to any
// member goes on one connection to to, dialled once (conn): raft's
// sends an InstallSnapshot on a connection of its own, closed after it.
// Closed when the test ends.
func oneConnTransport(t testing.TB, to raft.ServerAddress) (trans *raft.NetworkTransport, conn net.Conn) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", string(to), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	s := &oneConnStream{conn: conn, closed: make(chan struct{})}
	trans = raft.NewNetworkTransport(s, 1, 10*time.Second, io.Discard)
	t.Cleanup(func() { trans.Close(); conn.Close() })
	return trans, conn
}

// oneConnStream is oneConnTransport's stream layer: it dials conn, kept
// open by the transport (keptOpen), and accepts nothing.
type oneConnStream struct {
	conn   net.Conn
	closed chan struct{}
	once   sync.Once
}

func (s *oneConnStream) Dial(raft.ServerAddress, time.Duration) (net.Conn, error) {
	return keptOpen{s.conn}, nil
}

func (s *oneConnStream) Accept() (net.Conn, error) {
	<-s.closed
	return nil, net.ErrClosed
}

func (s *oneConnStream) Close() error {
	s.once.Do(func() { close(s.closed) })
	return nil
}

func (s *oneConnStream) Addr() net.Addr { return s.conn.LocalAddr() }

// keptOpen is a connection the transport's Close leaves open.
type keptOpen struct{ net.Conn }

func (keptOpen) Close() error { return nil }

// An InstallSnapshot a member's transport holds when it closes (raft
// not taking it) is refused as any refusal is, its data read to its end
// first: the sender hears the transport's shutdown. Before, it was
// answered unread, and with more data than the sockets hold the sender,
// still writing, lost the answer to a reset.
func TestASnapshotUnderWayAtShutdownIsAnswered(t *testing.T) {
	inner, _, err := newTCPTransport("127.0.0.1:0", nil, testBounds(transportTimeout), hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	relay := relayed{NetworkTransport: inner, in: make(chan raft.RPC)}
	member := newCutTransport(relay, nil, zerolog.Nop())
	defer member.Close()
	from, _ := oneConnTransport(t, member.LocalAddr())

	state := bytes.Repeat([]byte{0xfe}, 8<<20) // far beyond the sockets' buffers
	sent := make(chan error, 1)
	go func() {
		header := raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("2"), Addr: []byte("10.0.0.2:1")}
		req := raft.InstallSnapshotRequest{RPCHeader: header, SnapshotVersion: raft.SnapshotVersionMax, Term: 2, LastLogIndex: 10, LastLogTerm: 2,
			Configuration: raft.EncodeConfiguration(raft.Configuration{Servers: membership("10.0.0.1:1", "10.0.0.2:1")}), ConfigurationIndex: 1, Size: int64(len(state))}
		sent <- from.InstallSnapshot(serverID(1), member.LocalAddr(), &req, &raft.InstallSnapshotResponse{}, bytes.NewReader(state))
	}()
	// The member's transport takes the snapshot, and nobody takes it
	// from the transport: it holds it when it closes.
	select {
	case rpc := <-inner.Consumer():
		select {
		case relay.in <- rpc:
		case <-time.After(10 * time.Second):
			t.Fatal("the member's transport did not take the snapshot within 10 s")
		}
	case err := <-sent:
		t.Fatalf("the sender ended before the member received its snapshot: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the member did not receive the snapshot within 10 s")
	}
	member.Close()
	select {
	case err := <-sent:
		if err == nil || !strings.Contains(err.Error(), raft.ErrTransportShutdown.Error()) {
			t.Fatalf("the snapshot under way at the shutdown answered %v, want the transport's shutdown", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the snapshot under way at the shutdown unanswered 10 s after")
	}
}

// relayed is a member's network transport whose requests the test
// hands on itself (in): when it likes.
type relayed struct {
	*raft.NetworkTransport
	in chan raft.RPC
}

func (r relayed) Consumer() <-chan raft.RPC { return r.in }
