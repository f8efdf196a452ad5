package journal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ringex/ringex/vfs"
)

// copyDir copies the segment files of src into a new directory.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	segs, err := listSegments(vfs.Default, src)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range segs {
		copyFile(t, filepath.Join(src, name), filepath.Join(dst, name))
	}
	return dst
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// journalWithID writes inputs 1..n in a journal of cluster id id, over
// several segments.
func journalWithID(t *testing.T, id string, n int64) (string, []string) {
	t.Helper()
	dir := t.TempDir()
	o := testOptions(nil)
	o.ID = id
	j, _, err := Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, j, 1, n, 100)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	segs, _ := listSegments(vfs.Default, dir)
	if len(segs) < 3 {
		t.Fatalf("setup: %d segments, want 3 or more", len(segs))
	}
	return dir, segs
}

// testdata/v1 holds a segment of format version 1 (16-byte header, no
// cluster id), written by fb6c8b4 (a build of 2026-12-02; the segment of
// node/testdata/pre-20261203): it opens, its records read as written,
// the journal appends after them, and the segments its rolls create
// carry the cluster id Options gives — kept at the next Open, whatever
// Options says then.
func TestVersion1SegmentsStillOpen(t *testing.T) {
	dir := copyDir(t, filepath.Join("testdata", "v1"))
	name := SegmentName(1)
	before, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	if v := binary.LittleEndian.Uint32(before[4:]); v != 1 {
		t.Fatalf("fixture: format version %d, want 1", v)
	}
	st, err := Inspect(dir, nil, nil)
	if err != nil || st.Records != 2 || st.ID != "" {
		t.Fatalf("Inspect of the version 1 segment: %+v %v; want its 2 records, no id", st, err)
	}
	var v1 []Record
	if _, err := Inspect(dir, nil, func(r *Record) {
		c := *r
		c.Payload = bytes.Clone(r.Payload)
		v1 = append(v1, c)
	}); err != nil {
		t.Fatal(err)
	}

	j, rec, err := Open(dir, testOptions(nil))
	if err != nil {
		t.Fatalf("Open of a version 1 segment: %v", err)
	}
	if rec.LastSeq != 2 || rec.ID != testID || rec.TornFile != "" {
		t.Fatalf("Open: %+v; want last input 2, the id Options gives", rec)
	}
	appendN(t, j, 3, 2000, 50)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	segs, _ := listSegments(vfs.Default, dir)
	if len(segs) < 2 {
		t.Fatalf("setup: %d segments, want a roll", len(segs))
	}
	for i, s := range segs {
		b, _ := os.ReadFile(filepath.Join(dir, s))
		h, err := verifyHeader(b, s)
		if want := map[bool]string{true: "", false: testID}[i == 0]; err != nil || h.id != want {
			t.Fatalf("%s: %+v %v, want id %q", s, h, err, want)
		}
	}
	o := testOptions(nil)
	o.ID = "another-one"
	j, rec, err = Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	j.Close()
	if rec.ID != testID || rec.LastSeq != 2000 {
		t.Fatalf("reopened with another ID: %+v; want the journal's id %q kept", rec, testID)
	}
	var got []Record
	st, err = Inspect(dir, nil, func(r *Record) {
		if r.Seq <= 2 {
			c := *r
			c.Payload = bytes.Clone(r.Payload)
			got = append(got, c)
		}
	})
	if err != nil || st.Records != 2000 || st.ID != testID {
		t.Fatalf("Inspect: %+v %v", st, err)
	}
	for i := range v1 {
		if got[i].Seq != v1[i].Seq || got[i].RecvTime != v1[i].RecvTime || !bytes.Equal(got[i].Payload, v1[i].Payload) {
			t.Fatalf("record %d read %+v after the appends, %+v before", i, got[i], v1[i])
		}
	}
}

// A segment of another journal — the same inputs at the same sequences,
// so every record and sequence check passes — among a journal's is
// refused, naming a segment of each and both ids: by Open, the Reader
// (inspect, replay) and CutTornBatch. Before, the journal opened.
func TestSegmentOfAnotherJournalIsRefused(t *testing.T) {
	a, segs := journalWithID(t, "cluster-a", 3000)
	b, _ := journalWithID(t, "cluster-b", 3000)
	for _, tc := range []struct {
		name  string
		which int
	}{{"middle", 1}, {"last", len(segs) - 1}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyDir(t, a)
			foreign := segs[tc.which]
			copyFile(t, filepath.Join(b, foreign), filepath.Join(dir, foreign))
			wantOtherJournalRefused(t, dir, foreign, segs[0])
		})
	}
}

// Journals given no id (standalone nodes') make up one each, so the
// segments of two are told apart too.
func TestStandaloneJournalsHaveTheirOwnIDs(t *testing.T) {
	a, segs := journalWithID(t, "", 3000)
	b, _ := journalWithID(t, "", 3000)
	sa, _ := Inspect(a, nil, nil)
	sb, _ := Inspect(b, nil, nil)
	if !strings.HasPrefix(sa.ID, "standalone-") || !strings.HasPrefix(sb.ID, "standalone-") || sa.ID == sb.ID {
		t.Fatalf("ids %q and %q, want two standalone ones", sa.ID, sb.ID)
	}
	copyFile(t, filepath.Join(b, segs[1]), filepath.Join(a, segs[1]))
	if j, _, err := Open(a, Options{}); !errors.Is(err, ErrOtherJournal) {
		if j != nil {
			j.Close()
		}
		t.Fatalf("Open: %v, want ErrOtherJournal", err)
	}
}

// The header checksum covers the cluster id: a flipped bit there, in an
// earlier segment or the last, is a damaged header — ErrCorrupt naming
// the file and the checksum's offset — not a segment of another journal.
func TestDamagedSegmentIDIsCorrupt(t *testing.T) {
	a, segs := journalWithID(t, "cluster-a", 3000)
	for _, tc := range []struct {
		name string
		seg  string
		at   int
	}{
		{"earlier segment, id", segs[0], idOffset + 3},
		{"last segment, id", segs[len(segs)-1], idOffset},
		{"id padding", segs[1], idOffset + idSize - 1},
		{"header checksum", segs[1], headerCRCAt + 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyDir(t, a)
			p := filepath.Join(dir, tc.seg)
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			b[tc.at] ^= 0x01
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
			want := tc.seg + " at offset 48: segment header fails its check"
			j, _, err := Open(dir, testOptions(nil))
			if j != nil {
				j.Close()
			}
			if !errors.Is(err, ErrCorrupt) || errors.Is(err, ErrOtherJournal) || !strings.Contains(err.Error(), want) {
				t.Fatalf("Open: %v; want ErrCorrupt: %s", err, want)
			}
			if _, err := Inspect(dir, nil, nil); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), want) {
				t.Fatalf("Inspect: %v; want ErrCorrupt: %s", err, want)
			}
		})
	}
}

// A last segment of another journal whose records are damaged too is
// refused as another journal's (ErrOtherJournal) by Open and
// CutTornBatch, as the Reader refuses it: its id is checked before its
// records. Before, Open (and CutTornBatch, for a sequence break) named
// only the damaged record — ErrCorrupt, where moving the segment out is
// the way, not mending it — and FuzzReaderAgreesWithOpen found Open and
// the Reader disagreeing on the class.
func TestDamagedSegmentOfAnotherJournalIsNamedSo(t *testing.T) {
	a, segs := journalWithID(t, "cluster-a", 3000)
	next := int64(3001)
	for _, tc := range []struct {
		name    string
		records func(seg []byte) []byte
	}{
		{"sequence break", func(seg []byte) []byte { return appendRecord(seg, rec(next+1)) }},
		{"record fails its check, valid ones after", func(seg []byte) []byte {
			seg = appendRecord(seg, rec(next))
			seg[headerSize+recordHeader+bodyFixed] ^= 0x40 // its payload's first byte
			return appendRecord(seg, rec(next+1))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyDir(t, a)
			seg := tc.records(segmentHeader(next, "cluster-b"))
			seg = append(seg, make([]byte, 4096)...)
			foreign := SegmentName(next)
			if err := os.WriteFile(filepath.Join(dir, foreign), seg, 0o644); err != nil {
				t.Fatal(err)
			}
			wantOtherJournalRefused(t, dir, foreign, segs[0])
		})
	}
}

// wantOtherJournalRefused checks that Open, Inspect and CutTornBatch each
// refuse dir — cluster-a's journal, its segment foreign cluster-b's — with
// ErrOtherJournal naming foreign, first (a segment of cluster-a) and both
// ids.
func wantOtherJournalRefused(t *testing.T, dir, foreign, first string) {
	t.Helper()
	wantErr := func(what string, err error) {
		t.Helper()
		for _, s := range []string{foreign, first, `"cluster-a"`, `"cluster-b"`} {
			if !errors.Is(err, ErrOtherJournal) || !strings.Contains(err.Error(), s) {
				t.Fatalf("%s: %v; want ErrOtherJournal naming %s", what, err, s)
			}
		}
	}
	j, _, err := Open(dir, testOptions(nil))
	if j != nil {
		j.Close()
	}
	wantErr("Open", err)
	_, err = Inspect(dir, nil, nil)
	wantErr("Inspect", err)
	_, err = CutTornBatch(dir, nil, false)
	wantErr("CutTornBatch", err)
}

// A Reader from a later input refuses a journal with a segment of
// another journal before it — one it never reads — as a Reader from the
// start does, naming both ids: `ringex replay --from N`, a resend or a
// raft snapshot reading from N read such a journal as this one's. It
// checks every segment's header, not only those it reads. Before, only
// the segments it read were checked.
func TestReaderFromLaterRefusesAnotherJournalsSegmentBefore(t *testing.T) {
	a, segs := journalWithID(t, "cluster-a", 3000)
	b, _ := journalWithID(t, "cluster-b", 3000)
	dir := copyDir(t, a)
	foreign := segs[1]
	copyFile(t, filepath.Join(b, foreign), filepath.Join(dir, foreign))
	from := segmentFirst(segs[len(segs)-1]) + 1 // in the last segment, past the foreign one
	var err error
	r, err := NewReader(dir, nil, from)
	if err == nil {
		err = readToEnd(r)
	}
	for _, s := range []string{foreign, segs[0], `"cluster-a"`, `"cluster-b"`} {
		if !errors.Is(err, ErrOtherJournal) || !strings.Contains(err.Error(), s) {
			t.Fatalf("Reader from %d: %v; want ErrOtherJournal naming %s", from, err, s)
		}
	}
}

// A Reader takes a segment whose header it cannot read for an I/O error
// as one retired since it listed it: a Reader from a later input reads
// its records, as one given a journal without that segment would, and
// fails on the error only when it reads that segment's records (from
// its start) — never for a segment past where its caller stops. Before,
// every Reader failed for it in checkIDs: a resend or a replay from a
// recent input refused for an unreadable segment of an old archive whose
// bytes it did not need.
func TestReaderPassesAnUnreadableSegmentItDoesNotNeed(t *testing.T) {
	dir, segs := journalWithID(t, "cluster-a", 3000)
	read := func(fs vfs.FS, from, to int64) error {
		t.Helper()
		r, err := NewReader(dir, fs, from)
		if err != nil {
			return err
		}
		defer r.Close()
		var rec Record
		for next := from; next <= to; next++ {
			if err := r.Next(&rec); err != nil {
				return err
			}
			if rec.Seq != next {
				t.Fatalf("read input %d, want %d", rec.Seq, next)
			}
		}
		return nil
	}
	unreadable := func(name string) vfs.FS {
		return &vfs.FailOpen{FS: vfs.Default, Path: filepath.Join(dir, name), Err: syscall.EIO}
	}
	lastFirst := segmentFirst(segs[len(segs)-1])
	if err := read(unreadable(segs[0]), lastFirst, 3000); err != nil {
		t.Fatalf("from %d, %s before it unreadable: %v", lastFirst, segs[0], err)
	}
	if err := read(unreadable(segs[len(segs)-1]), 1, lastFirst-1); err != nil {
		t.Fatalf("to %d, %s after it unreadable: %v", lastFirst-1, segs[len(segs)-1], err)
	}
	if err := read(unreadable(segs[0]), 1, 3000); !errors.Is(err, syscall.EIO) {
		t.Fatalf("from 1, its segment %s unreadable: %v, want the read error", segs[0], err)
	}
	if err := read(unreadable(segs[1]), 1, 3000); !errors.Is(err, syscall.EIO) {
		t.Fatalf("from 1, %s on its way unreadable: %v, want the read error", segs[1], err)
	}
}

// A journal begun in a directory holding no segment beside its archive
// (Options.Archive) continues the archive's journal and carries its id,
// whatever Options.ID says, and a Reader reads both as one journal;
// beside no archive (or an empty one) it takes Options.ID. Before, it
// took Options.ID (a node alone: a new random id) and the Reader refused
// the archive's segments as another journal's.
func TestJournalBegunBesideItsArchiveKeepsTheArchivesID(t *testing.T) {
	archive, _ := journalWithID(t, "archived", 3000)
	for _, tc := range []struct{ archive, want string }{
		{archive, "archived"},
		{filepath.Join(t.TempDir(), "none"), "configured"},
		{"", "configured"},
	} {
		dir := t.TempDir()
		o := testOptions(nil)
		o.ID, o.Archive = "configured", tc.archive
		j, _, err := Open(dir, o)
		if err != nil {
			t.Fatal(err)
		}
		err = j.BeginAt(3001)
		if cerr := j.Close(); err == nil {
			err = cerr
		}
		if err != nil || j.ID() != tc.want {
			t.Fatalf("archive %q: id %q, %v; want %q", tc.archive, j.ID(), err, tc.want)
		}
		if tc.archive == "" {
			continue
		}
		if r, err := NewReaderOf([]string{tc.archive, dir}, nil, 0); err != nil {
			t.Fatalf("archive %q: the archive and the journal begun beside it: %v", tc.archive, err)
		} else {
			r.Close()
		}
	}
}

// DirID says the id does not read only when no segment header verifies:
// a version 1 header (no id) older than a damaged newest one verifies,
// and the id is "" with no error, as the doc says; the damaged one alone
// is the error that names it.
func TestDirIDErrsOnlyWhenNoHeaderVerifies(t *testing.T) {
	dir := copyDir(t, filepath.Join("testdata", "v1"))
	damaged := segmentHeader(3, testID)
	damaged[idOffset] ^= 0xff
	if err := os.WriteFile(filepath.Join(dir, SegmentName(3)), damaged, 0o600); err != nil {
		t.Fatal(err)
	}
	if id, err := DirID(dir, nil); id != "" || err != nil {
		t.Fatalf("a version 1 header older than the damaged newest: DirID %q, %v; want \"\" and no error", id, err)
	}
	if err := os.Remove(filepath.Join(dir, SegmentName(1))); err != nil {
		t.Fatal(err)
	}
	if id, err := DirID(dir, nil); id != "" || !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), SegmentName(3)) {
		t.Fatalf("only the damaged header: DirID %q, %v; want an ErrCorrupt naming %s", id, err, SegmentName(3))
	}
}
