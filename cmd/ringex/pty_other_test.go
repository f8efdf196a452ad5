//go:build !linux

package main

import (
	"os"
	"testing"
)

// openPTY skips t: the pseudo-terminal is opened with Linux's ioctls
// (pty_linux_test.go), and the tests that type at one run there.
func openPTY(t *testing.T) (tty, typist *os.File) {
	t.Skip("no pseudo-terminal for the tests on this system")
	return nil, nil
}
