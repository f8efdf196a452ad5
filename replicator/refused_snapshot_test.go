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

	"github.com/hashicorp/raft"
	"github.com/rs/zerolog"
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
			member := refusingMember(t, fence, zerolog.Nop())
			member.cut.Store(tc.isolate)
			from := oneConnTransport(t, member.LocalAddr())

			state := bytes.Repeat([]byte{0xfe}, size) // no request's first byte
			req := raft.InstallSnapshotRequest{RPCHeader: header, SnapshotVersion: raft.SnapshotVersionMax, Term: 2,
				LastLogIndex: 10, LastLogTerm: 2, Configuration: configuration, ConfigurationIndex: 1, Size: int64(size)}
			err := from.InstallSnapshot(serverID(1), member.LocalAddr(), &req, &raft.InstallSnapshotResponse{}, bytes.NewReader(state))
			if err == nil || !strings.Contains(err.Error(), tc.refusal) {
				t.Fatalf("%s, %d bytes of data: the snapshot answered %v, want the refusal (%s)", tc.name, size, err, tc.refusal)
			}
			// The connection's next request: from a member not moved,
			// carrying nothing that does not decode.
			next := raft.AppendEntriesRequest{RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("1"), Addr: []byte("10.0.0.1:1")},
				Term: 2, PrevLogEntry: 1, PrevLogTerm: 1, Entries: []*raft.Log{testLog(2)}}
			var resp raft.AppendEntriesResponse
			err = from.AppendEntries(serverID(1), member.LocalAddr(), &next, &resp)
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

// refusingMember is a member's transport (cutTransport, with fence,
// logging to log) listening on loopback, whose raft answers each
// AppendEntries passed on to it with success. Closed when the test ends.
func refusingMember(t *testing.T, fence *fence, log zerolog.Logger) *cutTransport {
	t.Helper()
	inner, err := raft.NewTCPTransport("127.0.0.1:0", nil, 1, 10*time.Second, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
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

// oneConnTransport is a network transport whose every request to any
// member goes on one connection to to, dialled once: raft's sends an
// InstallSnapshot on a connection of its own, closed after it. Closed
// when the test ends.
func oneConnTransport(t *testing.T, to raft.ServerAddress) *raft.NetworkTransport {
	t.Helper()
	conn, err := net.DialTimeout("tcp", string(to), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	s := &oneConnStream{conn: conn, closed: make(chan struct{})}
	trans := raft.NewNetworkTransport(s, 1, 10*time.Second, io.Discard)
	t.Cleanup(func() { trans.Close(); conn.Close() })
	return trans
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
