package journal

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/ringex/ringex/vfs"
)

// dropFS records, per file, what was written and what DropCache was asked.
type dropFS struct {
	vfs.FS
	mu    sync.Mutex
	files map[string]*dropFile
}

type dropFile struct {
	vfs.File
	fs      *dropFS
	name    string
	written int64 // end of the furthest write
	drops   int
	bad     string // a drop that reached past what was written
}

func (d *dropFS) wrap(name string, f vfs.File, err error) (vfs.File, error) {
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	df := &dropFile{File: f, fs: d, name: filepath.Base(name)}
	if size, err := f.Size(); err == nil {
		df.written = size // a reopened segment: its data is there already
	}
	d.files[df.name] = df
	return df, nil
}

func (d *dropFS) Create(name string) (vfs.File, error) {
	f, err := d.FS.Create(name)
	return d.wrap(name, f, err)
}

func (d *dropFS) OpenReadWrite(name string) (vfs.File, error) {
	f, err := d.FS.OpenReadWrite(name)
	return d.wrap(name, f, err)
}

func (f *dropFile) WriteAt(p []byte, off int64) (int, error) {
	n, err := f.File.WriteAt(p, off)
	f.fs.mu.Lock()
	f.written = max(f.written, off+int64(n))
	f.fs.mu.Unlock()
	return n, err
}

func (f *dropFile) DropCache(off, n int64) {
	f.fs.mu.Lock()
	f.drops++
	if off+n > f.written && f.bad == "" {
		f.bad = fmt.Sprintf("dropped up to %d with %d written", off+n, f.written)
	}
	f.fs.mu.Unlock()
	f.File.DropCache(off, n)
}

// TestCacheDroppedBehindWrites: in both sync modes the journal hands the
// pages of its segments to DropCache as it goes — synced ones at once,
// unsynced ones a chunk behind — never past what it has written (the page
// the next append goes into stays cached), and every record reads back.
func TestCacheDroppedBehindWrites(t *testing.T) {
	for _, mode := range []SyncMode{SyncBatch, SyncNone} {
		t.Run([]string{"batch", "none"}[mode], func(t *testing.T) {
			dir := t.TempDir()
			fs := &dropFS{FS: vfs.Default, files: map[string]*dropFile{}}
			j, _, err := Open(dir, Options{FS: fs, SegmentBytes: 8 << 20, Sync: mode})
			if err != nil {
				t.Fatal(err)
			}
			const last = 300_000 // ~50 bytes a record: about two segments
			appendN(t, j, 1, last/2, 100)
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}
			if j, _, err = Open(dir, Options{FS: fs, SegmentBytes: 8 << 20, Sync: mode}); err != nil {
				t.Fatal(err)
			}
			appendN(t, j, last/2+1, last, 100)
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}
			segs := 0
			for name, f := range fs.files {
				if f.bad != "" {
					t.Errorf("%s: %s", name, f.bad)
				}
				if f.written > 3<<20 && f.drops == 0 {
					t.Errorf("%s: %d bytes written, no DropCache", name, f.written)
				}
				segs++
			}
			if segs < 2 {
				t.Fatalf("%d segment files, want a roll", segs)
			}
			checkRecords(t, readAll(t, dir, 1), 1, last)
		})
	}
}
