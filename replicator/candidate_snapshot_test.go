package replicator

import (
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// A candidate that took an InstallSnapshot from the leader at the term
// it campaigns from still lets the others elect when that leader dies.
// Raft (v1.7.1 installSnapshot) sets the leader from a snapshot of the
// current term without making a candidate a follower; with pre-vote a
// candidate keeps its term while it asks for pre-votes, so it stayed a
// candidate that knew a leader, refused every (pre-)vote "since we
// have a leader", and a member whose log is ahead of it — which must
// have its vote — was never elected (cutTransport.RequestPreVote). The snapshot is put where raft
// takes RPCs from the transport (the candidate is cut off: the leader's
// heartbeats, which would make it a follower, do not reach it), and is
// short by a byte so raft installs nothing after setting its leader.
func TestCandidateTakingTheLeadersSnapshotStillElects(t *testing.T) {
	ms := startMembers(t, 3, nil)
	l := waitLeader(t, ms, nil)
	fs := followersOf(ms, l)
	x, y := fs[0], fs[1]

	// x misses entries the others commit: its log is behind y's, and y
	// refuses it as leader.
	x.r.Isolate(true)
	if err := propose(l, 1, 3); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); x.r.raft.State() != raft.Candidate; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("member %d cut off not a candidate within 10s: %v", x.r.cfg.NodeID, x.r.raft.State())
		}
	}

	term := raftLeadership{l.r.raft}.Term()
	id := serverID(l.r.cfg.NodeID)
	addr := l.r.trans.LocalAddr()
	resp := make(chan raft.RPCResponse, 1)
	req := &raft.InstallSnapshotRequest{
		RPCHeader:       raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte(id), Addr: x.r.trans.EncodePeer(id, addr)},
		SnapshotVersion: raft.SnapshotVersionMax, Term: term, LastLogIndex: 1, LastLogTerm: 1, Size: 1,
		Configuration: raft.EncodeConfiguration(l.r.raft.GetConfiguration().Configuration()), ConfigurationIndex: 1,
	}
	select {
	case x.r.trans.out <- raft.RPC{Command: req, Reader: strings.NewReader(""), RespChan: resp}:
	case <-time.After(10 * time.Second):
		t.Fatal("raft took no RPC within 10s")
	}
	select {
	case <-resp:
	case <-time.After(10 * time.Second):
		t.Fatal("raft answered no InstallSnapshot within 10s")
	}
	_, knows := x.r.raft.LeaderWithID()
	t.Logf("member %d (%v, term %d) took leader %s's snapshot of term %d; leader known: %q", x.r.cfg.NodeID,
		x.r.raft.State(), raftLeadership{x.r.raft}.Term(), id, term, knows)

	// The leader dies; x is heard again. Neither x nor y can be elected
	// without the other's vote.
	l.r.Close()
	x.r.Isolate(false)
	waitLeader(t, []*member{x, y}, nil)
	noneFailed(t, []*member{x, y})
}
