package replicator

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/rs/zerolog"
)

// snapshotDirs are the names of the directories in dir/snapshots.
func snapshotDirs(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, "snapshots"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	return names
}

// A member that takes raft snapshot after raft snapshot keeps two
// directories: raft's file store, opened with retain 2, reaps the older
// ones at each snapshot's Close (ReapSnapshots), and keeps the two
// newest. Across a restart too. (Raft reaps only what it lists: a
// directory whose meta.json does not read, or a "*.tmp" one, Open
// removes at start — checkSnapshotsSkipped, removeSnapshotTemps.)
func TestRaftSnapshotsRetainedTwo(t *testing.T) {
	dir, open := ownSnapshotMember(t) // one snapshot, of inputs 1…5
	_, first := onlySnapshotDir(t, dir)
	const rounds = 8
	applied := int64(5)
	taken := []uint64{first} // the snapshots' indexes, oldest first
	for restart := range 2 {
		r, err := open(applied, zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		awaitReady(t, r)
		for i := range rounds {
			e := batch(applied+1, 3)
			binary.LittleEndian.PutUint32(e[4:], 1) // origin: this member
			binary.LittleEndian.PutUint64(e[8:], 1) // its incarnation
			if err := r.Propose(e); err != nil {
				r.Close()
				t.Fatal(err)
			}
			applied += 3
			if err := r.Compact(); err != nil {
				r.Close()
				t.Fatalf("compact %d after restart %d: %v", i, restart, err)
			}
			store, err := raft.NewFileSnapshotStoreWithLogger(dir, 2, hclog.NewNullLogger())
			if err != nil {
				r.Close()
				t.Fatal(err)
			}
			metas, err := store.List()
			if err != nil {
				r.Close()
				t.Fatal(err)
			}
			taken = append(taken, metas[0].Index)
			if dirs := snapshotDirs(t, dir); len(dirs) != 2 {
				r.Close()
				t.Fatalf("after snapshot %d of %d (restart %d): %d snapshot directories %v, want 2", i+1, rounds, restart, len(dirs), dirs)
			}
			var kept []uint64
			for _, m := range metas {
				kept = append(kept, m.Index)
			}
			if n := len(taken); n < 2 || taken[n-1] <= taken[n-2] {
				r.Close()
				t.Fatalf("snapshots taken at %v: the last one is not new", taken)
			}
			if want := []uint64{taken[len(taken)-1], taken[len(taken)-2]}; !slices.Equal(kept, want) {
				r.Close()
				t.Fatalf("kept snapshots at %v, want the two newest %v (of %v)", kept, want, taken)
			}
		}
		r.Close()
	}
}
