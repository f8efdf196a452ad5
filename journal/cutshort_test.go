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
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	before, err := os.Stat(filepath.Join(dir, segs[len(segs)-2]))
	if err != nil {
		t.Fatal(err)
	}
	// The ends of the last segment's records, and the sequence each ends.
	var ends, seqs []int64
	var x Record
	for off := int64(headerSize); ; {
		size, res := decodeRecord(orig[off:], &x)
		if res != decodedOK {
			break
		}
		off += int64(size)
		ends, seqs = append(ends, off), append(seqs, x.Seq)
	}
	if len(ends) < 3 {
		t.Fatalf("setup: %d records in the last segment", len(ends))
	}
	first := segmentFirst(segs[len(segs)-1])
	for _, tc := range []struct {
		name  string
		size  int64
		last  int64
		short bool
	}{
		{"between two records", ends[1], seqs[1], true},
		{"after the header", headerSize, first - 1, true},
		{"in the zeros after the data", ends[len(ends)-1] + recordAlign, seqs[len(seqs)-1], false},
		{"untouched", int64(len(orig)), seqs[len(seqs)-1], false},
	} {
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
