//go:build !windows

package deploy

import (
	"os/exec"
	"syscall"
)

// inOwnGroup has cmd start a process group of its own, so that
// killGroup ends the script and every process it started.
func inOwnGroup(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} }

// killGroup kills the process group of cmd, started inOwnGroup.
func killGroup(cmd *exec.Cmd) error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
