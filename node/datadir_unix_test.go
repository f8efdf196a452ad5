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
}

// A directory, or a LOCK, of this user's whose mode denies its owner
// what the lock's open needs: the missing permission is the cause, named
// with the chmod that gives it — read and write on the LOCK, search on
// the directory, and write on it where the LOCK is to be created. "Run
// as the node's user" sent the node's own user looking for another; and
// "its mode 0600 does not let its owner write it" blamed the write of a
// directory that lacked only search. A mode that denies nothing the open
// needs is no cause. (Judged from the modes: root, which the permissions
// do not stop, gets the same message; TestLockDirNamesThePermissionMissing
// takes the real refusals.)
func TestLockOpenErrorNamesThePermissionMissing(t *testing.T) {
	for _, tc := range lockModeCases {
		dir := lockModeDir(t, tc.dirMode, tc.lockMode)
		err := lockOpenError(dir, &os.PathError{Op: "open", Path: filepath.Join(dir, lockName), Err: syscall.EACCES})
		tc.check(t, dir, err)
	}
}

// lockModeCases are directories and LOCKs of modes that deny their owner
// what the lock's open needs, or nothing it needs, and what a refusal
// says of each.
var lockModeCases = []lockModeCase{
	{0o600, noLock, "", "search (x: opening a file in it)", "u+x"},
	{0o500, noLock, "", "write (w: creating LOCK in it)", "u+w"},
	{0o555, noLock, "", "write (w: creating LOCK in it)", "u+w"},
	{0o400, noLock, "", "write (w: creating LOCK in it) and search (x: opening a file in it)", "u+wx"},
	{0o500, 0o600, "", "", ""}, // the LOCK is there: opening it writes nothing in the directory
	{0o700, 0o444, lockName, "write (w)", "u+w"},
	{0o700, 0o200, lockName, "read (r)", "u+r"},
	{0o700, 0o000, lockName, "read (r) and write (w)", "u+rw"},
}

type lockModeCase struct {
	dirMode, lockMode os.FileMode // lockMode noLock: none
	blamed            string      // "" the directory, or the LOCK in it
	missing, chmod    string      // "": the modes deny nothing the open needs
}

// noLock is a lockModeCase's lockMode where the directory holds no LOCK.
const noLock = ^os.FileMode(0)

// lockModeDir is a directory of mode dirMode holding a LOCK of mode
// lockMode (noLock: none), given back its modes when the test ends.
func lockModeDir(t *testing.T, dirMode, lockMode os.FileMode) string {
	t.Helper()
	dir := t.TempDir()
	if lockMode != noLock {
		lock := filepath.Join(dir, lockName)
		if err := os.WriteFile(lock, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(lock, lockMode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(dir, dirMode); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o700) })
	return dir
}

// check checks the refusal err of a lock in dir, of tc's modes.
func (tc lockModeCase) check(t *testing.T, dir string, err error) {
	t.Helper()
	path, mode := filepath.Join(dir, tc.blamed), tc.dirMode
	if tc.blamed != "" {
		mode = tc.lockMode
	}
	if !errors.Is(err, syscall.EACCES) {
		t.Errorf("%s: %v, want EACCES", tc, err)
		return
	}
	if tc.missing == "" {
		if strings.Contains(err.Error(), "belongs to this user") {
			t.Errorf("%s: %v, want no mode blamed", tc, err)
		}
		return
	}
	// The tools that take no lock read and search the directory too.
	if readable := tc.dirMode&0o500 == 0o500; strings.Contains(err.Error(), "a read-only copy is read by") != readable {
		t.Errorf("%s: %v, want the tools that take no lock named: %v (they list the directory)", tc, err, readable)
	}
	for _, want := range []string{
		fmt.Sprintf("%s belongs to this user, but its mode %04o denies its owner %s, which the lock needs", path, mode, tc.missing),
		"(chmod " + tc.chmod + " " + path + ")",
	} {
		if !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "run as the node's user") {
			t.Errorf("%s: %v, want it saying %q, not to run as the node's user", tc, err, want)
		}
	}
}

// String names the case's modes.
func (tc lockModeCase) String() string {
	if tc.lockMode == noLock {
		return fmt.Sprintf("dir %04o, no LOCK", tc.dirMode)
	}
	return fmt.Sprintf("dir %04o, LOCK %04o", tc.dirMode, tc.lockMode)
}

// The modes refuse a user who is not root as lockModeCases says — a
// LOCK that is there is opened in a directory its owner may not write —
// and the refusal names the permission the modes deny. Root's opens are
// not stopped by permissions: skipped as root.
func TestLockDirNamesThePermissionMissing(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root: permissions do not stop its opens")
	}
	for _, tc := range lockModeCases {
		dir := lockModeDir(t, tc.dirMode, tc.lockMode)
		release, err := LockDir(dir)
		if err == nil {
			release()
		}
		switch {
		case tc.missing == "" && err != nil:
			t.Errorf("%s: %v, want the lock taken: the modes deny nothing its open needs", tc, err)
		case tc.missing != "" && err == nil:
			t.Errorf("%s: LockDir took the lock", tc)
		case tc.missing != "":
			tc.check(t, dir, err)
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

// A data directory whose parent this user may not search, or may not
// write where the data directory is to be made, is refused naming that
// parent and the permission: it said "mkdir …: permission denied" of
// the data directory. Root's mkdirs are not stopped by permissions:
// skipped as root.
func TestLockDirNamesTheParentsPermissionMissing(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root: permissions do not stop its mkdirs")
	}
	for _, tc := range []struct {
		mode    os.FileMode
		exists  bool // the data directory is there already
		missing string
	}{
		{0o600, true, "search (x: passing through it)"},
		{0o600, false, "search (x: passing through it)"},
		{0o500, false, "write (w: creating data in it)"},
	} {
		parent := t.TempDir()
		dir := filepath.Join(parent, "data")
		if tc.exists {
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Chmod(parent, tc.mode); err != nil {
			t.Fatal(err)
		}
		release, err := LockDir(dir)
		os.Chmod(parent, 0o700)
		if err == nil {
			release()
			t.Fatalf("parent %04o: LockDir took the lock", tc.mode)
		}
		want := fmt.Sprintf("this user is denied %s on %s, which making or opening %s needs", tc.missing, parent, dir)
		if !errors.Is(err, syscall.EACCES) || !strings.Contains(err.Error(), want) {
			t.Errorf("parent %04o, data directory there %v: %v\nwant it saying %q", tc.mode, tc.exists, err, want)
		}
	}
}
