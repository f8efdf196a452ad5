// Package deploy tests the operator-facing files in deploy/ and the
// docs that describe them.
package deploy

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"
)

func repoFile(t *testing.T, rel string) string {
	t.Helper()
	_, self, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(self), "..", "..", rel)
}

// deploy/cluster.sh: "Ctrl-C (or SIGTERM) stops all three" — also a
// SIGTERM sent as it starts its nodes (here 0–18 ms after its start, 40
// times, with a stand-in node). Before, a TERM whose trap ran between a
// supervisor's trap and its child=$! killed nothing, and the loop started
// the node anyway; one reaching a supervisor before its own trap was lost;
// and the script's trap signalled only the supervisors started so far.
// The node ran on unsignalled, and the script's `wait` waited for it for
// good. (Ctrl-C in a terminal hid it: SIGINT reaches the nodes too.)
func TestClusterScriptStopsOnSigtermAtStart(t *testing.T) {
	dir := t.TempDir()
	fake := filepath.Join(dir, "fake-ringex")
	// A stand-in for ringex serve that runs until SIGTERM or SIGINT.
	script := "#!/bin/sh\ntrap 'exit 0' TERM INT\nwhile :; do sleep 0.05; done\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	for run := 0; run < 40; run++ {
		data := filepath.Join(dir, fmt.Sprintf("data%d", run))
		cmd := exec.Command("sh", repoFile(t, "deploy/cluster.sh"), fake, data)
		inOwnGroup(cmd)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		time.Sleep(time.Duration(run%10) * 2 * time.Millisecond)
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			ps, _ := exec.Command("sh", "-c", fmt.Sprintf("ps -eo pid,ppid,pgid,args | awk -v g=%d '$3==g'", cmd.Process.Pid)).CombinedOutput()
			killGroup(cmd)
			<-done
			t.Fatalf("run %d: cluster.sh still running 5 s after SIGTERM (sent %v after its start); left running:\n%s",
				run, time.Duration(run%10)*2*time.Millisecond, ps)
		}
		killGroup(cmd) // nothing should be left
	}
}
