package deploy

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
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
	fake := fakeNode(t, dir, "") // runs until SIGTERM or SIGINT
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

// deploy/cluster.sh does not start again a node that exited with status
// 4, fenced (ringex's exitFenced: moved to another address by ringex
// cluster replace, another process is that member now), as the systemd
// unit does not (RestartPreventExitStatus=4): the script started it
// again every second for good, as it does a node that failed, and each
// start could reach a member that had not heard of the move.
func TestClusterScriptDoesNotRestartAFencedNode(t *testing.T) {
	dir := t.TempDir()
	fake := fakeNode(t, dir, "echo start >> \""+dir+"/starts-$3\"\nexit 4\n") // $3: the node id after serve --node-id
	stdout := startClusterScript(t, fake, filepath.Join(dir, "data"), "17400", nil)
	ended := make(chan struct{})
	go func() { io.Copy(io.Discard, stdout); close(ended) }()
	select {
	case <-ended: // every supervisor returned: the script ended
	case <-time.After(10 * time.Second):
		b, _ := os.ReadFile(filepath.Join(dir, "starts-1"))
		t.Fatalf("cluster.sh still running 10 s after its nodes exited fenced; node 1 started %d times", strings.Count(string(b), "start"))
	}
	for i := 1; i <= 3; i++ {
		if b, _ := os.ReadFile(filepath.Join(dir, fmt.Sprintf("starts-%d", i))); strings.Count(string(b), "start") != 1 {
			t.Errorf("node %d started %d times, want once", i, strings.Count(string(b), "start"))
		}
	}
	// The unit says the same to systemd: the status is the one ringex
	// serve exits with when fenced (cmd/ringex's exitFenced).
	if unit := read(t, "deploy/ringex.service"); !strings.Contains(unit, "\nRestartPreventExitStatus=4\n") {
		t.Error("deploy/ringex.service does not keep systemd from restarting a fenced member (RestartPreventExitStatus=4)")
	}
}
