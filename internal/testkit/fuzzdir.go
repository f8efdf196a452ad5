package testkit

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzDir is a directory for a fuzz target's inputs to write their files
// in, one input after another, each emptying it first (EmptyDir). It is
// in memory (/dev/shm) where there is one: the code under test fsyncs
// what it writes, and on a disk those fsyncs were most of an input's
// time; elsewhere it is f.TempDir(). Removed when the target ends.
func FuzzDir(f *testing.F) string {
	if dir, err := os.MkdirTemp("/dev/shm", "ringex-fuzz"); err == nil {
		f.Cleanup(func() { os.RemoveAll(dir) })
		return dir
	}
	return f.TempDir()
}

// EmptyDir removes everything in dir, so that what one fuzz input wrote
// there is not there for the next: a directory made and removed per
// input (t.TempDir) costs more than most inputs.
func EmptyDir(t testing.TB, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
}
