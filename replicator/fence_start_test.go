package replicator

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
)

// A member killed after raft stored a leader's raft snapshot that moved
// a member, before its fence compared memberships (installed), wrote
// nothing, nor aside: its next start compares the membership of the
// snapshot raft starts from with raft's before it (started) and fences
// the move — and lifts nothing (the file may list an address the
// snapshot has a member at, which an entry after the snapshot moved it
// away from: raft applies that entry again only once a leader commits
// it), and refuses nothing until place, where an address raft's
// membership has the member at is never refused. Before, the start took
// the snapshot's membership as current (seed) and the move was fenced
// nowhere.
func TestAStartFencesAMoveInTheRaftSnapshotItStartsFrom(t *testing.T) {
	const header = "# raft addresses members were moved away from (cluster replace): RPCs from a process still there are refused\n"
	f := openFenceListing(t, header+"2 10.0.0.2:1\n")
	// Member 1 spelled as another member's peers spell it: not moved.
	before, snapshot := membership("localhost:7001", "10.0.0.2:1", "10.0.0.3:1"), membership("127.0.0.1:7001", "10.0.0.2:1", "10.0.0.3:2")
	if err := f.started(before, snapshot); err != nil {
		t.Fatal(err)
	}
	if err := f.check(voteFrom(2, "10.0.0.2:1")); err != nil {
		t.Fatalf("refused before place, where raft's membership may have member 2 at its address again: %v", err)
	}
	f.place(membership("127.0.0.1:7001", "10.0.0.2:9", "10.0.0.3:2")) // raft: the snapshot, then member 2's move
	for _, hdr := range []*raft.RequestVoteRequest{voteFrom(3, "10.0.0.3:1"), voteFrom(2, "10.0.0.2:1")} {
		if err := f.check(hdr); !isFenceRefusal(err) {
			b, _ := os.ReadFile(f.path)
			t.Fatalf("restarted, member %s is heard at its former address %s: %v (fenced file: %q)", hdr.ID, hdr.Addr, err, b)
		}
	}
	for _, hdr := range []*raft.RequestVoteRequest{voteFrom(3, "10.0.0.3:2"), voteFrom(1, "127.0.0.1:7001"), voteFrom(1, "localhost:7001")} {
		if err := f.check(hdr); err != nil {
			t.Fatalf("%s at %s refused: %v", hdr.ID, hdr.Addr, err)
		}
	}
	if b, err := os.ReadFile(f.path); err != nil || string(b) != header+"2 10.0.0.2:1\n3 10.0.0.3:1\n" {
		t.Fatalf("the file holds %q (%v)", b, err)
	}

	// A start from a snapshot with no move in it writes nothing.
	if err := os.Remove(f.path); err != nil {
		t.Fatal(err)
	}
	g, err := openFence(filepath.Dir(f.path), f.log)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.started(snapshot, snapshot); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(g.path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a start with nothing moved wrote the file: %v", err)
	}
}

// membershipBefore is the membership raft held before the raft snapshot
// it starts from: the latest membership entry of the log at or before
// that snapshot's index and after the snapshot before it, else that
// snapshot's membership, else none.
func TestMembershipBefore(t *testing.T) {
	a, b, c := membership("10.0.0.1:1", "10.0.0.2:1"), membership("10.0.0.1:1", "10.0.0.2:2"), membership("10.0.0.1:1", "10.0.0.2:3")
	dir := filepath.Join(t.TempDir(), "log")
	s, err := OpenLogStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	member := func(i uint64, servers []raft.Server) *raft.Log {
		return &raft.Log{Index: i, Term: 1, Type: raft.LogConfiguration, Data: raft.EncodeConfiguration(raft.Configuration{Servers: servers})}
	}
	// 1: a, 2–4: batches, 5: b, 6–9: batches
	logs := []*raft.Log{member(1, a), testLog(2), testLog(3), testLog(4), member(5, b)}
	for i := uint64(6); i <= 9; i++ {
		logs = append(logs, testLog(i))
	}
	if err := s.StoreLogs(logs); err != nil {
		t.Fatal(err)
	}
	// Opened again, as at a start: membershipBefore reads the membership
	// entries OpenLogStore found.
	s.Close()
	if s, err = OpenLogStore(dir); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	snap := func(index uint64, servers []raft.Server) *raft.SnapshotMeta {
		return &raft.SnapshotMeta{Index: index, Configuration: raft.Configuration{Servers: servers}}
	}
	for _, tc := range []struct {
		name  string
		metas []*raft.SnapshotMeta
		want  []raft.Server
	}{
		{"the latest entry at or before the snapshot", []*raft.SnapshotMeta{snap(8, c)}, b},
		{"not one after it", []*raft.SnapshotMeta{snap(4, c)}, a},
		{"an entry after the older snapshot", []*raft.SnapshotMeta{snap(8, c), snap(3, a)}, b},
		{"the older snapshot's, no entry after it", []*raft.SnapshotMeta{snap(8, c), snap(6, b)}, b},
		{"the older snapshot's, before the log", []*raft.SnapshotMeta{snap(40, c), snap(30, a)}, a},
	} {
		got, err := membershipBefore(s, tc.metas)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v (%v), want %v", tc.name, got, err, tc.want)
		}
	}
}

// A start whose log holds a membership entry that does not decode
// (whole in the log, its check good: written so) is refused with
// ErrCorrupt naming the log and the entry, before raft runs: the entry
// before the raft snapshot it starts from (membershipBefore reads it),
// one after it, or any in a log with no raft snapshot (raft's NewRaft
// decodes each of those). Before, raft's decoding panicked and the start
// died naming nothing.
func TestAStartRefusesAMembershipEntryThatDoesNotDecode(t *testing.T) {
	peers := testPeers(t, 3)
	good := &raft.Log{Index: 1, Term: 1, Type: raft.LogConfiguration, Data: raft.EncodeConfiguration(raft.Configuration{Servers: membershipOf(peers)})}
	for _, tc := range []struct {
		name     string
		entries  []*raft.Log
		snapshot uint64 // the raft snapshot's index; 0: none
		bad      uint64
	}{
		{"before its raft snapshot", []*raft.Log{badMembershipEntry(1), testLog(2), testLog(3)}, 3, 1},
		{"after its raft snapshot", []*raft.Log{good, testLog(2), badMembershipEntry(3), testLog(4)}, 2, 3},
		{"no raft snapshot", []*raft.Log{good, testLog(2), badMembershipEntry(3), testLog(4)}, 0, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			raftState(t, dir, 1, tc.entries...)
			if tc.snapshot > 0 {
				raftSnapshotAt(t, dir, tc.snapshot, membershipOf(peers))
			}
			_, err := openJoining(t, peers, dir, "")
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("started on a membership entry that does not decode: %v, want ErrCorrupt", err)
			}
			for _, want := range []string{filepath.Join(dir, "log"), fmt.Sprintf("entry %d, a membership entry", tc.bad)} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("the refusal does not say %q: %v", want, err)
				}
			}
		})
	}
}

// badMembershipEntry is a membership entry at index whose data does not
// decode (raft's DecodeConfiguration panics on it).
func badMembershipEntry(index uint64) *raft.Log {
	return &raft.Log{Index: index, Term: 1, Type: raft.LogConfiguration, Data: []byte("not a membership")}
}

// raftSnapshotAt gives dir a raft snapshot of the state at index, term
// 1, its membership servers.
func raftSnapshotAt(t *testing.T, dir string, index uint64, servers []raft.Server) {
	t.Helper()
	snaps, err := raft.NewFileSnapshotStore(dir, 2, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	_, trans := raft.NewInmemTransport("") // encodes the snapshot's peers (protocol version 0)
	sink, err := snaps.Create(raft.SnapshotVersionMax, index, 1, raft.Configuration{Servers: servers}, 1, trans)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sink.Write([]byte("state")); err != nil {
		t.Fatal(err)
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
}
