package main

import (
	"fmt"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal, both ends closed at the test's end:
// the terminal a person types at (tty) and the side that types (typist).
func openPTY(t *testing.T) (tty, typist *os.File) {
	t.Helper()
	typist, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { typist.Close() })
	rc, err := typist.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var n uint32
	var ioErr error
	if err := rc.Control(func(fd uintptr) {
		if ioErr = unix.IoctlSetPointerInt(int(fd), unix.TIOCSPTLCK, 0); ioErr == nil { // unlockpt
			n, ioErr = unix.IoctlGetUint32(int(fd), unix.TIOCGPTN) // ptsname
		}
	}); err != nil || ioErr != nil {
		t.Fatalf("pseudo-terminal: %v %v", err, ioErr)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tty.Close() })
	return tty, typist
}

// A terminal is one whose attributes can be read, not any character
// device: /dev/null (a character device) counted as one, and a shell
// given `< /dev/null` ended with an interactive session's exit status,
// 0 whatever failed.
func TestTerminalCheck(t *testing.T) {
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	tty, _ := openPTY(t)
	for _, tc := range []struct {
		name string
		f    *os.File
		want bool
	}{
		{"/dev/null", null, false},
		{"a pipe", r, false},
		{"a pseudo-terminal", tty, true},
	} {
		if got := isTerminal(tc.f); got != tc.want {
			t.Errorf("%s as the shell's input: from a terminal %v, want %v", tc.name, got, tc.want)
		}
	}
	if isTerminal(null) || isTerminal(w) || !isTerminal(tty) {
		t.Errorf("output to /dev/null, a pipe, a pseudo-terminal: a terminal %v, %v, %v; want false, false, true",
			isTerminal(null), isTerminal(w), isTerminal(tty))
	}
}
