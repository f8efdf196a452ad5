//go:build !windows

package node

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

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
		if errors.Is(err, unix.EACCES) {
			if path, missing := deniedOnTheWay(dir); path != "" {
				// "mkdir …: permission denied" named the directory to be
				// made, not the one whose permission refused it.
				return nil, fmt.Errorf("node: data directory: %w: this user is denied %s on %s, which making or opening %s needs: give it that permission (chmod, or its owner's), or run as a user who has it",
					err, missing, path, dir)
			}
		}
		return nil, fmt.Errorf("node: data directory: %w", err)
	}
	path := filepath.Join(dir, lockName)
	// Never through a link, and only a regular file: the lock file is
	// truncated and written, and an operator's tool that takes it runs as
	// root (ringex journal cut, drop) — a LOCK link made by the node's
	// user would have had root truncate whatever it named.
	f, err := vfs.OpenRegular(path, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW, vfs.FileMode)
	if err != nil {
		return nil, lockOpenError(dir, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		holder := "?"
		if b, rerr := os.ReadFile(path); rerr == nil && len(strings.TrimSpace(string(b))) > 0 {
			holder = strings.TrimSpace(string(b))
		}
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			// What to do, not only who: an operator's journal cut or drop
			// on a running node's directory read "held by process N" and
			// went looking for the process.
			return nil, fmt.Errorf("%w: %s is held by process %s (a node, or a ringex journal cut or drop, using it): stop the node first, or let the tool finish — the lock goes when the process exits",
				ErrDataDirInUse, dir, holder)
		}
		return nil, fmt.Errorf("node: data directory lock: %w", err)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}

// lockOpenError says why the LOCK file in dir could not be opened. Only a
// link is a link (ELOOP, O_NOFOLLOW's answer): a user who may not write
// the directory — an operator's tool on the node's data as another
// user, a read-only copy — read "permission denied (a LOCK that is a
// symbolic link is refused)" and went looking for a link.
func lockOpenError(dir string, err error) error {
	switch {
	case errors.Is(err, unix.ELOOP):
		return fmt.Errorf("node: data directory lock: %w: %s is a symbolic link, refused (the lock file is written: remove the link)", err, filepath.Join(dir, lockName))
	case errors.Is(err, unix.EROFS):
		// No user may write there: "run as the node's user" sent the
		// operator of a unit whose sandbox leaves the directory read-only
		// (ProtectSystem=strict, a journal.dir outside ReadWritePaths=)
		// looking for the wrong user.
		return fmt.Errorf("node: data directory lock: %w: %s is on a filesystem mounted read-only for this process, which the node and ringex journal cut and drop write (also without --yes): remount it read-write, or under the systemd unit add the directory to ReadWritePaths= (systemctl edit ringex); a read-only copy is read by ringex journal inspect and ringex replay, which take no lock", err, filepath.Join(dir, lockName))
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
		if path, mode, missing, chmod := ownedUnwritable(dir); path != "" {
			// The user is the right one: "run as the node's user" sent
			// the node's own user looking for another.
			return fmt.Errorf("node: data directory lock: %w: %s belongs to this user, but its mode %04o denies its owner %s, which the lock needs, and the node and ringex journal cut and drop take the lock there (also without --yes): "+
				"give the owner that permission (chmod %s %s)%s", err, path, mode, missing, chmod, path, readOnlyCopy(dir))
		}
		return fmt.Errorf("node: data directory lock: %w: this user cannot write %s, which the node and ringex journal cut and drop take (also without --yes): run as the node's user%s", err, filepath.Join(dir, lockName), readOnlyCopy(dir))
	}
	return fmt.Errorf("node: data directory lock: %w", err)
}

// ownedUnwritable returns the path of the LOCK file in dir, or else of
// dir, when this process's user owns it and its mode denies the owner
// what the lock's open needs — read and write on the file; search on the
// directory, and write on it too where the file is not there to be
// opened (it is created) or cannot be looked at (the directory not
// searchable) — with its mode, the permissions it denies in words
// ("write (w)", "search (x: …)") and the chmod that gives them; "" when
// neither is so (another user's, or it cannot be read). The missing
// permission is named, not the mode blamed: a directory of mode 0600
// lacks only search, and "does not let its owner write it" sent the
// operator to a write it had.
func ownedUnwritable(dir string) (path string, mode os.FileMode, missing, chmod string) {
	lock := filepath.Join(dir, lockName)
	dirNeeds := []permission{permSearch}
	if _, err := os.Lstat(lock); err != nil {
		dirNeeds = []permission{permCreate, permSearch}
	}
	for _, c := range []struct {
		path  string
		needs []permission
	}{
		{lock, []permission{permRead, permWrite}},
		{dir, dirNeeds},
	} {
		fi, err := os.Lstat(c.path)
		if err != nil {
			continue
		}
		st, ok := fi.Sys().(*syscall.Stat_t) // os.Lstat's, not unix's
		if !ok || int(st.Uid) != os.Geteuid() {
			continue
		}
		var words []string
		letters := ""
		for _, p := range c.needs {
			if fi.Mode().Perm()&p.bit == 0 {
				words = append(words, p.word)
				letters += p.letter
			}
		}
		if len(words) > 0 {
			return c.path, fi.Mode().Perm(), strings.Join(words, " and "), "u+" + letters
		}
	}
	return "", 0, "", ""
}

// permission is an owner permission the lock's open needs, with the
// words that name it to an operator and its chmod letter.
type permission struct {
	bit          os.FileMode
	word, letter string
}

var (
	permRead   = permission{0o400, "read (r)", "r"}
	permWrite  = permission{0o200, "write (w)", "w"}
	permCreate = permission{0o200, "write (w: creating " + lockName + " in it)", "w"}
	permSearch = permission{0o100, "search (x: opening a file in it)", "x"}
)

// readOnlyCopy is the refusal's word on the tools that read dir without
// the lock — "; a read-only copy is read by …" — when this user may read
// and search dir, which they need too; "" otherwise: said of a directory
// of mode 0600 (search denied), it sent the operator to tools that
// fail there alike. A directory of this user's is judged by its owner
// bits (root, whom they do not stop, gets the same message), another's
// by access(2).
func readOnlyCopy(dir string) string {
	const hint = "; a read-only copy is read by ringex journal inspect and ringex replay, which take no lock"
	fi, err := os.Stat(dir)
	if err != nil {
		return ""
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) == os.Geteuid() {
		if fi.Mode().Perm()&0o500 != 0o500 {
			return ""
		}
		return hint
	}
	if unix.Access(dir, unix.R_OK|unix.X_OK) != nil {
		return ""
	}
	return hint
}

// deniedOnTheWay returns the first directory on the way to dir (dir's
// ancestors, from the root, then the deepest one that exists, whose
// write making the next level needs) that this user may not search, or
// may not write where the next level is to be made, and the permission
// in words; "" when access(2) denies none (root passes them all).
func deniedOnTheWay(dir string) (path, missing string) {
	dir = filepath.Clean(dir)
	var levels []string
	for p := dir; ; p = filepath.Dir(p) {
		levels = append(levels, p)
		if filepath.Dir(p) == p {
			break
		}
	}
	for i := len(levels) - 1; i > 0; i-- { // from the root down, dir excluded
		p, next := levels[i], levels[i-1]
		if unix.Access(p, unix.X_OK) != nil {
			return p, "search (x: passing through it)"
		}
		if _, err := os.Lstat(next); errors.Is(err, os.ErrNotExist) {
			if unix.Access(p, unix.W_OK) != nil {
				return p, "write (w: creating " + filepath.Base(next) + " in it)"
			}
			return "", ""
		}
	}
	return "", ""
}
