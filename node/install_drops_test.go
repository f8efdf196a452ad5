package node

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/journal"
	"github.com/ringex/ringex/replay"
	"github.com/ringex/ringex/replicator"
)

// dropsOf is a list of entries, as a node reads one from its drops file.
func dropsOf(t *testing.T, entries ...journal.Drop) *journal.Drops {
	t.Helper()
	d, err := journal.ParseDrops(journal.FormatDrops(entries))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// newestSnapshot is the input of the source's newest snapshot at or
// before applied: the S of its raft snapshot stream.
func newestSnapshot(t *testing.T, n *Node, applied int64) int64 {
	t.Helper()
	snap, _, err := n.snaps.Newest(applied)
	if err != nil {
		t.Fatal(err)
	}
	return snap.Seq
}

// A member that installs a leader's state replays the inputs after the
// leader's snapshot, and takes those after the stream from the raft log:
// the inputs the operator dropped there come with the stream (a version 2
// stream's drops section), into the installed journal's drops file. The
// stream had no such section: a member with an empty data directory
// installed it, and its next start panicked on the dropped input (or, in
// a build that fixed the panic, applied the input every other member
// rejected).
func TestRaftSnapshotCarriesTheDroppedInputs(t *testing.T) {
	src, st := raftSource(t, Options{})
	snapSeq := newestSnapshot(t, src, st.Seq)
	poison := snapSeq + (st.Seq-snapSeq)/2 // a bid the member replays
	crc, found, err := journal.ChecksumAt([]string{src.cfg.JournalDir()}, nil, poison)
	if err != nil || !found {
		t.Fatalf("the source's record of input %d: found %v, %v", poison, found, err)
	}
	list := dropsOf(t,
		journal.Drop{Seq: poison, Checksum: crc, Note: "the engine panics on it"},
		journal.Drop{Seq: st.Seq + 7, Checksum: 0x5eed, Note: "one the member is to take from the raft log"})
	var buf bytes.Buffer
	err = src.writeState(st.Seq, list, &buf)
	src.Stop()
	if err != nil {
		t.Fatal(err)
	}
	stream := buf.Bytes()
	if v := binary.LittleEndian.Uint32(stream[4:]); v != installVersionID {
		t.Fatalf("a stream carrying dropped inputs is version %d, want %d", v, installVersionID)
	}
	if got, err := streamApplied(bytes.NewReader(stream)); got != st.Seq || err != nil {
		t.Fatalf("streamApplied = %d, %v; want %d", got, err, st.Seq)
	}

	dir := t.TempDir() // the member's data directory, empty
	cfg := testConfig(t, dir)
	if _, err := stageState(bytes.NewReader(stream), stagingFor(cfg.JournalDir(), cfg.SnapshotDir(), dir), cfg.Journal.SegmentBytes); err != nil {
		t.Fatal(err)
	}
	if ok, err := installStaged(cfg.JournalDir(), cfg.SnapshotDir(), cfg.ArchiveDir(), dir, zerolog.Nop()); !ok || err != nil {
		t.Fatalf("installStaged: %v %v", ok, err)
	}
	installed, err := journal.ReadDrops(nil, cfg.JournalDir())
	if err != nil || fmt.Sprint(installed.Entries()) != fmt.Sprint(list.Entries()) {
		t.Fatalf("the installed journal lists %v (%v), want %v", installed.Entries(), err, list.Entries())
	}

	poisonReplay(t, poison) // this build panics on it
	n, rec, err := New(cfg, zerolog.Nop())
	if err != nil {
		t.Fatalf("the start on the installed state: %v", err)
	}
	defer n.discard()
	if !slices.Equal(rec.Dropped, []int64{poison}) || rec.LastSeq != st.Seq || rec.SnapshotSeq != snapSeq {
		t.Fatalf("recovered %+v, want the snapshot at %d and the inputs up to %d, dropping %d", rec, snapSeq, st.Seq, poison)
	}
	// The source's inputs with the drop, applied on their own.
	eng, err := engine.NewEngine(EngineConfig(src.cfg), discard{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := replay.RunWith(src.cfg.JournalDir(), nil, 1, st.Seq, eng,
		replay.Options{KnownDrops: true, Drops: list, Archive: src.cfg.ArchiveDir()}); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%016x", eng.StateHash())
	if want == st.Hash {
		t.Fatalf("dropping input %d changes no state: the test tells nothing", poison)
	}
	if got := n.stateNow().Hash; got != want {
		t.Fatalf("state hash %s after installing, %s applying the source's inputs without input %d (%s with it)", got, want, poison, st.Hash)
	}
}

// A node with no dropped input after its snapshot streams an empty drops
// section, then its journal's id, then the entries from the one after the
// snapshot. It streamed version 1 (no drops section) before version 3:
// the id is in every stream now. An entry at or before the snapshot is
// not carried: the member replays nothing before it.
func TestRaftSnapshotWithoutDropsHasAnEmptyDropsSection(t *testing.T) {
	src, st := raftSource(t, Options{})
	defer src.Stop()
	snapSeq := newestSnapshot(t, src, st.Seq)
	var none, before bytes.Buffer
	if err := src.raftSnapshot(st.Seq, &none); err != nil {
		t.Fatal(err)
	}
	if err := src.writeState(st.Seq, dropsOf(t, journal.Drop{Seq: snapSeq, Checksum: 1}, journal.Drop{Seq: 1, Checksum: 2}), &before); err != nil {
		t.Fatal(err)
	}
	stream := none.Bytes()
	if !bytes.Equal(before.Bytes(), stream) {
		t.Fatal("entries at or before the snapshot change the stream")
	}
	le := binary.LittleEndian
	if v := le.Uint32(stream[4:]); v != installVersionID {
		t.Fatalf("version %d, want %d", v, installVersionID)
	}
	if s := int64(le.Uint64(stream[8:])); s != snapSeq {
		t.Fatalf("the stream starts from the snapshot at %d, want %d", s, snapSeq)
	}
	at := dropsSectionAt(stream)
	if l := le.Uint32(stream[at:]); l != 0 {
		t.Fatalf("a drops section of %d bytes, want none", l)
	}
	id := string(stream[at+5 : at+5+int(stream[at+4])])
	if id != src.journal.ID() || id == "" {
		t.Fatalf("the stream names journal id %q, the source's journal carries %q", id, src.journal.ID())
	}
	at += 5 + len(id) // the first entry
	b, err := replicator.ParseBatch(stream[at+4 : at+4+int(le.Uint32(stream[at:]))])
	if err != nil || b.First != snapSeq+1 {
		t.Fatalf("after the id: an entry from %d (%v), want one from %d", b.First, err, snapSeq+1)
	}
}

// dropsSectionAt is where the drops section's length of a version 2 or
// 3 stream is.
func dropsSectionAt(stream []byte) int {
	return installHeader + int(binary.LittleEndian.Uint64(stream[24:]))
}

// withDrops is a version 2 or 3 stream with its drops section replaced by
// drops and its checksum made valid again.
func withDrops(stream, drops []byte) []byte {
	at := dropsSectionAt(stream)
	rest := stream[at+4+int(binary.LittleEndian.Uint32(stream[at:])) : len(stream)-4]
	b := append(bytes.Clone(stream[:at]), binary.LittleEndian.AppendUint32(nil, uint32(len(drops)))...)
	b = append(append(b, drops...), rest...)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// A version 2 stream damaged in its drops section, or whose section (its
// checksum valid) is too long or does not parse, is refused: nothing is
// staged, and a member cannot install inputs without the drops that go
// with them.
func TestRaftSnapshotStreamDropsCorruption(t *testing.T) {
	src, st := raftSource(t, Options{})
	snapSeq := newestSnapshot(t, src, st.Seq)
	var buf bytes.Buffer
	err := src.writeState(st.Seq, dropsOf(t, journal.Drop{Seq: snapSeq + 1, Checksum: 0xabcdef01}, journal.Drop{Seq: st.Seq + 1, Checksum: 2}), &buf)
	src.Stop()
	if err != nil {
		t.Fatal(err)
	}
	stream := buf.Bytes()
	try := func(name string, b []byte) { t.Helper(); refusedStream(t, name, b) }
	at := dropsSectionAt(stream)
	size := int(binary.LittleEndian.Uint32(stream[at:]))
	text := string(stream[at+4 : at+4+size])
	entry := at + 4 + strings.Index(text, "abcdef01")
	if entry < at+4 {
		t.Fatalf("the section does not list the entry:\n%s", text)
	}
	for _, i := range []int{at, at + 1, at + 3, at + 4, entry, at + 4 + size - 1} {
		b := bytes.Clone(stream)
		b[i] ^= 0x40
		try("flipped byte "+itoa(i), b)
	}
	for _, cut := range []int{at + 2, at + 4, entry, at + 4 + size - 1, at + 4 + size} {
		try("cut at "+itoa(cut), stream[:cut])
	}
	// Checksums valid: the section itself is refused.
	try("a section that does not parse", withDrops(stream, []byte("12 zz\n")))
	try("an entry listed twice", withDrops(stream, []byte("12 0000002a\n12 0000002a\n")))
	try("a section past the bound", withDrops(stream, bytes.Repeat([]byte("#"), journal.MaxDropsFileSize+1)))
	// The stream as written is staged, with its entries.
	staged := testStaging(t.TempDir())
	if _, err := stageState(bytes.NewReader(withDrops(stream, []byte(text))), staged, 1<<20); err != nil {
		t.Fatalf("the stream rebuilt as written: %v", err)
	}
	if d, err := journal.ReadDrops(nil, staged.journal); err != nil || d.Len() != 2 {
		t.Fatalf("staged drops %v (%v), want the two entries", d.Entries(), err)
	}
}

// A version 2 tiny stream (FuzzStageState's seed) stages its drops.
func TestTinyStreamWithDropsStages(t *testing.T) {
	st := testStaging(t.TempDir())
	if applied, err := stageState(bytes.NewReader(tinyStreamWith([]byte("2 0000002a\n"))), st, 1<<20); err != nil || applied != 2 {
		t.Fatalf("tiny stream: %d %v", applied, err)
	}
	if d, err := journal.ReadDrops(nil, st.journal); err != nil || d.Len() != 1 {
		t.Fatalf("staged drops %v (%v)", d.Entries(), err)
	}
	// A section of comments alone lists nothing: no file.
	st = testStaging(t.TempDir())
	if _, err := stageState(bytes.NewReader(tinyStreamWith([]byte("# nothing\n"))), st, 1<<20); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(st.journal + "/" + journal.DropsFile); !os.IsNotExist(err) {
		t.Fatalf("a drops file for an empty section: %v", err)
	}
}

// Where the member's own drops file and the leader's (staged with its
// state) name one input with different checksums, the leader's entry is
// the one of the input the installed journal holds: it is kept, the
// member's skipped and logged, and the install goes on. The install
// failed — and the member could not start — while the member's entry
// stood. Carried again (a crash half-way), nothing more is added.
func TestCarryDropsKeepsTheLeadersEntry(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	st := stagingFor(cfg.JournalDir(), cfg.SnapshotDir(), dir)
	leaders := journal.Drop{Seq: 2, Checksum: 0x1eade7}
	if _, err := stageState(bytes.NewReader(tinyStreamWith([]byte(journal.FormatDrop(leaders)+"\n"))), st, cfg.Journal.SegmentBytes); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(cfg.JournalDir(), 0o700); err != nil {
		t.Fatal(err)
	}
	conflicting := journal.Drop{Seq: 2, Checksum: 0x0e1, Note: "the member's"}
	own := journal.Drop{Seq: 9, Checksum: 0x0e2, Note: "the member's"}
	for _, d := range []journal.Drop{conflicting, own} {
		if _, err := journal.AddDrop(nil, cfg.JournalDir(), d); err != nil {
			t.Fatal(err)
		}
	}
	want := fmt.Sprint([]journal.Drop{leaders, own})
	var first []byte
	for carry := 1; carry <= 2; carry++ {
		skipped, err := carryDrops(cfg.JournalDir(), st.journal)
		if err != nil || !slices.Equal(skipped, []journal.Drop{conflicting}) {
			t.Fatalf("carry %d: skipped %v (%v), want %v", carry, skipped, err, conflicting)
		}
		b, err := os.ReadFile(st.journal + "/" + journal.DropsFile)
		if err != nil {
			t.Fatal(err)
		}
		if carry == 1 {
			first = b
		} else if !bytes.Equal(b, first) {
			t.Fatalf("carried again, the file changed:\n%s\nthen:\n%s", first, b)
		}
	}
	logs := new(testkit.SyncBuffer)
	if ok, err := installStaged(cfg.JournalDir(), cfg.SnapshotDir(), cfg.ArchiveDir(), dir, zerolog.New(logs)); !ok || err != nil {
		t.Fatalf("installStaged: %v %v", ok, err)
	}
	d, err := journal.ReadDrops(nil, cfg.JournalDir())
	if err != nil || fmt.Sprint(d.Entries()) != want {
		t.Fatalf("the installed journal lists %v (%v), want %s", d.Entries(), err, want)
	}
	if !strings.Contains(logs.String(), "the leader's entry") || !strings.Contains(logs.String(), `"seq":2`) {
		t.Fatalf("the log does not say the member's entry was skipped:\n%s", logs)
	}
}
