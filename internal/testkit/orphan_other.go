//go:build !linux

package testkit

import "os/exec"

// DieWithTest does nothing here: only Linux kills a child when its parent
// dies. A test process that dies skips its cleanups and leaves cmd running.
func DieWithTest(*exec.Cmd) {}
