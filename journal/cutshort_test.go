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
