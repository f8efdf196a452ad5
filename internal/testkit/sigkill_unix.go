//go:build unix

package testkit

import (
	"os"
	"syscall"
)

// diedOfSIGKILL reports whether the process whose state ps is ended on
// a SIGKILL. One that was exiting already when the signal came keeps its
// own status: an exit code, or the signal that was ending it.
func diedOfSIGKILL(ps *os.ProcessState) bool {
	ws, ok := ps.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}
