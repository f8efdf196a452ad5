package replicator

import (
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/rs/zerolog"

	"github.com/ringex/ringex/internal/testkit"
)

// A connection to the raft port that sends no request within the bound
// of its first is closed by the member, and raft's line about it is a
// warning; a connection idle after a request, as raft's pooled ones are
// between requests, is not. Before, a connection that never sent a byte
// was held for good: anyone who reached the port could open them until
// the process ran out of descriptors.
func TestAConnectionSendingNoRequestIsCutOff(t *testing.T) {
	const bound = 100 * time.Millisecond
	var raftLog testkit.SyncBuffer
	member := refusingMemberLogged(t, nil, zerolog.Nop(), zerolog.New(&raftLog), bound)

	silent, err := net.DialTimeout("tcp", string(member.LocalAddr()), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	closedByMember(t, silent, "a connection that sent nothing")
	line := awaitLogged(t, &raftLog, errCutOff.Error())
	if line.Level != "warn" || !strings.Contains(line.Message, "no first request") {
		t.Fatalf("raft's line about the connection cut off: %+v, want a warning saying no first request came", line)
	}

	// A pooled connection: a request, then idle for several bounds, then
	// another on it.
	from, _ := oneConnTransport(t, member.LocalAddr())
	for i := range 2 {
		if i == 1 {
			time.Sleep(3 * bound) // idle between requests, as a pooled connection is
		}
		var resp raft.AppendEntriesResponse
		if err := from.AppendEntries(serverID(1), member.LocalAddr(), &testAppend, &resp); err != nil || !resp.Success {
			t.Fatalf("request %d on a connection idle between requests: %+v (%v), want success", i+1, resp, err)
		}
	}
}

// testAppend is an AppendEntries from member 1, a member not moved,
// carrying nothing that does not decode.
var testAppend = raft.AppendEntriesRequest{RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("1"), Addr: []byte("10.0.0.1:1")},
	Term: 2, PrevLogEntry: 1, PrevLogTerm: 1, Entries: []*raft.Log{testLog(2)}}

// awaitLogged waits up to 10 s for a line of log whose message or error
// holds text, and returns the first.
func awaitLogged(t *testing.T, log *testkit.SyncBuffer, text string) loggedLine {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		for _, l := range loggedLines(t, log.String()) {
			if strings.Contains(l.Message, text) || strings.Contains(l.Error, text) {
				return l
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no line naming %q within 10 s; logged:\n%s", text, log.String())
		}
	}
}

// closedByMember fails t unless conn reads the member's close (EOF)
// within 10 s; what names the connection in the failure.
func closedByMember(t *testing.T, conn net.Conn, what string) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := conn.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("%s read %d bytes, %v; want the member's close (EOF)", what, n, err)
	}
}

// A transport's Close closes the connections it accepted: no goroutine
// of a stopped member still reads one. Before, raft's Close (v1.7.1)
// closed only the listener, and each accepted connection's reader read
// on until its peer closed it.
func TestAClosedTransportLeavesNoConnectionRead(t *testing.T) {
	const reader = "raft.(*NetworkTransport).handleConn"
	base := goroutinesRunning(reader) // other tests' connections
	member := refusingMember(t, nil, zerolog.Nop(), transportTimeout)
	from, _ := oneConnTransport(t, member.LocalAddr())
	var resp raft.AppendEntriesResponse
	if err := from.AppendEntries(serverID(1), member.LocalAddr(), &testAppend, &resp); err != nil || !resp.Success {
		t.Fatalf("the request before the close: %+v (%v), want success", resp, err)
	}
	if err := member.Close(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); goroutinesRunning(reader) > base; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("a goroutine still reads the peer's connection 10 s after the member's transport closed (the peer keeps it open)")
		}
	}
}

// A member's raft port holds at most maxAcceptedConns connections: one
// more is closed at once, counted, and logged at warn once however many
// follow — and the cluster's own replication goes on meanwhile, on the
// connections its members hold, and after, on new ones. Before, the
// port took every connection: anyone who reached it could open them
// until the process ran out of descriptors.
func TestTheRaftPortRefusesConnectionsOverItsBound(t *testing.T) {
	logs := make([]*testkit.SyncBuffer, 3)
	for i := range logs {
		logs[i] = &testkit.SyncBuffer{}
	}
	tune := func(c *Config) {
		c.Logger = zerolog.New(logs[c.NodeID-1])
		// The test's connections send nothing: held for their first
		// request 4 s (firstRequestWithin), many times what filling the
		// port takes; an idle leader tells its commit index every 1 to
		// 2 s, well within waitSame's wait.
		c.CommitTimeout = time.Second
	}
	ms, l := startCommitted(t, 3, tune, 1, nil)
	f := followersOf(ms, l)[0]
	const over = 16
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	// From loopback addresses of their own, each within its bound per
	// address (connsPerPeer of the 2 * connsPerPeer a member of three
	// holds from one).
	for i := range maxAcceptedConns + over {
		conns = append(conns, testkit.DialFrom(t, f.r.cfg.Listen, fmt.Sprintf("127.0.1.%d", 1+i/connsPerPeer)))
	}
	// The members' connections count too: at least over are refused.
	for deadline := time.Now().Add(10 * time.Second); f.r.port.refused.Load() < over; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the port refused %d of %d connections, %d over its bound, within 10 s", f.r.port.refused.Load(), len(conns), over)
		}
	}
	if held := heldConns(f.r.port); held != maxAcceptedConns {
		t.Fatalf("the port holds %d connections, want its bound, %d", held, maxAcceptedConns)
	}
	last := conns[len(conns)-1]
	closedByMember(t, last, "the last connection, over the bound,")
	var refusals []loggedLine
	for _, line := range loggedLines(t, logs[f.r.cfg.NodeID-1].String()) {
		if strings.Contains(line.Message, "holds as many as it may") {
			refusals = append(refusals, line)
		}
	}
	if len(refusals) != 1 || refusals[0].Level != "warn" {
		t.Fatalf("the refusals logged %+v, want one warning (the rest held back)", refusals)
	}

	// The port full, then emptied.
	commitWhileLeading(t, anyLeader(t, ms), 2, 10)
	waitSame(t, ms, 11)
	for _, c := range conns {
		c.Close()
	}
	for deadline := time.Now().Add(10 * time.Second); heldConns(f.r.port) >= maxAcceptedConns; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the port still holds its bound of connections 10 s after the test closed its own")
		}
	}
	commitWhileLeading(t, anyLeader(t, ms), 12, 10)
	waitSame(t, ms, 21)
}

// heldConns is how many connections port holds.
func heldConns(port *boundedStream) int {
	port.mu.Lock()
	defer port.mu.Unlock()
	return len(port.held)
}

// A peer trickling a request — a byte every half the transport's
// timeout, each well within the bound for a byte — is cut off once its
// bytes fall behind the pace a sender holds itself to
// (requestConn.requestBound): a timeout for its first requestScale
// bytes. Before, each byte in time renewed the bound: the trickler held
// the connection, its goroutine and its slot of the port for good.
func TestATricklingPeerIsCutOff(t *testing.T) {
	const timeout = 100 * time.Millisecond
	var raftLog testkit.SyncBuffer
	member := refusingMemberLogged(t, nil, zerolog.Nop(), zerolog.New(&raftLog), timeout)
	prefix := requestPrefix(t, 400)
	conn, err := net.DialTimeout("tcp", string(member.LocalAddr()), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// The member's close: a write after it fails (a reset, then a broken
	// pipe). 400 bytes at one each half timeout take 20 s.
	deadline := time.Now().Add(10 * time.Second)
	sent := 0
	for ; sent < len(prefix); sent++ {
		if time.Now().After(deadline) {
			t.Fatalf("the member still reads a request trickled for 10 s (%d bytes, one each %v)", sent, timeout/2)
		}
		if _, err := conn.Write(prefix[sent : sent+1]); err != nil {
			break
		}
		time.Sleep(timeout / 2) // the pace of the trickle, not a wait for the member
	}
	if sent == len(prefix) {
		t.Fatalf("the member read all %d bytes trickled", sent)
	}
	line := awaitLogged(t, &raftLog, errCutOff.Error())
	if line.Level != "warn" || !strings.Contains(line.Error+line.Message, "fell behind its bound") {
		t.Fatalf("raft's line about the trickler cut off: %+v, want a warning saying its request fell behind its bound", line)
	}
	t.Logf("cut off after %d bytes", sent)
}

// requestPrefix is the first n bytes a raft network transport writes
// for an AppendEntries (testAppend, its entry's data made long enough):
// a request a member reads as under way, byte after byte, until its end.
func requestPrefix(t *testing.T, n int) []byte {
	t.Helper()
	ours, theirs := net.Pipe()
	defer ours.Close()
	s := &oneConnStream{conn: theirs, closed: make(chan struct{})}
	from := raft.NewNetworkTransport(s, 1, 10*time.Second, io.Discard)
	defer from.Close()
	req := testAppend
	req.Entries = []*raft.Log{{Index: 2, Term: 2, Type: raft.LogCommand, Data: make([]byte, 2*n)}}
	go from.AppendEntries(serverID(1), "pipe", &req, &raft.AppendEntriesResponse{}) // ends with the pipe
	prefix := make([]byte, n)
	ours.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(ours, prefix); err != nil {
		t.Fatalf("reading the request's first %d bytes: %v", n, err)
	}
	return prefix
}

// One address holds at most its bound of a member's raft port
// (portBounds: connsPerPeer for each other member): one more from it is
// closed at once, and a peer at another address is still let in and
// answered. Before, the port took any address's connections up to its
// bound in all: one host holding every slot kept the members out.
func TestOneAddressLeavesTheRaftPortToPeers(t *testing.T) {
	member := refusingMember(t, nil, zerolog.Nop(), 10*time.Second) // the test's silent connections held 10 s
	perAddress, most := portBounds(3)
	var last net.Conn
	for range most + 1 { // over the bound in all too
		last = testkit.DialFrom(t, string(member.LocalAddr()), "127.0.0.2")
	}
	// The port takes them in order: once the last is closed, every one
	// is taken or closed.
	closedByMember(t, last, fmt.Sprintf("connection %d from one address, over its bound of %d,", most+1, perAddress))
	from, _ := oneConnTransport(t, member.LocalAddr()) // from 127.0.0.1
	var resp raft.AppendEntriesResponse
	if err := from.AppendEntries(serverID(1), member.LocalAddr(), &testAppend, &resp); err != nil || !resp.Success {
		t.Fatalf("a peer's request with one address at its bound: %+v (%v), want success", resp, err)
	}
}
