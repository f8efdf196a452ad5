package testkit

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BuildRingex builds the ringex binary into dir (once per test binary,
// from TestMain) and returns its path.
func BuildRingex(dir string) (string, error) {
	bin := filepath.Join(dir, "ringex")
	build := exec.Command("go", "build", "-o", bin, "github.com/ringex/ringex/cmd/ringex")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return "", fmt.Errorf("building ringex: %w", err)
	}
	return bin, nil
}

// MainWithRingex is a TestMain for tests that run ringex processes: it
// builds the binary into a temporary directory, sets *binary, runs the
// tests and exits with their code.
func MainWithRingex(m *testing.M, binary *string) {
	dir, err := os.MkdirTemp("", "ringex-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if *binary, err = BuildRingex(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Proc is one `ringex serve` process a test started. Its stderr (the JSON
// log) goes to LogPath.
type Proc struct {
	Cmd                        *exec.Cmd
	Gateway, MarketData, Admin string // as the process printed them
	LogPath                    string
	Exited                     chan struct{} // closed when the process has exited
}

var addrLine = regexp.MustCompile(`^ringex: gateway (\S+), market data (\S+), admin http://(\S+)$`)

// StartServe runs `binary serve args…` and waits (up to a minute) until
// it prints its addresses. A process that exits first fails the test with
// its log.
func StartServe(t testing.TB, binary, logPath string, args ...string) *Proc {
	t.Helper()
	p := &Proc{LogPath: logPath, Exited: make(chan struct{})}
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	p.Cmd = exec.Command(binary, append([]string{"serve"}, args...)...)
	p.Cmd.Stderr = logFile
	stdout, err := p.Cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	exited, err := StartTied(p.Cmd) // nor does a test process that dies
	if err != nil {
		t.Fatal(err)
	}
	go func() { <-exited; logFile.Close(); close(p.Exited) }()
	// A test that fails half-way leaves no server behind.
	t.Cleanup(func() {
		if p.Alive() {
			p.Kill9()
		}
	})
	found := make(chan []string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := addrLine.FindStringSubmatch(sc.Text()); m != nil {
				found <- m
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	select {
	case m := <-found:
		p.Gateway, p.MarketData, p.Admin = m[1], m[2], m[3]
	case <-p.Exited:
		log, _ := os.ReadFile(logPath)
		t.Fatalf("ringex serve exited during startup:\n%s", log)
	case <-time.After(60 * time.Second):
		p.Cmd.Process.Kill()
		<-p.Exited
		t.Fatal("ringex serve did not start within 60s")
	}
	return p
}

// Alive reports whether the process is still running.
func (p *Proc) Alive() bool {
	select {
	case <-p.Exited:
		return false
	default:
		return true
	}
}

// Kill9 kills the process with SIGKILL and waits for it.
func (p *Proc) Kill9() {
	p.Cmd.Process.Kill()
	<-p.Exited
}

// Sigterm stops the process with SIGTERM; it must exit 0 within 30s.
func (p *Proc) Sigterm(t testing.TB) {
	t.Helper()
	p.Cmd.Process.Signal(syscall.SIGTERM)
	p.WaitExit0(t)
}

// WaitExit0 waits (up to 30s) for a process already sent SIGTERM to exit
// with status 0. It sends no signal: a second SIGTERM during the stop
// makes serve exit at once with status 1.
func (p *Proc) WaitExit0(t testing.TB) {
	t.Helper()
	select {
	case <-p.Exited:
	case <-time.After(30 * time.Second):
		// SIGQUIT: the Go runtime writes every goroutine's stack to
		// stderr (the log) and exits, so the failure says where the stop
		// hung.
		p.Cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-p.Exited:
		case <-time.After(5 * time.Second):
			p.Cmd.Process.Kill()
			<-p.Exited
		}
		log, _ := os.ReadFile(p.LogPath)
		if len(log) > 64<<10 {
			log = log[len(log)-64<<10:]
		}
		t.Fatalf("no exit within 30s of SIGTERM; the log's end, with the goroutines' stacks (SIGQUIT):\n%s", log)
	}
	if code := p.Cmd.ProcessState.ExitCode(); code != 0 {
		log, _ := os.ReadFile(p.LogPath)
		t.Fatalf("exit code %d after SIGTERM, want 0; log:\n%s", code, log)
	}
}

// Logged returns the first JSON log line whose message is msg, waiting up
// to 5s for it (the node logs through an asynchronous buffer); nil if
// there is none.
func (p *Proc) Logged(msg string) map[string]any {
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		b, _ := os.ReadFile(p.LogPath)
		for _, line := range strings.Split(string(b), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) == nil && m["message"] == msg {
				return m
			}
		}
		if time.Now().After(deadline) {
			return nil
		}
	}
}
