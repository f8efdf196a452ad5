package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/input"
	"github.com/ringex/ringex/journal"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/replay"
	"github.com/ringex/ringex/snapshot"
)

// A journal begun after a snapshot (journal.BeginAt: its only segment
// names the input after the snapshot and holds no record) is what a
// member's install with no input since, or a start that accepted a lost
// journal, leaves — and a node starts on it. replay --from-snapshot
// called it "past the journal's end" and exited non-zero; journal
// inspect read "sequences 0…0".
func TestReplayFromASnapshotOfAJournalBegunAfterIt(t *testing.T) {
	dir := t.TempDir()
	cfg := config.Default()
	if err := cfg.Set("node.data_dir", dir); err != nil {
		t.Fatal(err)
	}
	ecfg, empty, store := emptyState(t, cfg)
	for _, seq := range []int64{0, 5} {
		if _, err := store.Write(snapshot.Snapshot{Seq: seq, Hash: engine.SnapshotHash(empty), Rules: ecfg.Fingerprint(), Payload: empty}); err != nil {
			t.Fatal(err)
		}
	}
	j, _, err := journal.Open(cfg.JournalDir(), journal.Options{SegmentBytes: 1 << 20, Sync: journal.SyncBatch})
	if err != nil {
		t.Fatal(err)
	}
	if err := j.BeginAt(6); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	out, err := ringex(t, nil, "replay", "--set", "node.data_dir="+dir, "--from-snapshot")
	if err != nil || !strings.Contains(out, "state hash") {
		t.Fatalf("replay --from-snapshot of a journal begun after the snapshot: %v\n%s", err, out)
	}
	// journal inspect says where it begins (it read "sequences 0…0").
	out, err = ringex(t, nil, "journal", "inspect", cfg.JournalDir())
	if err != nil {
		t.Fatalf("journal inspect: %v\n%s", err, out)
	}
	wantLine(t, out, `^segments 1, no record yet: the journal begins at input 6 `)
}

// replay --from-snapshot refuses a snapshot whose checksum of its last
// input differs from the journal's record of that input, as a node's
// start does (it replayed the journal after another exchange's state);
// with the journal's checksum it replays.
func TestReplayRefusesASnapshotOfOtherInputs(t *testing.T) {
	frame := proto.NewEncoder().Heartbeat(0) // replayDir's input 1
	ours := journal.Checksum(&journal.Record{Seq: 1, Kind: uint8(input.KindControl), Payload: frame[proto.PrefixSize:]})
	for _, sum := range []uint32{ours, ours ^ 1} {
		dir := replayDir(t, func(ecfg engine.Config, empty []byte) []snapshot.Snapshot {
			return []snapshot.Snapshot{{Seq: 1, Hash: engine.SnapshotHash(empty), Rules: ecfg.Fingerprint(),
				InputChecksum: sum, InputKnown: true, Payload: empty}}
		})
		out, err := ringex(t, nil, "replay", "--set", "node.data_dir="+dir, "--from-snapshot")
		if sum == ours {
			if err != nil || !strings.Contains(out, "replayed 2 records") {
				t.Fatalf("replay from a snapshot of the journal's own input: %v\n%s", err, out)
			}
			continue
		}
		if !errors.Is(err, replay.ErrOtherInputs) || !strings.Contains(err.Error(), "00000001.snap") {
			t.Fatalf("replay from a snapshot of other inputs: %v, want replay.ErrOtherInputs naming the snapshot\n%s", err, out)
		}
	}
}
