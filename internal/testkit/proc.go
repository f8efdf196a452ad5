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
	"slices"
	"strings"
	"sync"
	"sync/atomic"
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
//
// A serve that restarts in place re-executes itself under the same PID,
// with the same stdout and stderr: it prints its address line again, with
// new ports where the config gives port 0, and goes on logging to
// LogPath. So Cmd and Exited hold for the process across restarts, and
// Gateway, MarketData and Admin return the latest line's addresses.
//
// The test's own stops (Kill9, StopWith, Sigterm, QuitWithStacks)
// record, before they signal it, whether the process still ran, so
// ExitedByItself tells an exit the test caused from one of the
// process's own: a fatal error, a crash, a signal from elsewhere — also
// one that came just before the test's stop, which then found the
// process gone.
type Proc struct {
	Cmd     *exec.Cmd
	LogPath string
	Exited  chan struct{} // closed when the process has exited

	scanned   chan struct{} // closed when its stdout has been read to the end
	firstStop atomic.Int32  // how the test's first stop found it (notStopped …); set once, before that stop's signal

	mu                         sync.Mutex
	gateway, marketData, admin string        // from the latest address line
	starts                     int           // address lines printed so far
	started                    chan struct{} // closed, and replaced, at each address line
}

// How the test's first stop found the process (Proc.firstStop). Only
// the first stop counts: a later one (QuitWithStacks's Kill9 after its
// SIGQUIT) stops a process the test has stopped already.
const (
	notStopped int32 = iota // no stop of the test's yet
	stopSent                // a stop other than SIGKILL, sent while it ran
	killSent                // SIGKILL, sent while it ran
	stopLate                // sent after it had exited: its exit was its own
)

var addrLine = regexp.MustCompile(`^ringex: gateway (\S+), market data (\S+), admin http://(\S+)$`)

// StartServe runs `binary serve args…` and waits (up to a minute) until
// it prints its addresses. A process that exits first fails the test with
// its log.
func StartServe(t testing.TB, binary, logPath string, args ...string) *Proc {
	t.Helper()
	return startProc(t, logPath, binary, append([]string{"serve"}, args...)...)
}

// startProc is StartServe for any command line that prints serve's
// address line: the tests of Proc run a stand-in rather than ringex.
func startProc(t testing.TB, logPath, name string, args ...string) *Proc {
	t.Helper()
	p := &Proc{LogPath: logPath, Exited: make(chan struct{}), scanned: make(chan struct{}), started: make(chan struct{})}
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	// Stdout is a pipe of our own rather than Cmd.StdoutPipe, whose read
	// end Wait closes as soon as the process exits, dropping what it
	// printed last: here the reader sees everything up to the end.
	stdout, stdoutW, err := os.Pipe()
	if err != nil {
		logFile.Close()
		t.Fatal(err)
	}
	p.Cmd = exec.Command(name, args...)
	p.Cmd.Stdout, p.Cmd.Stderr = stdoutW, logFile
	exited, err := StartTied(p.Cmd) // nor does a test process that dies
	stdoutW.Close()                 // the child holds its own copy
	if err != nil {
		stdout.Close()
		logFile.Close()
		t.Fatal(err)
	}
	go func() { <-exited; logFile.Close(); close(p.Exited) }()
	// A test that fails half-way leaves no server behind.
	t.Cleanup(func() {
		if p.Alive() {
			p.Kill9()
		}
	})
	go p.scan(stdout)
	p.mu.Lock()
	first := p.started
	p.mu.Unlock()
	select {
	case <-first:
	case <-p.Exited:
		t.Fatalf("ringex serve exited during startup (%v); the end of its log %s:\n%s", p.Cmd.ProcessState, logPath, p.LogTail(failureTailBytes))
	case <-time.After(60 * time.Second):
		p.Kill9()
		t.Fatal("ringex serve did not start within 60s")
	}
	return p
}

// scan reads the process's stdout to the end, taking the addresses of
// every address line: the first at startup, one more at each restart in
// place.
func (p *Proc) scan(stdout *os.File) {
	defer close(p.scanned)
	defer stdout.Close()
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if m := addrLine.FindStringSubmatch(sc.Text()); m != nil {
			p.mu.Lock()
			p.gateway, p.marketData, p.admin = m[1], m[2], m[3]
			p.starts++
			close(p.started)
			p.started = make(chan struct{})
			p.mu.Unlock()
		}
	}
	// A line too long for the scanner ends the scan, not the reading: a
	// full pipe would block the process's next write to stdout.
	io.Copy(io.Discard, stdout)
}

// Gateway returns the gateway address of the latest address line.
func (p *Proc) Gateway() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.gateway
}

// MarketData returns the market data address of the latest address line.
func (p *Proc) MarketData() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.marketData
}

// Admin returns the admin address (host:port, without http://) of the
// latest address line.
func (p *Proc) Admin() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.admin
}

// Starts returns how many address lines the process has printed: 1 once
// StartServe has returned, one more for each restart in place.
func (p *Proc) Starts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.starts
}

// AwaitStart waits until the process has printed its address line n
// times (Starts() >= n), that is, has come back from its (n-1)th restart
// in place. A process that exits first, or takes longer than within,
// fails the test with the end of its log; one that takes too long is sent
// SIGQUIT first, so the log ends with its goroutines' stacks.
func (p *Proc) AwaitStart(t testing.TB, n int, within time.Duration) {
	t.Helper()
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	for {
		p.mu.Lock()
		starts, next := p.starts, p.started
		p.mu.Unlock()
		if starts >= n {
			return
		}
		select {
		case <-next:
		case <-p.Exited:
			// The reader may not have reached a line printed just before
			// the exit: wait for it to read stdout to the end (a short
			// wait, since no one else writes there) and look again.
			select {
			case <-p.scanned:
			case <-time.After(5 * time.Second):
			}
			if starts = p.Starts(); starts >= n {
				return
			}
			t.Fatalf("exited (%v) after %d address lines, waiting for %d; the log's end:\n%s", p.Cmd.ProcessState, starts, n, p.LogTail(failureTailBytes))
		case <-deadline.C:
			p.QuitWithStacks()
			t.Fatalf("%d address lines within %v, waiting for %d; the log's end, with the goroutines' stacks (SIGQUIT):\n%s", p.Starts(), within, n, p.LogTail(failureTailBytes))
		}
	}
}

// QuitWithStacks stops a process that hangs with SIGQUIT: the Go runtime
// writes every goroutine's stack to stderr (the log) and exits, so the
// failure says where it hung. One that does not exit within 5s is killed.
// Either stop is the test's (StopWith, Kill9): not ExitedByItself,
// unless the process had exited before.
func (p *Proc) QuitWithStacks() {
	p.StopWith(syscall.SIGQUIT)
	select {
	case <-p.Exited:
	case <-time.After(5 * time.Second):
		p.Kill9()
	}
}

// failureTailBytes is how much of a log's end Proc's own failures show:
// room for SIGQUIT's stacks of every goroutine, not a whole log.
const failureTailBytes = 64 << 10

// LogTail returns the log's last n bytes: where an exit's cause is, a
// fatal error's line, a panic's stack or SIGQUIT's stacks.
func (p *Proc) LogTail(n int) []byte {
	log, _ := os.ReadFile(p.LogPath)
	if len(log) > n {
		log = log[len(log)-n:]
	}
	return log
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

// ExitedByItself reports whether the process has exited and not on a
// stop of the test's (Kill9, StopWith, Sigterm, QuitWithStacks): none
// was sent, or the first found it exited already (Exited closed), or
// the first was Kill9's SIGKILL and its exit status is not death by
// SIGKILL — it was ending by itself when the kill came.
//
// A process that ended by itself just before a stop other than Kill9
// — after the stop's look, or before its reaper closed Exited — is
// reported as stopped by the test: nothing tells that exit from one the
// signal caused. Kill9's exit status does tell; only a SIGKILL from
// elsewhere (the OOM killer) in that moment reads as Kill9's.
func (p *Proc) ExitedByItself() bool {
	if p.Alive() {
		return false
	}
	switch p.firstStop.Load() {
	case stopSent:
		return false
	case killSent:
		return !diedOfSIGKILL(p.Cmd.ProcessState)
	default: // notStopped, stopLate
		return true
	}
}

// Kill9 kills the process with SIGKILL and waits for it.
func (p *Proc) Kill9() {
	p.StopWith(os.Kill)
	<-p.Exited
}

// StopWith sends the process sig, a signal that stops it (SIGTERM,
// SIGINT), and does not wait: its exit is the test's doing, unless it
// had exited before (ExitedByItself). A signal that does not end it
// (SIGSTOP, SIGCONT) goes through Cmd.Process.
//
// It records how the stop finds the process before it signals, so that
// ExitedByItself, read once the signal's exit has closed Exited, finds
// the record.
func (p *Proc) StopWith(sig os.Signal) {
	how := stopLate
	if p.Alive() {
		how = stopSent
		if sig == os.Kill {
			how = killSent
		}
	}
	p.firstStop.CompareAndSwap(notStopped, how)
	p.Cmd.Process.Signal(sig)
}

// Sigterm stops the process with SIGTERM; it must exit 0 within 30s.
func (p *Proc) Sigterm(t testing.TB) {
	t.Helper()
	p.StopWith(syscall.SIGTERM)
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
		p.QuitWithStacks()
		t.Fatalf("no exit within 30s of SIGTERM; the log's end, with the goroutines' stacks (SIGQUIT):\n%s", p.LogTail(failureTailBytes))
	}
	if code := p.Cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0; the end of its log %s:\n%s", code, p.LogPath, p.LogTail(failureTailBytes))
	}
}

// Logged returns the first JSON log line whose message is msg, waiting up
// to 5s for it (the node logs through an asynchronous buffer); nil if
// there is none.
func (p *Proc) Logged(msg string) map[string]any {
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if all := p.LoggedAll(msg); len(all) > 0 {
			return all[0]
		}
		if time.Now().After(deadline) {
			return nil
		}
	}
}

// LoggedAll returns every JSON log line written so far whose message is
// one of msgs, oldest first — one per run where each restart in place
// logs it; with several messages, in the order they were logged. It does
// not wait: what the log buffer holds is not there yet.
func (p *Proc) LoggedAll(msgs ...string) []map[string]any {
	b, _ := os.ReadFile(p.LogPath)
	var all []map[string]any
	for _, line := range strings.Split(string(b), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) != nil {
			continue
		}
		if msg, ok := m["message"].(string); ok && slices.Contains(msgs, msg) {
			all = append(all, m)
		}
	}
	return all
}
