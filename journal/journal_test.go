package journal

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ringex/ringex/vfs"
)

// testID is the cluster id of the tests' journals.
const testID = "test-cluster"

func testOptions(fs vfs.FS) Options {
	return Options{FS: fs, SegmentBytes: int64(headerSize + encodedSize(MaxPayload)), ID: testID}
}

func rec(seq int64) *Record {
	return &Record{Seq: seq, RecvTime: seq * 10, Session: uint64(seq % 7), Account: uint32(seq % 5), Kind: 1,
		Payload: []byte(fmt.Sprintf("payload-%d-%s", seq, strings.Repeat("x", int(seq%50))))}
}

func appendN(t *testing.T, j *Journal, from, to int64, batch int) {
	t.Helper()
	for s := from; s <= to; s++ {
		if err := j.Append(rec(s)); err != nil {
			t.Fatal(err)
		}
		if (s-from+1)%int64(batch) == 0 || s == to {
			if err := j.Sync(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// segmentedJournal writes inputs 1…2000 in batches of 50 into a new
// journal — three segments or more of testOptions' — and closes it.
func segmentedJournal(t *testing.T) (dir string, segs []string) {
	t.Helper()
	dir = t.TempDir()
	j, _, err := Open(dir, testOptions(nil))
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, j, 1, 2000, 50)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if segs, _ = listSegments(vfs.Default, dir); len(segs) < 3 {
		t.Fatalf("setup: %d segments", len(segs))
	}
	return dir, segs
}

func readAll(t *testing.T, dir string, from int64) []Record {
	t.Helper()
	r, err := NewReader(dir, nil, from)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []Record
	for {
		var x Record
		err := r.Next(&x)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		x.Payload = append([]byte(nil), x.Payload...)
		out = append(out, x)
	}
}

// archivedJournal writes inputs 1 to n in a journal of testOptions and
// moves the segments wholly before input before, at least least of them,
// to an archive beside it, as snapshot.journal_retention archive does.
func archivedJournal(t *testing.T, n, before int64, least int) (dir, archive string) {
	t.Helper()
	dir, archive = t.TempDir(), filepath.Join(t.TempDir(), "archive")
	j, _, err := Open(dir, testOptions(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	appendN(t, j, 1, n, 100)
	if moved, err := j.ArchiveBefore(before, archive); err != nil || moved < least {
		t.Fatalf("archived %d segments, want %d or more: %v", moved, least, err)
	}
	return dir, archive
}

// readToEnd reads r until Next fails, closes it and returns Next's error:
// io.EOF at a clean end.
func readToEnd(r *Reader) error {
	defer r.Close()
	var rec Record
	for {
		if err := r.Next(&rec); err != nil {
			return err
		}
	}
}

func checkRecords(t *testing.T, got []Record, from, to int64) {
	t.Helper()
	if int64(len(got)) != to-from+1 {
		t.Fatalf("%d records, want %d (%d…%d)", len(got), to-from+1, from, to)
	}
	for i, g := range got {
		w := rec(from + int64(i))
		if g.Seq != w.Seq || g.RecvTime != w.RecvTime || g.Session != w.Session || g.Account != w.Account ||
			g.Kind != w.Kind || !bytes.Equal(g.Payload, w.Payload) {
			t.Fatalf("record %d = %+v, want %+v", i, g, *w)
		}
	}
}

// Round trip across many segment rolls, reopen, continue, read from the
// middle.
// A journal opens with an append buffer of appendBuffer (1 MiB), which a
// node's batches fit; the fuzz targets' is 1 KiB (fuzzOptions). A batch
// larger than the buffer grows it and is written whole.
func TestAppendBuffer(t *testing.T) {
	for _, tc := range []struct {
		name     string
		opts     Options
		capacity int
	}{{"default", testOptions(nil), appendBuffer}, {"fuzz targets'", fuzzOptions(nil), 1 << 10}} {
		dir := t.TempDir()
		j, _, err := Open(dir, tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		if c := cap(j.buf); c != tc.capacity {
			t.Errorf("%s options: an append buffer of %d bytes, want %d", tc.name, c, tc.capacity)
		}
		appendN(t, j, 1, 100, 100) // about 8 KiB in one batch
		j.Close()
		checkRecords(t, readAll(t, dir, 0), 1, 100)
	}
}

func TestRoundTripAcrossRolls(t *testing.T) {
	dir := t.TempDir()
	opts := testOptions(nil)
	opts.SegmentBytes = int64(headerSize + encodedSize(MaxPayload))
	j, recov, err := Open(dir, opts)
	if err != nil || recov.Segments != 0 {
		t.Fatal(err, recov)
	}
	// Records of ~100 bytes in 64 KiB segments: a few thousand roll many times.
	appendN(t, j, 1, 3000, 64)
	if j.Durable() != 3000 {
		t.Fatalf("durable %d", j.Durable())
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	segs, _ := listSegments(vfs.Default, dir)
	if len(segs) < 3 {
		t.Fatalf("only %d segments: rolls not exercised", len(segs))
	}
	j, recov, err = Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if recov.FirstSeq != 1 || recov.LastSeq != 3000 || recov.Records != 3000 || recov.TornFile != "" {
		t.Fatalf("recovery %+v", recov)
	}
	if err := j.Append(rec(3002)); !errors.Is(err, ErrSequence) {
		t.Fatalf("gap accepted: %v", err)
	}
	appendN(t, j, 3001, 4000, 100)
	j.Close()
	checkRecords(t, readAll(t, dir, 0), 1, 4000)
	checkRecords(t, readAll(t, dir, 2500), 2500, 4000)
	st, err := Inspect(dir, nil, func(*Record) {})
	if err != nil || st.Records != 4000 || st.FirstSeq != 1 || st.LastSeq != 4000 {
		t.Fatalf("inspect %+v %v", st, err)
	}
	// Retention: drop segments wholly below 2000.
	j, _, _ = Open(dir, opts)
	n, err := j.DeleteBefore(2000)
	if err != nil || n == 0 {
		t.Fatalf("DeleteBefore: %d %v", n, err)
	}
	j.Close()
	got := readAll(t, dir, 2000)
	checkRecords(t, got, 2000, 4000)
}

// The Reader reads the segment after the one in use in the background: a
// failure there surfaces when it is reached, after every record before
// it; Close waits for a read in flight.
func TestReaderReadsAhead(t *testing.T) {
	dir := t.TempDir()
	opts := testOptions(nil)
	opts.SegmentBytes = int64(headerSize + encodedSize(MaxPayload))
	j, _, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, j, 1, 3000, 64)
	j.Close()
	segs, _ := listSegments(vfs.Default, dir)
	if len(segs) < 4 {
		t.Fatalf("only %d segments", len(segs))
	}

	r, err := NewReader(dir, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, segs[2])); err != nil {
		t.Fatal(err)
	}
	var rec Record
	var got int64
	for err == nil {
		if err = r.Next(&rec); err == nil {
			if got++; rec.Seq != got {
				t.Fatalf("record %d has sequence %d", got, rec.Seq)
			}
		}
	}
	if want := segmentFirst(segs[2]) - 1; !errors.Is(err, fs.ErrNotExist) || got != want {
		t.Fatalf("read %d records, then %v; want %d, then the missing segment", got, err, want)
	}
	r.Close()

	r, _ = NewReader(dir, nil, 0)
	if err := r.Next(&rec); err != nil || r.ahead == nil {
		t.Fatalf("first record: %v; reading ahead: %v", err, r.ahead != nil)
	}
	r.Close()
	if r.ahead != nil {
		t.Fatal("Close left a read ahead in flight")
	}
}

// A crash that tore the last record, at every offset inside it: recovery
// truncates it, reports it, and appending continues after the last good
// record.
func TestTornTailTruncatedAtEveryOffset(t *testing.T) {
	base := t.TempDir()
	opts := testOptions(nil)
	j, _, _ := Open(base, opts)
	appendN(t, j, 1, 20, 5)
	lastOff := j.off - int64(encodedSize(len(rec(20).Payload)))
	end := lastOff + recordHeader + bodyFixed + int64(len(rec(20).Payload)) // padding after it does not count
	j.Close()
	segs, _ := listSegments(vfs.Default, base)
	segPath := filepath.Join(base, segs[len(segs)-1])
	orig, _ := os.ReadFile(segPath)
	for cut := lastOff + 1; cut < end; cut++ {
		dir := t.TempDir()
		torn := append([]byte(nil), orig...)
		for i := cut; i < end; i++ {
			torn[i] = 0 // the write never reached the disk past cut
		}
		if cut%3 == 0 {
			torn[cut-1] ^= 0x5a // and the last byte written is garbage
		}
		os.WriteFile(filepath.Join(dir, segs[len(segs)-1]), torn, 0o644)
		j, recov, err := Open(dir, opts)
		if err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		if recov.LastSeq != 19 || recov.TornFile == "" || recov.TornOffset != lastOff ||
			recov.TornDropped <= 0 || recov.TornDropped > end-lastOff { // the torn record's bytes, not the zeros after
			t.Fatalf("cut %d: recovery %+v", cut, recov)
		}
		appendN(t, j, 20, 25, 3)
		j.Close()
		checkRecords(t, readAll(t, dir, 0), 1, 25)
	}
}

// A crash while a batch was written back: its first page never reached
// the disk (it reads as the preallocated zeros), later pages did. The
// zeros are not the end of the data: Open must not stop at them and
// leave the lost batch's later records behind, to be read as records
// once new appends reach them (a restart would then replay inputs that
// were never acknowledged). With valid records after the hole, Open
// refuses, naming file and offset; with only debris after it, the tail
// is truncated, debris and all. A journal written without fdatasync
// (SyncNone: a cluster member's, whose raft log holds what it lost)
// truncates at the hole either way.
func TestLostPageBeforeWrittenOnes(t *testing.T) {
	for _, debris := range []string{"valid records", "garbage", "valid records, unsynced journal"} {
		t.Run(debris, func(t *testing.T) {
			dir := t.TempDir()
			opts := Options{SegmentBytes: 1 << 20}
			if debris == "valid records, unsynced journal" {
				opts.Sync = SyncNone
			}
			j, _, _ := Open(dir, opts)
			appendN(t, j, 1, 3, 3) // durable
			durableEnd := j.off
			appendN(t, j, 4, 80, 100) // the batch the crash caught
			batchEnd := j.off
			j.Close()
			seg := filepath.Join(dir, SegmentName(1))
			data, _ := os.ReadFile(seg)
			lostTo := (durableEnd/4096 + 1) * 4096 // the rest of the page
			if batchEnd <= lostTo+64 {
				t.Fatalf("the batch ends at %d, within the lost page", batchEnd)
			}
			clear(data[durableEnd:lostTo])
			if debris == "garbage" {
				for i := lostTo; i < batchEnd; i++ {
					data[i] = 0x5a
				}
			}
			os.WriteFile(seg, data, 0o644)

			j, recov, err := Open(dir, opts)
			if debris == "valid records" {
				if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), SegmentName(1)) || !strings.Contains(err.Error(), "valid records follow") {
					t.Fatalf("Open = %v, %+v; want ErrCorrupt naming the file and the records after the hole", err, recov)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if recov.LastSeq != 3 || recov.TornOffset != durableEnd {
				t.Fatalf("recovery %+v", recov)
			}
			appendN(t, j, 4, 200, 50) // new inputs over the hole and past the debris
			j.Close()
			if _, recov, err = Open(dir, opts); err != nil || recov.LastSeq != 200 {
				t.Fatalf("reopen: %+v %v", recov, err)
			}
			checkRecords(t, readAll(t, dir, 0), 1, 200)
		})
	}
}

// Inspect says where the data of a journal copied after a crash ends
// short — a damaged last record, or a lost page with debris after it —
// which a reader otherwise passes over as the end; and a directory with
// no journal in it is an error, not an empty journal.
func TestInspectReportsATornTail(t *testing.T) {
	for _, damage := range []string{"last record", "zeros before debris"} {
		t.Run(damage, func(t *testing.T) {
			dir := t.TempDir()
			j, _, _ := Open(dir, testOptions(nil))
			appendN(t, j, 1, 20, 5)
			lastOff := j.off - int64(encodedSize(len(rec(20).Payload)))
			j.Close()
			seg := filepath.Join(dir, SegmentName(1))
			b, _ := os.ReadFile(seg)
			if damage == "last record" {
				b[lastOff+12] ^= 0xff
			} else {
				clear(b[lastOff : lastOff+8]) // its length and CRC: reads as the end
				b[len(b)-1] = 7               // and debris at the segment's end
			}
			os.WriteFile(seg, b, 0o644)
			st, err := Inspect(dir, nil, nil)
			if err != nil || st.LastSeq != 19 || st.TornFile != SegmentName(1) || st.TornAt != lastOff {
				t.Fatalf("inspect %+v %v; want the torn tail at offset %d", st, err, lastOff)
			}
		})
	}
	if _, err := Inspect(t.TempDir(), nil, nil); err == nil {
		t.Fatal("inspect of a directory with no journal succeeded")
	}
}

func corruptByte(t *testing.T, path string, off int64) {
	t.Helper()
	b, _ := os.ReadFile(path)
	b[off] ^= 0xff
	os.WriteFile(path, b, 0o644)
}

// A bad record in the middle — of a non-last segment, or of the last one
// with valid records after it — is a hard error naming file and offset:
// from Open for the last segment, whose records Open reads; for an earlier
// one from whoever reads it (recovery's replay, `ringex replay`, `journal
// inspect`), while a reader that starts after it is not stopped by it.
// A bad header is Open's error wherever it is.
func TestCorruptionIsAnErrorWithFileAndOffset(t *testing.T) {
	for _, where := range []string{"first segment", "first segment header", "last segment middle"} {
		t.Run(where, func(t *testing.T) {
			dir := t.TempDir()
			opts := testOptions(nil)
			j, _, _ := Open(dir, opts)
			appendN(t, j, 1, 2000, 50)
			j.Close()
			segs, _ := listSegments(vfs.Default, dir)
			name := segs[0]
			if where == "last segment middle" {
				name = segs[len(segs)-1]
			}
			off := int64(headerSize + 3*encodedSize(20) + 12) // inside an early record's body
			if where == "first segment header" {
				off = 9 // the first sequence
			}
			corruptByte(t, filepath.Join(dir, name), off)
			isCorrupt := func(err error) bool {
				return errors.Is(err, ErrCorrupt) && strings.Contains(err.Error(), name) && strings.Contains(err.Error(), "offset")
			}
			_, _, err := Open(dir, opts)
			if where == "first segment" {
				if err != nil {
					t.Fatalf("Open = %v; it reads only the last segment's records", err)
				}
				r, _ := NewReader(dir, nil, 0)
				if err := readToEnd(r); !isCorrupt(err) {
					t.Fatalf("reading from the start: %v", err)
				}
				from := segmentFirst(segs[1])
				if got := readAll(t, dir, from); len(got) == 0 || got[0].Seq != from {
					t.Fatalf("reading from %d, after the bad segment: %d records", from, len(got))
				}
			} else if !isCorrupt(err) {
				t.Fatalf("Open = %v", err)
			}
			if _, err := Inspect(dir, nil, nil); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Inspect = %v", err)
			}
		})
	}
}

// A segment missing between two others (lost, or left behind when a data
// directory was copied) is no damaged record: the error names the
// segment after it by its path, the inputs none holds and the
// directories read, and a damaged record names its segment by path too —
// an archive and a journal read as one hold segments of the same names
// ("corrupt record: 00000000000000007283.journal: starts at sequence
// 14565, want 7283" named neither the directory nor what was wrong).
func TestAMissingSegmentIsNamedWithTheInputsItHeld(t *testing.T) {
	dir, archive := archivedJournal(t, 6000, 5000, 3)
	segs, _ := listSegments(vfs.Default, archive)
	lost, after := segs[1], filepath.Join(archive, segs[2])
	if err := os.Remove(filepath.Join(archive, lost)); err != nil {
		t.Fatal(err)
	}
	read := func() error {
		r, err := NewReaderOf([]string{archive, dir}, nil, 0)
		if err != nil {
			return err
		}
		return readToEnd(r)
	}
	err := read()
	want := fmt.Sprintf("%s starts at sequence %d, want %d: inputs %d…%d are in no segment of %s or %s (a segment is missing",
		after, segmentFirst(segs[2]), segmentFirst(lost), segmentFirst(lost), segmentFirst(segs[2])-1, archive, dir)
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), want) {
		t.Fatalf("reading past a missing segment: %v, want ErrCorrupt saying %q", err, want)
	}
	corruptByte(t, filepath.Join(archive, segs[0]), int64(headerSize+3*encodedSize(20)+12))
	if err := read(); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), filepath.Join(archive, segs[0])+" at offset") {
		t.Fatalf("reading a damaged archived segment: %v, want ErrCorrupt naming its path", err)
	}
}

// Faults: each write/sync failure leaves the journal failed, Durable where
// it was, and nothing acknowledged lost.
func TestFaultsFailStop(t *testing.T) {
	cases := []struct {
		name string
		fs   func() *vfs.ErrorFS
	}{
		{"write error", func() *vfs.ErrorFS { return &vfs.ErrorFS{FS: vfs.Default, Op: vfs.OpWrite, Skip: 3} }},
		{"short write", func() *vfs.ErrorFS {
			return &vfs.ErrorFS{FS: vfs.Default, Op: vfs.OpWrite, Skip: 3, ShortBytes: 13, Err: io.ErrShortWrite}
		}},
		{"fsync error", func() *vfs.ErrorFS { return &vfs.ErrorFS{FS: vfs.Default, Op: vfs.OpSync, Skip: 3} }},
		{"disk full", func() *vfs.ErrorFS { return vfs.DiskFull(vfs.Default, 3) }},
		{"directory fsync error", func() *vfs.ErrorFS { return &vfs.ErrorFS{FS: vfs.Default, Op: vfs.OpSyncDir, Skip: 1} }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			efs := c.fs()
			opts := testOptions(efs)
			j, _, err := Open(dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			var acked int64
			var failure error
			for s := int64(1); s <= 3000 && failure == nil; s++ {
				if failure = j.Append(rec(s)); failure != nil {
					break
				}
				if s%10 == 0 {
					if failure = j.Sync(); failure == nil {
						acked = j.Durable()
					}
				}
			}
			if failure == nil || !efs.Fired() {
				t.Fatalf("no failure injected (acked %d)", acked)
			}
			if c.name == "disk full" && !errors.Is(failure, syscall.ENOSPC) {
				t.Fatalf("disk full reported as %v", failure)
			}
			if j.Durable() != acked {
				t.Fatalf("durable moved to %d after the failure (acked %d)", j.Durable(), acked)
			}
			if err := j.Append(rec(acked + 1000)); err == nil || j.Sync() == nil {
				t.Fatal("journal usable after a fatal error")
			}
			j.Close()
			// Everything acknowledged is there after reopening on a healthy disk.
			j2, _, err := Open(dir, testOptions(vfs.Default))
			if err != nil {
				t.Fatalf("reopen: %v", err)
			}
			j2.Close()
			got := readAll(t, dir, 0)
			if int64(len(got)) < acked {
				t.Fatalf("%d records after reopen, %d were acknowledged", len(got), acked)
			}
			checkRecords(t, got[:acked], 1, acked)
		})
	}
}

// A disk with less than a segment free refuses the segment's
// preallocation, at a roll and at the start after it: each error names
// the segment, so that the operator knows which disk to free (the
// journal, snapshots and archive may each have their own). They said
// "preallocate segment: no space left on device" and, at the start,
// "journal: no space left on device". Once: vfs.Default's error names
// the file itself (fallocate PATH: …), and the journal named it again.
func TestPreallocationErrorsNameTheSegment(t *testing.T) {
	for _, refusal := range []error{
		syscall.ENOSPC, // a filesystem whose errors name no file
		&os.PathError{Op: "fallocate", Path: "SEG", Err: syscall.ENOSPC}, // vfs.Default's, which name it
	} {
		dir := t.TempDir()
		seg := filepath.Join(dir, SegmentName(1))
		if pe, ok := refusal.(*os.PathError); ok {
			pe.Path = seg
		}
		noRoom := &vfs.ErrorFS{FS: vfs.Default, Op: vfs.OpPreallocate, Err: refusal, Sticky: true}
		j, _, err := Open(dir, testOptions(noRoom))
		if err != nil {
			t.Fatal(err)
		}
		if err = j.Append(rec(1)); err == nil {
			err = j.Sync()
		}
		j.Close()
		if !errors.Is(err, syscall.ENOSPC) || strings.Count(err.Error(), seg) != 1 {
			t.Fatalf("roll on a full disk (%v): %v; want ENOSPC naming %s once", refusal, err, seg)
		}
		// The roll created the segment and could not allocate it: the next
		// start allocates it before anything is written to it.
		if _, _, err := Open(dir, testOptions(noRoom)); !errors.Is(err, syscall.ENOSPC) || strings.Count(err.Error(), seg) != 1 {
			t.Fatalf("start on a full disk (%v): %v; want ENOSPC naming %s once", refusal, err, seg)
		}
	}
}

// After an fdatasync error the journal fails stop and the node's service
// restarts it — the process, not the machine. The restarted journal reads
// its last segment through the page cache, which still holds the batch
// whose writeback failed (marked clean: no later fdatasync writes it).
// Opened, the journal makes what it continues from durable again, so the
// records appended and acknowledged after it survive a power loss. Before,
// they followed a hole of zeros on disk: the journal refused to open
// (a torn batch with valid records after it), and cutting it there cut
// acknowledged inputs.
func TestReopenAfterFailedSyncMakesItsTailDurable(t *testing.T) {
	fs := vfs.NewCrashFS()
	var failing atomic.Bool // read by the newest-segment record's writes too
	fs.FailSync = func(name string) bool { return failing.Load() && strings.HasSuffix(name, ".journal") }
	opts := Options{FS: fs, SegmentBytes: 1 << 20}
	j, _, err := Open("/data/journal", opts)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, j, 1, 10, 10)
	for s := int64(11); s <= 100; s++ { // several pages
		if err := j.Append(rec(s)); err != nil {
			t.Fatal(err)
		}
	}
	failing.Store(true)
	if err := j.Sync(); err == nil {
		t.Fatal("fdatasync fault not injected")
	}
	failing.Store(false) // a transient fault
	j.Close()

	j2, _, err := Open("/data/journal", opts)
	if err != nil {
		t.Fatal(err)
	}
	if j2.LastSeq() != 100 {
		t.Fatalf("reopened at %d, want 100 (what the page cache holds)", j2.LastSeq())
	}
	appendN(t, j2, 101, 110, 10)
	acked := j2.Durable()
	j2.Close()

	img := fs.Crash(vfs.CrashKeep{}) // power loss
	j3, rec3, err := Open("/data/journal", Options{FS: img, SegmentBytes: 1 << 20})
	if err != nil {
		t.Fatalf("after a power loss (inputs up to %d acknowledged): %v", acked, err)
	}
	if j3.LastSeq() != acked || rec3.TornFile != "" {
		t.Fatalf("after a power loss the journal ends at %d (%+v), inputs up to %d were acknowledged", j3.LastSeq(), rec3, acked)
	}
	j3.Close()
}

func TestAppendLimits(t *testing.T) {
	j, _, _ := Open(t.TempDir(), testOptions(nil))
	defer j.Close()
	if err := j.Append(&Record{Seq: 1, Payload: make([]byte, MaxPayload+1)}); !errors.Is(err, ErrPayloadTooLarge) {
		t.Fatal(err)
	}
	if err := j.Append(&Record{Seq: 0}); !errors.Is(err, ErrSequence) {
		t.Fatal(err)
	}
}

// AppendBatch takes a batch through one reused Record, across segment
// rolls, as Append takes each record; it stops at the first record it
// refuses, keeping the ones before it, and fills no more.
func TestAppendBatch(t *testing.T) {
	dir := t.TempDir()
	j, _, err := Open(dir, testOptions(nil))
	if err != nil {
		t.Fatal(err)
	}
	// ~100-byte records in 64 KiB segments: 2000 roll several times.
	if err := j.AppendBatch(2000, func(i int, r *Record) { *r = *rec(int64(i + 1)) }); err != nil {
		t.Fatal(err)
	}
	gap := []int64{2001, 2002, 2004, 2005}
	filled := 0
	err = j.AppendBatch(len(gap), func(i int, r *Record) { filled++; *r = *rec(gap[i]) })
	if !errors.Is(err, ErrSequence) || filled != 3 {
		t.Fatalf("a batch with a gap: %v after filling %d, want ErrSequence at the third", err, filled)
	}
	if err := j.Sync(); err != nil {
		t.Fatal(err)
	}
	if j.LastSeq() != 2002 || j.Durable() != 2002 {
		t.Fatalf("LastSeq %d, Durable %d after the refused record, want 2002", j.LastSeq(), j.Durable())
	}
	j.Close()
	if n := len(mustSegments(t, dir)); n < 3 {
		t.Fatalf("%d segments: the batch never rolled one", n)
	}
	checkRecords(t, readAll(t, dir, 1), 1, 2002)
}

// FuzzScanSegment: any bytes as the last (or a middle) segment give a scan
// or an ErrCorrupt, never a panic.
// fiveRecordSegment is the bytes of a segment holding inputs 1 to 5: the
// fuzz targets' seed.
func fiveRecordSegment(f *testing.F) []byte {
	dir := f.TempDir()
	j, _, _ := Open(dir, testOptions(nil))
	for s := int64(1); s <= 5; s++ {
		j.Append(rec(s))
	}
	j.Sync()
	j.Close()
	segs, _ := listSegments(vfs.Default, dir)
	data, _ := os.ReadFile(filepath.Join(dir, segs[0]))
	return data
}

func FuzzScanSegment(f *testing.F) {
	data := fiveRecordSegment(f)
	f.Add(data[:512], true)
	f.Add(data[:200], false)
	v1 := segmentHeaderV1(1)
	for s := int64(1); s <= 5; s++ {
		v1 = appendRecord(v1, rec(s))
	}
	f.Add(append(v1, make([]byte, 64)...), true)
	f.Fuzz(func(t *testing.T, data []byte, last bool) {
		_, err := scanSegment("00000000000000000001.journal", data, 1, last, false)
		if err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("error %v is not ErrCorrupt", err)
		}
	})
}

// Archiving moves whole old segments out, intact: the archive reads as a
// journal of the early records, the journal keeps the rest, and together
// they hold every record once.
func TestArchiveBefore(t *testing.T) {
	dir, archive := t.TempDir(), filepath.Join(t.TempDir(), "archive")
	opts := testOptions(nil)
	j, _, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, j, 1, 3000, 100)
	segsBefore, _ := listSegments(vfs.Default, dir)
	if j.Segments() != int64(len(segsBefore)) {
		t.Fatalf("Segments() %d, %d files", j.Segments(), len(segsBefore))
	}
	n, err := j.ArchiveBefore(2000, archive)
	if err != nil || n == 0 {
		t.Fatalf("ArchiveBefore: %d %v", n, err)
	}
	if j.Segments() != int64(len(segsBefore)-n) {
		t.Fatalf("Segments() %d after archiving %d of %d", j.Segments(), n, len(segsBefore))
	}
	appendN(t, j, 3001, 3100, 100) // the live journal goes on
	j.Close()
	kept := readAll(t, dir, 0)
	if kept[0].Seq > 2000 {
		t.Fatalf("archived a segment holding %d..: needed from 2000", kept[0].Seq)
	}
	checkRecords(t, kept, kept[0].Seq, 3100)
	moved := readAll(t, archive, 0)
	checkRecords(t, moved, 1, kept[0].Seq-1)
	st, err := Inspect(archive, nil, func(*Record) {})
	if err != nil || st.FirstSeq != 1 || st.LastSeq != kept[0].Seq-1 {
		t.Fatalf("inspect archive %+v %v", st, err)
	}
	// Read as one (ringex replay): every record once, from the archive's
	// first; a segment in both (a cross-filesystem move cut short) once.
	both := func(dirs ...string) []Record {
		t.Helper()
		r, err := NewReaderOf(dirs, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		var out []Record
		for {
			var rec Record
			if err := r.Next(&rec); err != nil {
				if !errors.Is(err, io.EOF) {
					t.Fatal(err)
				}
				return out
			}
			rec.Payload = slices.Clone(rec.Payload)
			out = append(out, rec)
		}
	}
	checkRecords(t, both(archive, dir), 1, 3100)
	segs, _ := listSegments(vfs.Default, archive)
	if b, err := os.ReadFile(filepath.Join(archive, segs[len(segs)-1])); err == nil {
		os.WriteFile(filepath.Join(dir, segs[len(segs)-1]), b, 0o644)
	}
	checkRecords(t, both(archive, dir), 1, 3100)
	os.Remove(filepath.Join(dir, segs[len(segs)-1]))
	checkRecords(t, both(filepath.Join(t.TempDir(), "none"), dir), kept[0].Seq, 3100) // no archive yet
	// A failing rename stops at that segment and says so.
	efs := &vfs.ErrorFS{FS: vfs.Default, Op: vfs.OpRename}
	j, _, err = Open(dir, testOptions(efs))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if _, err := j.ArchiveBefore(3100, archive); !errors.Is(err, vfs.ErrInjected) {
		t.Fatal("rename failure not reported")
	}
}

// opLog is a filesystem that records its directory changes and syncs.
// Safe for the journal's background writes (the newest-segment record).
type opLog struct {
	vfs.FS
	mu  sync.Mutex
	ops []string
}

func (f *opLog) log(op string) {
	f.mu.Lock()
	f.ops = append(f.ops, op)
	f.mu.Unlock()
}

// take returns the operations logged since the last take.
func (f *opLog) take() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	ops := f.ops
	f.ops = nil
	return ops
}

func (f *opLog) Remove(name string) error {
	f.log("remove " + filepath.Base(name))
	return f.FS.Remove(name)
}

func (f *opLog) Rename(from, to string) error {
	f.log("rename " + filepath.Base(from))
	return f.FS.Rename(from, to)
}

func (f *opLog) SyncDir(dir string) error {
	f.log("sync " + filepath.Base(dir))
	return f.FS.SyncDir(dir)
}

// Retiring segments oldest first, each removal or move is durable before
// the next: otherwise a crash could keep an older segment while a newer
// one is gone, and the journal would not open (a gap).
func TestRetiredSegmentsSyncedOneByOne(t *testing.T) {
	for _, archive := range []bool{false, true} {
		dir := t.TempDir()
		archiveDir := filepath.Join(t.TempDir(), "archive")
		fs := &opLog{FS: vfs.Default}
		j, _, err := Open(dir, testOptions(fs))
		if err != nil {
			t.Fatal(err)
		}
		appendN(t, j, 1, 3000, 100)
		j.newest.wait() // the rolls' records written: only retirement's operations follow
		fs.take()
		var n int
		if archive {
			n, err = j.ArchiveBefore(2500, archiveDir)
		} else {
			n, err = j.DeleteBefore(2500)
		}
		j.Close()
		if err != nil || n < 2 {
			t.Fatalf("archive %v: retired %d segments, %v; want at least 2", archive, n, err)
		}
		journalDir := filepath.Base(dir)
		var want []string
		for _, op := range fs.ops {
			if strings.HasPrefix(op, "remove") || strings.HasPrefix(op, "rename") {
				want = append(want, op)
				if archive {
					want = append(want, "sync archive")
				}
				want = append(want, "sync "+journalDir)
			}
		}
		if ops := fs.take(); !slices.Equal(ops, want) {
			t.Fatalf("archive %v: directory operations %q, want each followed by its syncs", archive, ops)
		}
	}
}

// unsyncedSegments is fs.Unsynced without the newest-segment record's
// temporary file, which a roll's record write, running beside the
// journal, may be between writing and syncing.
func unsyncedSegments(fs *vfs.SyncTracker) []string {
	return slices.DeleteFunc(fs.Unsynced(), func(name string) bool { return name == NewestFile+".tmp" })
}

// A journal that does not fsync per batch leaves unsynced only the
// segment it writes: a finished one is synced when it rolls, so a crash
// never keeps a later segment beside a torn earlier one. Checkpoint
// syncs the rest.
func TestCheckpoint(t *testing.T) {
	dir := t.TempDir()
	fs := vfs.NewSyncTracker(vfs.Default)
	opts := testOptions(fs)
	opts.Sync = SyncNone
	j, _, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	for from := int64(1); from <= 2000; from += 100 {
		appendN(t, j, from, from+99, 50)
		segs := mustSegments(t, dir)
		if left := unsyncedSegments(fs); len(left) > 1 || len(left) == 1 && left[0] != segs[len(segs)-1] {
			t.Fatalf("at input %d, %d segments: written and not synced %v; only the last may be", from+99, len(segs), left)
		}
	}
	if len(mustSegments(t, dir)) < 3 {
		t.Fatal("the test wants rolls")
	}
	if err := j.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	if left := unsyncedSegments(fs); len(left) != 0 {
		t.Fatalf("after Checkpoint, written and not synced: %v", left)
	}
	if j.Durable() != 2000 {
		t.Fatalf("Durable %d after Checkpoint, want 2000", j.Durable())
	}
}

func mustSegments(t *testing.T, dir string) []string {
	t.Helper()
	segs, err := listSegments(vfs.Default, dir)
	if err != nil {
		t.Fatal(err)
	}
	return segs
}

// exdevFS fails a rename between directories as one between filesystems
// does (EXDEV).
type exdevFS struct{ vfs.FS }

func (f exdevFS) Rename(from, to string) error {
	if filepath.Dir(from) != filepath.Dir(to) {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: syscall.EXDEV}
	}
	return f.FS.Rename(from, to)
}

// An archive on another filesystem than the journal (journal.dir on a
// disk of its own, as the config allows) takes the segments by copy: the
// rename failed with EXDEV at every snapshot, nothing was ever retired,
// and the journal's disk filled up (found by an audit helper).
func TestArchiveBeforeAcrossFilesystems(t *testing.T) {
	dir, archive := t.TempDir(), filepath.Join(t.TempDir(), "archive")
	j, _, err := Open(dir, testOptions(exdevFS{vfs.Default}))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	appendN(t, j, 1, 3000, 100)
	before := j.Segments()
	n, err := j.ArchiveBefore(2000, archive)
	if err != nil || n == 0 || j.Segments() != before-int64(n) {
		t.Fatalf("ArchiveBefore across filesystems: %d segments, %v (%d of %d left)", n, err, j.Segments(), before)
	}
	kept := readAll(t, dir, 0)
	moved := readAll(t, archive, 0)
	checkRecords(t, moved, 1, kept[0].Seq-1)
	if leftovers, _ := filepath.Glob(filepath.Join(archive, "*.tmp")); len(leftovers) != 0 {
		t.Fatalf("copies left half-made: %v", leftovers)
	}
}

// heldArchiveFS is an archive on another filesystem (EXDEV) whose files'
// Sync waits until released: a copy to a slow disk, held in the middle.
type heldArchiveFS struct {
	exdevFS
	archive string
	held    chan struct{} // closed when a copy reaches its Sync
	release chan struct{}
	once    *sync.Once
}

type heldFile struct {
	vfs.File
	fs heldArchiveFS
}

func (f heldFile) Sync() error {
	f.fs.once.Do(func() { close(f.fs.held) })
	<-f.fs.release
	return f.File.Sync()
}

func (f heldArchiveFS) Create(name string) (vfs.File, error) {
	file, err := f.exdevFS.Create(name)
	if err == nil && strings.HasPrefix(name, f.archive) {
		return heldFile{file, f}, nil
	}
	return file, err
}

// Archiving runs beside trading: the journaller's appends and syncs do
// not wait for segments being copied to another disk. They did — the
// copy ran under the journal's lock, and the node took no input for as
// long as gigabytes took to copy (found by a review helper).
func TestArchiveCopyDoesNotHoldAppends(t *testing.T) {
	dir, archive := t.TempDir(), filepath.Join(t.TempDir(), "archive")
	fs := heldArchiveFS{exdevFS{vfs.Default}, archive, make(chan struct{}), make(chan struct{}), &sync.Once{}}
	j, _, err := Open(dir, testOptions(fs))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	appendN(t, j, 1, 3000, 100)
	archived := make(chan error, 1)
	go func() { _, err := j.ArchiveBefore(2000, archive); archived <- err }()
	<-fs.held // a copy is under way, waiting on its disk
	appended := make(chan error, 1)
	go func() {
		err := j.Append(rec(3001))
		if err == nil {
			err = j.Sync()
		}
		appended <- err
	}()
	select {
	case err := <-appended:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		close(fs.release)
		t.Fatal("an append and sync waited for a segment being copied to the archive")
	}
	close(fs.release)
	if err := <-archived; err != nil {
		t.Fatal(err)
	}
}

// An Open refused by the disk — here the rewrite of the last segment's
// records, whose fdatasync fails — leaves no file open behind it.
func TestRefusedOpenLeavesNoFileOpen(t *testing.T) {
	dir := t.TempDir()
	j, _, err := Open(dir, testOptions(vfs.Default))
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, j, 1, 20, 10)
	j.Close()
	fds := func() int { ents, _ := os.ReadDir("/proc/self/fd"); return len(ents) }
	before := fds()
	for range 3 {
		if _, _, err := Open(dir, testOptions(&vfs.ErrorFS{FS: vfs.Default, Op: vfs.OpSync})); err == nil {
			t.Fatal("Open with every fdatasync failing succeeded")
		}
	}
	if after := fds(); after > before {
		t.Fatalf("%d files open after three refused Opens, %d before", after, before)
	}
}

// A reader of an archive and its journal (a resend, `ringex replay`)
// lists the segments once; the node's retention may move some from the
// journal to the archive while it reads. It finds each under its name in
// the other directory and reads every record once. Before, it failed
// opening the moved segment: a resend from far back answered failed
// whenever a snapshot's retention ran during its replay.
func TestReaderFollowsASegmentArchivedWhileItReads(t *testing.T) {
	dir, archive := t.TempDir(), filepath.Join(t.TempDir(), "archive")
	j, _, err := Open(dir, testOptions(nil))
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, j, 1, 6000, 100)                           // 7 segments
	r, err := NewReaderOf([]string{archive, dir}, nil, 0) // lists the segments, all in the journal
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var first Record
	if err := r.Next(&first); err != nil || first.Seq != 1 {
		t.Fatalf("first record: %+v, %v", first, err)
	}
	// Every segment but the last two: the one being read, the one read
	// ahead, and some not opened yet.
	if n, err := j.ArchiveBefore(4500, archive); err != nil || n < 4 {
		t.Fatalf("ArchiveBefore: %d, %v", n, err)
	}
	j.Close()
	want := int64(2)
	for {
		var rec Record
		if err := r.Next(&rec); err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatalf("after record %d: %v", want-1, err)
			}
			break
		}
		if rec.Seq != want {
			t.Fatalf("record %d, want %d", rec.Seq, want)
		}
		want++
	}
	if want != 6001 {
		t.Fatalf("read to %d, want 6000", want-1)
	}
}
