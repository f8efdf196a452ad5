package node

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/internal/testkit"
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

// The segment holding the restored snapshot's input, in the archive, is
// another journal's (the same inputs, another cluster id: copied in from
// another cluster's or node's journal): the start is refused at the
// check of the snapshot's input, in one error that names the segment by
// its path, both ids and the remedy. Before, the check's read of it was
// logged as "could not be read … starting from it unchecked" and the
// start went on, until the replay through the archive refused it naming
// bare file names. It says the other way round too — the journal's
// segments the copies, another node's journal put in this one's place —
// which it called this journal, and the archive's segments foreign.
func TestForeignSegmentOfTheSnapshotsInputRefusesTheStart(t *testing.T) {
	dir := t.TempDir()
	snapSeq, last := crashAfterASnapshot(t, dir)
	cfg := testConfig(t, dir)
	// The archive: the same inputs, under another cluster id.
	st := journalCopy(t, cfg, "other-cluster", last)
	if st.Segments != 1 || st.LastSeq != last {
		t.Fatalf("setup: %+v, want one segment to input %d", st, last)
	}
	// The journal: begun past its last input, its segments retired.
	if err := os.RemoveAll(cfg.JournalDir()); err != nil {
		t.Fatal(err)
	}
	own, _, err := journal.Open(cfg.JournalDir(), journal.Options{SegmentBytes: cfg.Journal.SegmentBytes, ID: st.ID})
	if err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(own.BeginAt(last+1), own.Close()); err != nil {
		t.Fatal(err)
	}

	logs := new(testkit.SyncBuffer)
	n, rec, err := NewWithOptions(cfg, zerolog.New(logs), Options{})
	if err == nil {
		n.discard()
		t.Fatalf("started (%+v) from the snapshot of input %d, its input's segment another journal's", rec, snapSeq)
	}
	seg := filepath.Join(cfg.ArchiveDir(), journal.SegmentName(1))
	for _, want := range []string{seg, `"other-cluster"`, strconv.Quote(st.ID), fmt.Sprintf("%020d.snap", snapSeq), "moved out",
		"put this node's own segments back in " + cfg.JournalDir()} {
		if !errors.Is(err, journal.ErrOtherJournal) || !strings.Contains(err.Error(), want) {
			t.Fatalf("%v; want journal.ErrOtherJournal naming %s", err, want)
		}
	}
	if strings.Contains(logs.String(), "starting from it unchecked") {
		t.Fatalf("the start went on past the check of the snapshot's input:\n%s", logs.String())
	}
}

// journalCopy writes the records of cfg's journal up to input upTo in
// its archive directory, as a journal of cluster id id ("": the
// journal's own), and returns the journal's Stats (its own id in ID).
func journalCopy(t *testing.T, cfg *config.Config, id string, upTo int64) journal.Stats {
	t.Helper()
	var recs []journal.Record
	st, err := journal.Inspect(cfg.JournalDir(), nil, func(r *journal.Record) {
		if r.Seq <= upTo {
			c := *r
			c.Payload = slices.Clone(r.Payload)
			recs = append(recs, c)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if id == "" {
		id = st.ID
	}
	j, _, err := journal.Open(cfg.ArchiveDir(), journal.Options{SegmentBytes: cfg.Journal.SegmentBytes, ID: id})
	if err != nil {
		t.Fatal(err)
	}
	for i := range recs {
		if err := j.Append(&recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := errors.Join(j.Sync(), j.Close()); err != nil {
		t.Fatal(err)
	}
	return st
}
