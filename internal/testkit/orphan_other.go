//go:build !linux

package testkit

import "os/exec"

// StartTied starts cmd; the returned channel receives cmd.Wait's result
// once the process has exited. Only Linux kills a child when its parent
// dies: here a test process that dies skips its cleanups and leaves cmd
// running.
func StartTied(cmd *exec.Cmd) (<-chan error, error) {
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	return exited, nil
}
