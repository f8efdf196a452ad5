package replicator

import (
	"testing"

	"github.com/hashicorp/raft"
	"github.com/rs/zerolog"
)

// deposedCommit is a commit index no leader of these tests reaches: a
// Contact that reports it took a deposed leader's.
const deposedCommit = 1 << 40

// An AppendEntries of a term older than the member's (a deposed
// leader's, which raft ignores) is not noted as the leader's commit
// index; one of the member's term or a newer one is. Before, every
// AppendEntries with a commit index was: a member moved to a newer term
// and cut off from its leader, still hearing the deposed one, was in
// touch (Contact.Heard) and its market data current on a commit index
// raft refused.
func TestAnOlderTermsCommitIndexIsNotNoted(t *testing.T) {
	_, local := raft.NewInmemTransport("a")
	tr := newCutTransport(local, nil, zerolog.Nop())
	defer tr.Close()
	memberTerm := uint64(6)
	term := func() uint64 { return memberTerm }
	tr.currentTerm.Store(&term)
	appendAt := func(term, commit uint64) raft.RPC {
		return raft.RPC{Command: &raft.AppendEntriesRequest{Term: term, LeaderCommitIndex: commit}}
	}
	tr.noteLeaderCommit(appendAt(5, deposedCommit))
	if c, at := tr.leaderCommit.Load(), tr.heardAt.Load(); c != 0 || at != 0 {
		t.Fatalf("a term-5 AppendEntries at term 6 was noted: leader commit %d, heard at %d", c, at)
	}
	for _, tc := range []struct{ term, commit uint64 }{{6, 10}, {7, 11}} {
		tr.noteLeaderCommit(appendAt(tc.term, tc.commit))
		if c, at := tr.leaderCommit.Load(), tr.heardAt.Load(); c != tc.commit || at == 0 {
			t.Fatalf("a term-%d AppendEntries at term %d: leader commit %d (want %d), heard at %d", tc.term, memberTerm, c, tc.commit, at)
		}
	}
}

// A member whose leader stopped, and that moved to the newer term of
// the leader elected after, does not take the commit index of an
// AppendEntries of the stopped leader's term (as one still alive on the
// far side of a split sends) as its leader's: the term Open wires in is
// raft's.
func TestAMemberAtANewerTermTakesNoDeposedLeadersCommitIndex(t *testing.T) {
	ms, l := startCommitted(t, 3, nil, 1, nil)
	old := raftLeadership{l.r.raft}.Term()
	oldID, oldAddr := l.r.cfg.NodeID, l.r.trans.LocalAddr()
	if err := l.r.Close(); err != nil {
		t.Fatal(err)
	}
	next := waitLeader(t, ms, l)
	m := followersOf(followersOf(ms, l), next)[0]
	// The new leader stopped too: nothing but the request below tells m
	// a commit index.
	if err := next.r.Close(); err != nil {
		t.Fatal(err)
	}
	if got := m.r.stable.CurrentTerm(); got <= old {
		t.Fatalf("the member's term is %d, not newer than the stopped leader's %d", got, old)
	}
	from, _ := oneConnTransport(t, m.r.trans.LocalAddr())
	req := raft.AppendEntriesRequest{RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte(serverID(oldID)), Addr: []byte(oldAddr)},
		Term: old, LeaderCommitIndex: deposedCommit}
	var resp raft.AppendEntriesResponse
	if err := from.AppendEntries(serverID(oldID), m.r.trans.LocalAddr(), &req, &resp); err != nil {
		t.Fatal(err)
	}
	if resp.Success || resp.Term <= old {
		t.Fatalf("raft answered the term-%d AppendEntries %+v: not refused as of an older term", old, resp)
	}
	if c := m.r.Contact(); c.LeaderCommit == deposedCommit {
		t.Fatalf("the member took the deposed leader's commit index: %+v", c)
	}
}

// CurrentTerm is the term last written, and the one the file holds at
// open.
func TestStableStoreCurrentTermIsTheLastWritten(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenStableStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.CurrentTerm(); got != 0 {
		t.Fatalf("a new store's term is %d", got)
	}
	for _, term := range []uint64{7, 9} {
		if err := s.SetUint64([]byte(currentTermKey), term); err != nil {
			t.Fatal(err)
		}
		if err := s.SetUint64([]byte("LastVoteTerm"), term+100); err != nil {
			t.Fatal(err)
		}
		if got := s.CurrentTerm(); got != term {
			t.Fatalf("term %d written, CurrentTerm %d", term, got)
		}
	}
	again, err := OpenStableStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := again.CurrentTerm(); got != 9 {
		t.Fatalf("reopened, CurrentTerm is %d, want 9", got)
	}
}
