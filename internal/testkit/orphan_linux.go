package testkit

import (
	"os/exec"
	"runtime"
	"syscall"
)

// StartTied starts cmd so that the kernel kills it when the test process
// dies — killed by `go test -timeout`, a broken stdout pipe or Ctrl-C —
// which skips every t.Cleanup that would have stopped it. The returned
// channel receives cmd.Wait's result once the process has exited.
//
// The kernel sends the parent-death signal when the thread that started
// the child ends, not the process (go.dev/issue/27505), and the Go runtime
// may end threads. So the start happens on a goroutine locked to its
// thread, which then waits for the child: the thread outlives it.
func StartTied(cmd *exec.Cmd) (<-chan error, error) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	started := make(chan error, 1)
	exited := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine, after the child
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		exited <- cmd.Wait()
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return exited, nil
}
