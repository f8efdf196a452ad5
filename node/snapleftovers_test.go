package node

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/internal/testkit"
)

// The leftovers of snapshot writes a crash cut short (a .tmp beside the
// snapshots, up to the size of a snapshot: 62 MB for 1 M orders) are
// removed when the node opens its snapshot directory, before it writes
// anything, and each is logged. They stayed until the next snapshot was
// written — a day later with snapshot.schedule alone — on the disk that
// the crash may have filled.
func TestSnapshotLeftoversRemovedAtStart(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, _, _ := startNode(t, cfg)
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	leftovers := []string{"00000000000000000042.snap.tmp", "00000000000000000042.rules.tmp"}
	for _, name := range leftovers {
		if err := os.WriteFile(filepath.Join(cfg.SnapshotDir(), name), []byte("half a snapshot"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	logs := new(testkit.SyncBuffer)
	n, rec, err := New(cfg, zerolog.New(logs)) // restores the snapshot of input 0 and writes nothing
	if err != nil {
		t.Fatal(err)
	}
	defer n.discard()
	if rec.Replayed != 0 {
		t.Fatalf("recovered %+v, want nothing to replay", rec)
	}
	for _, name := range leftovers {
		if _, err := os.Stat(filepath.Join(cfg.SnapshotDir(), name)); !os.IsNotExist(err) {
			t.Errorf("%s still there after the start (%v)", name, err)
		}
		if !strings.Contains(logs.String(), name) {
			t.Errorf("its removal not logged: %s\n%s", name, logs.String())
		}
	}
	if seqs, _ := n.snaps.List(); len(seqs) != 1 || seqs[0] != 0 {
		t.Fatalf("snapshots %v, want the one of input 0 alone", seqs)
	}
}
