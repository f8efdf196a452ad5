package replicator

import (
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/internal/testkit"
)

// The raft log holds every account's orders, and so do raft snapshots: a
// member's raft directory is its owner's only. Its log, stable store,
// member mark and snapshots directory are made 0600 and 0700; raft's own
// snapshot store makes each snapshot 0755 and 0644 (umask 0 while the
// test runs, so the modes asked for are the modes seen), closed to
// others by the directories above it. A raft directory an older build
// made 0755 is closed at the start, with a warning that says it was open
// to them, not why (an operator's mkdir makes it so too: it said "an
// older build made it readable by them"). All were 0644 and 0755, the
// directory readable by any local user.
func TestRaftDirOwnerOnly(t *testing.T) {
	base := t.TempDir()
	testkit.Umask0(t)
	for _, older := range []bool{false, true} {
		dir := filepath.Join(base, "raft")
		os.RemoveAll(dir)
		if older {
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		logs := new(testkit.SyncBuffer)
		raftMemberWithASnapshot(t, dir, zerolog.New(logs))
		open := testkit.OpenToOthers(t, dir, func(rel string) bool {
			return strings.HasPrefix(rel, "snapshots"+string(filepath.Separator)) // raft's own; below the two checked below
		})
		if len(open) > 0 {
			t.Errorf("open to other local users (older directory %v):\n%s", older, strings.Join(open, "\n"))
		}
		if snaps, _ := filepath.Glob(filepath.Join(dir, "snapshots", "*", "state.bin")); len(snaps) != 1 {
			t.Errorf("raft snapshots: %v", snaps)
		}
		if said := strings.Contains(logs.String(), "replicator: a raft directory was open to other local users"); said != older || strings.Contains(logs.String(), "older build") {
			t.Errorf("warned of closing the raft directory: %v, want %v; log:\n%s", said, older, logs)
		}
	}
}

// raftMemberWithASnapshot runs a one-member cluster on dir until it has
// committed an entry and taken a raft snapshot of it.
func raftMemberWithASnapshot(t *testing.T, dir string, log zerolog.Logger) {
	t.Helper()
	peers := []Peer{{ID: 1, Raft: testkit.ReserveAddrs(t, 1)[0], Gateway: "gw-1"}}
	dec := func(r io.Reader) (int64, error) {
		var v int64
		err := binary.Read(r, binary.LittleEndian, &v)
		return v, err
	}
	r, err := Open(Config{NodeID: 1, Listen: peers[0].Raft, Peers: peers, Dir: dir, Bootstrap: true, Incarnation: 1,
		Logger: log, HeartbeatTimeout: testHeartbeatTimeout,
		Deliver:  func(*Batch) error { return nil },
		Snapshot: func(v int64, w io.Writer) error { return binary.Write(w, binary.LittleEndian, v) },
		Install:  dec, SnapshotApplied: dec})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	awaitReady(t, r)
	e := batch(1, 5)
	binary.LittleEndian.PutUint32(e[4:], 1) // origin: this member
	binary.LittleEndian.PutUint64(e[8:], 1) // its incarnation
	if err := r.Propose(e); err != nil {
		t.Fatal(err)
	}
	if err := r.Compact(); err != nil {
		t.Fatal(err)
	}
}
