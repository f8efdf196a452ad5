package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ringex/ringex/input"
	"github.com/ringex/ringex/journal"
	"github.com/ringex/ringex/proto"
)

// `ringex replay` to the journal's end on a journal whose newest segment
// is gone (deleted, left out of a copy) fails, as the node's start and
// `journal inspect` do (journal.NewestFile): it read the segments alone
// and printed the state at the previous segment's end as the journal's,
// exit 0 — a copy of production that lost inputs its clients were told
// of replayed as if whole.
func TestReplayRefusesAJournalMissingItsNewestSegment(t *testing.T) {
	cfg, j := journalOnly(t)
	writeInputZeroSnapshot(t, cfg)
	frame := proto.NewEncoder().Heartbeat(0)
	for seq := int64(1); seq <= 60000; seq++ { // past one 1 MiB segment
		if err := j.Append(&journal.Record{Seq: seq, Kind: uint8(input.KindControl), Payload: frame[proto.PrefixSize:]}); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	dir := cfg.JournalDir()
	if out, err := ringex(t, nil, "replay", "--set", "node.data_dir="+cfg.Node.DataDir); err != nil {
		t.Fatalf("setup: the whole journal replays: %v\n%s", err, out)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "*.journal"))
	if len(segs) < 2 {
		t.Fatalf("setup: segments %v, want two or more", segs)
	}
	newest := filepath.Base(segs[len(segs)-1])
	if err := os.Remove(segs[len(segs)-1]); err != nil {
		t.Fatal(err)
	}
	out, err := ringex(t, nil, "replay", "--set", "node.data_dir="+cfg.Node.DataDir)
	if !errors.Is(err, journal.ErrMissingSegment) {
		t.Fatalf("replay without %s: %v, want ErrMissingSegment\n%s", newest, err, out)
	}
	for _, want := range []string{"newest segment " + newest, "is missing from " + dir, "the state printed is that at input"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("replay without %s: %v; want it saying %q", newest, err, want)
		}
	}
	wantLine(t, out, `^replayed \d+ records`) // the state reached is still printed

	// Given up (the record removed), the journal replays to its end.
	if err := os.Remove(filepath.Join(dir, journal.NewestFile)); err != nil {
		t.Fatal(err)
	}
	if out, err := ringex(t, nil, "replay", "--set", "node.data_dir="+cfg.Node.DataDir); err != nil {
		t.Fatalf("replay without %s and its record: %v\n%s", newest, err, out)
	}
}
