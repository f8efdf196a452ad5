package journal

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringex/ringex/vfs"
)

// waitSpare waits until the segment being written ahead (if any) is done.
func (j *Journal) waitSpare() {
	j.mu.Lock()
	sp := j.spare
	j.mu.Unlock()
	if sp != nil {
		<-sp.done
	}
}

// spareRenames counts the spares that became segments.
type spareRenames struct {
	vfs.FS
	n atomic.Int64
}

func (f *spareRenames) Rename(oldname, newname string) error {
	if filepath.Base(oldname) == spareName {
		f.n.Add(1)
	}
	return f.FS.Rename(oldname, newname)
}

// stepClock makes every reading of j's clock step later: segments then
// last step each.
func stepClock(j *Journal, step time.Duration) {
	t := time.Unix(0, 0)
	j.now = func() time.Time { t = t.Add(step); return t }
}

func preparedOptions(fs vfs.FS) Options {
	o := testOptions(fs)
	o.PrepareSegments = true
	return o
}

// fillSegments opens a journal in dir that writes segments ahead, whose
// segments each last life, appends records from 1 until it has segments
// segments (letting each spare finish first, so every roll finds it
// ready), closes it and returns the next sequence.
func fillSegments(t *testing.T, dir string, fs vfs.FS, life time.Duration, segments int) int64 {
	t.Helper()
	j, _, err := Open(dir, preparedOptions(fs))
	if err != nil {
		t.Fatal(err)
	}
	stepClock(j, life)
	seq := int64(1)
	for segmentCount(t, dir) < segments {
		j.waitSpare()
		appendN(t, j, seq, seq+99, 10)
		seq += 100
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	return seq
}

func segmentCount(t *testing.T, dir string) int {
	t.Helper()
	segs, err := listSegments(vfs.Default, dir)
	if err != nil {
		t.Fatal(err)
	}
	return len(segs)
}

// A roll that finds the spare ready makes it the segment: full size, and
// read back like any other.
func TestPreparedSegments(t *testing.T) {
	dir := t.TempDir()
	fs := &spareRenames{FS: vfs.Default}
	seq := fillSegments(t, dir, fs, spareMinLife, 6)
	// All but the second: the spare written at Open makes the first, and
	// the next is written once the first has lasted spareMinLife.
	if got, want := fs.n.Load(), int64(segmentCount(t, dir)-1); got != want {
		t.Errorf("%d of the %d segments were prepared spares, want %d", got, segmentCount(t, dir), want)
	}
	if _, err := os.Stat(filepath.Join(dir, spareName)); !os.IsNotExist(err) {
		t.Errorf("Close left the spare: %v", err)
	}
	size := preparedOptions(nil).SegmentBytes
	segs, _ := listSegments(vfs.Default, dir)
	for _, s := range segs {
		st, err := os.Stat(filepath.Join(dir, s))
		if err != nil || st.Size() != size {
			t.Errorf("%s: %v, size %d, want %d", s, err, st.Size(), size)
		}
	}
	j2, rec, err := Open(dir, preparedOptions(vfs.Default))
	if err != nil {
		t.Fatal(err)
	}
	if rec.TornFile != "" || rec.LastSeq != seq-1 {
		t.Errorf("recovery %+v, want last %d and no torn tail", rec, seq-1)
	}
	appendN(t, j2, seq, seq+49, 7)
	j2.Close()
	checkRecords(t, readAll(t, dir, 1), 1, seq+49)
}

// A file left where the spare is written — here a copy of a real segment,
// whose records would read as valid — is replaced, never turned into a
// segment.
func TestLeftoverSpareIsReplaced(t *testing.T) {
	dir := t.TempDir()
	j, _, err := Open(dir, testOptions(vfs.Default))
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, j, 1, 200, 10)
	j.Close()
	segs, _ := listSegments(vfs.Default, dir)
	old, err := os.ReadFile(filepath.Join(dir, segs[len(segs)-1]))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, spareName), old, 0o644); err != nil {
		t.Fatal(err)
	}
	j, rec, err := Open(dir, preparedOptions(vfs.Default))
	if err != nil || rec.LastSeq != 200 {
		t.Fatalf("open with a leftover spare: %+v, %v", rec, err)
	}
	stepClock(j, spareMinLife)
	for n := segmentCount(t, dir); segmentCount(t, dir) < n+2; {
		j.waitSpare()
		appendN(t, j, rec.LastSeq+1, rec.LastSeq+50, 10)
		rec.LastSeq += 50
	}
	j.Close()
	if _, _, err := Open(dir, testOptions(vfs.Default)); err != nil {
		t.Fatal(err)
	}
	checkRecords(t, readAll(t, dir, 1), 1, rec.LastSeq)
}

// A spare that cannot be written costs nothing but its benefit: the roll
// creates the segment as usual.
func TestSpareFailureFallsBack(t *testing.T) {
	dir := t.TempDir()
	efs := &vfs.ErrorFS{FS: vfs.Default, Op: vfs.OpCreate} // the spare's create, once
	j, _, err := Open(dir, preparedOptions(efs))
	if err != nil {
		t.Fatal(err)
	}
	j.waitSpare()
	if !efs.Fired() {
		t.Fatal("the spare's create was not attempted")
	}
	appendN(t, j, 1, 300, 10)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	checkRecords(t, readAll(t, dir, 1), 1, 300)
}

// spareWritesFail fails every write to the spare, and only to it.
type spareWritesFail struct{ vfs.FS }

func (f spareWritesFail) Create(name string) (vfs.File, error) {
	file, err := f.FS.Create(name)
	if err != nil || filepath.Base(name) != spareName {
		return file, err
	}
	return failingWrites{file}, nil
}

type failingWrites struct{ vfs.File }

func (failingWrites) WriteAt([]byte, int64) (int, error) { return 0, vfs.ErrInjected }

// spareErrors collects what a journal reports to OnSpareError.
type spareErrors struct {
	mu   sync.Mutex
	errs []error
}

func (s *spareErrors) report(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errs = append(s.errs, err)
}

func (s *spareErrors) get() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]error(nil), s.errs...)
}

// A spare whose writing failed is removed at once — on a full disk the
// part written would hold the last free space until the roll — and
// reported; the roll creates the segment itself.
func TestFailedSpareRemoved(t *testing.T) {
	dir := t.TempDir()
	var reported spareErrors
	o := preparedOptions(spareWritesFail{vfs.Default})
	o.OnSpareError = reported.report
	j, _, err := Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	j.waitSpare()
	if _, err := os.Stat(filepath.Join(dir, spareName)); !os.IsNotExist(err) {
		t.Fatalf("the failed spare's file is still there: %v", err)
	}
	if errs := reported.get(); len(errs) != 1 || !errors.Is(errs[0], vfs.ErrInjected) {
		t.Fatalf("reported %v, want the spare's write error", errs)
	}
	appendN(t, j, 1, 10, 10)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	checkRecords(t, readAll(t, dir, 1), 1, 10)
}

// The disk answers an fdatasync of the spare with an error: it is
// reported (the node counts and logs it — an I/O error on the journal's
// disk), not dropped; the journal goes on, and a spare Close stops is
// no error.
func TestSpareSyncErrorReported(t *testing.T) {
	dir := t.TempDir()
	// The first fdatasync after Open of an empty journal is the spare's.
	efs := &vfs.ErrorFS{FS: vfs.Default, Op: vfs.OpSync}
	var reported spareErrors
	o := preparedOptions(efs)
	o.OnSpareError = reported.report
	j, _, err := Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	j.waitSpare()
	if !efs.Fired() {
		t.Fatal("the spare's fdatasync was not attempted")
	}
	errs := reported.get()
	if len(errs) != 1 || !errors.Is(errs[0], vfs.ErrInjected) {
		t.Fatalf("reported %v, want the spare's fdatasync error", errs)
	}
	stepClock(j, spareMinLife) // every segment lasts long enough to write the next ahead
	appendN(t, j, 1, 300, 10)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if got := reported.get(); len(got) != 1 {
		t.Errorf("reported %v after the rolls and Close, want the one error", got)
	}
	checkRecords(t, readAll(t, dir, 1), 1, 300)

	// A spare Close stops while it is being written is not reported.
	var stopped spareErrors
	j, _, err = Open(t.TempDir(), Options{SegmentBytes: 1 << 30, PrepareSegments: true, OnSpareError: stopped.report})
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if got := stopped.get(); len(got) != 0 {
		t.Errorf("a spare stopped by Close reported %v", got)
	}
}

// Segments filled faster than spareMinLife: the journal writes none
// ahead; only the spare written at Open is used.
func TestNoSpareWhenSegmentsFillFast(t *testing.T) {
	dir := t.TempDir()
	fs := &spareRenames{FS: vfs.Default}
	seq := fillSegments(t, dir, fs, spareMinLife/10, 5)
	if got := fs.n.Load(); got != 1 {
		t.Errorf("%d segments were prepared spares, want 1", got)
	}
	checkRecords(t, readAll(t, dir, 1), 1, seq-1)
}

// Close stops a spare still being written and removes it.
func TestCloseStopsSpare(t *testing.T) {
	dir := t.TempDir()
	j, _, err := Open(dir, Options{SegmentBytes: 1 << 30, PrepareSegments: true})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, j, 1, 10, 10)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, spareName)); !os.IsNotExist(err) {
		t.Errorf("Close left the spare: %v", err)
	}
	if j.spare != nil {
		t.Error("Close did not wait for the spare")
	}
}

// Without fdatasync there is nothing to gain: SyncNone writes no spare.
func TestNoSpareWithoutSync(t *testing.T) {
	o := preparedOptions(vfs.Default)
	o.Sync = SyncNone
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	if o.PrepareSegments {
		t.Error("PrepareSegments left on with SyncNone")
	}
}

// A spare left by a run with PrepareSegments goes when the journal is
// opened without it: it would hold a segment's worth of disk for good.
func TestLeftoverSpareRemovedWithoutPreparing(t *testing.T) {
	dir := t.TempDir()
	j, _, err := Open(dir, preparedOptions(vfs.Default))
	if err != nil {
		t.Fatal(err)
	}
	j.waitSpare()
	j.Close()
	if err := os.WriteFile(filepath.Join(dir, spareName), []byte("left by a crash"), 0o644); err != nil {
		t.Fatal(err)
	}
	j, _, err = Open(dir, testOptions(vfs.Default))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if _, err := os.Stat(filepath.Join(dir, spareName)); !os.IsNotExist(err) {
		t.Fatalf("the spare is still there: %v", err)
	}
}
