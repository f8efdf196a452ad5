package deploy

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// make cluster-bench's CPU figures come from its own cluster's nodes
// (bench-lib.sh cluster_node_pid) with another deploy/cluster.sh running
// beside it on another CLUSTER_PORT_BASE: the pattern it used, "serve
// --node-id 1 --peers", matched node 1 of both, and cpu of two pids ended
// the script (set -e). Stand-in nodes that only wait.
func TestBenchLibFindsItsClustersNode(t *testing.T) {
	dir := t.TempDir()
	fake := fakeNode(t, dir, "")
	for _, base := range []string{"27400", "37400"} {
		stdout := startClusterScript(t, fake, filepath.Join(dir, "data"+base), base, nil)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() && !strings.HasPrefix(sc.Text(), "ringex cluster: 3 nodes") {
		}
		go func() {
			for sc.Scan() {
			}
		}()
	}
	// The pids script prints, sourcing bench-lib.sh (PATTERN in the
	// environment: in the script, pgrep -f found the shell running it).
	pids := func(script string) []string {
		var got []string
		for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
			c := exec.Command("sh", "-c", ". "+repoFile(t, "deploy/bench-lib.sh")+"; "+script)
			c.Env = append(os.Environ(), "BIN=/bin/true", "PATTERN=serve --node-id 1 --peers")
			out, _ := c.Output()
			if got = strings.Fields(string(out)); len(got) > 0 {
				return got
			}
		}
		return got
	}
	old := `pgrep -f "$PATTERN"` // cluster-bench's before
	if _, err := exec.LookPath("pgrep"); err != nil {
		t.Skip("no pgrep: cluster-bench needs it")
	}
	for end := time.Now().Add(10 * time.Second); len(pids(old)) < 2 && time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
	}
	if got := pids(old); len(got) < 2 {
		t.Fatalf("%s: %v, want node 1 of both clusters (that is what went wrong)", old, got)
	}
	got := pids("cluster_node_pid 1 27400")
	if len(got) != 1 {
		t.Fatalf("cluster_node_pid 1 27400: %v, want one pid", got)
	}
	cmdline, err := os.ReadFile("/proc/" + got[0] + "/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	if s := strings.ReplaceAll(string(cmdline), "\x00", " "); !strings.Contains(s, "--node-id 1 --peers 1=127.0.0.1:27501=") {
		t.Fatalf("cluster_node_pid 1 27400: pid %s runs %q", got[0], s)
	}
}
