package vfs

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// dropRecorder is a File that only records DropCache calls.
type dropRecorder struct {
	File
	drops [][2]int64 // off, n
}

func (d *dropRecorder) DropCache(off, n int64) { d.drops = append(d.drops, [2]int64{off, n}) }

func TestCacheTrimmerSynced(t *testing.T) {
	f := &dropRecorder{}
	var tr CacheTrimmer
	tr.Reset(100) // reopened mid-page: starts at that page
	tr.Synced(f, trimChunk-1)
	if len(f.drops) != 0 {
		t.Fatalf("dropped %v before a whole chunk gathered", f.drops)
	}
	end := int64(trimChunk + 5000)
	tr.Synced(f, end)
	page := end &^ (pageSize - 1) // the page holding end
	if want := [][2]int64{{0, page}}; len(f.drops) != 1 || f.drops[0] != want[0] {
		t.Fatalf("drops %v, want %v", f.drops, want)
	}
	// The page holding end was not dropped: the next drop starts at it
	// and ends at the page holding end2.
	end2 := end + trimChunk
	tr.Synced(f, end2)
	if got := f.drops[1]; got[0] != page || got[0]+got[1] != end2&^(pageSize-1) {
		t.Fatalf("second drop %v, want from %d to %d", got, page, end2&^(pageSize-1))
	}
}

func TestCacheTrimmerWritten(t *testing.T) {
	f := &dropRecorder{}
	var tr CacheTrimmer
	visits := map[int64]int{} // chunk start → DropCache calls covering it
	for end := int64(0); end <= 10*trimChunk; end += 300_000 {
		n := len(f.drops)
		tr.Written(f, end)
		for _, d := range f.drops[n:] {
			if d[0]+d[1] > end-trimChunk {
				t.Fatalf("at %d dropped %v: less than a chunk behind the write offset", end, d)
			}
			for c := d[0]; c < d[0]+d[1]; c += trimChunk {
				visits[c]++
			}
		}
	}
	// Chunks written three chunks before the end were asked twice: once
	// to start their writeback, once, a chunk later, to drop them.
	for c := int64(0); c < 7*trimChunk; c += trimChunk {
		if visits[c] != 2 {
			t.Errorf("chunk at %d: %d DropCache calls, want 2", c, visits[c])
		}
	}
}

// TestSyncedKeepsThePageAtTheEndOfTheFile: a file whose size is its
// write offset (a raft log segment's: its blocks are reserved without
// changing its size) keeps the page holding that offset cached after
// Synced drops the rest — Linux's fadvise drops a partial last page of a
// range that ends at the file's size, and the next append, into that
// page, would read it back from disk first.
func TestSyncedKeepsThePageAtTheEndOfTheFile(t *testing.T) {
	end := int64(trimChunk + 3*pageSize + 100)
	path, osf := syncedFile(t, make([]byte, end))
	f := FromOS(osf)
	var tr CacheTrimmer
	tr.Synced(f, end)
	resident, err := ResidentPages(osf, end)
	if errors.Is(err, errors.ErrUnsupported) {
		t.Skip("no page-cache calls on this system (osfile_other.go)")
	}
	if err != nil {
		t.Fatal(err)
	}
	if OnTmpfs(path) {
		t.Skip("tmpfs keeps its pages")
	}
	last, err := ResidentPages(osf, end&^(pageSize-1)) // the pages before the one at end
	if err != nil {
		t.Fatal(err)
	}
	if resident-last != 1 {
		t.Errorf("the page holding the write offset %d: %d resident after Synced, want 1 (%d of the file's pages resident)", end, resident-last, resident)
	}
}

// TestDropCacheDropsSyncedPages checks the real call: after an fdatasync,
// the pages DropCache is given leave the page cache (seen with mincore)
// and the data reads back unchanged.
func TestDropCacheDropsSyncedPages(t *testing.T) {
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = byte(i * 7)
	}
	path, osf := syncedFile(t, data)
	f := FromOS(osf)
	before, err := ResidentPages(osf, int64(len(data)))
	if errors.Is(err, errors.ErrUnsupported) {
		t.Skip("no page-cache calls on this system (osfile_other.go)")
	}
	if err != nil {
		t.Fatal(err)
	}
	f.DropCache(0, int64(len(data)))
	after, err := ResidentPages(osf, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if OnTmpfs(path) {
		t.Logf("tmpfs keeps its pages: %d resident before, %d after", before, after)
	} else if before == 0 || after != 0 {
		t.Errorf("resident pages: %d before DropCache, %d after; want some, then 0", before, after)
	}
	got := make([]byte, len(data))
	if _, err := f.ReadAt(got, 0); err != nil {
		t.Fatal(err)
	}
	if string(got) != string(data) {
		t.Fatal("data changed by DropCache")
	}
}

// syncedFile is a new file in the test's directory holding data,
// fdatasynced; it is closed when the test ends.
func syncedFile(t *testing.T, data []byte) (string, *os.File) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "f")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if _, err := f.WriteAt(data, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	return path, f
}
