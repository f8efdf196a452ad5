//go:build unix

// The stand-in is told to restart with SIGUSR1, which Windows has not.

package testkit

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// helperEnv, set in a child's environment, makes TestHelperProcess stand
// in for `ringex serve`; its value says how the stand-in behaves.
const helperEnv = "RINGEX_TESTKIT_HELPER"

// The two runs of the stand-in: market data and admin on other ports after
// the restart, as a config with port 0 gives them.
var helperLines = [2]string{
	"ringex: gateway 127.0.0.1:7400, market data 127.0.0.1:40001, admin http://127.0.0.1:40002",
	"ringex: gateway 127.0.0.1:7400, market data 127.0.0.1:40011, admin http://127.0.0.1:40012",
}

// TestHelperProcess is no test: run by startHelper as a child, it acts
// out a serve that restarts in place. It prints its first address line
// and, at SIGUSR1, logs "restarting in place" and prints the second, as
// the re-executed process would ("restart"); or logs a fatal error and
// exits 3 ("die"). Then it waits to be killed. It exits by itself after a
// minute, so no stand-in outlives a test for long. In mode "exit" it
// exits 3 at once, printing nothing.
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		return
	}
	if mode == "exit" {
		os.Exit(3)
	}
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1) // before the line: the test signals once it has seen it
	fmt.Println("a line before the address line")
	fmt.Println(helperLines[0])
	select {
	case <-usr1:
	case <-time.After(time.Minute):
		os.Exit(1)
	}
	switch mode {
	case "restart":
		fmt.Fprintln(os.Stderr, `{"level":"warn","message":"restarting in place"}`)
		fmt.Println(helperLines[1])
	case "die":
		fmt.Fprintln(os.Stderr, `{"level":"error","message":"fatal: stopping","error":"the stand-in's end"}`)
		os.Exit(3)
	}
	time.Sleep(time.Minute)
	os.Exit(1)
}

// startHelper starts the test binary as the stand-in, in the given mode.
func startHelper(t *testing.T, mode string) *Proc {
	t.Helper()
	t.Setenv(helperEnv, mode) // the child inherits the environment
	return startProc(t, filepath.Join(t.TempDir(), "serve.log"), os.Args[0], "-test.run=^TestHelperProcess$", "-test.v=false")
}

func TestProcFollowsRestartInPlace(t *testing.T) {
	p := startHelper(t, "restart")
	if n := p.Starts(); n != 1 {
		t.Fatalf("Starts() = %d after startup, want 1", n)
	}
	if p.Gateway() != "127.0.0.1:7400" || p.MarketData() != "127.0.0.1:40001" || p.Admin() != "127.0.0.1:40002" {
		t.Fatalf("after startup: gateway %s, market data %s, admin %s; want the first line's", p.Gateway(), p.MarketData(), p.Admin())
	}
	p.Cmd.Process.Signal(syscall.SIGUSR1)
	p.AwaitStart(t, 2, 10*time.Second)
	if n := p.Starts(); n != 2 {
		t.Fatalf("Starts() = %d after the restart, want 2", n)
	}
	if p.Gateway() != "127.0.0.1:7400" || p.MarketData() != "127.0.0.1:40011" || p.Admin() != "127.0.0.1:40012" {
		t.Fatalf("after the restart: gateway %s, market data %s, admin %s; want the second line's", p.Gateway(), p.MarketData(), p.Admin())
	}
	if p.Logged("restarting in place") == nil {
		t.Error(`no "restarting in place" in the log`)
	}
	if !p.Alive() {
		t.Fatal("the stand-in exited")
	}
	p.AwaitStart(t, 1, 0) // already there: returns even with no time to wait
}

// awaitFailure runs p.AwaitStart and returns the message it failed with
// ("" if it returned).
func awaitFailure(t *testing.T, p *Proc, n int, within time.Duration) string {
	t.Helper()
	return FailureOf(t, within+20*time.Second, func(tb testing.TB) { p.AwaitStart(tb, n, within) })
}

func TestAwaitStartFailsWhenTheProcessExits(t *testing.T) {
	p := startHelper(t, "die")
	p.Cmd.Process.Signal(syscall.SIGUSR1)
	msg := awaitFailure(t, p, 2, 30*time.Second)
	if !strings.Contains(msg, "exit status 3") || !strings.Contains(msg, "the stand-in's end") {
		t.Fatalf("AwaitStart failed with %q; want the exit status and the log's end", msg)
	}
	if p.Admin() != "127.0.0.1:40002" {
		t.Errorf("admin %s after the exit, want the first line's", p.Admin())
	}
}

func TestAwaitStartFailsInTime(t *testing.T) {
	p := startHelper(t, "restart") // never signalled: no second line
	start := time.Now()
	msg := awaitFailure(t, p, 2, 200*time.Millisecond)
	if !strings.Contains(msg, "1 address lines within 200ms") || !strings.Contains(msg, "goroutine ") {
		t.Fatalf("AwaitStart failed with %q; want the time and the goroutines' stacks", msg)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("AwaitStart took %v to fail", took)
	}
	if p.Alive() {
		t.Error("the process still runs after SIGQUIT")
	}
}

// A process that exits by itself is told from one the test stopped: a
// harness that waits for its servers fails on the first and passes over
// the second.
func TestProcTellsItsOwnExitFromTheTests(t *testing.T) {
	died := startHelper(t, "die")
	if died.ExitedByItself() {
		t.Fatal("ExitedByItself while it runs")
	}
	died.Cmd.Process.Signal(syscall.SIGUSR1) // its cue to fail, not a stop
	<-died.Exited
	if !died.ExitedByItself() {
		t.Errorf("a process that exited %v by itself: ExitedByItself false", died.Cmd.ProcessState)
	}
	for name, stop := range map[string]func(*Proc){
		"Kill9":             (*Proc).Kill9,
		"StopWith(SIGTERM)": func(p *Proc) { p.StopWith(syscall.SIGTERM); <-p.Exited },
		"QuitWithStacks":    (*Proc).QuitWithStacks,
	} {
		p := startHelper(t, "restart")
		stop(p)
		if p.ExitedByItself() {
			t.Errorf("stopped with %s (%v): ExitedByItself true", name, p.Cmd.ProcessState)
		}
	}
}

// A process that exited by itself before the test's stop came is told
// from one the stop ended: a harness that kills a member and starts it
// again must not take a crash just before the kill for the kill.
func TestProcTellsAnExitBeforeTheStop(t *testing.T) {
	for name, stop := range map[string]func(*Proc){
		"Kill9":             (*Proc).Kill9,
		"StopWith(SIGTERM)": func(p *Proc) { p.StopWith(syscall.SIGTERM) },
		"QuitWithStacks":    (*Proc).QuitWithStacks,
	} {
		p := startHelper(t, "die")
		p.Cmd.Process.Signal(syscall.SIGUSR1) // its cue to fail, not a stop
		<-p.Exited
		stop(p)
		if !p.ExitedByItself() {
			t.Errorf("exited by itself (%v), then stopped with %s: ExitedByItself false", p.Cmd.ProcessState, name)
		}
	}
}

// A process that ends by itself while its reaper has yet to close
// Exited is still running to Kill9's look: its exit status says whose
// the end was. Here the Proc's Exited is closed by hand, after the stop
// looked, for a process that exited 3 and one that SIGKILL ended.
func TestKill9TellsAnExitItFoundUnreaped(t *testing.T) {
	ended := func(mode string, kill bool) *Proc {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.v=false")
		cmd.Env = append(os.Environ(), helperEnv+"="+mode)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if kill {
			cmd.Process.Kill()
		}
		cmd.Wait()
		return &Proc{Cmd: cmd, Exited: make(chan struct{})}
	}
	for _, tc := range []struct {
		mode   string
		kill   bool
		itself bool
	}{
		{"exit", false, true},    // exit status 3: its own
		{"restart", true, false}, // killed by SIGKILL: taken for Kill9's
	} {
		p := ended(tc.mode, tc.kill)
		p.StopWith(os.Kill) // Kill9 without its wait: Exited is open
		close(p.Exited)
		if got := p.ExitedByItself(); got != tc.itself {
			t.Errorf("%v, Exited open at the kill: ExitedByItself %v, want %v", p.Cmd.ProcessState, got, tc.itself)
		}
	}
}
