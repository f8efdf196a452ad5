//go:build unix

package testkit

import (
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

// claimPort keeps port from the tests of other packages, which `go test
// ./...` runs in parallel processes, until t ends: a lock on a file named
// for it, which the kernel drops with the process. Without it a port free
// while its member was down was taken by another package's test — in CI
// a replicator test's member answered a node test's cluster on it, was
// sent that cluster's snapshot, and both tests failed. False: another
// process holds it.
func claimPort(t testing.TB, port int) bool {
	dir := filepath.Join(os.TempDir(), "ringex-test-ports")
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return true // no claims to be had: as before them
	}
	f, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(port)), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return true
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return false
	}
	t.Cleanup(func() { f.Close() })
	return true
}
