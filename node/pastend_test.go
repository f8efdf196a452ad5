package node

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/snapshot"
)

// A start refused because the newest snapshot is past the journal's end
// (the journal's last segment missing) must leave the snapshot directory
// as it was. It rewrote that snapshot under the config's (changed) rules
// and marked them, before refusing: once the segment was put back, a
// start under the changed rules replayed the inputs after the snapshot —
// decided under the old rules — under the new ones, without refusing.
func TestRefusedStartPastTheJournalsEndKeepsTheSnapshotsRules(t *testing.T) {
	dir := t.TempDir()
	cfgA := func() *config.Config {
		c := testConfig(t, dir)
		c.Snapshot.OnStop = false // a crash: inputs after the snapshot to replay
		c.Snapshot.JournalRetention = config.RetentionKeep
		return c
	}
	cfgB := func() *config.Config {
		c := cfgA()
		c.Accounts[3].MaxOpenOrders = 7 // other rules
		return c
	}
	in := cfgA().Instruments[0]
	n, a, _ := startNode(t, cfgA())
	mm := dial(t, a.Gateway, 3)
	restBids(t, mm, in, 1, 12000) // more than one segment
	snapSeq := waitSnapshot(t, n)
	restBids(t, mm, in, 12001, 12100)
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	segs, _ := filepath.Glob(filepath.Join(cfgA().JournalDir(), "*.journal"))
	last := segs[len(segs)-1]
	var first int64
	fmt.Sscanf(filepath.Base(last), "%d.journal", &first)
	if len(segs) < 2 || first > snapSeq {
		t.Fatalf("setup: segments %v, snapshot at %d", segs, snapSeq)
	}
	aside := filepath.Join(t.TempDir(), filepath.Base(last))
	if err := os.Rename(last, aside); err != nil { // the segment holding the snapshot's input and after: lost
		t.Fatal(err)
	}
	if n2, rec, err := New(cfgB(), zerolog.Nop()); err == nil {
		n2.discard()
		t.Fatalf("started %+v with the snapshot at %d past the journal's end %d", rec, snapSeq, first-1)
	} else if !strings.Contains(err.Error(), "--accept-lost-journal") {
		t.Errorf("the refusal gives no way on when the segments are lost for good: %v", err)
	}
	snaps, _ := snapshot.OpenStore(cfgA().SnapshotDir(), nil)
	recs, _ := snaps.RulesBetween(snapSeq-1, snapSeq+1)
	for _, r := range recs {
		if r.Rules != EngineConfig(cfgA()).Fingerprint() {
			t.Errorf("after the refused start, the record at %d says rules %x, the inputs after it were decided under %x",
				r.Seq, r.Rules, EngineConfig(cfgA()).Fingerprint())
		}
	}
	if err := os.Rename(aside, last); err != nil { // found in a backup
		t.Fatal(err)
	}
	n3, rec, err := New(cfgB(), zerolog.Nop())
	if err == nil {
		n3.discard()
		t.Fatalf("replayed %d inputs decided under the old rules under the new ones (%+v), want ErrRulesChanged", rec.Replayed, rec)
	}
	if !errors.Is(err, ErrRulesChanged) {
		t.Fatalf("%v, want ErrRulesChanged", err)
	}
}
