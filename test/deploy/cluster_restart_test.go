//go:build !windows

package deploy

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// deploy/cluster.sh restarts one node when asked (kill -USR1 its
// supervisor: a rolling restart), and a node stopped from outside it (a
// TERM to the node alone) is said stopped and started again on the same
// signal. Before, the script gave no way to restart a member: its
// supervisor left a node that exited 0 stopped without a word, a USR1
// killed the supervisor, and once every node had been stopped so the
// script ended silently, members started by hand unsupervised.
func TestClusterScriptRestartsANodeWhenAsked(t *testing.T) {
	dir := t.TempDir()
	fake := fakeNode(t, dir, "echo $$ >> \""+dir+"/pids-$3\"\n") // $3: the node id after serve --node-id
	stderr, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	lines := make(chan string)
	go func(sc *bufio.Scanner) {
		defer close(lines)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}(bufio.NewScanner(startClusterScript(t, fake, filepath.Join(dir, "data"), "17400", stderr)))
	supervisor := regexp.MustCompile(`node 2's supervisor (\d+)`)
	sup := 0
	for deadline := time.After(10 * time.Second); sup == 0; {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("cluster.sh printed no supervisor for node 2 (to restart the node with)")
			}
			if m := supervisor.FindStringSubmatch(l); m != nil {
				sup, _ = strconv.Atoi(m[1])
			}
		case <-deadline:
			t.Fatal("cluster.sh printed no supervisor for node 2 in 10 s (to restart the node with)")
		}
	}
	go func() {
		for range lines {
		}
	}()
	// starts waits up to 10 s until node id has been started n times, and
	// returns the pids of its starts.
	starts := func(id, n int) []int {
		t.Helper()
		var pids []int
		for end := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			b, _ := os.ReadFile(filepath.Join(dir, fmt.Sprintf("pids-%d", id)))
			pids = pids[:0]
			for _, f := range strings.Fields(string(b)) {
				p, _ := strconv.Atoi(f)
				pids = append(pids, p)
			}
			if len(pids) >= n || time.Now().After(end) {
				break
			}
		}
		if len(pids) != n {
			t.Fatalf("node %d started %d times, want %d", id, len(pids), n)
		}
		return pids
	}
	first := starts(2, 1)[0]
	if err := syscall.Kill(sup, syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	second := starts(2, 2)[1]
	if syscall.Kill(first, 0) == nil {
		t.Errorf("node 2's first process %d still runs after its restart", first)
	}
	// Stopped from outside: said so, and left stopped until asked.
	if err := syscall.Kill(second, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	stopped := fmt.Sprintf("node 2 stopped (exit status 0) and is left stopped: kill -USR1 %d starts it again", sup)
	said := ""
	for end := time.Now().Add(10 * time.Second); !strings.Contains(said, stopped) && time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		b, _ := os.ReadFile(stderr.Name())
		said = string(b)
	}
	if !strings.Contains(said, stopped) {
		t.Fatalf("cluster.sh did not say %q in 10 s: %q", stopped, said)
	}
	starts(2, 2)
	if err := syscall.Kill(sup, syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	starts(2, 3)
	starts(1, 1)
	starts(3, 1)
}
