package replicator

import (
	"bytes"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-msgpack/v2/codec"
	"github.com/hashicorp/raft"
	"github.com/rs/zerolog"
)

// FuzzRaftPort: whatever a connection to the raft port sends — a
// request of raft's wire (a type byte, then the request in msgpack, as
// raft v1.7.1's NetworkTransport reads it) damaged anywhere, or any
// bytes — the member's transport neither panics nor holds the
// connection once the sender has ended its writes: the member closes it,
// answered or not, and an undamaged AppendEntries is answered. Each
// input is sent on a connection of its own to one member, which must
// take the next.
func FuzzRaftPort(f *testing.F) {
	request := func(typ byte, req any, data string) []byte {
		b := []byte{typ}
		var buf bytes.Buffer
		if err := codec.NewEncoder(&buf, &codec.MsgpackHandle{}).Encode(req); err != nil {
			f.Fatal(err)
		}
		return append(append(b, buf.Bytes()...), data...)
	}
	header := raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("1"), Addr: []byte("10.0.0.1:1")}
	appendEntries := request(0, &testAppend, "")
	f.Add(appendEntries)
	f.Add(append(bytes.Clone(appendEntries), appendEntries...)) // two requests on one connection
	f.Add(request(0, &raft.AppendEntriesRequest{RPCHeader: header, Term: 2, PrevLogEntry: 1, PrevLogTerm: 1,
		Entries: []*raft.Log{badMembershipEntry(2)}}, ""))
	f.Add(request(1, &raft.RequestVoteRequest{RPCHeader: header, Term: 3, LastLogIndex: 4, LastLogTerm: 2}, ""))
	f.Add(request(2, &raft.InstallSnapshotRequest{RPCHeader: header, SnapshotVersion: 1, Term: 3, LastLogIndex: 9,
		LastLogTerm: 2, Size: 5}, "state"))
	f.Add(request(3, &raft.TimeoutNowRequest{RPCHeader: header}, ""))
	f.Add([]byte{9})
	f.Add([]byte{0, 0xc6, 0xff, 0xff, 0xff, 0xf0}) // a bin 32 claiming 4 GiB
	const bound = 2 * time.Second
	member := refusingMember(f, nil, zerolog.Nop(), bound)
	// The member's close of a connection with bytes unread is a reset.
	reset := func(err error) bool { return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) }
	f.Fuzz(func(t *testing.T, sent []byte) {
		conn, err := net.DialTimeout("tcp", string(member.LocalAddr()), 10*time.Second)
		if err != nil {
			t.Fatalf("the member takes no connection after the last input: %v", err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(bound + 10*time.Second))
		if _, err := conn.Write(sent); err != nil && !reset(err) {
			t.Fatalf("write: %v", err)
		}
		conn.(*net.TCPConn).CloseWrite()
		answered, err := io.Copy(io.Discard, conn)
		if err != nil && !reset(err) {
			t.Fatalf("the member held a connection whose sender had ended (%d bytes sent): %v", len(sent), err)
		}
		if bytes.Equal(sent, appendEntries) && answered == 0 {
			t.Fatal("an AppendEntries as raft sends it went unanswered")
		}
	})
}
