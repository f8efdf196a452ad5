package journal

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/ringex/ringex/vfs"
)

// ChecksumAt finds the checksum stored with any record — in the first
// segment, in a later one, in an archive the journal moved segments to —
// and it is Checksum of the record written; none is found before the
// journal's first record or past its last.
func TestChecksumAtEveryRecord(t *testing.T) {
	dir, archive := t.TempDir(), filepath.Join(t.TempDir(), "archive")
	j, _, err := Open(dir, testOptions(nil))
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, j, 1, 3000, 100)
	if n, err := j.ArchiveBefore(2000, archive); err != nil || n < 2 {
		t.Fatalf("archived %d segments: %v", n, err)
	}
	j.Close()
	dirs := []string{archive, dir}
	for seq := int64(1); seq <= 3000; seq++ {
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
