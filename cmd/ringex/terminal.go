package main

import "os"

// isTerminal reports whether stream is a terminal: its terminal attributes can
// be read (isatty). A character device is not enough: /dev/null is one,
// and `ringex client shell < /dev/null` (a cron job, a script given no
// input) took its commands for typed ones, and its exit status for an
// interactive session's — 0 whatever failed.
//
// stream is what a command reads or writes (its stdin, stdout, a log's
// writer): only an *os.File can be a terminal.
func isTerminal(stream any) bool {
	f, ok := stream.(*os.File)
	if !ok {
		return false
	}
	rc, err := f.SyscallConn() // not f.Fd(): that would put f in blocking mode
	if err != nil {
		return false
	}
	var tty bool
	if err := rc.Control(func(fd uintptr) { tty = terminalFd(fd) }); err != nil {
		return false
	}
	return tty
}
