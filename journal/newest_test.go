package journal

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ringex/ringex/vfs"
)

// A journal whose newest segment was removed reads as one that ends at
// the previous segment's end: Open reports the segment it rolled to
// (Recovery.Missing, from NewestFile), so that the start does not go on
// there, giving the lost inputs' sequences out again. It went on
// silently. Removing the record gives those inputs up.
func TestOpenReportsAMissingNewestSegment(t *testing.T) {
	dir, segs := segmentedJournal(t)
	newest := segs[len(segs)-1]
	j, rec, err := Open(dir, testOptions(nil))
	if err != nil || rec.Missing != 0 {
		t.Fatalf("Open of the whole journal: %+v %v; want nothing missing", rec, err)
	}
	j.Close()
	if err := os.Remove(filepath.Join(dir, newest)); err != nil {
		t.Fatal(err)
	}
	j, rec, err = Open(dir, testOptions(nil))
	if err != nil || rec.Missing != segmentFirst(newest) || rec.LastSeq != segmentFirst(newest)-1 {
		t.Fatalf("Open without %s: %+v %v; want Missing %d, the journal ending at %d", newest, rec, err, segmentFirst(newest), segmentFirst(newest)-1)
	}
	j.Close()
	if err := os.Remove(filepath.Join(dir, NewestFile)); err != nil {
		t.Fatal(err)
	}
	j, rec, err = Open(dir, testOptions(nil))
	if err != nil || rec.Missing != 0 {
		t.Fatalf("Open with the record removed: %+v %v; want the journal given up to its end", rec, err)
	}
	appendN(t, j, segmentFirst(newest), segmentFirst(newest)+500, 50) // rolls on
	j.Close()
	if j, rec, err = Open(dir, testOptions(nil)); err != nil || rec.Missing != 0 {
		t.Fatalf("Open after appending on: %+v %v", rec, err)
	}
	j.Close()
}

// A journal written before NewestFile gets it at its next Open, and a
// record that does not verify — damage, as a rename writes it whole — is
// ErrCorrupt naming it and what to do; the start is refused, since where
// the journal ended is unknown.
func TestNewestSegmentRecordWrittenAndChecked(t *testing.T) {
	dir, segs := segmentedJournal(t)
	path := filepath.Join(dir, NewestFile)
	if err := os.Remove(path); err != nil { // as an older build left it
		t.Fatal(err)
	}
	j, _, err := Open(dir, testOptions(nil))
	if err != nil {
		t.Fatal(err)
	}
	j.Close()
	if first, err := readNewest(vfs.Default, dir); err != nil || first != segmentFirst(segs[len(segs)-1]) {
		t.Fatalf("after Open: the record names %d (%v); want %s's first input", first, err, segs[len(segs)-1])
	}
	good, _ := os.ReadFile(path)
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"a flipped bit", flip(good, 9)},
		{"cut short", good[:12]},
		{"empty", nil},
		{"another version", func() []byte { b := append([]byte(nil), good...); b[4] = 2; return b }()},
	} {
		if err := os.WriteFile(path, tc.data, 0o644); err != nil {
			t.Fatal(err)
		}
		j, _, err := Open(dir, testOptions(nil))
		if j != nil {
			j.Close()
		}
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "ringex journal inspect") {
			t.Fatalf("%s: Open = %v; want ErrCorrupt naming %s and the check", tc.name, err, path)
		}
	}
}

// A roll records its segment off the journaller's path (newestRecorder):
// Close waits for the record, which then names the newest segment; and a
// record that cannot be written stops the journal at its next Sync, as
// any write failure on its disk does — before, the roll itself failed.
func TestNewestSegmentRecordedBesideTheRoll(t *testing.T) {
	dir, segs := segmentedJournal(t) // closed: Close waited for the rolls' records
	if first, err := readNewest(vfs.Default, dir); err != nil || first != segmentFirst(segs[len(segs)-1]) {
		t.Fatalf("after Close: the record names %d (%v); want %s's first input (of %d segments)", first, err, segs[len(segs)-1], len(segs))
	}

	efs := &vfs.ErrorFS{FS: vfs.Default, Op: vfs.OpRename, Sticky: true} // the record's rename; no spare here
	j, _, err := Open(dir, testOptions(efs))
	if err != nil {
		t.Fatal(err)
	}
	for s := int64(2001); j.Segments() == int64(len(segs)); s++ {
		if s > 4000 {
			t.Fatal("no roll")
		}
		if err := j.Append(rec(s)); err != nil {
			t.Fatal(err)
		}
	}
	j.newest.wait()
	if err := j.Sync(); !errors.Is(err, vfs.ErrInjected) || !strings.Contains(err.Error(), "newest segment") {
		t.Fatalf("Sync after the roll's record failed: %v; want the journal stopped, naming the record", err)
	}
	if err := j.Close(); !errors.Is(err, vfs.ErrInjected) {
		t.Fatalf("Close: %v; want the record's failure", err)
	}
}
