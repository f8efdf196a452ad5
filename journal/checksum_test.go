package journal

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ringex/ringex/vfs"
)

// ChecksumAt finds the checksum stored with any record — in the first
// segment, in a later one, in an archive the journal moved segments to —
// and it is Checksum of the record written; none is found before the
// journal's first record or past its last.
func TestChecksumAtEveryRecord(t *testing.T) {
	dir, archive := archivedJournal(t, 3000, 2000, 2)
	dirs := []string{archive, dir}
	for seq := int64(1); seq <= 3000; seq += 1 + seq%13 { // ~430 inputs, spread over every segment
		crc, found, err := ChecksumAt(dirs, nil, seq)
		if err != nil || !found || crc != Checksum(rec(seq)) {
			t.Fatalf("input %d: checksum %08x found %v err %v, want %08x", seq, crc, found, err, Checksum(rec(seq)))
		}
	}
	if crc, found, err := ChecksumAt(dirs, nil, 3001); found || err != nil {
		t.Fatalf("past the journal's end: %08x %v %v", crc, found, err)
	}
	if _, found, err := ChecksumAt([]string{dir}, nil, 1); found || err != nil {
		t.Fatalf("input 1, archived, in the journal alone: found %v, %v", found, err)
	}
	if _, found, err := ChecksumAt([]string{filepath.Join(dir, "none")}, nil, 1); found || err != nil {
		t.Fatalf("in a directory that does not exist: found %v, %v", found, err)
	}
	if Checksum(rec(1)) == Checksum(&Record{Seq: 1, RecvTime: 11, Kind: 1, Payload: rec(1).Payload}) {
		t.Fatal("two records differing in their receive time have one checksum")
	}
}

// A bad record before the one asked for, or at it, is ErrCorrupt naming
// the segment: the checksum cannot be known.
func TestChecksumAtPastABadRecord(t *testing.T) {
	dir := t.TempDir()
	j, _, err := Open(dir, Options{SegmentBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, j, 1, 20, 20)
	j.Close()
	segs, _ := listSegments(vfs.Default, dir)
	off := int64(headerSize + encodedSize(len(rec(1).Payload)) + recordHeader + 3) // inside record 2's body
	corruptByte(t, filepath.Join(dir, segs[0]), off)
	if _, found, err := ChecksumAt([]string{dir}, nil, 1); !found || err != nil {
		t.Fatalf("input 1, before the damage: found %v, %v", found, err)
	}
	for _, seq := range []int64{2, 10} {
		if _, _, err := ChecksumAt([]string{dir}, nil, seq); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("input %d, at or past a bad record: %v, want ErrCorrupt", seq, err)
		}
	}
}

// ChecksumAt over any segment bytes ends — found, not found, or
// ErrCorrupt — and what it finds is the checksum of a record that
// verifies: the one a Reader reads at that input.
func FuzzChecksumAt(f *testing.F) {
	data := fiveRecordSegment(f)
	f.Add(data[:512], int64(3))
	f.Add(data[:200], int64(1))
	f.Fuzz(func(t *testing.T, data []byte, seq int64) {
		fs := vfs.NewCrashFS()
		if err := fs.MkdirAll("/j"); err != nil {
			t.Fatal(err)
		}
		w, err := fs.Create("/j/" + SegmentName(1))
		if err != nil {
			t.Fatal(err)
		}
		w.WriteAt(data, 0)
		w.Close()
		crc, found, err := ChecksumAt([]string{"/j"}, fs, seq)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v is not ErrCorrupt", err)
			}
			return
		}
		if !found {
			return
		}
		r, rerr := NewReader("/j", fs, seq)
		if rerr != nil {
			t.Fatal(rerr)
		}
		defer r.Close()
		var x Record
		for x.Seq < seq {
			if err := r.Next(&x); err != nil {
				return // a reader judges the tail as Open would; ChecksumAt reads records only
			}
		}
		if x.Seq != seq || Checksum(&x) != crc {
			t.Fatalf("found %08x for input %d; the reader reads input %d, checksum %08x", crc, seq, x.Seq, Checksum(&x))
		}
	})
}

// countingFS counts the bytes read through the files it opens read-only.
type countingFS struct {
	vfs.FS
	read *atomic.Int64
}

type countingFile struct {
	vfs.File
	read *atomic.Int64
}

func (f countingFile) ReadAt(p []byte, off int64) (int, error) {
	n, err := f.File.ReadAt(p, off)
	f.read.Add(int64(n))
	return n, err
}

func (c countingFS) Open(name string) (vfs.File, error) {
	f, err := c.FS.Open(name)
	if err != nil {
		return nil, err
	}
	return countingFile{f, c.read}, nil
}

// RecentChecksum — what a node asks for each snapshot, of an input near
// the journal's end — reads from the mark before the input, not its
// segment from the start (up to journal.segment_bytes, from the disk:
// the journal drops its pages as it writes; ChecksumAt read ~20 MB here
// for one record), and agrees with ChecksumAt on every input, across
// rolls (~1 500 inputs spread over three segments). After a reopen the
// last segment's inputs are marked too (a snapshot right after a restart
// is of one of them); an input of a segment finished before Open, or not
// yet durable, is not found: ChecksumAt reads it the long way.
func TestRecentChecksumReadsAroundTheInput(t *testing.T) {
	dir := t.TempDir()
	var read atomic.Int64
	const segBytes = 4 << 20
	j, _, err := Open(dir, Options{SegmentBytes: segBytes, FS: countingFS{vfs.Default, &read}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { j.Close() }()
	var last int64
	for last = 1; j.Segments() < 3; last++ {
		if err := j.Append(rec(last)); err != nil {
			t.Fatal(err)
		}
	}
	last--
	if _, found, err := j.RecentChecksum(last); found || err != nil {
		t.Fatalf("input %d, not yet durable: found %v, %v", last, found, err)
	}
	if err := j.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	var seqs []int64
	for seq := int64(1); seq <= last; seq += 1 + seq%97 { // ~1 500 inputs, spread
		seqs = append(seqs, seq)
	}
	segs, _ := listSegments(vfs.Default, dir)
	for _, n := range segs[1:] { // each side of every roll
		seqs = append(seqs, segmentFirst(n)-1, segmentFirst(n))
	}
	for _, seq := range append(seqs, last) {
		before := read.Load()
		crc, found, err := j.RecentChecksum(seq)
		if err != nil || !found || crc != Checksum(rec(seq)) {
			t.Fatalf("input %d: %08x found %v err %v, want %08x", seq, crc, found, err, Checksum(rec(seq)))
		}
		if got := read.Load() - before; got > markBytes+2*recentReadBuffer {
			t.Fatalf("input %d: read %d bytes of its segment (bound %d)", seq, got, markBytes+2*recentReadBuffer)
		}
	}
	j.Close()
	if j, _, err = Open(dir, Options{SegmentBytes: segBytes, FS: countingFS{vfs.Default, &read}}); err != nil {
		t.Fatal(err)
	}
	lastFirst := segmentFirst(segs[len(segs)-1])
	for _, seq := range []int64{lastFirst, (lastFirst + last) / 2, last} {
		before := read.Load()
		if crc, found, err := j.RecentChecksum(seq); !found || err != nil || crc != Checksum(rec(seq)) {
			t.Fatalf("input %d, in the last segment at Open: %08x found %v, %v", seq, crc, found, err)
		}
		if got := read.Load() - before; got > markBytes+2*recentReadBuffer {
			t.Fatalf("input %d, in the last segment at Open: read %d bytes of it (bound %d)", seq, got, markBytes+2*recentReadBuffer)
		}
	}
	if _, found, err := j.RecentChecksum(lastFirst - 1); found || err != nil {
		t.Fatalf("input %d, in a segment finished before Open: found %v, %v", lastFirst-1, found, err)
	}
	if err := j.Append(rec(last + 1)); err != nil {
		t.Fatal(err)
	}
	if err := j.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	if crc, found, err := j.RecentChecksum(last + 1); !found || err != nil || crc != Checksum(rec(last+1)) {
		t.Fatalf("input %d, appended after Open mid-segment: %08x found %v, %v", last+1, crc, found, err)
	}
}

// A segment of another journal among those ChecksumAt reads — one copied
// into the archive, holding the input asked for — is ErrOtherJournal
// naming it, the journal's newest segment and both ids, as a Reader of
// them says; with the newest segment's header torn (a crash as it was
// created), the one before it is named, and the torn one is not called
// another journal's. Before 2f10c4a, ChecksumAt read the foreign
// segment's record: a node checking its snapshot against it blamed the
// snapshot ("taken on other inputs") and named neither the segment nor
// the ids. An input in the journal's own segments past it is read (only
// the segment read is checked: TestChecksumAtReadsTwoHeadersWhateverTheArchive).
func TestChecksumAtRefusesAnotherJournalsSegment(t *testing.T) {
	a, segs := journalWithID(t, "cluster-a", 3000)
	b, _ := journalWithID(t, "cluster-b", 3000)
	dir, archive := copyDir(t, a), t.TempDir()
	foreign, newest := segs[0], segs[len(segs)-1]
	if err := os.Remove(filepath.Join(dir, foreign)); err != nil {
		t.Fatal(err)
	}
	copyFile(t, filepath.Join(b, foreign), filepath.Join(archive, foreign))
	for _, s := range []string{foreign, newest, `"cluster-a"`, `"cluster-b"`} {
		if _, _, err := ChecksumAt([]string{archive, dir}, nil, 1); !errors.Is(err, ErrOtherJournal) || !strings.Contains(err.Error(), s) {
			t.Fatalf("input 1: %v; want ErrOtherJournal naming %s", err, s)
		}
	}
	if crc, found, err := ChecksumAt([]string{archive, dir}, nil, 3000); err != nil || !found || crc != Checksum(rec(3000)) {
		t.Fatalf("input 3000, in the journal's own segment: %08x %v %v", crc, found, err)
	}
	if crc, found, err := ChecksumAt([]string{archive, a}, nil, 1); err != nil || !found || crc != Checksum(rec(1)) {
		t.Fatalf("the foreign copy shadowed by the journal's own: %08x %v %v", crc, found, err)
	}
	// The newest segment's header torn: half of it written.
	torn := filepath.Join(dir, newest)
	if err := os.Truncate(torn, headerSize/2); err != nil {
		t.Fatal(err)
	}
	_, _, err := ChecksumAt([]string{archive, dir}, nil, 1)
	if !errors.Is(err, ErrOtherJournal) || !strings.Contains(err.Error(), segs[len(segs)-2]) || strings.Contains(err.Error(), newest) {
		t.Fatalf("newest header torn: %v; want ErrOtherJournal naming %s, not the torn %s", err, segs[len(segs)-2], newest)
	}
	if err := os.Truncate(filepath.Join(a, newest), headerSize/2); err != nil {
		t.Fatal(err)
	}
	if crc, found, err := ChecksumAt([]string{a}, nil, 1); err != nil || !found || crc != Checksum(rec(1)) {
		t.Fatalf("the journal's own segment, its newest torn: %08x %v %v", crc, found, err)
	}
}
