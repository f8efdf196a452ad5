//go:build !windows

package node

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/ringex/ringex/vfs"
)

// lockDataDir takes an exclusive lock on dir (created if needed) for this
// process, so that a second node started on the same directory — a
// service manager's and a hand-started one, say, or one whose
// journal.dir names another node's journal — is refused instead of
// appending to the same journal. The lock is the open file's (flock): the
// kernel drops it when the process dies, kill -9 included. The file
// holds the holder's pid, for the message the next one gets.
func lockDataDir(dir string) (*os.File, error) {
	if err := vfs.MkdirAllDurable(dir); err != nil {
		return nil, fmt.Errorf("node: data directory: %w", err)
	}
	path := filepath.Join(dir, lockName)
	// Never through a link, and only a regular file: the lock file is
	// truncated and written, and an operator's tool that takes it runs as
	// root (ringex journal cut, drop) — a LOCK link made by the node's
	// user would have had root truncate whatever it named.
	f, err := vfs.OpenRegular(path, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW, vfs.FileMode)
	if err != nil {
		return nil, fmt.Errorf("node: data directory lock: %w (a LOCK that is a symbolic link is refused)", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		holder := "?"
		if b, rerr := os.ReadFile(path); rerr == nil && len(strings.TrimSpace(string(b))) > 0 {
			holder = strings.TrimSpace(string(b))
		}
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s is held by process %s", ErrDataDirInUse, dir, holder)
		}
		return nil, fmt.Errorf("node: data directory lock: %w", err)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}
