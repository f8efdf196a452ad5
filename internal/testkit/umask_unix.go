//go:build unix

package testkit

import (
	"syscall"
	"testing"
)

// Umask0 sets the umask to 0 until t ends, so the modes a test's files
// and directories are made with are the modes it sees. The umask is the
// process's: not for a test running in parallel with others.
func Umask0(t testing.TB) {
	old := syscall.Umask(0)
	t.Cleanup(func() { syscall.Umask(old) })
}
