package journal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strconv"
	"testing"

	"github.com/ringex/ringex/vfs"
)

// FuzzReaderAgreesWithOpen: over any bytes of a journal's last segment
// (after a whole first one), a Reader — recovery's replay, ringex replay,
// journal inspect — and Open judge it alike: both refuse it, or the
// Reader reads up to the input Open goes on after, and a torn tail starts
// where Open truncates it — and only there: an all-zero last segment is
// one Open reports (a torn tail at offset 0) and inspect did not; Open
// refuses data running to the end of a file smaller than a segment
// (ErrEndsShort), which the Reader reads whole. With unsynced, as a cluster member's journal
// (SyncNone, Reader.SetUnsynced).
func FuzzReaderAgreesWithOpen(f *testing.F) {
	first := fiveRecordSegment(f)[:512]
	seg := segmentHeader(6, testID)
	for s := int64(6); s <= 9; s++ {
		seg = appendRecord(seg, rec(s))
	}
	f.Add(append(seg, make([]byte, 64)...), false)
	f.Add(seg[:len(seg)-3], true)
	f.Add(seg[:len(seg)-3], false)
	f.Add(make([]byte, 4096), false) // a roll whose header never reached the disk
	part := make([]byte, 4096)       // ... or only part of it
	copy(part, segmentHeader(6, testID)[:30])
	f.Add(part, false)
	v1 := segmentHeaderV1(6) // a version 1 last segment, appended to after an upgrade
	for s := int64(6); s <= 9; s++ {
		v1 = appendRecord(v1, rec(s))
	}
	f.Add(v1, false)
	f.Add(v1[:len(v1)-5], true)
	f.Add([]byte{}, true)
	other := segmentHeader(6, "another-cluster") // a segment of another journal
	for s := int64(6); s <= 9; s++ {
		other = appendRecord(other, rec(s))
	}
	f.Add(other, false)
	f.Fuzz(func(t *testing.T, last []byte, unsynced bool) {
		fs := journalOf(t, first, last)
		st, rerr := InspectWith("/j", fs, InspectOptions{Unsynced: unsynced}, nil)
		o := fuzzOptions(fs)
		if unsynced {
			o.Sync = SyncNone
		}
		j, rec, oerr := Open("/j", o)
		if j != nil {
			j.Close()
		}
		if errors.Is(oerr, ErrEndsShort) {
			// Open's refusal of data that runs to the end of a file
			// smaller than a segment, which the Reader reads whole: it
			// reports it (ShortFile) only where the segment before is
			// larger, knowing no segment size.
			if rerr != nil || st.TornFile != "" {
				t.Fatalf("Open: %v; the Reader: %v, %+v; want it reading to the end", oerr, rerr, st)
			}
			return
		}
		if st.ShortFile != "" {
			t.Fatalf("the Reader found %s cut short, Open took it: %+v, %v", st.ShortFile, rec, oerr)
		}
		if (oerr != nil) != (rerr != nil) {
			t.Fatalf("Open: %v; Reader: %v", oerr, rerr)
		}
		if oerr != nil {
			for _, class := range []error{ErrCorrupt, ErrOtherJournal} {
				if errors.Is(oerr, class) != errors.Is(rerr, class) {
					t.Fatalf("Open: %v; Reader: %v", oerr, rerr)
				}
			}
			if !errors.Is(oerr, ErrCorrupt) && !errors.Is(oerr, ErrOtherJournal) {
				t.Fatalf("neither ErrCorrupt nor ErrOtherJournal: Open %v, Reader %v", oerr, rerr)
			}
			return
		}
		if want := max(rec.LastSeq, 5); st.LastSeq != want {
			t.Fatalf("Open goes on after input %d (%+v), the Reader reads to %d (%+v)", want, rec, st.LastSeq, st)
		}
		if (st.TornFile != "") != (rec.TornFile != "") || st.TornAt != rec.TornOffset {
			t.Fatalf("Reader: torn tail %s at %d; Open: %+v", st.TornFile, st.TornAt, rec)
		}
	})
}

// fuzzOptions is testOptions(fs) with a small append buffer, for a fuzz
// target that opens a journal per input and appends nothing: Open's
// default buffer (appendBuffer, 1 MiB), made and zeroed for each input,
// was much of an input's time.
func fuzzOptions(fs vfs.FS) Options {
	o := testOptions(fs)
	o.bufferBytes = 1 << 10
	return o
}

// segmentHeaderV1 is the header of format version 1 (no cluster id, no
// checksum of its own), as builds before 2026-12-06 wrote it.
func segmentHeaderV1(first int64) []byte {
	h := make([]byte, headerSizeV1)
	copy(h, segmentMagic)
	binary.LittleEndian.PutUint32(h[4:], 1)
	binary.LittleEndian.PutUint64(h[8:], uint64(first))
	return h
}

// journalOf is a journal in /j on a fresh CrashFS: the segment of inputs
// 1…5 first, then last as the segment of input 6 on.
func journalOf(t *testing.T, first, last []byte) *vfs.CrashFS {
	fs := vfs.NewCrashFS()
	if err := fs.MkdirAll("/j"); err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{SegmentName(1): first, SegmentName(6): last} {
		w, err := fs.Create("/j/" + name)
		if err != nil {
			t.Fatal(err)
		}
		w.WriteAt(b, 0)
		w.Close()
	}
	return fs
}

// FuzzCutTornBatch: over any bytes of a journal's last segment, `journal
// cut` — CutTornBatch, then KeptCuts reading its kept file back — never
// panics; it cuts only what its dry run said, or refuses and changes
// nothing; a cut journal opens, ending at the cut's LastSeq; KeptCuts
// finds the cut as CutTornBatch reported it (when it took out records);
// and the kept bytes written back at the cut's offset give the segment
// as it was, as KeptCuts documents.
func FuzzCutTornBatch(f *testing.F) {
	first := fiveRecordSegment(f)[:512]
	seg := segmentHeader(6, testID)
	var hole, holeEnd int
	for s := int64(6); s <= 11; s++ {
		if s == 8 {
			hole = len(seg)
		}
		seg = appendRecord(seg, rec(s))
		if s == 8 {
			holeEnd = len(seg)
		}
	}
	torn := append([]byte(nil), seg...) // input 8 lost, 9…11 on disk
	clear(torn[hole:holeEnd])
	f.Add(torn)
	f.Add(append(torn, make([]byte, 100)...))
	f.Add(seg)
	f.Fuzz(func(t *testing.T, last []byte) {
		fs := journalOf(t, first, last)
		segPath := "/j/" + SegmentName(6)
		dry, derr := CutTornBatch("/j", fs, false)
		cut, err := CutTornBatch("/j", fs, true)
		if (derr == nil) != (err == nil) {
			t.Fatalf("dry run: %v; cut: %v", derr, err)
		}
		if err != nil {
			if !errors.Is(err, ErrNothingToCut) && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrOtherJournal) {
				t.Fatalf("refused with %v: not ErrNothingToCut, ErrCorrupt or ErrOtherJournal", err)
			}
			if after, rerr := readSegment(fs, segPath, nil); rerr != nil || !bytes.Equal(after, last) {
				t.Fatalf("refused (%v), and the segment changed (%v)", err, rerr)
			}
			return
		}
		if dry.SavedTo != "" || cut.SavedTo == "" {
			t.Fatalf("dry run saved to %q, cut to %q", dry.SavedTo, cut.SavedTo)
		}
		if dry.SavedTo = cut.SavedTo; dry != cut {
			t.Fatalf("dry run %+v; cut %+v", dry, cut)
		}
		after, err := readSegment(fs, segPath, nil)
		if err != nil {
			t.Fatal(err)
		}
		kept, err := readSegment(fs, cut.SavedTo, nil)
		if err != nil {
			t.Fatal(err)
		}
		restored := append([]byte(nil), after...)
		if cut.Offset+int64(len(kept)) > int64(len(restored)) {
			t.Fatalf("%d bytes kept from offset %d of a segment of %d", len(kept), cut.Offset, len(restored))
		}
		copy(restored[cut.Offset:], kept)
		if !bytes.Equal(restored, last) {
			t.Fatalf("the kept bytes written back at %d do not give the segment as it was (cut %+v)", cut.Offset, cut)
		}
		cuts, err := KeptCuts("/j", fs, cut.LastSeq)
		switch {
		case err != nil:
			t.Fatalf("KeptCuts: %v", err)
		case cut.Records == 0 && len(cuts) != 0, cut.Records > 0 && (len(cuts) != 1 || cuts[0] != cut):
			t.Fatalf("KeptCuts found %+v; the cut was %+v", cuts, cut)
		}
		j, recov, err := Open("/j", fuzzOptions(fs))
		if err != nil {
			t.Fatalf("the cut journal does not open: %v (cut %+v)", err, cut)
		}
		j.Close()
		if recov.LastSeq != cut.LastSeq {
			t.Fatalf("the cut journal ends at %d, the cut said %d", recov.LastSeq, cut.LastSeq)
		}
	})
}

// FuzzKeptCuts: whatever a file journal cut kept its bytes in holds, and
// whatever offset its name gives, KeptCuts never panics reading it and
// counts only records after the journal's last input; `journal uncut`
// (Uncut) never panics either, and puts bytes back only within the
// segment — a cut never shortens its segment, so kept bytes reaching
// past its end were never cut from it — over bytes that are zero or the
// kept ones already.
func FuzzKeptCuts(f *testing.F) {
	first := fiveRecordSegment(f)[:512]
	seg := segmentHeader(6, testID)
	for s := int64(6); s <= 8; s++ {
		seg = appendRecord(seg, rec(s))
	}
	end := len(seg)
	seg = append(seg, make([]byte, 256)...) // the cut's zeros, and the segment's room after them
	tail := appendRecord(nil, rec(9))
	f.Add(tail, int64(end))
	f.Add(tail, int64(len(seg)))
	f.Add(tail, int64(1<<62))
	f.Add(tail[:10], int64(0))
	f.Add([]byte{}, int64(end))
	f.Fuzz(func(t *testing.T, kept []byte, off int64) {
		fs := journalOf(t, first, seg)
		path := "/j/" + SegmentName(6) + ".cut-" + strconv.FormatInt(off, 10)
		w, err := fs.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		w.WriteAt(kept, 0)
		w.Close()
		cuts, err := KeptCuts("/j", fs, 8)
		if err != nil {
			t.Fatalf("KeptCuts: %v", err)
		}
		for _, c := range cuts {
			if c.Records < 1 || c.FirstCut <= 8 || c.LastCut < c.FirstCut || c.Offset != max(off, 0) {
				t.Fatalf("KeptCuts found %+v in %x at %d", c, kept, off)
			}
		}
		_, err = Uncut(fs, path)
		after, rerr := readSegment(fs, "/j/"+SegmentName(6), nil)
		switch {
		case rerr != nil:
			t.Fatal(rerr)
		case err != nil:
			if !errors.Is(err, ErrNotUncut) || !bytes.Equal(after, seg) {
				t.Fatalf("refused with %v, the segment changed: %v", err, !bytes.Equal(after, seg))
			}
		case off < 0 || off > int64(len(seg)-len(kept)):
			t.Fatalf("%d kept bytes put back at %d, a segment of %d bytes", len(kept), off, len(seg))
		case !bytes.Equal(after[off:off+int64(len(kept))], kept) || !bytes.Equal(after[:off], seg[:off]):
			t.Fatalf("%x put back at %d: the segment is %x", kept, off, after)
		}
	})
}
