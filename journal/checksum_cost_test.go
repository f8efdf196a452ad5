package journal

import (
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/ringex/ringex/vfs"
)

// openingFS counts the files opened read-only.
type openingFS struct {
	vfs.FS
	opens *atomic.Int64
}

func (c openingFS) Open(name string) (vfs.File, error) {
	c.opens.Add(1)
	return c.FS.Open(name)
}

// archiveOf writes n segments of journal id, a header each (their
// records need not be read), for inputs 1…n, into a new archive dir; and
// a journal of that id whose inputs begin after them, into a new dir.
func archiveOf(t testing.TB, id string, n int) (archive, dir string) {
	t.Helper()
	archive, dir = t.TempDir(), t.TempDir()
	for first := int64(1); first <= int64(n); first++ {
		if err := os.WriteFile(filepath.Join(archive, SegmentName(first)), segmentHeader(first, id), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	o := testOptions(nil)
	o.ID = id
	j, _, err := Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	from := int64(n) + 1
	for s := from; s < from+300; s++ {
		if err := j.Append(rec(s)); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	return archive, dir
}

// BenchmarkChecksumAtWithAnArchive is a node's start checking its
// snapshot (ChecksumAt of an input near the journal's end) with an
// archive of 5 000 segments (64 MB each by default: ~320 GB of inputs).
func BenchmarkChecksumAtWithAnArchive(b *testing.B) {
	archive, dir := archiveOf(b, testID, 5000)
	b.ReportAllocs()
	for b.Loop() {
		if _, found, err := ChecksumAt([]string{archive, dir}, nil, 5200); err != nil || !found {
			b.Fatal(found, err)
		}
	}
}

// ChecksumAt — a node's start checking its snapshot's input — reads the
// header of the segment it reads and of the newest one (the journal it
// is asked about), whatever the size of the archive beside it: it read
// every listed segment's header before (5 000 archived segments: 91 ms
// with the headers in the page cache on the dev VM; from a cold spinning
// disk, a seek each — most of a minute at a start).
func TestChecksumAtReadsTwoHeadersWhateverTheArchive(t *testing.T) {
	archive, dir := archiveOf(t, testID, 200)
	var opens atomic.Int64
	fs := openingFS{vfs.Default, &opens}
	for _, seq := range []int64{100, 350} { // in the archive, in the journal
		opens.Store(0)
		if _, found, err := ChecksumAt([]string{archive, dir}, fs, seq); err != nil || found != (seq > 200) {
			t.Fatalf("input %d: found %v, %v", seq, found, err)
		}
		if n := opens.Load(); n > 2 {
			t.Fatalf("input %d: ChecksumAt opened %d files of 200 archived segments and a journal's, want 2 at most", seq, n)
		}
	}
}
