//go:build !windows

package node

import (
	"errors"
	"math"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// diskSpace reports the bytes the node may still write on the filesystem
// that holds dir — or will: a directory not created yet (the archive
// before the first segment is archived) reports its nearest existing
// parent's — as statfs's available blocks (root's reserve is not the
// node's), and the filesystem's size. NaN for both when no parent can be
// read either: unknown, never a reassuring zero or a false alarm.
func diskSpace(dir string) (free, size float64) {
	var st unix.Statfs_t
	for {
		err := unix.Statfs(dir, &st)
		if err == nil {
			return float64(st.Bavail) * float64(st.Bsize), float64(st.Blocks) * float64(st.Bsize)
		}
		parent := filepath.Dir(dir)
		if !errors.Is(err, unix.ENOENT) || parent == dir {
			return math.NaN(), math.NaN()
		}
		dir = parent
	}
}
