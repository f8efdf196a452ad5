package journal

import (
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ringex/ringex/vfs"
)

// unflushedFS is an archive on another filesystem (EXDEV) whose files
// count the bytes written and not yet written out (WriteOut) when Sync
// is called: what that one fdatasync has to flush.
type unflushedFS struct {
	exdevFS
	archive string
	mu      *sync.Mutex
	most    *int64 // the most bytes a Sync of an archive file found unflushed
}

type unflushedFile struct {
	vfs.File
	fs    unflushedFS
	dirty int64
}

func (f *unflushedFile) WriteAt(b []byte, off int64) (int, error) {
	n, err := f.File.WriteAt(b, off)
	f.dirty += int64(n)
	return n, err
}

func (f *unflushedFile) WriteOut(off, n int64) error {
	f.dirty = max(0, f.dirty-n)
	return f.File.WriteOut(off, n)
}

func (f *unflushedFile) Sync() error {
	f.fs.mu.Lock()
	*f.fs.most = max(*f.fs.most, f.dirty)
	f.fs.mu.Unlock()
	f.dirty = 0
	return f.File.Sync()
}

func (f unflushedFS) Create(name string) (vfs.File, error) {
	file, err := f.exdevFS.Create(name)
	if err == nil && strings.HasPrefix(name, f.archive) {
		return &unflushedFile{File: file, fs: f}, nil
	}
	return file, err
}

// A segment copied to an archive on another disk is written out piece
// by piece, so that its fdatasync has at most a piece left to flush: the
// node's files are timed for cluster.disk_stall_timeout (the journal
// writes through the node's observed filesystem), and a whole segment
// (64 MiB by default) fsynced at once on a slow archive disk — one under
// 13 MB/s for the default 5 s — was taken for a stalled disk, and the
// member cut off and stopped.
func TestArchiveCopyIsWrittenOutInPieces(t *testing.T) {
	dir, archive := t.TempDir(), filepath.Join(t.TempDir(), "archive")
	var most int64
	fs := unflushedFS{exdevFS{vfs.Default}, archive, &sync.Mutex{}, &most}
	opts := testOptions(fs)
	opts.SegmentBytes = 3 << 20
	j, _, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	payload := []byte(strings.Repeat("p", 4000))
	for s := int64(1); s <= 2000; s++ {
		if err := j.Append(&Record{Seq: s, RecvTime: s, Kind: 1, Payload: payload}); err != nil {
			t.Fatal(err)
		}
		if s%100 == 0 {
			if err := j.Sync(); err != nil {
				t.Fatal(err)
			}
		}
	}
	n, err := j.ArchiveBefore(1500, archive)
	if err != nil || n == 0 {
		t.Fatalf("ArchiveBefore across filesystems: %d segments, %v", n, err)
	}
	if most > copyPiece {
		t.Fatalf("a copied segment's fdatasync had %d bytes to flush, more than a piece (%d)", most, copyPiece)
	}
	moved, kept := readAll(t, archive, 0), readAll(t, dir, 0)
	for i, r := range moved {
		if r.Seq != int64(i+1) || string(r.Payload) != string(payload) {
			t.Fatalf("archived record %d: seq %d, %d payload bytes", i, r.Seq, len(r.Payload))
		}
	}
	if len(moved) == 0 || kept[0].Seq != int64(len(moved))+1 {
		t.Fatalf("%d records archived, the journal's first is %d", len(moved), kept[0].Seq)
	}
}
