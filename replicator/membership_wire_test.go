package replicator

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// A follower sent a membership that does not decode — a membership
// entry in an AppendEntries, or a raft snapshot's membership in an
// InstallSnapshot — refuses the request with ErrCorrupt's text naming
// it and stores nothing; it stays up. Before, raft panicked on it
// (raft.go:1548, after it stored the entry; raft.go:1861) and the
// member's process died.
func TestAMembershipSentThatDoesNotDecodeIsRefused(t *testing.T) {
	peers := testPeers(t, 3)
	// Alone of three, member 1 is elected by none: it stays a follower
	// of term 1 (pre-vote keeps its term), its log the bootstrap entry.
	m, err := openMember(t, peers, 0, t.TempDir(), nil, true)
	if err != nil {
		t.Fatal(err)
	}
	leader, err := raft.NewTCPTransport("127.0.0.1:0", nil, 1, 5*time.Second, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer leader.Close()
	header := raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("2"), Addr: []byte(leader.LocalAddr())}
	to := raft.ServerAddress(peers[0].Raft)
	for _, tc := range []struct {
		name string
		send func() error
	}{
		{"an AppendEntries' membership entry", func() error {
			req := raft.AppendEntriesRequest{RPCHeader: header, Term: 2, PrevLogEntry: 1, PrevLogTerm: 1,
				Entries: []*raft.Log{testLog(2), badMembershipEntry(3)}}
			return leader.AppendEntries(serverID(1), to, &req, &raft.AppendEntriesResponse{})
		}},
		{"an InstallSnapshot's membership", func() error {
			state := []byte("state")
			req := raft.InstallSnapshotRequest{RPCHeader: header, SnapshotVersion: raft.SnapshotVersionMax, Term: 2,
				LastLogIndex: 10, LastLogTerm: 2, Configuration: []byte("not a membership"), ConfigurationIndex: 1, Size: int64(len(state))}
			return leader.InstallSnapshot(serverID(1), to, &req, &raft.InstallSnapshotResponse{}, bytes.NewReader(state))
		}},
	} {
		err := tc.send()
		if err == nil || !strings.Contains(err.Error(), ErrCorrupt.Error()) || !strings.Contains(err.Error(), "does not decode") {
			t.Fatalf("%s that does not decode: answered %v, want a refusal naming it", tc.name, err)
		}
		if last, err := m.r.logs.LastIndex(); err != nil || last != 1 {
			t.Fatalf("after %s was refused: last index %d (%v), want the bootstrap entry's, 1", tc.name, last, err)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		t.Fatalf("the member stopped: %v", m.fail)
	}
}
