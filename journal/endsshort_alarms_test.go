package journal

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/ringex/ringex/vfs"
)

// A journal whose last segment filled exactly — its last record ending
// at its file's end — then opened with journal.segment_bytes raised
// opens and goes on: nothing was lost. Open refused it as a copy cut
// short between two records (ErrEndsShort), the data running to the end
// of a file smaller than a segment: a roll let a record end exactly at
// the segment's end, and a whole segment's file then read as a cut one.
func TestOpenAfterSegmentBytesRaisedOnAFilledSegment(t *testing.T) {
	small, big := rec(1), rec(2)
	big.Payload = make([]byte, MaxPayload)
	// The two records end exactly at the segment's end.
	exact := headerSize + int64(encodedSize(len(small.Payload))+encodedSize(len(big.Payload)))
	dir := t.TempDir()
	opts := testOptions(nil)
	opts.SegmentBytes = exact
	j, _, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []*Record{small, big} {
		if err := j.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}

	raised := opts
	raised.SegmentBytes = exact + 4096
	j, recov, err := Open(dir, raised)
	if err != nil {
		t.Fatalf("Open with segment_bytes raised: %v", err)
	}
	if recov.LastSeq != 2 || recov.TornFile != "" {
		t.Fatalf("Open with segment_bytes raised = %+v; want the journal at 2, nothing torn", recov)
	}
	appendN(t, j, 3, 10, 4)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, dir, 0)
	if len(got) != 10 || len(got[1].Payload) != MaxPayload {
		t.Fatalf("read %d records back, want 10, the second of %d bytes", len(got), MaxPayload)
	}
	checkRecords(t, got[2:], 3, 10)
	if _, recov, err = Open(dir, opts); err != nil || recov.LastSeq != 10 { // and lowered back
		t.Fatalf("Open with segment_bytes lowered again = %+v, %v; want it at 10", recov, err)
	}
}

// fullDisk is a disk with no block left to allocate: Preallocate fails
// with ENOSPC; writes over blocks a file holds succeed.
func fullDisk() *vfs.ErrorFS {
	return &vfs.ErrorFS{FS: vfs.Default, Op: vfs.OpPreallocate, Err: syscall.ENOSPC, Sticky: true}
}

// A start on a full disk that finds a torn tail leaves the last segment
// at its size, so the start after it — the disk freed — opens at the
// last whole record; the start on the full disk itself opens, as making
// the tail the data's end needs no block. It truncated the file to the
// tail's offset and then failed to preallocate it again, leaving a file
// whose data ran to its end: the next start refused it as a copy cut
// short between two records (ErrEndsShort), though no acknowledged input
// was lost.
func TestTornTailOnAFullDiskLeavesTheSegmentWhole(t *testing.T) {
	dir := t.TempDir()
	opts := testOptions(nil)
	j, _, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, j, 1, 20, 5)
	lastOff := j.off - int64(encodedSize(len(rec(20).Payload)))
	j.Close()
	seg := filepath.Join(dir, SegmentName(1))
	data, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	clear(data[lastOff+recordHeader+4 : j.off]) // the last write reached the disk in part
	if err := os.WriteFile(seg, data, 0o600); err != nil {
		t.Fatal(err)
	}

	fullOpts := opts
	fullOpts.FS = fullDisk()
	j, recov, fullErr := Open(dir, fullOpts)
	if fullErr == nil {
		if recov.LastSeq != 19 || recov.TornFile != seg || recov.TornOffset != lastOff {
			t.Errorf("Open on a full disk = %+v; want the torn tail at %d dropped, the journal at 19", recov, lastOff)
		}
		j.Close()
	}
	if fi, err := os.Stat(seg); err != nil || fi.Size() != opts.SegmentBytes {
		t.Errorf("after the start on a full disk the segment is %v bytes (%v), want %d", fi.Size(), err, opts.SegmentBytes)
	}
	j, recov, err = Open(dir, opts)
	if err != nil {
		t.Fatalf("Open with the disk freed: %v (the start on the full disk: %v)", err, fullErr)
	}
	if recov.LastSeq != 19 {
		t.Fatalf("Open with the disk freed = %+v; want the journal at 19", recov)
	}
	appendN(t, j, 20, 25, 3)
	j.Close()
	checkRecords(t, readAll(t, dir, 0), 1, 25)
	if fullErr != nil {
		t.Fatalf("Open on a full disk: %v; dropping a torn tail needs no new block", fullErr)
	}
}

// The cut (`ringex journal cut`) on a full disk leaves the segment at
// its size too, so the journal it mends opens. It truncated the segment
// at the cut and grew it again: the growth refused, the segment's data
// ran to its end, and Open refused the mended journal (ErrEndsShort).
func TestCutOnAFullDiskLeavesTheSegmentWhole(t *testing.T) {
	dir := t.TempDir()
	hole, data := tornBatchJournal(t, dir)
	seg := filepath.Join(dir, SegmentName(1))
	cut, err := CutTornBatch(dir, fullDisk(), true)
	if err != nil {
		t.Fatalf("cut on a full disk: %v", err)
	}
	if cut.Offset != hole || cut.LastSeq != 3 {
		t.Fatalf("cut %+v; want it at %d after 3", cut, hole)
	}
	if fi, err := os.Stat(seg); err != nil || fi.Size() != int64(len(data)) {
		t.Fatalf("after the cut the segment is %v bytes (%v), want %d", fi.Size(), err, len(data))
	}
	j, recov, err := Open(dir, Options{SegmentBytes: 1 << 20})
	if err != nil || recov.LastSeq != 3 {
		t.Fatalf("Open after the cut = %+v, %v; want the journal at 3", recov, err)
	}
	j.Close()
	if _, err := os.Stat(cut.SavedTo); err != nil {
		t.Fatalf("the cut bytes: %v", err)
	}
}
