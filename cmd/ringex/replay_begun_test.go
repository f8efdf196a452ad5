package main

import (
	"errors"
	"os"
	"path/filepath"
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

// replay --from-snapshot refuses a snapshot whose input's segment — in
// the archive here — is another journal's (the same inputs, another
// cluster id), as a node's start does, in the same error: the segment's
// path, both ids, the snapshot and the remedy. It printed "could not be
// read" and went on, until the Reader refused the archive naming bare
// file names.
func TestReplayRefusesAForeignSegmentOfTheSnapshotsInput(t *testing.T) {
	cfg := foreignInputSegment(t)
	beginJournal(t, cfg.JournalDir(), "own-cluster", 4)
	out, err := ringex(t, nil, "replay", "--set", "node.data_dir="+cfg.Node.DataDir, "--from-snapshot")
	seg := filepath.Join(cfg.ArchiveDir(), journal.SegmentName(1))
	for _, want := range []string{seg, `"other-cluster"`, `"own-cluster"`, "00000000000000000001.snap", "moved out"} {
		if !errors.Is(err, journal.ErrOtherJournal) || !strings.Contains(err.Error(), want) {
			t.Fatalf("%v; want journal.ErrOtherJournal naming %s\n%s", err, want, out)
		}
	}
	if strings.Contains(out, "could not be read") {
		t.Fatalf("said the record could not be read:\n%s", out)
	}
}

// replay --from-snapshot that meets a foreign segment where the journal's
// own cluster id does not read — every segment header in the journal
// directory damaged; the own id is the archive's newest segment's here —
// says so, naming the segment and why, instead of the journal carrying
// cluster id "".
func TestReplayOfAForeignSegmentSaysTheJournalsOwnIDDoesNotRead(t *testing.T) {
	cfg := foreignInputSegment(t)
	beginJournal(t, cfg.ArchiveDir(), "own-cluster", 4)
	beginJournal(t, cfg.JournalDir(), "own-cluster", 5)
	newest := filepath.Join(cfg.JournalDir(), journal.SegmentName(5))
	damageByteAt(t, newest, 20) // in the cluster id: the header's check fails
	out, err := ringex(t, nil, "replay", "--set", "node.data_dir="+cfg.Node.DataDir, "--from-snapshot")
	if !errors.Is(err, journal.ErrOtherJournal) {
		t.Fatalf("%v; want journal.ErrOtherJournal\n%s", err, out)
	}
	for _, want := range []string{"does not read", cfg.JournalDir(), journal.SegmentName(5), "fails its check", `"other-cluster"`, `"own-cluster"`, "moved out"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("%v; want it to say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), `cluster id ""`) {
		t.Fatalf(`%v; says the journal carries cluster id ""`, err)
	}
}

// foreignInputSegment makes a data directory whose snapshot at input 1
// records the checksum of replayDir's input 1, which the archive holds
// in a segment of cluster id "other-cluster"; its journal directory is
// empty.
func foreignInputSegment(t *testing.T) *config.Config {
	t.Helper()
	frame := proto.NewEncoder().Heartbeat(0) // replayDir's input 1
	ours := journal.Checksum(&journal.Record{Seq: 1, Kind: uint8(input.KindControl), Payload: frame[proto.PrefixSize:]})
	dir := replayDir(t, func(ecfg engine.Config, empty []byte) []snapshot.Snapshot {
		return []snapshot.Snapshot{{Seq: 1, Hash: engine.SnapshotHash(empty), Rules: ecfg.Fingerprint(),
			InputChecksum: ours, InputKnown: true, Payload: empty}}
	})
	cfg := config.Default()
	if err := cfg.Set("node.data_dir", dir); err != nil {
		t.Fatal(err)
	}
	heartbeatJournal(t, cfg.ArchiveDir(), "other-cluster", 3)
	if err := os.RemoveAll(cfg.JournalDir()); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// beginJournal writes in dir a segment of cluster id id that begins at
// input at and holds no record (journal.BeginAt). Its journal is opened
// in a directory of its own: dir may be an archive, beside others.
func beginJournal(t *testing.T, dir, id string, at int64) {
	t.Helper()
	own := t.TempDir()
	j, _, err := journal.Open(own, journal.Options{SegmentBytes: 1 << 20, Sync: journal.SyncBatch, ID: id})
	if err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(j.BeginAt(at), j.Close()); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(own, journal.SegmentName(at)), filepath.Join(dir, journal.SegmentName(at))); err != nil {
		t.Fatal(err)
	}
}
