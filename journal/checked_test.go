package journal

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ringex/ringex/vfs"
)

// opensFS counts the opens of each file.
type opensFS struct {
	vfs.FS
	mu     sync.Mutex
	opened map[string]int
}

func (c *opensFS) Open(name string) (vfs.File, error) {
	c.mu.Lock()
	c.opened[filepath.Base(name)]++
	c.mu.Unlock()
	return c.FS.Open(name)
}

func (c *opensFS) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.opened
	c.opened = map[string]int{}
	return m
}

// Readers given one CheckedHeaders read each segment's header once: a
// later Reader opens only the segments it reads. A segment of another
// journal copied in under a name not seen yet is still refused, and so
// on every Reader after (a refused header is not remembered); a last
// segment whose header is torn is not remembered either, and is read
// again until it verifies. Without CheckedHeaders every Reader opened
// every segment (TestResendReadsEachSegmentHeaderOnce, node).
func TestReaderRemembersCheckedHeaders(t *testing.T) {
	a, segs := journalWithID(t, "cluster-a", 3000)
	b, bsegs := journalWithID(t, "cluster-b", 4000)
	fs := &opensFS{FS: vfs.Default, opened: map[string]int{}}
	checked := NewCheckedHeaders()
	last := segs[len(segs)-1]
	from := segmentFirst(last) + 1
	read := func() error {
		t.Helper()
		r, err := NewReaderWith([]string{a}, fs, from, ReaderOptions{Checked: checked})
		if err != nil {
			return err
		}
		if err := readToEnd(r); err != io.EOF {
			return err
		}
		return nil
	}
	for i := range 2 {
		fs.take()
		if err := read(); err != nil {
			t.Fatalf("Reader %d: %v", i+1, err)
		}
		opened := fs.take()
		want := len(segs) + 1 // every header, and the last segment read
		if i > 0 {
			want = 1
		}
		if n := sum(opened); n != want || opened[last] == 0 {
			t.Fatalf("Reader %d opened %v (%d), want %d opens", i+1, opened, n, want)
		}
	}

	// A segment of journal b past a's last, under a new name: refused,
	// every time.
	foreign := bsegs[len(bsegs)-1]
	if segmentFirst(foreign) <= segmentFirst(last) {
		t.Fatalf("setup: b's last segment %s is not after a's %s", foreign, last)
	}
	copyFile(t, filepath.Join(b, foreign), filepath.Join(a, foreign))
	for i := range 2 {
		if err := read(); !errors.Is(err, ErrOtherJournal) || !strings.Contains(err.Error(), foreign) {
			t.Fatalf("Reader %d with %s copied in: %v, want ErrOtherJournal naming it", i+1, foreign, err)
		}
	}
	if err := os.Remove(filepath.Join(a, foreign)); err != nil {
		t.Fatal(err)
	}

	// A new last segment whose header is torn (a roll's crash): not
	// remembered, read again by the next Reader.
	torn := SegmentName(segmentFirst(foreign))
	h := segmentHeader(segmentFirst(foreign), "cluster-a")
	if err := os.WriteFile(filepath.Join(a, torn), h[:20], 0o600); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		fs.take()
		if err := read(); err != nil {
			t.Fatalf("Reader %d with a torn last header: %v", i+1, err)
		}
		if opened := fs.take(); opened[torn] == 0 {
			t.Fatalf("Reader %d did not read the torn header of %s: %v", i+1, torn, opened)
		}
	}
	if _, ok := checked.lookup(torn); ok {
		t.Fatalf("a torn header remembered")
	}

	// Retired segments are forgotten.
	if err := os.Remove(filepath.Join(a, torn)); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(a, segs[0])); err != nil {
		t.Fatal(err)
	}
	if err := read(); err != nil {
		t.Fatal(err)
	}
	if _, ok := checked.lookup(segs[0]); ok {
		t.Fatalf("%s, removed, still remembered", segs[0])
	}
}

func sum(m map[string]int) (n int) {
	for _, v := range m {
		n += v
	}
	return n
}
