package journal

import (
	"io/fs"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ringex/ringex/vfs"
)

// openToOthers lists what under root (root included) has any permission
// for other users than its owner.
func openToOthers(t *testing.T, root string) []string {
	t.Helper()
	var open []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o077 != 0 {
			open = append(open, path+" "+fi.Mode().String())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return open
}

// The journal holds every account's orders: its directory, segments
// (written ahead too), the archive — moved or copied there — and the
// bytes `ringex journal cut` keeps aside are the owner's only (umask 0
// while it runs, so the modes asked for are the modes seen). They were
// 0644 in 0755 directories.
func TestFilesOwnerOnly(t *testing.T) {
	base := filepath.Join(t.TempDir(), "data")
	defer syscall.Umask(syscall.Umask(0))
	for i, fsys := range []vfs.FS{vfs.Default, exdevFS{vfs.Default}} {
		dir := filepath.Join(base, "journal", string(rune('a'+i)))
		opts := testOptions(fsys)
		opts.PrepareSegments = true
		j, _, err := Open(dir, opts)
		if err != nil {
			t.Fatal(err)
		}
		appendN(t, j, 1, 3000, 100)
		if n, err := j.ArchiveBefore(2000, filepath.Join(base, "archive", string(rune('a'+i)))); err != nil || n == 0 {
			t.Fatalf("ArchiveBefore: %d %v", n, err)
		}
		j.Close()
	}
	torn := filepath.Join(base, "torn")
	tornBatchJournal(t, torn)
	if cut, err := CutTornBatch(torn, nil, true); err != nil || cut.SavedTo == "" {
		t.Fatalf("cut %+v %v", cut, err)
	}
	if open := openToOthers(t, base); len(open) > 0 {
		t.Fatalf("open to other local users:\n%s", strings.Join(open, "\n"))
	}
}
