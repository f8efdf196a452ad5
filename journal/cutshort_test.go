package journal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A last segment whose file ends inside a record — a copy of the data
// directory that did not finish, a truncate — is refused by Open and by a
// Reader in one message naming the file, the offset, what is missing and
// what to do: they truncated it as a torn tail, and the node started
// without the acknowledged inputs after it, giving their sequences out
// again, with a warning that 135 bytes were dropped. A journal not
// fdatasynced per batch (SyncNone: a cluster member's, whose raft log
// holds what it lost) truncates it as before, and so does the cut, the
// operator's way to give those inputs up.
func TestASegmentCutShortIsRefused(t *testing.T) {
	base := t.TempDir()
	j, _, _ := Open(base, testOptions(nil))
	appendN(t, j, 1, 20, 5)
	lastOff := j.off - int64(encodedSize(len(rec(20).Payload)))
	end := lastOff + recordHeader + bodyFixed + int64(len(rec(20).Payload))
	j.Close()
	seg := SegmentName(1)
	orig, _ := os.ReadFile(filepath.Join(base, seg))
	for _, size := range []int64{lastOff + 3, lastOff + recordHeader, lastOff + recordHeader + 5, end - 1} {
		t.Run(fmt.Sprintf("ends at %d", size), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, seg)
			os.WriteFile(path, orig[:size], 0o600)

			_, recov, err := Open(dir, testOptions(nil))
			if !errors.Is(err, ErrCutShort) || !errors.Is(err, ErrCorrupt) || errors.Is(err, ErrTornBatch) {
				t.Fatalf("Open = %v, %+v; want ErrCutShort", err, recov)
			}
			for _, want := range []string{fmt.Sprintf("%s at offset %d: the file ends inside this record, at %d bytes", seg, lastOff, size),
				"acknowledged ones too", "`ringex journal inspect " + dir + "`", "`ringex journal cut " + dir + "`"} {
				if !strings.Contains(err.Error(), want) {
					t.Fatalf("Open = %v\nwant %q in it", err, want)
				}
			}
			if _, ierr := Inspect(dir, nil, nil); ierr == nil || ierr.Error() != err.Error() {
				t.Fatalf("Inspect = %v\nwant Open's %v", ierr, err)
			}
			if after, _ := os.ReadFile(path); int64(len(after)) != size {
				t.Fatalf("the refused segment is %d bytes, was %d", len(after), size)
			}

			unsynced := testOptions(nil)
			unsynced.Sync = SyncNone
			if _, _, err := Open(t.TempDir(), unsynced); err != nil {
				t.Fatal(err)
			}
			member := t.TempDir()
			os.WriteFile(filepath.Join(member, seg), orig[:size], 0o600)
			j, recov, err := Open(member, unsynced)
			if err != nil || recov.LastSeq != 19 || recov.TornOffset != lastOff {
				t.Fatalf("unsynced Open = %+v, %v; want the torn tail at %d truncated", recov, err, lastOff)
			}
			j.Close()

			if _, err := CutTornBatch(dir, nil, true); err != nil {
				t.Fatalf("cut: %v", err)
			}
			j, recov, err = Open(dir, testOptions(nil))
			if err != nil || recov.LastSeq != 19 {
				t.Fatalf("Open after the cut = %+v, %v; want the journal at 19", recov, err)
			}
			appendN(t, j, 20, 25, 3)
			j.Close()
			checkRecords(t, readAll(t, dir, 0), 1, 25)
		})
	}
}

// lastSegmentCut is a size the last segment, orig, is cut to: where
// the journal then ends (last), and whether the cut lost inputs after it
// (short) — between two records or just after the header — or nothing:
// in the zeros after the data, or no cut at all.
type lastSegmentCut struct {
	name  string
	size  int64
	last  int64
	short bool
}

// lastSegmentCuts are the cuts of the last segment orig, whose records
// end at ends with sequences seqs (recordEnds) and whose first input is
// first, that Inspect and Open are tested with.
func lastSegmentCuts(orig []byte, ends, seqs []int64, first int64) []lastSegmentCut {
	return []lastSegmentCut{
		{"between two records", ends[1], seqs[1], true},
		{"after the header", headerSize, first - 1, true},
		{"in the zeros after the data", ends[len(ends)-1] + recordAlign, seqs[len(seqs)-1], false},
		{"untouched", int64(len(orig)), seqs[len(seqs)-1], false},
	}
}

// A last segment cut short exactly between two records, or just after
// its header — a copy that did not finish — reads as a sound journal
// ending early: Inspect reports it (Stats.ShortFile) by its file, whose
// data runs to its end, being smaller than the segment before it, every
// segment being preallocated. It was not seen at all: the runbook's
// advice to check a copy had nothing to check it with. A file cut in the
// zeros after the data lost nothing, and an untouched journal is no
// finding.
func TestInspectReportsALastSegmentCutShortBetweenRecords(t *testing.T) {
	dir, segs := segmentedJournal(t)
	path := filepath.Join(dir, segs[len(segs)-1])
	orig, ends, seqs := recordEnds(t, path)
	before, err := os.Stat(filepath.Join(dir, segs[len(segs)-2]))
	if err != nil {
		t.Fatal(err)
	}
	first := segmentFirst(segs[len(segs)-1])
	for _, tc := range lastSegmentCuts(orig, ends, seqs, first) {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(path, orig[:tc.size], 0o644); err != nil {
				t.Fatal(err)
			}
			st, err := Inspect(dir, nil, nil)
			if err != nil || st.LastSeq != tc.last || st.TornFile != "" {
				t.Fatalf("Inspect = %+v, %v; want no error, last sequence %d, no torn tail", st, err, tc.last)
			}
			want := Stats{}
			if tc.short {
				want = Stats{ShortFile: path, ShortSize: tc.size, BeforeSize: before.Size()}
			}
			if st.ShortFile != want.ShortFile || st.ShortSize != want.ShortSize || st.BeforeSize != want.BeforeSize {
				t.Fatalf("Inspect: short %q %d, before %d; want %q %d, %d", st.ShortFile, st.ShortSize, st.BeforeSize,
					want.ShortFile, want.ShortSize, want.BeforeSize)
			}
		})
	}
}

// Open refuses a last segment cut short exactly between two records, or
// just after its header — what a copy of the journal that did not finish
// leaves, every record whole — naming the file, where it ends and the
// remedy; grown to a segment's size (the operator's acceptance) it opens
// at that end. Open took it and preallocated it: the node started
// without the inputs after it and gave their sequences (order ids) out
// again, and the start after had nothing left to see. A file cut in the
// zeros after the data lost nothing and an untouched one is no finding.
func TestOpenRefusesALastSegmentCutShortBetweenRecords(t *testing.T) {
	src, segs := segmentedJournal(t)
	orig, ends, seqs := recordEnds(t, filepath.Join(src, segs[len(segs)-1]))
	first := segmentFirst(segs[len(segs)-1])
	segBytes := testOptions(nil).SegmentBytes
	for _, tc := range lastSegmentCuts(orig, ends, seqs, first) {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyDir(t, src)
			path := filepath.Join(dir, segs[len(segs)-1])
			if err := os.WriteFile(path, orig[:tc.size], 0o644); err != nil {
				t.Fatal(err)
			}
			j, recov, err := Open(dir, testOptions(nil))
			if !tc.short {
				if err != nil || recov.LastSeq != tc.last {
					t.Fatalf("Open = %+v, %v; want it at %d", recov, err, tc.last)
				}
				j.Close()
				return
			}
			if !errors.Is(err, ErrEndsShort) {
				t.Fatalf("Open = %+v, %v; want ErrEndsShort", recov, err)
			}
			for _, want := range []string{fmt.Sprintf("%s ends at input %d", path, tc.last), fmt.Sprintf("%d bytes", tc.size),
				"`ringex journal inspect " + dir + "`", fmt.Sprintf("`truncate -s %d %s`", segBytes, path)} {
				if !strings.Contains(err.Error(), want) {
					t.Fatalf("Open = %v\nwant %q in it", err, want)
				}
			}
			if fi, _ := os.Stat(path); fi.Size() != tc.size {
				t.Fatalf("the refused segment is %d bytes, was %d", fi.Size(), tc.size)
			}
			if err := os.Truncate(path, segBytes); err != nil { // accepted
				t.Fatal(err)
			}
			j, recov, err = Open(dir, testOptions(nil))
			if err != nil || recov.LastSeq != tc.last {
				t.Fatalf("Open after the file was grown = %+v, %v; want it at %d", recov, err, tc.last)
			}
			j.Close()
		})
	}
}

// A last segment exactly full — its data running to its file's end, as
// a build before 2026-12-08 could leave one (a record ended at the
// segment's end; none does now) — is refused only where the file is
// smaller than a segment: not at the segment size it was written with,
// in a journal of one segment too, nor with journal.segment_bytes
// lowered since; with it raised since, it is (a false alarm Open cannot
// tell from a cut copy, Options.SegmentBytes being all it knows of a
// segment's size), and grown it opens.
func TestOpenTakesAFullLastSegment(t *testing.T) {
	small, big := rec(1), rec(2)
	big.Payload = make([]byte, MaxPayload)
	full := headerSize + int64(encodedSize(len(small.Payload))+encodedSize(MaxPayload))
	data := appendRecord(appendRecord(segmentHeader(1, testID), small), big)
	if int64(len(data)) != full {
		t.Fatalf("setup: %d bytes, want %d", len(data), full)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, SegmentName(1)), data, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		segBytes int64
		refused  bool
	}{
		{"at its segment size", full, false},
		{"segment_bytes lowered", testOptions(nil).SegmentBytes, false},
		{"segment_bytes raised", full + 4096, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := copyDir(t, dir)
			o := testOptions(nil)
			o.SegmentBytes = tc.segBytes
			j, recov, err := Open(d, o)
			if tc.refused != errors.Is(err, ErrEndsShort) || (!tc.refused && err != nil) {
				t.Fatalf("Open = %+v, %v; want refused: %v", recov, err, tc.refused)
			}
			if tc.refused {
				if err := os.Truncate(filepath.Join(d, SegmentName(1)), tc.segBytes); err != nil {
					t.Fatal(err)
				}
				if j, recov, err = Open(d, o); err != nil {
					t.Fatalf("Open after the file was grown: %v", err)
				}
			}
			if recov.LastSeq != 2 {
				t.Fatalf("Open = %+v; want it at 2", recov)
			}
			j.Close()
		})
	}
}

// recordEnds reads the segment at path — a last one of three records or
// more — and returns its bytes, the end of each record and the sequence
// each ends.
func recordEnds(t *testing.T, path string) (data []byte, ends, seqs []int64) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var x Record
	for off := int64(headerSize); ; {
		size, res := decodeRecord(data[off:], &x)
		if res != decodedOK {
			break
		}
		off += int64(size)
		ends, seqs = append(ends, off), append(seqs, x.Seq)
	}
	if len(ends) < 3 {
		t.Fatalf("setup: %d records in %s", len(ends), path)
	}
	return data, ends, seqs
}
