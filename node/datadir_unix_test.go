//go:build !windows

package node

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// The lock file is opened never through a link, and must be a regular
// file: it is truncated and written, and the operator's tools that take
// it (ringex journal cut, drop) run as root — a LOCK link made by the
// node's user had root truncate whatever it named.
func TestLockRefusesALinkAndChangesNotItsTarget(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(t.TempDir(), "precious")
	if err := os.WriteFile(target, []byte("not the lock's"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(dir, lockName)); err != nil {
		t.Fatal(err)
	}
	if release, err := LockDir(dir); err == nil {
		release()
		t.Fatal("LockDir took a LOCK that is a symbolic link")
	}
	if b, _ := os.ReadFile(target); string(b) != "not the lock's" {
		t.Fatalf("the link's target holds %q: the lock wrote through the link", b)
	}
	fifo := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(fifo, lockName), 0o600); err != nil {
		t.Fatal(err)
	}
	if release, err := LockDir(fifo); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		if err == nil {
			release()
		}
		t.Fatalf("LockDir on a FIFO LOCK: %v, want a refusal", err)
	}
}

// Opening the LOCK fails for a link (ELOOP), for a user who may not
// write it (a tool run as another user than the node's, a copy) and on a
// filesystem read-only for every user (EROFS: a read-only mount, a
// journal.dir outside the systemd unit's ReadWritePaths=); each says its
// own cause. Every failure said "(a LOCK that is a symbolic link is
// refused)", also a read-only copy's "permission denied" of `ringex
// journal cut` without --yes; and EROFS said "this user cannot write …:
// run as the node's user", to a node run as its user.
func TestLockOpenErrorSaysItsCause(t *testing.T) {
	for _, tc := range []struct {
		err       error
		want, not string
	}{
		{syscall.ELOOP, "is a symbolic link, refused", "cannot write"},
		{syscall.EACCES, "this user cannot write /d/LOCK", "symbolic link"},
		{syscall.EROFS, "a read-only copy is read by ringex journal inspect and ringex replay", "symbolic link"},
		{syscall.EROFS, "/d/LOCK is on a filesystem mounted read-only for this process", "this user cannot write"},
		{syscall.EROFS, "add the directory to ReadWritePaths=", "run as the node's user"},
		{syscall.EIO, "node: data directory lock: ", "symbolic link"},
	} {
		err := lockOpenError("/d", &os.PathError{Op: "open", Path: "/d/LOCK", Err: tc.err})
		if !errors.Is(err, tc.err) || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), tc.not) {
			t.Errorf("%v: %v, want it saying %q and not %q", tc.err, err, tc.want, tc.not)
		}
	}
	// A directory, or a LOCK, of this user's whose mode denies its owner
	// the write: the mode is the cause and chmod the remedy. "Run as the
	// node's user" sent the node's own user looking for another.
	// (Judged from the modes: root, which the permissions do not stop,
	// gets the same message.)
	locked := t.TempDir()
	if err := os.WriteFile(filepath.Join(locked, lockName), nil, 0o444); err != nil {
		t.Fatal(err)
	}
	readOnly := t.TempDir()
	if err := os.Chmod(readOnly, 0o555); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(readOnly, 0o755)
	for _, tc := range []struct{ dir, path, want string }{
		{readOnly, readOnly, "its mode 0555 does not let its owner write it"},
		{readOnly, readOnly, "(chmod u+rwx " + readOnly + ")"},
		{locked, filepath.Join(locked, lockName), "its mode 0444 does not let its owner write it"},
		{locked, filepath.Join(locked, lockName), "(chmod u+rw " + filepath.Join(locked, lockName) + ")"},
	} {
		err := lockOpenError(tc.dir, &os.PathError{Op: "open", Path: filepath.Join(tc.dir, lockName), Err: syscall.EACCES})
		if !errors.Is(err, syscall.EACCES) || !strings.Contains(err.Error(), tc.path+" belongs to this user") ||
			!strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "run as the node's user") {
			t.Errorf("%s: %v, want it saying %s belongs to this user and %q, not to run as the node's user", tc.path, err, tc.path, tc.want)
		}
	}
}

// A directory in use says what to do, not only who holds it: `ringex
// journal cut` and `drop` on a running node's directory said "data
// directory in use: … is held by process N" and no more.
func TestLockInUseSaysStopTheNodeFirst(t *testing.T) {
	dir := t.TempDir()
	release, err := LockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	// flock locks an open file: a second open in this process is refused
	// as another process is.
	again, err := LockDir(dir)
	if err == nil {
		again()
		t.Fatal("LockDir took a directory locked already")
	}
	if !errors.Is(err, ErrDataDirInUse) || !strings.Contains(err.Error(), "is held by process "+strconv.Itoa(os.Getpid())) ||
		!strings.Contains(err.Error(), "stop the node first") {
		t.Fatalf("a directory in use: %v, want ErrDataDirInUse naming this process and saying to stop the node first", err)
	}
}
