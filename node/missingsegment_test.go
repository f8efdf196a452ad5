package node

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/journal"
)

// A standalone node whose journal lost its newest segment after a crash
// (the newest snapshot before that segment) refuses to start, naming
// the segment, the inputs gone and the remedies: the segment back, or
// the record removed to give them up. It started at the previous
// segment's end with no warning and gave the lost inputs' sequences
// (order ids) out again.
func TestStartRefusesAJournalMissingItsNewestSegment(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	cfg.Snapshot.OnStop = false // a crash: the newest snapshot is input 0's
	n, a, _ := startNode(t, cfg)
	restBids(t, dial(t, a.Gateway, 3), cfg.Instruments[0], 1, 12000) // more than one segment
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	segs, _ := filepath.Glob(filepath.Join(cfg.JournalDir(), "*.journal"))
	if len(segs) < 2 {
		t.Fatalf("setup: segments %v", segs)
	}
	newest := segs[len(segs)-1]
	if err := os.Remove(newest); err != nil {
		t.Fatal(err)
	}
	n2, rec, err := New(cfg, zerolog.Nop())
	if err == nil {
		n2.discard()
		t.Fatalf("started %+v on a journal missing its newest segment %s", rec, filepath.Base(newest))
	}
	for _, want := range []string{
		"newest segment " + filepath.Base(newest),
		"is missing from " + cfg.JournalDir(),
		"ringex journal inspect " + cfg.JournalDir(),
		"remove " + filepath.Join(cfg.JournalDir(), journal.NewestFile),
	} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("refused with %v; want it saying %q", err, want)
		}
	}
	if err := os.Remove(filepath.Join(cfg.JournalDir(), journal.NewestFile)); err != nil { // given up
		t.Fatal(err)
	}
	n3, rec, err := New(cfg, zerolog.Nop())
	if err != nil {
		t.Fatalf("with the inputs given up: %v", err)
	}
	n3.discard()
	if rec.LastSeq != rec.Journal.LastSeq || rec.Journal.Missing != 0 {
		t.Fatalf("with the inputs given up: recovered %+v", rec)
	}
}
