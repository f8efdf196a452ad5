package testkit

import (
	"io/fs"
	"path/filepath"
	"testing"
)

// OpenToOthers lists what under root (root included) grants any
// permission to users other than its owner — group or other bits — as
// "path mode", skipping what skip (nil: nothing) says of its path
// relative to root. The node's data is its owner's only (vfs.FileMode,
// vfs.DirMode).
func OpenToOthers(t testing.TB, root string, skip func(rel string) bool) []string {
	t.Helper()
	var open []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if rel, _ := filepath.Rel(root, path); skip != nil && skip(rel) {
			return nil
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
