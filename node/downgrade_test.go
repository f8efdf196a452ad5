package node

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/snapshot"
)

// A snapshot a later build wrote — of a file format version above this
// build's, or holding an engine state of such a version, its checksum
// whole: the node was downgraded — stops the start, with an error and a
// log line that say so, not as damage ("skipped a damaged snapshot",
// "does not restore") followed by a fall back to an older snapshot and a
// longer replay: the inputs after the older one were decided by the
// later build, whose engine this one may not match, and the operator is
// to start that build again, not to look for a bad disk. The snapshots
// are left as they were.
func TestNewerBuildsSnapshotRefusesTheStart(t *testing.T) {
	for i, c := range []struct {
		want error
		log  string
	}{
		{snapshot.ErrNewerVersion, "written by a newer ringex build"},
		{engine.ErrNewerSnapshot, "taken by a newer ringex build"},
	} {
		field := testkit.SnapshotVersionFields[i]
		t.Run(field.Name, func(t *testing.T) {
			cfg := testConfig(t, t.TempDir())
			n, a, _ := startNode(t, cfg)
			restBids(t, dial(t, a.Gateway, 3), cfg.Instruments[0], 1, 5)
			if err := n.Stop(); err != nil { // a snapshot at the stop, after input 0's
				t.Fatal(err)
			}
			seqs, _ := n.snaps.List()
			version := testkit.RaiseSnapshotVersion(t, filepath.Join(cfg.SnapshotDir(), fmt.Sprintf("%020d.snap", seqs[len(seqs)-1])), field)

			logs := new(testkit.SyncBuffer)
			n2, rec, err := NewWithOptions(cfg, zerolog.New(logs), Options{})
			if err == nil {
				n2.discard()
				t.Fatalf("started past a newer build's snapshot: %+v", rec)
			}
			if !errors.Is(err, c.want) || errors.Is(err, snapshot.ErrCorrupt) || errors.Is(err, engine.ErrCorruptSnapshot) ||
				!strings.Contains(err.Error(), fmt.Sprintf("version %d", version)) || !strings.Contains(err.Error(), "start that build") {
				t.Fatalf("%v\nwant it to say a newer build wrote the snapshot (its version) and to start that build", err)
			}
			if log := logs.String(); !strings.Contains(log, c.log) || strings.Contains(log, "damaged") || strings.Contains(log, "does not restore") {
				t.Fatalf("log:\n%s\nwant a line saying a newer build wrote it, none of damage", log)
			}
			if after, _ := n.snaps.List(); !slices.Equal(after, seqs) {
				t.Fatalf("snapshots %v after the refused start, were %v", after, seqs)
			}
		})
	}
}
