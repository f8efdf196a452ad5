package node

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/journal"
	"github.com/ringex/ringex/replay"
	"github.com/ringex/ringex/snapshot"
)

// A snapshot records the checksum of its last input's journal record, and
// a node refuses to start from one whose record differs from its
// journal's: a snapshot copied in from another node or exchange (here,
// another node's snapshot of an input this node journaled too, from the
// same orders sent at other times). It started from the other node's
// state and replayed its own inputs after it — a state that never was —
// whenever the snapshot's input was not past the journal's end. With the
// snapshot moved out, the node recovers its own state. A node's own
// snapshot passes the check (crashAfterASnapshot's in
// TestEmptyJournalAfterASnapshotOfAStandaloneNode, with its segments).
func TestSnapshotOfOtherInputsRefused(t *testing.T) {
	other := t.TempDir()
	snapSeq, _ := crashAfterASnapshot(t, other)
	otherSnaps, err := snapshot.OpenStore(testConfig(t, other).SnapshotDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	copied, err := otherSnaps.Read(snapSeq)
	if err != nil {
		t.Fatal(err)
	}
	if !copied.InputKnown {
		t.Fatalf("the snapshot of input %d records no checksum of it", snapSeq)
	}
	if want, _, err := journal.ChecksumAt([]string{testConfig(t, other).JournalDir()}, nil, snapSeq); err != nil || want != copied.InputChecksum {
		t.Fatalf("the snapshot records checksum %08x, its journal %08x (%v)", copied.InputChecksum, want, err)
	}

	dir := t.TempDir()
	cfg := testConfig(t, dir)
	cfg.Snapshot.OnStop = false
	n, a, _ := startNode(t, cfg)
	restBids(t, dial(t, a.Gateway, 3), cfg.Instruments[0], 1, 100)
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	last := n.Final().LastSeq
	if last < snapSeq {
		t.Fatalf("this node journaled to input %d, before the other's snapshot at %d", last, snapSeq)
	}
	b, err := os.ReadFile(copied.Path)
	if err != nil {
		t.Fatal(err)
	}
	into := filepath.Join(cfg.SnapshotDir(), filepath.Base(copied.Path))
	if err := os.WriteFile(into, b, 0o600); err != nil {
		t.Fatal(err)
	}

	n2, rec, err := New(cfg, zerolog.Nop())
	if err == nil {
		n2.discard()
		t.Fatalf("started from another node's snapshot of input %d (recovered %+v)", snapSeq, rec)
	}
	if !errors.Is(err, replay.ErrOtherInputs) {
		t.Fatalf("%v, want replay.ErrOtherInputs", err)
	}
	for _, want := range []string{into, cfg.SnapshotDir(), "journal.dir"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("refused without %q: %v", want, err)
		}
	}

	if err := os.Remove(into); err != nil {
		t.Fatal(err)
	}
	n3, rec, err := New(cfg, zerolog.Nop())
	if err != nil {
		t.Fatalf("with the other's snapshot moved out: %v", err)
	}
	n3.discard()
	if rec.LastSeq != last {
		t.Fatalf("recovered %+v, want input %d", rec, last)
	}
}
