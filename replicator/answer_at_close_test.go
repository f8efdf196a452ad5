package replicator

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/rs/zerolog"
)

// An answer whose write has begun when the member's transport closes
// reaches its sender, and the connection closes after it. Before, a
// connection's request counted as answered as soon as the write of its
// answer began: a Close in between took the connection for idle and
// closed it under the write. A member that staged the leader's state
// and stopped at once (ErrInstalled) so lost its answer to the install,
// and the leader sent the same state again at its next start
// (TestAnInstalledStateIsNotSentAgain, under load). Here the write
// waits at its start until the transport has closed.
func TestAnAnswerBeingWrittenAtCloseReachesItsSender(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	stream := &heldWriteStream{tcpStream: tcpStream{ln: ln, advertise: ln.Addr()}, writing: make(chan struct{}), release: make(chan struct{})}
	inner, _ := newBoundedTransport(stream, testBounds(transportTimeout), hclog.NewNullLogger())
	member := answering(t, inner, nil, zerolog.Nop())
	from, conn := oneConnTransport(t, member.LocalAddr())
	release := sync.OnceFunc(func() { close(stream.release) })
	t.Cleanup(release) // a test failed before: the write goes on

	answered := make(chan error, 1)
	go func() {
		var resp raft.AppendEntriesResponse
		err := from.AppendEntries(serverID(1), member.LocalAddr(), &testAppend, &resp)
		if err == nil && !resp.Success {
			err = io.ErrUnexpectedEOF
		}
		answered <- err
	}()
	select {
	case <-stream.writing:
	case err := <-answered:
		t.Fatalf("the request ended before its answer was written: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the member did not begin to write its answer within 10 s")
	}
	if err := member.Close(); err != nil {
		t.Fatal(err)
	}
	release()
	select {
	case err := <-answered:
		if err != nil {
			t.Fatalf("the answer written as the member closed: %v, want the member's success", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the request unanswered 10 s after the member closed")
	}
	closedByMember(t, conn, "the connection after its answer")
}

// heldWriteStream is a TCP stream layer whose accepted connections'
// first write tells writing and waits for release before it writes.
type heldWriteStream struct {
	tcpStream
	writing, release chan struct{}
	once             sync.Once
}

func (s *heldWriteStream) Accept() (net.Conn, error) {
	c, err := s.tcpStream.Accept()
	if err != nil {
		return nil, err
	}
	return heldWriteConn{Conn: c, s: s}, nil
}

type heldWriteConn struct {
	net.Conn
	s *heldWriteStream
}

func (c heldWriteConn) Write(p []byte) (int, error) {
	c.s.once.Do(func() {
		close(c.s.writing)
		<-c.s.release
	})
	return c.Conn.Write(p)
}
