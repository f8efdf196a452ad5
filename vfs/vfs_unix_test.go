//go:build unix

package vfs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// Every file and directory the node makes is its owner's only: the
// journal and snapshots hold every account's orders. umask 0 while it
// runs, so the modes asked for are the modes seen; they were 0644 and
// 0755. TightenDir closes a directory an older build left open.
func TestCreatedOwnerOnly(t *testing.T) {
	defer syscall.Umask(syscall.Umask(0))
	base := t.TempDir()
	dir := filepath.Join(base, "a", "b")
	must(t, Default.MkdirAll(dir))
	f, err := Default.Create(filepath.Join(dir, "seg"))
	must(t, err)
	must(t, f.Close())
	stale := filepath.Join(dir, "mark.tmp") // an older build's, cut short
	must(t, os.WriteFile(stale, []byte("x"), 0o644))
	must(t, WriteFileAtomic(filepath.Join(dir, "mark"), []byte("y")))
	must(t, WriteFileAtomic(filepath.Join(dir, "fresh"), []byte("z")))
	for name, want := range map[string]fs.FileMode{
		"a": DirMode, "a/b": DirMode, "a/b/seg": FileMode, "a/b/mark": FileMode, "a/b/fresh": FileMode,
	} {
		st, err := os.Stat(filepath.Join(base, name))
		must(t, err)
		if st.Mode().Perm() != want {
			t.Errorf("%s made %v, want %v", name, st.Mode().Perm(), want)
		}
	}

	for _, c := range []struct {
		mode, want fs.FileMode
		changed    bool
	}{{0o755, 0o700, true}, {0o750, 0o700, true}, {0o711, 0o700, true}, {0o700, 0o700, false}, {0o500, 0o500, false}} {
		must(t, os.Chmod(dir, c.mode))
		was, changed, err := TightenDir(dir)
		st, serr := os.Stat(dir)
		must(t, serr)
		if err != nil || was != c.mode || changed != c.changed || st.Mode().Perm() != c.want {
			t.Errorf("TightenDir of a %v directory: was %v, changed %v, %v; now %v, want %v", c.mode, was, changed, err, st.Mode().Perm(), c.want)
		}
	}
	must(t, os.Chmod(dir, 0o700))
	if _, _, err := TightenDir(filepath.Join(base, "none")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("TightenDir of no directory: %v", err)
	}
}

// OpenRegular opens a regular file, and refuses anything else without
// blocking on it — a FIFO with no writer blocked an open for good — and,
// asked to (O_NOFOLLOW), a symbolic link.
func TestOpenRegular(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	must(t, os.WriteFile(file, []byte("x"), 0o600))
	f, err := OpenRegular(file, os.O_RDONLY, 0)
	must(t, err)
	f.Close()
	fifo := filepath.Join(dir, "fifo")
	must(t, syscall.Mkfifo(fifo, 0o600))
	if f, err := OpenRegular(fifo, os.O_RDONLY, 0); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		if err == nil {
			f.Close()
		}
		t.Fatalf("a FIFO: %v, want a refusal", err)
	}
	link := filepath.Join(dir, "link")
	must(t, os.Symlink(file, link))
	if f, err := OpenRegular(link, os.O_RDONLY|syscall.O_NOFOLLOW, 0); err == nil {
		f.Close()
		t.Fatal("a symbolic link opened with O_NOFOLLOW")
	}
	f, err = OpenRegular(link, os.O_RDONLY, 0) // followed when not asked otherwise
	must(t, err)
	f.Close()
}
