package main

import (
	"os"
	"testing"
)

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
