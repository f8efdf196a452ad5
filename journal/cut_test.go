package journal

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tornBatchJournal writes records 1…3 durably and 4…80 as a batch a power
// loss caught: its first page lost (zeros), later pages on disk. Open
// refuses it. It returns the offset of the hole and the segment's bytes.
func tornBatchJournal(t *testing.T, dir string) (hole int64, data []byte) {
	t.Helper()
	opts := Options{SegmentBytes: 1 << 20}
	j, _, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, j, 1, 3, 3)
	hole = j.off
	appendN(t, j, 4, 80, 100)
	j.Close()
	seg := filepath.Join(dir, SegmentName(1))
	data, _ = os.ReadFile(seg)
	clear(data[hole : (hole/4096+1)*4096])
	if err := os.WriteFile(seg, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Open(dir, opts); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open = %v, want ErrCorrupt", err)
	}
	return hole, data
}

// An operator mends a journal a power loss left unopenable: a dry run
// says what would be cut and changes nothing; the cut keeps the bytes
// aside and leaves a journal that opens, ends at the last record before
// the hole, and takes appends.
func TestCutTornBatch(t *testing.T) {
	dir := t.TempDir()
	hole, data := tornBatchJournal(t, dir)
	seg := filepath.Join(dir, SegmentName(1))

	dry, err := CutTornBatch(dir, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if dry.File != seg || dry.Offset != hole || dry.LastSeq != 3 || dry.SavedTo != "" {
		t.Fatalf("dry run %+v; want the cut at %d after sequence 3", dry, hole)
	}
	if dry.Records == 0 || dry.FirstCut <= 4 || dry.LastCut != 80 || dry.Records != dry.LastCut-dry.FirstCut+1 {
		t.Fatalf("dry run %+v; want the records after the lost page, up to 80", dry)
	}
	if after, _ := os.ReadFile(seg); !bytes.Equal(after, data) {
		t.Fatal("a dry run changed the segment")
	}

	cut, err := CutTornBatch(dir, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	if cut.SavedTo == "" || cut.Offset != hole {
		t.Fatalf("cut %+v", cut)
	}
	saved, err := os.ReadFile(cut.SavedTo)
	if err != nil || int64(len(saved)) != cut.Bytes || !bytes.Equal(saved, data[hole:hole+cut.Bytes]) {
		t.Fatalf("saved %d bytes (%v), want the segment's %d from offset %d", len(saved), err, cut.Bytes, hole)
	}
	j, recov, err := Open(dir, Options{SegmentBytes: 1 << 20})
	if err != nil || recov.LastSeq != 3 || recov.TornFile != "" {
		t.Fatalf("Open after the cut: %+v %v", recov, err)
	}
	appendN(t, j, 4, 10, 7)
	j.Close()
	checkRecords(t, readAll(t, dir, 0), 1, 10)
	if _, err := CutTornBatch(dir, nil, false); !errors.Is(err, ErrNothingToCut) {
		t.Fatalf("a second cut: %v, want ErrNothingToCut", err)
	}
}

// A Reader — `ringex journal inspect`, `ringex replay` — meets the torn
// batch Open refuses and says so in Open's words, with the tool: it said
// "corrupt record: … at offset N" alone.
func TestReaderNamesATornBatchAsOpenDoes(t *testing.T) {
	dir := t.TempDir()
	hole, _ := tornBatchJournal(t, dir)
	_, _, openErr := Open(dir, Options{SegmentBytes: 1 << 20})
	_, err := Inspect(dir, nil, nil)
	if !errors.Is(err, ErrTornBatch) || err.Error() != openErr.Error() {
		t.Fatalf("Inspect = %v\nwant Open's %v", err, openErr)
	}
	if want := fmt.Sprintf("at offset %d: record fails its check, valid records follow", hole); !strings.Contains(err.Error(), want) ||
		!strings.Contains(err.Error(), "`ringex journal cut "+dir+"`") {
		t.Fatalf("Inspect = %v; want %q and the cut of %s", err, want, dir)
	}
}

// Only a torn last batch is cut: a journal that opens is left alone, and
// other damage is reported as found, the segment untouched.
func TestCutTornBatchRefusesOtherDamage(t *testing.T) {
	dir := t.TempDir()
	j, _, _ := Open(dir, testOptions(nil))
	appendN(t, j, 1, 20, 5)
	j.Close()
	if _, err := CutTornBatch(dir, nil, true); !errors.Is(err, ErrNothingToCut) {
		t.Fatalf("healthy journal: %v", err)
	}

	seg := filepath.Join(dir, SegmentName(1))
	data, _ := os.ReadFile(seg)
	data[0] = 'X' // the header
	os.WriteFile(seg, data, 0o644)
	if _, err := CutTornBatch(dir, nil, true); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("bad header: %v, want ErrCorrupt", err)
	}
	if after, _ := os.ReadFile(seg); !bytes.Equal(after, data) {
		t.Fatal("the segment changed")
	}
	if _, err := CutTornBatch(t.TempDir(), nil, false); err == nil {
		t.Fatal("an empty directory: no error")
	}
}

// Uncut puts a cut's kept bytes back: the segment reads as before the
// cut, and Open refuses it as it did (the operator learns it was damage,
// not a torn batch); put back twice, nothing changes. It refuses a file
// that is no cut's, a segment a node appended to at the offset since,
// and a segment no longer the journal's last — changing nothing.
func TestUncutPutsTheKeptBytesBack(t *testing.T) {
	dir := t.TempDir()
	_, data := tornBatchJournal(t, dir)
	seg := filepath.Join(dir, SegmentName(1))
	cut, err := CutTornBatch(dir, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		u, err := Uncut(nil, cut.SavedTo)
		if err != nil || u.File != seg || u.Offset != cut.Offset || u.Bytes != cut.Bytes {
			t.Fatalf("Uncut = %+v, %v; want the cut %+v put back", u, err, cut)
		}
		if after, _ := os.ReadFile(seg); !bytes.Equal(after, data) {
			t.Fatal("the segment put back is not as it was before the cut")
		}
		if _, _, err := Open(dir, Options{SegmentBytes: 1 << 20}); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Open after Uncut = %v, want ErrCorrupt, as before the cut", err)
		}
	}
	if _, err := Uncut(nil, seg); !errors.Is(err, ErrNotUncut) {
		t.Fatalf("Uncut of a segment = %v, want ErrNotUncut", err)
	}

	// Cut again, a node appends at the offset: the first kept bytes
	// would overwrite its records.
	again, err := CutTornBatch(dir, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	if again.SavedTo == cut.SavedTo || again.Offset != cut.Offset {
		t.Fatalf("the second cut %+v, the first %+v: want another kept file at the same offset", again, cut)
	}
	j, _, err := Open(dir, Options{SegmentBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, j, 4, 10, 7)
	j.Close()
	appended, _ := os.ReadFile(seg)
	if _, err := Uncut(nil, cut.SavedTo); !errors.Is(err, ErrNotUncut) || !strings.Contains(err.Error(), "written since the cut") {
		t.Fatalf("Uncut over records appended since = %v, want ErrNotUncut", err)
	}
	if after, _ := os.ReadFile(seg); !bytes.Equal(after, appended) {
		t.Fatal("a refused Uncut changed the segment")
	}

	// A later segment: the kept records' sequences are in it.
	later := filepath.Join(dir, SegmentName(11))
	if err := os.WriteFile(later, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Uncut(nil, again.SavedTo); !errors.Is(err, ErrNotUncut) || !strings.Contains(err.Error(), "last segment") {
		t.Fatalf("Uncut into a segment before the last = %v, want ErrNotUncut", err)
	}
	if after, _ := os.ReadFile(seg); !bytes.Equal(after, appended) {
		t.Fatal("a refused Uncut changed the segment")
	}
}
