package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/input"
	"github.com/ringex/ringex/journal"
	"github.com/ringex/ringex/node"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/snapshot"
)

// A node that lost power mid-batch refuses to start and names the tool;
// `journal cut` says what it would cut, then cuts it, and the node starts.
func TestJournalCutMendsATornBatch(t *testing.T) {
	cfg, _ := tornBatch(t)
	if _, _, err := node.New(cfg, zerolog.Nop()); !errors.Is(err, journal.ErrTornBatch) || !strings.Contains(err.Error(), "ringex journal cut "+cfg.JournalDir()) {
		t.Fatalf("start = %v; want the torn batch refused, naming the tool", err)
	}
	// The tools an operator runs on it first say the same, naming the
	// cut: they said "corrupt record: … at offset N" and no more.
	for _, args := range [][]string{{"journal", "inspect", cfg.JournalDir()}, {"replay", "--set", "node.data_dir=" + cfg.Node.DataDir}} {
		if out, err := ringex(t, nil, args...); !errors.Is(err, journal.ErrTornBatch) || !strings.Contains(err.Error(), "valid records follow") ||
			!strings.Contains(err.Error(), "ringex journal cut "+cfg.JournalDir()) {
			t.Errorf("ringex %s = %v; want the torn batch named, as the start names it, with the tool\n%s", strings.Join(args, " "), err, out)
		}
	}

	out := mustRingex(t, "journal", "cut", cfg.JournalDir())
	wantLine(t, out, `a bad record at offset \d+, \d+ bytes of data from there holding \d+ well-formed records, sequences \d+…80$`)
	wantLine(t, out, `^once cut, the journal ends at sequence 3$`)
	wantLine(t, out, `^nothing changed: run again with --yes`)
	out = mustRingex(t, "journal", "cut", "--yes", cfg.JournalDir())
	wantLine(t, out, `^cut: the bytes are kept in .*\.journal\.cut-\d+$`)

	n, rec, err := node.New(cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	if rec.Journal.LastSeq != 3 {
		t.Fatalf("after the cut the journal ends at %d, want 3", rec.Journal.LastSeq)
	}
	if out, err := ringex(t, nil, "journal", "cut", cfg.JournalDir()); !errors.Is(err, node.ErrDataDirInUse) || !strings.Contains(err.Error(), "stop the node first") {
		t.Fatalf("cut beside a running node: %v, want the directory in use and what to do\n%s", err, out)
	}
}

// tornBatch is a standalone node's data directory (its snapshot of input
// 0) whose journal's last batch, inputs 4…80, a power loss caught: its
// first page lost, records 4… after it kept. seg is the segment; cfg
// starts a node on loopback with small rings and no snapshot schedule.
func tornBatch(t *testing.T) (cfg *config.Config, seg string) {
	t.Helper()
	cfg, j := demoJournal(t)
	appendRecords := func(from, to int64) {
		for s := from; s <= to; s++ {
			rec := journal.Record{Seq: s, Kind: 1, Payload: make([]byte, 100)}
			if err := j.Append(&rec); err != nil {
				t.Fatal(err)
			}
		}
		if err := j.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	appendRecords(1, 3)
	j.Close()
	seg = filepath.Join(cfg.JournalDir(), "00000000000000000001.journal")
	data, _ := os.ReadFile(seg)
	hole := int64(len(strings.TrimRight(string(data), "\x00"))+7) &^ 7 // the end of record 3
	j, _, err := journal.Open(cfg.JournalDir(), journal.Options{SegmentBytes: 1 << 20, Sync: journal.SyncBatch})
	if err != nil {
		t.Fatal(err)
	}
	appendRecords(4, 80) // the batch a power loss caught: its first page lost
	j.Close()
	data, _ = os.ReadFile(seg)
	clear(data[hole : (hole/4096+1)*4096])
	os.WriteFile(seg, data, 0o644)

	for k, v := range map[string]string{"gateway.listen": "127.0.0.1:0", "marketdata.listen": "127.0.0.1:0", "admin.listen": "127.0.0.1:0",
		"rings.input_slots": "1024", "rings.output_slots": "1024", "gateway.recent_reports": "1024", "snapshot.schedule": ""} {
		if err := cfg.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	return cfg, seg
}

// A bad record with records after it that the node's snapshot holds is
// damage to acknowledged inputs, not a torn batch: the engine applied
// them. `journal cut` refuses it, dry run or --yes, naming the snapshot;
// it allowed it, and the node cut behind its snapshot refused to start
// suggesting --accept-lost-journal, which gives those inputs up. A node
// cut so anyway (the snapshot elsewhere at the cut) says to put the kept
// bytes back with `ringex journal uncut` of the kept file — it gave a dd,
// which writes without uncut's checks — and that command gives the
// segment as it was.
func TestJournalCutRefusesInputsTheSnapshotHolds(t *testing.T) {
	cfg, seg := tornBatch(t)
	ecfg, payload, store := emptyState(t, cfg) // the state's content does not matter here
	if _, err := store.Write(snapshot.Snapshot{Seq: 40, Hash: engine.SnapshotHash(payload), Rules: ecfg.Fingerprint(), Payload: payload}); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	for _, yes := range [][]string{nil, {"--yes"}} {
		out, err := ringex(t, nil, append(append([]string{"journal", "cut"}, yes...), cfg.JournalDir())...)
		if err == nil || !strings.Contains(err.Error(), store.RecordPath(40)) || !strings.Contains(err.Error(), "Nothing cut") {
			t.Errorf("cut %v under a snapshot of input 40 (the cut would end the journal at 3): %v, want a refusal naming the snapshot\n%s", yes, err, out)
		}
	}
	if after, _ := os.ReadFile(seg); string(after) != string(before) {
		t.Fatal("a refused cut changed the segment")
	}

	// Cut anyway, the snapshots moved aside for it.
	aside := cfg.SnapshotDir() + ".aside"
	if err := os.Rename(cfg.SnapshotDir(), aside); err != nil {
		t.Fatal(err)
	}
	mustRingex(t, "journal", "cut", "--yes", cfg.JournalDir())
	if err := os.Rename(aside, cfg.SnapshotDir()); err != nil {
		t.Fatal(err)
	}
	_, _, err = node.New(cfg, zerolog.Nop())
	m := regexp.MustCompile(`(\S+\.cut-\d+) holds inputs \d+…80.* put them back — ringex journal uncut (\S+) — `).FindStringSubmatch(fmt.Sprint(err))
	if m == nil || m[2] != m[1] || strings.Contains(err.Error(), "accept-lost-journal") || strings.Contains(err.Error(), "dd if=") {
		t.Fatalf("start on a journal cut behind its snapshot: %v; want the kept bytes named, with the journal uncut of that file to put them back", err)
	}
	mustRingex(t, "journal", "uncut", m[2])
	// The node's start preallocated the segment to journal.segment_bytes:
	// zeros past the data.
	if after, _ := os.ReadFile(seg); strings.TrimRight(string(after), "\x00") != strings.TrimRight(string(before), "\x00") {
		t.Fatal("the kept bytes put back as the start says do not give the segment as it was")
	}
	if _, _, err := node.New(cfg, zerolog.Nop()); !errors.Is(err, journal.ErrTornBatch) {
		t.Fatalf("start with the kept bytes put back: %v, want the damage named again", err)
	}
}

// A cluster member's journal is written without fdatasync (SyncNone):
// after a machine crash its last segment may have lost a page with later
// ones kept. The node's start (journal.Open with SyncNone, node.go) cuts
// the last segment at the first bad record — nothing there was promised,
// the raft log holds it again. `ringex journal inspect` and `ringex
// replay` on that member's data directory (or a copy of it taken before
// the restart, the usual forensic step) failed with "corrupt", exit
// non-zero, and replay printed no state at all. They read it as the
// member does now, and agree on its last sequence.
func TestToolsAgreeWithTheNodeOnAnUnsyncedJournal(t *testing.T) {
	dir := t.TempDir()
	cfg := config.Default()
	if err := cfg.Set("node.data_dir", dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "raft"), 0o755); err != nil { // a cluster member's
		t.Fatal(err)
	}
	j, _, err := journal.Open(cfg.JournalDir(), journal.Options{SegmentBytes: 1 << 20, Sync: journal.SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	frame := proto.NewEncoder().Heartbeat(0)
	for seq := int64(1); seq <= 2000; seq++ {
		if err := j.Append(&journal.Record{Seq: seq, Kind: uint8(input.KindControl), Payload: frame[proto.PrefixSize:]}); err != nil {
			t.Fatal(err)
		}
		if seq%100 == 0 {
			if err := j.Sync(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	seg := filepath.Join(cfg.JournalDir(), "00000000000000000001.journal")
	data, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	clear(data[8192 : 8192+4096]) // a page the crash lost; later ones survived
	if err := os.WriteFile(seg, data, 0o644); err != nil {
		t.Fatal(err)
	}
	// What the node does with it (on a copy: Open truncates).
	cp := t.TempDir()
	if err := os.WriteFile(filepath.Join(cp, filepath.Base(seg)), data, 0o644); err != nil {
		t.Fatal(err)
	}
	nj, rec, err := journal.Open(cp, journal.Options{SegmentBytes: 1 << 20, Sync: journal.SyncNone})
	if err != nil {
		t.Fatalf("setup: the member's start refuses it too: %v", err)
	}
	nj.Close()

	out, ierr := ringex(t, nil, "journal", "inspect", cfg.JournalDir())
	rout, rerr := ringex(t, nil, "replay", "--set", "node.data_dir="+dir)
	if ierr != nil || rerr != nil {
		t.Fatalf("the member starts on this journal (torn tail cut at %s:%d, last sequence %d), but\n"+
			"  journal inspect: %v\n%s\n  replay: %v\n%s", rec.TornFile, rec.TornOffset, rec.LastSeq, ierr, out, rerr, rout)
	}
	wantLine(t, out, fmt.Sprintf(`^segments 1, records %d, sequences 1…%d`, rec.LastSeq, rec.LastSeq))
	wantLine(t, rout, fmt.Sprintf(`^replayed %d records \(to sequence %d\)`, rec.LastSeq, rec.LastSeq))
	// Without the raft directory (a standalone node's, fdatasynced per
	// batch) it is damage, as that node's start says.
	if err := os.Remove(filepath.Join(dir, "raft")); err != nil {
		t.Fatal(err)
	}
	if _, err := ringex(t, nil, "journal", "inspect", cfg.JournalDir()); !errors.Is(err, journal.ErrCorrupt) {
		t.Fatalf("inspect of a standalone node's journal with valid records after a bad one: %v, want ErrCorrupt", err)
	}
	if _, err := ringex(t, nil, "journal", "inspect", "--unsynced", cfg.JournalDir()); err != nil {
		t.Fatalf("inspect --unsynced: %v", err)
	}
}

// A cluster member's <data_dir>/journal is read as unsynced by its raft
// directory beside it; its archive beside the same raft directory is not
// (retired segments were synced whole: damage there is damage).
func TestUnsyncedJournalDetected(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"raft", "journal", "archive"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if !unsyncedJournal(filepath.Join(dir, "journal"), false) || !unsyncedJournal(filepath.Join(dir, "journal")+"/", false) {
		t.Fatal("a member's journal not detected")
	}
	if unsyncedJournal(filepath.Join(dir, "archive"), false) {
		t.Fatal("a member's archive read as unsynced")
	}
	if !unsyncedJournal(filepath.Join(dir, "archive"), true) {
		t.Fatal("--unsynced not taken")
	}
}

// Archived segments were retired whole and fdatasynced, and no node
// truncates them: an archive has no last segment. A bad sector over the
// last records of its newest segment was reported by `journal inspect`
// as a "torn tail … a node's start truncates it", exit 0, while `ringex
// replay` through the archive failed on the same bytes as corrupt. It is
// corrupt, naming the file and offset: for <data_dir>/archive, for a copy
// of it named otherwise with --archive, and for <data_dir>/journal, whose
// archive beside it is read first as one journal, as replay reads them.
func TestJournalInspectCallsDamageInAnArchiveCorrupt(t *testing.T) {
	dir := t.TempDir()
	jdir, adir := filepath.Join(dir, "journal"), filepath.Join(dir, "archive")
	j, _, err := journal.Open(jdir, journal.Options{SegmentBytes: 1 << 20, Sync: journal.SyncBatch})
	if err != nil {
		t.Fatal(err)
	}
	for s := int64(1); s <= 30000; s++ { // several 1 MiB segments
		if err := j.Append(&journal.Record{Seq: s, Kind: 1, Payload: make([]byte, 100)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Sync(); err != nil {
		t.Fatal(err)
	}
	if _, err := j.ArchiveBefore(29000, adir); err != nil {
		t.Fatal(err)
	}
	j.Close()
	arch, _ := filepath.Glob(filepath.Join(adir, "*.journal"))
	if len(arch) == 0 {
		t.Fatal("setup: nothing archived")
	}
	out := mustRingex(t, "journal", "inspect", jdir)
	wantLine(t, out, `^segments \d+, records 30000, sequences 1…30000,`)
	wantLine(t, out, fmt.Sprintf(`^of them %d segments in the archive %s, read first`, len(arch), regexp.QuoteMeta(adir)))

	newest := arch[len(arch)-1]
	data, err := os.ReadFile(newest)
	if err != nil {
		t.Fatal(err)
	}
	end := int64(len(strings.TrimRight(string(data), "\x00")))
	bad := (end - 1) &^ 4095 // a bad sector: the page holding its last records
	for i := bad; i < end; i++ {
		data[i] ^= 0x5a
	}
	if err := os.WriteFile(newest, data, 0o644); err != nil {
		t.Fatal(err)
	}
	shipped := filepath.Join(dir, "shipped")
	if err := os.MkdirAll(shipped, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(shipped, filepath.Base(newest)), data, 0o644); err != nil {
		t.Fatal(err)
	}
	corrupt := fmt.Sprintf("%c%s at offset ", filepath.Separator, filepath.Base(newest)) // in the directory inspected
	for _, args := range [][]string{{adir}, {"--archive", shipped}, {jdir}} {
		out, err := ringex(t, nil, append([]string{"journal", "inspect"}, args...)...)
		if !errors.Is(err, journal.ErrCorrupt) || !strings.Contains(err.Error(), corrupt) {
			t.Errorf("journal inspect %s: %v, want the damage called corrupt (%s…)\n%s", strings.Join(args, " "), err, corrupt, out)
		}
		if strings.Contains(out, "torn tail") {
			t.Errorf("journal inspect %s calls the damage in an archived segment a torn tail:\n%s", strings.Join(args, " "), out)
		}
	}
	if _, err := ringex(t, nil, "journal", "inspect", "--unsynced", adir); err == nil || !strings.Contains(err.Error(), "is an archive") {
		t.Errorf("inspect --unsynced of an archive: %v, want it refused", err)
	}
}

// The default layout: <data_dir>/archive is an archive, and the archive
// beside <data_dir>/journal is read with it; a journal named otherwise
// has none beside it.
func TestArchiveDetected(t *testing.T) {
	for _, tc := range []struct {
		dir     string
		said    bool
		archive bool
		beside  string
	}{
		{"/data/archive", false, true, ""},
		{"/data/archive/", false, true, ""},
		{"/ship/ringex-2026-12", true, true, ""},
		{"/data/journal", false, false, "/data/archive"},
		{"data/journal/", false, false, "data/archive"},
		{"/fast/wal", false, false, ""},
	} {
		if got := archiveDir(tc.dir, tc.said); got != tc.archive {
			t.Errorf("archiveDir(%q, %v) = %v, want %v", tc.dir, tc.said, got, tc.archive)
		}
		if got := archiveBeside(tc.dir); !tc.archive && got != tc.beside {
			t.Errorf("archiveBeside(%q) = %q, want %q", tc.dir, got, tc.beside)
		}
	}
}

// `journal inspect <data_dir>/archive` on a node that has retired no
// segment yet (every young node: the help's own example) says the
// archive is empty and succeeds; it printed a summary of zeros and then
// failed with "no segment files". A directory with no segment that is no
// archive, or a path that does not exist, still fails — without a summary
// of zeros that reads as a journal checked.
func TestJournalInspectEmptyArchive(t *testing.T) {
	dir := t.TempDir()
	adir, jdir := filepath.Join(dir, "archive"), filepath.Join(dir, "journal")
	for _, d := range []string{adir, jdir} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	out := mustRingex(t, "journal", "inspect", adir)
	wantLine(t, out, `^segments 0: nothing retired to .* yet`)
	for _, bad := range []string{jdir, filepath.Join(dir, "missing")} {
		out, err := ringex(t, nil, "journal", "inspect", bad)
		if err == nil {
			t.Fatalf("inspect of %s, which holds no segment, succeeded:\n%s", bad, out)
		}
		if strings.Contains(out, "records 0") {
			t.Fatalf("inspect of %s printed a summary of zeros:\n%s", bad, out)
		}
	}
}

// `journal uncut` puts back what `journal cut --yes` took out, from the
// file it kept the bytes in: the segment is as before the cut, and the
// node's start refuses it as before, naming the torn batch — the way to
// keep records a cut took out that were acknowledged (the start names
// the kept file when its snapshot holds them), in place of a dd. It
// takes the directory's lock (a running node's refuses it), puts back
// twice without a change, and refuses a mistyped path, creating nothing.
func TestJournalUncutPutsTheCutBack(t *testing.T) {
	cfg, seg := tornBatch(t)
	before, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	out := mustRingex(t, "journal", "cut", "--yes", cfg.JournalDir())
	m := regexp.MustCompile(`(?m)^cut: the bytes are kept in (.*\.journal\.cut-\d+)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("cut named no kept file:\n%s", out)
	}
	kept := m[1]

	release, err := node.LockDir(cfg.JournalDir()) // as a running node holds it
	if err != nil {
		t.Fatal(err)
	}
	if out, err := ringex(t, nil, "journal", "uncut", kept); !errors.Is(err, node.ErrDataDirInUse) {
		t.Fatalf("uncut beside a running node: %v, want the directory in use\n%s", err, out)
	}
	release()
	for range 2 {
		out := mustRingex(t, "journal", "uncut", kept)
		wantLine(t, out, `\.journal: the \d+ bytes a cut took out at offset \d+ are back, from .*\.cut-\d+ \(left in place\)`)
		if after, _ := os.ReadFile(seg); string(after) != string(before) {
			t.Fatal("the segment put back is not as it was before the cut")
		}
	}
	if _, _, err := node.New(cfg, zerolog.Nop()); !errors.Is(err, journal.ErrTornBatch) {
		t.Fatalf("start after uncut: %v, want the torn batch refused as before the cut", err)
	}

	missing := filepath.Join(t.TempDir(), "data", "journl", "00000000000000000001.journal.cut-64")
	if out, err := ringex(t, nil, "journal", "uncut", missing); err == nil || !strings.Contains(err.Error(), "is no file a journal cut kept") {
		t.Fatalf("uncut of a missing file: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Dir(filepath.Dir(missing))); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("uncut of a missing file made %s: %v", filepath.Dir(filepath.Dir(missing)), err)
	}
}

// `journal cut` on a path that is no directory (a typo) is refused and
// creates nothing: it took the directory's lock first, which made the
// directory — and a LOCK file in it — then answered "no segments".
func TestJournalCutRefusesAMissingDirectory(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "data", "journl")
	out, err := ringex(t, nil, "journal", "cut", missing)
	if err == nil || !strings.Contains(err.Error(), "is no journal directory") {
		t.Fatalf("cut of a missing directory: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Dir(missing)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("cut of a missing directory made %s: %v", filepath.Dir(missing), err)
	}
}

// A last segment of zeros only (the journal rolled, then the machine
// crashed before the new segment's header reached the disk): the node's
// start reports a torn tail there, at offset 0, dropping nothing, and
// `journal inspect` now says so too — it called the journal clean.
func TestJournalInspectAllZeroLastSegment(t *testing.T) {
	cfg, j := journalOnly(t)
	frame := proto.NewEncoder().Heartbeat(0)
	for seq := int64(1); seq <= 30; seq++ {
		if err := j.Append(&journal.Record{Seq: seq, Kind: uint8(input.KindControl), Payload: frame[proto.PrefixSize:]}); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	zeros := journal.SegmentName(31)
	if err := os.WriteFile(filepath.Join(cfg.JournalDir(), zeros), make([]byte, 64<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := ringex(t, nil, "journal", "inspect", cfg.JournalDir())
	if err != nil {
		t.Fatalf("inspect: %v\n%s", err, out)
	}
	wantLine(t, out, `^segments 2, records 30, sequences 1…30`)
	wantLine(t, out, `^torn tail: `+regexp.QuoteMeta(zeros)+` holds no record and its header never wholly reached the disk \(all zeros, .* after sequence 30, dropping nothing$`)

	// What the node's start does with it (on a copy: Open writes the header).
	cp := t.TempDir()
	for _, name := range []string{journal.SegmentName(1), zeros} {
		b, err := os.ReadFile(filepath.Join(cfg.JournalDir(), name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(cp, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	nj, rec, err := journal.Open(cp, journal.Options{SegmentBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	nj.Close()
	if filepath.Base(rec.TornFile) != zeros || rec.TornOffset != 0 || rec.TornDropped != 0 || rec.LastSeq != 30 {
		t.Fatalf("Open: %+v, not the torn tail inspect reported", rec)
	}
}

// A journal whose one segment's header never reached the disk has no
// cluster id yet: inspect says so, not that its segments are of a build
// before segments carried one.
func TestJournalInspectIDOfAHeaderNeverWritten(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, journal.SegmentName(1)), make([]byte, 64<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := ringex(t, nil, "journal", "inspect", dir)
	if err != nil {
		t.Fatalf("inspect: %v\n%s", err, out)
	}
	wantLine(t, out, `^cluster id: none yet, its one segment's header never reached the disk`)
}

// `journal inspect` prints the journal's cluster id, and refuses a
// journal holding a segment of another, naming a segment of each and
// both ids.
func TestJournalInspectClusterID(t *testing.T) {
	write := func(id string) string {
		dir := t.TempDir()
		j, _, err := journal.Open(dir, journal.Options{SegmentBytes: 1 << 20, ID: id})
		if err != nil {
			t.Fatal(err)
		}
		for seq := int64(1); seq <= 30000; seq++ {
			if err := j.Append(&journal.Record{Seq: seq, Kind: 1, Payload: make([]byte, 60)}); err != nil {
				t.Fatal(err)
			}
		}
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	a, b := write("prod-eu"), write("prod-us")
	out, err := ringex(t, nil, "journal", "inspect", a)
	if err != nil {
		t.Fatalf("inspect: %v\n%s", err, out)
	}
	wantLine(t, out, `^cluster id prod-eu: every segment carries it`)
	segs, _ := filepath.Glob(filepath.Join(a, "*.journal"))
	if len(segs) < 3 {
		t.Fatalf("setup: %d segments", len(segs))
	}
	foreign := filepath.Base(segs[1])
	data, err := os.ReadFile(filepath.Join(b, foreign))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(a, foreign), data, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = ringex(t, nil, "journal", "inspect", a)
	if !errors.Is(err, journal.ErrOtherJournal) {
		t.Fatalf("inspect of a journal holding a segment of another: %v\n%s", err, out)
	}
	for _, s := range []string{foreign, filepath.Base(segs[0]), `"prod-eu"`, `"prod-us"`} {
		if !strings.Contains(err.Error(), s) {
			t.Fatalf("%v: does not name %s", err, s)
		}
	}
}

// `journal cut` with nothing to cut — the journal's last segment holds
// no bad record, the journal opens as it is — reads the journal through,
// the archive beside it first, as `journal inspect` does, and says where
// the damage inspect reported is: cut does not touch the archive or an
// earlier segment, and the message names the segment to restore and how
// to check it. It said "nothing to cut: the journal opens as it is" right
// after inspect called an archived segment corrupt, pointing nowhere. A
// node still starts on the data: its start from the newest snapshot reads
// no archived segment.
func TestJournalCutWithNothingToCutSaysWhereTheDamageIs(t *testing.T) {
	dir, _, _ := archivedDataDir(t)
	jdir, adir := filepath.Join(dir, "journal"), filepath.Join(dir, "archive")
	_, err := ringex(t, nil, "journal", "cut", jdir)
	if !errors.Is(err, journal.ErrNothingToCut) || !strings.Contains(err.Error(), "reads clean through with the archive "+adir+" before it") {
		t.Fatalf("cut of a clean journal: %v, want nothing to cut, the journal and archive read clean", err)
	}

	arch, _ := filepath.Glob(filepath.Join(adir, "*.journal"))
	if len(arch) == 0 {
		t.Fatal("setup: nothing archived")
	}
	damaged := arch[len(arch)-1]
	damageMiddleByte(t, damaged)
	if _, err := ringex(t, nil, "journal", "inspect", jdir); !errors.Is(err, journal.ErrCorrupt) {
		t.Fatalf("setup: inspect of the damaged archive: %v, want it corrupt", err)
	}
	_, err = ringex(t, nil, "journal", "cut", jdir)
	for _, want := range []string{"is in the archive, which cut does not touch", damaged + " at offset ", "Restore the segment it names from a copy", "ringex journal inspect --archive " + adir} {
		if !errors.Is(err, journal.ErrNothingToCut) || !errors.Is(err, journal.ErrCorrupt) || !strings.Contains(err.Error(), want) {
			t.Errorf("cut beside a damaged archived segment: %v, want it saying %q", err, want)
		}
	}
	n, _ := rulesNode(t, dir, 10000) // the demo config's limit: a start from the newest snapshot
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}

	// The archived segments put back in the journal directory: the damage
	// is in an earlier segment of the journal, which cut does not mend
	// either.
	for _, a := range arch {
		if err := os.Rename(a, filepath.Join(jdir, filepath.Base(a))); err != nil {
			t.Fatal(err)
		}
	}
	inJournal := filepath.Join(jdir, filepath.Base(damaged))
	_, err = ringex(t, nil, "journal", "cut", jdir)
	for _, want := range []string{"cut mends nothing else; the damage ringex journal inspect finds is before it", inJournal + " at offset ", "Restore the segment it names from a copy"} {
		if !errors.Is(err, journal.ErrNothingToCut) || !errors.Is(err, journal.ErrCorrupt) || !strings.Contains(err.Error(), want) {
			t.Errorf("cut of a journal with an earlier segment damaged: %v, want it saying %q", err, want)
		}
	}
}

// segmentedJournal writes inputs 1…30000 into a node's journal of 1 MiB
// segments, several, and gives its directory and the paths of its
// segments in order.
func segmentedJournal(t *testing.T) (dir string, segs []string) {
	t.Helper()
	cfg, j := journalOnly(t)
	for s := int64(1); s <= 30000; s++ {
		if err := j.Append(&journal.Record{Seq: s, Kind: 1, Payload: make([]byte, 100)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	dir = cfg.JournalDir()
	segs, _ = filepath.Glob(filepath.Join(dir, "*.journal"))
	if len(segs) < 2 {
		t.Fatalf("setup: segments %v", segs)
	}
	return dir, segs
}

// A copy of a journal cut short exactly between two records of its last
// segment reads as a sound journal ending early: `journal inspect` said
// nothing of it, exit 0 — the runbook's check of a copy had nothing to
// go by. It reports the segment, its size and the size of the one
// before it (every segment is preallocated), and what to compare; still
// exit 0, for its records are sound and a node starts on it.
func TestJournalInspectReportsALastSegmentCutShortBetweenRecords(t *testing.T) {
	dir, segs := segmentedJournal(t)
	last := segs[len(segs)-1]
	before, err := os.Stat(segs[len(segs)-2])
	if err != nil {
		t.Fatal(err)
	}
	// The offset of the last segment's third record: the end of its second.
	r, err := journal.NewReader(dir, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var rec journal.Record
	var end int64
	for read := 0; read < 3; {
		if err := r.Next(&rec); err != nil {
			t.Fatal(err)
		}
		var in string
		if in, end = r.Position(); in == last {
			read++
		}
	}
	r.Close()
	if err := os.Truncate(last, end); err != nil {
		t.Fatal(err)
	}
	out, err := ringex(t, nil, "journal", "inspect", dir)
	if err != nil {
		t.Fatalf("inspect of a copy cut short between two records: %v, want exit 0\n%s", err, out)
	}
	for _, want := range []string{
		fmt.Sprintf("sequences 1…%d,", rec.Seq-1),
		fmt.Sprintf("cut short? %s: its data runs to its file's end, %d bytes, smaller than the segment before it (%d bytes)", last, end, before.Size()),
		"check that the range above ends where the source's does",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect of a copy cut short between two records: want it saying %q\n%s", want, out)
		}
	}
}

// A journal whose newest segment is gone (deleted, left out of a copy)
// reads, segments alone, as one ending at the previous segment's end:
// `journal inspect` said so and exited 0, while the node refuses to
// start on it (newest-segment names the segment it rolled to). inspect
// fails as the start does, naming the segment, the inputs gone and the
// same remedies; with the record removed (the inputs given up) it reads
// clean.
func TestJournalInspectReportsAMissingNewestSegment(t *testing.T) {
	dir, segs := segmentedJournal(t)
	newest := filepath.Base(segs[len(segs)-1])
	if err := os.Remove(segs[len(segs)-1]); err != nil {
		t.Fatal(err)
	}
	out, err := ringex(t, nil, "journal", "inspect", dir)
	if !errors.Is(err, journal.ErrMissingSegment) {
		t.Fatalf("inspect without %s: %v, want ErrMissingSegment\n%s", newest, err, out)
	}
	if exitStatus(err) != 1 {
		t.Errorf("inspect without %s: exit status %d, want 1 as for other damage", newest, exitStatus(err))
	}
	for _, want := range []string{
		"newest segment " + newest,
		"is missing from " + dir,
		"ringex journal inspect " + dir,
		"remove " + filepath.Join(dir, journal.NewestFile),
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("inspect without %s: %v; want it saying %q", newest, err, want)
		}
	}

	// A damaged record, which the start refuses too: inspect names it
	// after the range the segments read, which the operator checks
	// before removing it.
	record := filepath.Join(dir, journal.NewestFile)
	if err := os.WriteFile(record, []byte("RXNS damaged"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = ringex(t, nil, "journal", "inspect", dir)
	if !errors.Is(err, journal.ErrCorrupt) || !strings.Contains(err.Error(), record) {
		t.Fatalf("inspect with %s damaged: %v, want ErrCorrupt naming it\n%s", journal.NewestFile, err, out)
	}
	wantLine(t, out, `^segments \d+, records \d+, sequences 1…\d+,`)

	if err := os.Remove(record); err != nil { // given up
		t.Fatal(err)
	}
	mustRingex(t, "journal", "inspect", dir)
}
