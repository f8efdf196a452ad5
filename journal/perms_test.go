package journal

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/vfs"
)

// The journal holds every account's orders: its directory, segments
// (written ahead too), the archive — moved or copied there — and the
// bytes `ringex journal cut` keeps aside are the owner's only (umask 0
// while it runs, so the modes asked for are the modes seen). They were
// 0644 in 0755 directories.
func TestFilesOwnerOnly(t *testing.T) {
	base := filepath.Join(t.TempDir(), "data")
	testkit.Umask0(t)
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
	if open := testkit.OpenToOthers(t, base, nil); len(open) > 0 {
		t.Fatalf("open to other local users:\n%s", strings.Join(open, "\n"))
	}
}
