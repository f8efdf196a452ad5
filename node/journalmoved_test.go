package node

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/replay"
)

// crashAfterASnapshot runs a node alone on dir through a snapshot and 50
// more inputs and stops it as a crash would (no snapshot at the stop). It
// returns the snapshot's input and the last input journaled.
func crashAfterASnapshot(t *testing.T, dir string) (snapSeq, last int64) {
	t.Helper()
	cfg := testConfig(t, dir)
	cfg.Snapshot.OnStop = false // a crash
	n, a, _ := startNode(t, cfg)
	mm := dial(t, a.Gateway, 3)
	restBids(t, mm, cfg.Instruments[0], 1, 50)
	snapSeq = waitSnapshot(t, n)
	restBids(t, mm, cfg.Instruments[0], 51, 100)
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	return snapSeq, n.Final().LastSeq
}

// movedJournal is dir's config with journal.dir on a new disk, empty.
func movedJournal(t *testing.T, dir string) *config.Config {
	cfg := testConfig(t, dir)
	cfg.Journal.Dir = filepath.Join(t.TempDir(), "journal")
	return cfg
}

// A node alone whose journal.dir names a new, empty directory — the
// journal "moved to a faster disk" before its segments were, or lost with
// its disk — refuses to start from its snapshot past input 0, naming the
// journal directory, the snapshot and both ways on. It started from the
// snapshot and journaled the next input as the snapshot's + 1: every
// input acknowledged after the snapshot forgotten, and their sequences
// (order ids) given out again. With the segments put in, it recovers all.
func TestEmptyJournalAfterASnapshotOfAStandaloneNode(t *testing.T) {
	dir := t.TempDir()
	snapSeq, last := crashAfterASnapshot(t, dir)
	moved := movedJournal(t, dir)
	n2, rec, err := New(moved, zerolog.Nop())
	if err == nil {
		n2.discard()
		t.Fatalf("started at input %d (snapshot %d) with an empty journal; the node had acknowledged inputs to %d", rec.LastSeq, snapSeq, last)
	}
	snapFile := filepath.Join(moved.SnapshotDir(), fmt.Sprintf("%020d.snap", snapSeq))
	if !errors.Is(err, ErrJournalGone) || !errors.Is(err, replay.ErrMissing) {
		t.Fatalf("%v, want ErrJournalGone (replay.ErrMissing)", err)
	}
	for _, want := range []string{moved.JournalDir(), snapFile, "put its segments in", "--accept-lost-journal"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("refused without %q: %v", want, err)
		}
	}

	segs, _ := filepath.Glob(filepath.Join(testConfig(t, dir).JournalDir(), "*.journal"))
	for _, seg := range segs { // the remedy: the segments moved too
		b, err := os.ReadFile(seg)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(moved.JournalDir(), filepath.Base(seg)), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	n3, rec, err := New(moved, zerolog.Nop())
	if err != nil {
		t.Fatalf("with the journal's segments moved in: %v", err)
	}
	n3.discard()
	if rec.LastSeq != last {
		t.Fatalf("recovered %+v with the segments moved in, want input %d", rec, last)
	}
}

// --accept-lost-journal starts the node from the snapshot alone, saying
// in a warning what it gave up; the journal begins durably after the
// snapshot, so the next start needs no flag and recovers what came after.
// The flag once more, with nothing lost, is refused.
func TestAcceptLostJournalStartsFromTheSnapshot(t *testing.T) {
	dir := t.TempDir()
	snapSeq, _ := crashAfterASnapshot(t, dir)
	moved := movedJournal(t, dir)
	n, a, logs := startNodeLogging(t, moved, Options{AcceptLostJournal: true})
	if seg := filepath.Join(moved.JournalDir(), fmt.Sprintf("%020d.journal", snapSeq+1)); !fileExists(seg) {
		t.Fatalf("no segment %s: the journal's start is not on disk", seg)
	}
	restBids(t, dial(t, a.Gateway, 3), moved.Instruments[0], 1001, 1001)
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	var warned string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "accepted as lost") {
			warned = l
		}
	}
	if !strings.Contains(warned, `"level":"warn"`) || !strings.Contains(warned, "given up") ||
		!strings.Contains(warned, fmt.Sprintf(`"snapshot_seq":%d`, snapSeq)) || !strings.Contains(warned, moved.JournalDir()) {
		t.Fatalf("no warning saying what was given up (the journal, the snapshot's input):\n%s", logs)
	}

	n2, rec, err := New(moved, zerolog.Nop())
	if err != nil {
		t.Fatalf("the start after the accepted one: %v", err)
	}
	n2.discard()
	if rec.LastSeq != n.Final().LastSeq || rec.LastSeq <= snapSeq {
		t.Fatalf("recovered %+v, the node stopped at %+v (went on from %d)", rec, n.Final(), snapSeq)
	}
	if n3, _, err := NewWithOptions(moved, zerolog.Nop(), Options{AcceptLostJournal: true}); err == nil {
		n3.discard()
		t.Fatal("--accept-lost-journal taken with a journal that holds segments")
	}
}

// A journal lost beside its archive (snapshot.journal_retention: archive,
// the default, moved the segments before the oldest kept snapshot there):
// the journal begun after the accepted loss continues the archive's and
// carries its id, so the next start recovers. It carried a new one (a
// node alone's random id), and from 782efdf the next start refused the
// archive's segments as another journal's (journal.ErrOtherJournal at
// the check of its snapshot's input), telling the operator to move this
// exchange's own past inputs out; resends reading through the archive
// refused them too.
func TestAcceptLostJournalKeepsTheArchivesID(t *testing.T) {
	dir := t.TempDir()
	snapSeq, _ := crashAfterASnapshot(t, dir)
	cfg := testConfig(t, dir)
	// The archive: the segment retention would have moved, wholly before
	// the snapshot; the journal lost with its disk.
	st := journalCopy(t, cfg, "", snapSeq-1)
	if err := os.RemoveAll(cfg.JournalDir()); err != nil {
		t.Fatal(err)
	}
	n, a, _ := startNodeLogging(t, cfg, Options{AcceptLostJournal: true})
	restBids(t, dial(t, a.Gateway, 3), cfg.Instruments[0], 1001, 1001)
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	n2, rec, err := New(cfg, zerolog.Nop())
	if err != nil {
		t.Fatalf("the start after the accepted one, the archive's segments of journal %q beside it: %v", st.ID, err)
	}
	n2.discard()
	if rec.Journal.ID != st.ID || rec.LastSeq != n.Final().LastSeq {
		t.Fatalf("recovered %+v, want journal %q to input %d", rec, st.ID, n.Final().LastSeq)
	}
}

// A raft snapshot at the sender's own snapshot (no input after it) stages
// a journal holding only its first segment, named for the next input, so
// the node started on it — a cluster member, or its data directory run
// alone — starts, and so does its restart after a crash before any input.
// The staged journal was an empty directory: alone, indistinguishable
// from a lost one. One that an earlier build left so is refused, naming
// the way on.
func TestInstalledSnapshotWithNoInputAfterIt(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	setConfig(t, cfg, map[string]string{"journal.sync": "none"}) // as in a cluster
	n, addrs, _ := startNode(t, cfg)
	restBids(t, dial(t, addrs.Gateway, 1), cfg.Instruments[0], 1, 50)
	snapSeq := waitSnapshot(t, n)
	var buf bytes.Buffer
	err := n.raftSnapshot(snapSeq, &buf)
	n.Stop()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	mcfg := testConfig(t, dir)
	if _, err := stageState(bytes.NewReader(buf.Bytes()), stagingFor(mcfg.JournalDir(), mcfg.SnapshotDir(), dir), mcfg.Journal.SegmentBytes); err != nil {
		t.Fatal(err)
	}
	if ok, err := installStaged(mcfg.JournalDir(), mcfg.SnapshotDir(), mcfg.ArchiveDir(), dir, zerolog.Nop()); !ok || err != nil {
		t.Fatalf("installStaged: %v %v", ok, err)
	}
	seg := filepath.Join(mcfg.JournalDir(), fmt.Sprintf("%020d.journal", snapSeq+1))
	if !fileExists(seg) {
		t.Fatalf("the staged journal holds no segment %s", seg)
	}
	for _, start := range []string{"installed", "restarted with no input since"} {
		m, rec, err := New(mcfg, zerolog.Nop())
		if err != nil {
			t.Fatalf("%s: %v", start, err)
		}
		m.discard()
		if rec.LastSeq != snapSeq || rec.Replayed != 0 {
			t.Fatalf("%s: recovered %+v, want input %d", start, rec, snapSeq)
		}
	}
	if err := os.Remove(seg); err != nil { // as an earlier build staged it
		t.Fatal(err)
	}
	m, _, err := New(mcfg, zerolog.Nop())
	if err == nil {
		m.discard()
		t.Fatal("started alone from a snapshot past input 0 with no journal segment")
	}
	if !errors.Is(err, ErrJournalGone) || !strings.Contains(err.Error(), "--accept-lost-journal") {
		t.Fatalf("%v, want ErrJournalGone naming --accept-lost-journal", err)
	}
}

// A cluster member whose journal directory holds no segment is not
// refused: its raft log holds the committed inputs after its snapshot
// (or it installs its own raft snapshot), and the journal begins after
// the snapshot. The flag has nothing to accept there and is refused.
func TestMemberWithAnEmptyJournalStarts(t *testing.T) {
	dir := t.TempDir()
	snapSeq, _ := crashAfterASnapshot(t, dir)
	cfg := movedJournal(t, dir)
	addrs := testkit.ReserveAddrs(t, 6)
	for i := range 3 {
		cfg.Cluster.Peers = append(cfg.Cluster.Peers, config.Peer{ID: uint32(i + 1), Raft: addrs[2*i], Gateway: addrs[2*i+1]})
	}
	cfg.Node.ID = 1
	cfg.Cluster.RaftListen = addrs[0]
	cfg.Gateway.Listen = addrs[1]
	if m, _, err := NewWithOptions(cfg, zerolog.Nop(), Options{AcceptLostJournal: true}); err == nil {
		m.discard()
		t.Fatal("--accept-lost-journal taken by a cluster member")
	}
	m, rec, err := New(cfg, zerolog.Nop())
	if err != nil {
		t.Fatalf("a cluster member with an empty journal: %v", err)
	}
	m.discard()
	if rec.LastSeq != snapSeq {
		t.Fatalf("recovered %+v, want input %d", rec, snapSeq)
	}
	if seg := filepath.Join(cfg.JournalDir(), fmt.Sprintf("%020d.journal", snapSeq+1)); !fileExists(seg) {
		t.Fatalf("no segment %s: the journal's start is not on disk", seg)
	}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
