package deploy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// deploy/cluster.sh with CLUSTER_PORT_BASE: its nodes listen, and it
// prints, base+11… instead of the fixed 7411… that clashed with another
// cluster on the machine; and it prints the binary it was given, where it
// printed bin/ringex whatever ran. Its nodes run under a cluster.id of
// their own, naming the base: started without one, each warned at every
// start of running under the default id. A stand-in node writes its
// arguments.
func TestClusterScriptPortBaseAndBinary(t *testing.T) {
	dir := t.TempDir()
	// Its arguments to stdout (the script sends it to n$i/stdout.log),
	// then it runs until SIGTERM or SIGINT.
	fake := fakeNode(t, dir, "echo \"$@\"\n")
	data := filepath.Join(dir, "data")
	stdout := startClusterScript(t, fake, data, "17400", nil)
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var printed []string
	deadline := time.After(10 * time.Second)
	for len(printed) < 6 {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("cluster.sh ended its output early:\n%s", strings.Join(printed, "\n"))
			}
			printed = append(printed, l)
		case <-deadline:
			t.Fatalf("cluster.sh printed no more in 10 s:\n%s", strings.Join(printed, "\n"))
		}
	}
	out := strings.Join(printed, "\n")
	for _, want := range []string{
		"node 1: gateway 127.0.0.1:17411  market data 127.0.0.1:17421  admin http://127.0.0.1:17481  raft 127.0.0.1:17501",
		"node 3: gateway 127.0.0.1:17413  market data 127.0.0.1:17423  admin http://127.0.0.1:17483  raft 127.0.0.1:17503",
		"e.g.: " + fake + " bench --addr 127.0.0.1:17411",
		"curl -s http://127.0.0.1:17481/state",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("cluster.sh printed no %q:\n%s", want, out)
		}
	}
	// What node 2 was started with, once it wrote it.
	var args string
	for end := time.Now().Add(10 * time.Second); args == "" && time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		b, _ := os.ReadFile(filepath.Join(data, "n2", "stdout.log"))
		args = string(b)
	}
	for _, want := range []string{
		"--peers 1=127.0.0.1:17501=127.0.0.1:17411,2=127.0.0.1:17502=127.0.0.1:17412,3=127.0.0.1:17503=127.0.0.1:17413",
		"gateway.listen=127.0.0.1:17412", "marketdata.listen=127.0.0.1:17422", "admin.listen=127.0.0.1:17482",
		"cluster.id=local-17400",
	} {
		if !strings.Contains(args, want) {
			t.Errorf("node 2 started without %q: %q", want, args)
		}
	}
}

// A CLUSTER_PORT_BASE that is no port base is refused before any node
// starts — one with leading zeros too: sh's arithmetic read 07400 as
// octal and started nodes on 3851…, and 08000 failed as no number.
func TestClusterScriptRefusesABadPortBase(t *testing.T) {
	for _, base := range []string{"74x0", "80", "65500", "07400", "08000"} {
		data := filepath.Join(t.TempDir(), "data")
		out, err := runClusterScriptRefused(t, base, data)
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "CLUSTER_PORT_BASE="+base) {
			t.Errorf("CLUSTER_PORT_BASE=%s: %v, %s", base, err, out)
		}
		if _, err := os.Stat(data); err == nil {
			t.Errorf("CLUSTER_PORT_BASE=%s: made %s", base, data)
		}
	}
}

// A base whose ports land on a single node's defaults (7400 gateway, 7401
// market data, 7480 admin) or on the default cluster's was taken, and the
// node that could not bind was started again for ever beside a running
// node. Refused, naming the port and what it clashes with.
func TestClusterScriptRefusesABaseOnAnotherNodesPorts(t *testing.T) {
	for _, c := range []struct{ base, want string }{
		{"7389", "node 1's gateway port 7400 is a single node's default gateway.listen"},
		{"7380", "node 1's market-data port 7401 is a single node's default marketdata.listen"},
		{"7399", "node 1's admin port 7480 is a single node's default admin.listen"},
		{"7298", "node 2's raft port 7400 is a single node's default gateway.listen"},
		{"7410", "node 1's gateway port 7421 is a port of the cluster at the default CLUSTER_PORT_BASE=7400"},
	} {
		data := filepath.Join(t.TempDir(), "data")
		out, err := runClusterScriptRefused(t, c.base, data)
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "CLUSTER_PORT_BASE="+c.base+": "+c.want) {
			t.Errorf("CLUSTER_PORT_BASE=%s: %v, %s; want exit 2 saying %q", c.base, err, out, c.want)
		}
		if _, err := os.Stat(data); err == nil {
			t.Errorf("CLUSTER_PORT_BASE=%s: made %s", c.base, data)
		}
	}
}

// fakeNode writes a stand-in for the ringex binary into dir: it runs
// body (shell), then waits until SIGTERM or SIGINT.
func fakeNode(t *testing.T, dir, body string) string {
	t.Helper()
	fake := filepath.Join(dir, "fake-ringex")
	script := "#!/bin/sh\n" + body + "trap 'exit 0' TERM INT\nwhile :; do sleep 0.05; done\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return fake
}

// startClusterScript starts deploy/cluster.sh with bin as its node on
// CLUSTER_PORT_BASE base and returns its standard output; its standard
// error goes to stderr (nil: discarded). At the test's end it is sent
// SIGTERM, given 5 s, and its process group killed.
func startClusterScript(t *testing.T, bin, data, base string, stderr *os.File) io.Reader {
	t.Helper()
	cmd := exec.Command("sh", repoFile(t, "deploy/cluster.sh"), bin, data)
	cmd.Env = append(os.Environ(), "CLUSTER_PORT_BASE="+base)
	if stderr != nil {
		cmd.Stderr = stderr
	}
	inOwnGroup(cmd)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Errorf("cluster.sh (base %s) still running 5 s after SIGTERM", base)
		}
		killGroup(cmd)
	})
	return stdout
}

// runClusterScriptRefused runs deploy/cluster.sh on CLUSTER_PORT_BASE
// base with a missing binary, for at most 10 s: a script that took the
// base would supervise it for good, so the whole group goes at the
// deadline.
func runClusterScriptRefused(t *testing.T, base, data string) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", repoFile(t, "deploy/cluster.sh"), "/nonexistent/ringex", data)
	cmd.Env = append(os.Environ(), "CLUSTER_PORT_BASE="+base)
	inOwnGroup(cmd)
	cmd.Cancel = func() error { return killGroup(cmd) }
	cmd.WaitDelay = time.Second
	return cmd.CombinedOutput()
}

// deploy/cluster.sh makes its nodes' data directories closed to other
// local users, as a node makes its own: it made them 0755 (the umask's
// default), and each node's first start on a new cluster closed its own
// and logged the warning "node: closed a data directory to other local
// users (an older build made it readable by them)" — on a brand-new
// cluster, of no older build.
func TestClusterScriptMakesClosedDataDirs(t *testing.T) {
	dir := t.TempDir()
	fake := fakeNode(t, dir, "echo \"$@\"\n")
	data := filepath.Join(dir, "data")
	startClusterScript(t, fake, data, "17400", nil)
	for i := 1; i <= 3; i++ {
		n := filepath.Join(data, fmt.Sprintf("n%d", i))
		// Its node started (it wrote its arguments): the directory was
		// made before.
		for end := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if b, _ := os.ReadFile(filepath.Join(n, "stdout.log")); len(b) > 0 {
				break
			}
			if time.Now().After(end) {
				t.Fatalf("node %d not started within 10 s", i)
			}
		}
		fi, err := os.Stat(n)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("cluster.sh made %s %v: open to other local users", n, fi.Mode().Perm())
		}
	}
}
