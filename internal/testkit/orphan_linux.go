package testkit

import (
	"os/exec"
	"syscall"
)

// DieWithTest makes the kernel kill cmd's process when the test process
// dies — killed by `go test -timeout`, a broken stdout pipe or Ctrl-C —
// which skips every t.Cleanup that would have stopped it. Call before
// cmd.Start. (The signal follows the thread that started the child; Go
// keeps that thread for the life of the process unless it was locked to a
// goroutine that exited, which test code does not do.)
func DieWithTest(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}
