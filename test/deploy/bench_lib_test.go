package deploy

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
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
	// Port bases of this process's own: two runs of the test at once
	// (two clones' make test) each found the other's node 1 under fixed
	// ones, and failed with two pids.
	first := 20000 + os.Getpid()%150*100
	mine := strconv.Itoa(first)
	for _, base := range []string{mine, strconv.Itoa(first + 10000)} {
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
	got := pids("cluster_node_pid 1 " + mine)
	if len(got) != 1 {
		t.Fatalf("cluster_node_pid 1 %s: %v, want one pid", mine, got)
	}
	cmdline, err := os.ReadFile("/proc/" + got[0] + "/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	if s := strings.ReplaceAll(string(cmdline), "\x00", " "); !strings.Contains(s, fmt.Sprintf("--node-id 1 --peers 1=127.0.0.1:%d=", first+101)) {
		t.Fatalf("cluster_node_pid 1 %s: pid %s runs %q", mine, got[0], s)
	}
}
