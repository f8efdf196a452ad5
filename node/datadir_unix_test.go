//go:build !windows

package node

import (
	"os"
	"path/filepath"
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
