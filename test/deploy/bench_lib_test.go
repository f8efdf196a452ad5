package deploy

import (
	"bufio"
	"fmt"
	"net"
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
	if _, err := exec.LookPath("pgrep"); err != nil {
		t.Skip("no pgrep: cluster-bench needs it")
	}
	dir := t.TempDir()
	fake := fakeNode(t, dir, "")
	bases := standInBases(t, 2)
	mine := strconv.Itoa(bases[0])
	for _, base := range bases {
		base := strconv.Itoa(base)
		stdout := startClusterScript(t, fake, filepath.Join(dir, "data"+base), base, nil)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() && !strings.HasPrefix(sc.Text(), "ringex cluster: 3 nodes") {
		}
		go func() {
			for sc.Scan() {
			}
		}()
	}
	// The pids script prints, once it prints any (the nodes start).
	pids := func(script string) []string {
		var got []string
		for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
			if got = benchLibPids(t, script); len(got) > 0 {
				return got
			}
		}
		return got
	}
	old := `pgrep -f "$PATTERN"` // cluster-bench's before
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
	if s := strings.ReplaceAll(string(cmdline), "\x00", " "); !strings.Contains(s, fmt.Sprintf("--node-id 1 --peers 1=127.0.0.1:%d=", bases[0]+101)) {
		t.Fatalf("cluster_node_pid 1 %s: pid %s runs %q", mine, got[0], s)
	}
}

// benchLibPids is what script prints, split into words, sourcing
// bench-lib.sh: the pids its pgrep found (PATTERN in the environment:
// in the script, pgrep -f found the shell running it).
func benchLibPids(t *testing.T, script string) []string {
	t.Helper()
	c := exec.Command("sh", "-c", ". "+repoFile(t, "deploy/bench-lib.sh")+"; "+script)
	c.Env = append(os.Environ(), "BIN=/bin/true", "PATTERN=serve --node-id 1 --peers")
	out, _ := c.Output()
	return strings.Fields(string(out))
}

// standInBases picks n CLUSTER_PORT_BASEs for stand-in clusters that no
// other cluster on the machine has, from 20000 on (clear of the default
// 7400 and the documented 17400), starting at one of this process's own.
// A base is taken only when its node 1's raft port (base+101) can be
// listened on — held until the test ends, so that another run of this
// test at once (two clones' make test) passes it by — and no node 1 of
// a cluster on it runs (one restarting holds no port). Bases derived from
// the pid alone met: a run whose pid gave the base of a cluster running
// beside it (a developer's, or another run's second one) found node 1 of
// both, and failed with two pids.
func standInBases(t *testing.T, n int) []int {
	t.Helper()
	const lowest, highest, step = 20000, 65400, 100
	slots := (highest-lowest)/step + 1
	start := os.Getpid() % slots
	var bases []int
	for i := 0; i < slots && len(bases) < n; i++ {
		base := lowest + (start+i)%slots*step
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", base+101))
		if err != nil {
			continue // a cluster's node 1 listens there, or another run holds it
		}
		if len(benchLibPids(t, fmt.Sprintf("cluster_node_pid 1 %d", base))) > 0 {
			ln.Close() // a node 1 of this base runs, not listening
			continue
		}
		t.Cleanup(func() { ln.Close() })
		bases = append(bases, base)
	}
	if len(bases) < n {
		t.Fatalf("no %d CLUSTER_PORT_BASEs from %d to %d free of other clusters: %v", n, lowest, highest, bases)
	}
	t.Logf("stand-in clusters on CLUSTER_PORT_BASEs %v (the first chosen from pid %d: %d)", bases, os.Getpid(), lowest+start*step)
	return bases
}
