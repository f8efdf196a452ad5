package node

import (
	"errors"
	"os"
	"slices"
	"testing"

	"github.com/rs/zerolog"
)

// The snapshot of input 0 restoring, the newer one (all the state) not,
// and no journal: the state is lost, as when no snapshot restores
// (ErrStateLost) — not a journal lost after the snapshot that restored.
// It was refused as ErrJournalGone, whose way on, --accept-lost-journal,
// then started an empty exchange ("starting from the snapshot alone":
// of input 0), over every order and position the damaged one held.
func TestDamagedSnapshotPastZeroWithNoJournalIsStateLost(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, a, _ := startNode(t, cfg)
	restBids(t, dial(t, a.Gateway, 3), cfg.Instruments[0], 1, 50)
	if err := n.Stop(); err != nil { // snapshot.on_stop: snapshots 0 and the stop's
		t.Fatal(err)
	}
	seqs, _ := n.snaps.List()
	if len(seqs) != 2 || seqs[0] != 0 {
		t.Fatalf("setup: snapshots %v, want 0 and one past it", seqs)
	}
	if err := os.RemoveAll(cfg.JournalDir()); err != nil {
		t.Fatal(err)
	}
	damageSnapshot(t, cfg, slices.Max(seqs))
	for _, accept := range []bool{false, true} {
		n2, rec, err := NewWithOptions(cfg, zerolog.Nop(), Options{AcceptLostJournal: accept})
		if err == nil {
			n2.discard()
			t.Fatalf("accept %v: started at %+v, an empty exchange, over a damaged snapshot of input %d", accept, rec, slices.Max(seqs))
		}
		if !errors.Is(err, ErrStateLost) {
			t.Fatalf("accept %v: %v, want ErrStateLost", accept, err)
		}
	}
}
