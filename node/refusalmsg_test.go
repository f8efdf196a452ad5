package node

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/replay"
)

// A start refused because the journal after the snapshot it restores
// does not begin where the snapshot ends — its newer snapshots removed,
// not damaged, and retention deleted the segments before them — names
// the journal and says what to put back, as the refusal past damaged
// snapshots does. It was replay's bare "the journal does not hold the
// inputs to start from: it starts at input N, the replay at 1".
func TestMissingInputsRefusalNamesTheJournalAndTheRemedy(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	setConfig(t, cfg, map[string]string{"snapshot.keep": "1", "snapshot.journal_retention": "delete"})
	n, a, _ := startNode(t, cfg)
	restBids(t, dial(t, a.Gateway, 3), cfg.Instruments[0], 1, 12000)
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	last := n.Final().LastSeq
	if err := os.Remove(filepath.Join(cfg.SnapshotDir(), fmt.Sprintf("%020d.snap", last))); err != nil {
		t.Fatal(err) // the snapshot moved aside by hand
	}
	n2, _, err := New(cfg, zerolog.Nop())
	if err == nil {
		n2.discard()
		t.Fatal("started")
	}
	if !errors.Is(err, replay.ErrMissing) {
		t.Fatalf("%v, want ErrMissing", err)
	}
	if !strings.Contains(err.Error(), cfg.JournalDir()) || !strings.Contains(err.Error(), "backup") {
		t.Fatalf("refused without naming the journal or the remedy: %v", err)
	}
}
