//go:build !windows

// Signals to serve, whose node does not run on Windows (vfs.Unsafe).

package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/journal"
	"github.com/ringex/ringex/node"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
	"github.com/ringex/ringex/replicator"
	"github.com/ringex/ringex/vfs"

	"net"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// serve whose Start fails (the market-data port is taken) returns the
// error and stops the node it made: it left it running, its data
// directory locked (a serve started again in this process on the same
// directory was refused as "in use") and its goroutines (rings, engine,
// snapshot writer, resend worker) going.
func TestServeFailedStartReleasesTheNode(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dir := filepath.Join(t.TempDir(), "data")
	args := func(md string) []string {
		return []string{"serve", "--set", "node.data_dir=" + dir, "--set", "gateway.listen=127.0.0.1:0",
			"--set", "marketdata.listen=" + md, "--set", "admin.listen=127.0.0.1:0",
			"--set", "rings.input_slots=1024", "--set", "rings.output_slots=1024", "--set", "gateway.recent_reports=1024"}
	}
	// serve's signal.Notify starts os/signal's watcher once per process,
	// for good: started here, it is not counted as left behind.
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGUSR2)
	signal.Stop(c)
	before := runtime.NumGoroutine()
	out, err := ringex(t, nil, args(busy.Addr().String())...)
	if err == nil || !strings.Contains(err.Error(), "market data") {
		t.Fatalf("serve on a busy market-data port: %v\n%s", err, out)
	}
	// Two of serve's goroutines end just after it returns (the stop
	// signals' watcher, the admin server's): awaited, up to 5 s.
	left := runtime.NumGoroutine() - before
	for deadline := time.Now().Add(5 * time.Second); left > 0 && time.Now().Before(deadline); left = runtime.NumGoroutine() - before {
		time.Sleep(20 * time.Millisecond)
	}
	// Again on the same directory: a second serve (its failure shows at
	// once; it would run until a signal otherwise, so it is given a busy
	// port again and must fail for that reason, not the lock).
	if _, err = ringex(t, nil, args(busy.Addr().String())...); err != nil && strings.Contains(err.Error(), "data directory in use") {
		t.Fatalf("serve again in the same process after a failed start: %v (%d goroutines left by the first)", err, left)
	}
	if left > 0 {
		t.Fatalf("the failed serve left %d goroutines running", left)
	}
}

// SIGTERM while serve recovers (a journal replay under way) stops the
// node once it is built and exits 0, as the documentation promises: the
// process was killed by the signal (exit status not 0, the log lines
// still buffered lost) — signal.Notify came after recovery and Start.
// The child's replay is held in the middle, on its read of a segment
// (gatedFS), until the test closes its stdin: the signal always comes
// while the replay runs. (It slept 200 ms and hoped a 1.5M-input replay
// was still running, and skipped when it was not.)
func TestSigtermDuringRecoveryStopsCleanly(t *testing.T) {
	if os.Getenv("CMD_TEST_SERVE_CHILD") != "" {
		if gate := os.Getenv("CMD_TEST_SERVE_GATE"); gate != "" {
			newNode = func(cfg *config.Config, log zerolog.Logger, opts node.Options) (*node.Node, node.Recovered, error) {
				opts.FS = &gatedFS{FS: vfs.Default, path: gate}
				return node.NewWithOptions(cfg, log, opts)
			}
		}
		serveAsChild(os.Getenv("CMD_TEST_SERVE_CHILD"))
	}
	dir := filepath.Join(t.TempDir(), "data")
	// A journal of several segments (the replay reads a segment ahead of
	// the one it applies): the gate is on the third, so when the replay
	// reaches it the first one's inputs have been read, and the replay
	// cannot end before the gate opens.
	journalDir := filepath.Join(dir, "journal")
	j, _, err := journal.Open(journalDir, journal.Options{SegmentBytes: 128 << 10, Sync: journal.SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	enc := proto.NewEncoder()
	const inputs = 20_000
	for i := int64(1); i <= inputs; i++ {
		frame := enc.NewOrder(uint64(i), proto.NewOrder{ClientOrderID: uint64(i), Instrument: 1, Side: wire.SideBuy, Type: wire.OrderTypeLimit,
			TIF: wire.TimeInForceIOC, Price: 6_000_000, Quantity: 1})
		if err := j.Append(&journal.Record{Seq: i, RecvTime: i, Session: 1, Account: 4, Kind: 0, Payload: frame[proto.PrefixSize:]}); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	segs, err := filepath.Glob(filepath.Join(journalDir, "*.journal"))
	if err != nil || len(segs) < 4 { // the last one journal.Open reads whole, before the replay
		t.Fatalf("the journal has %d segments (%v), want 4 or more", len(segs), err)
	}
	demo := config.Default()
	if err := demo.Set("node.data_dir", dir); err != nil {
		t.Fatal(err)
	}
	writeInputZeroSnapshot(t, demo)
	child := startServeChild(t, "TestSigtermDuringRecoveryStopsCleanly", "CMD_TEST_SERVE_CHILD", dir, "CMD_TEST_SERVE_GATE="+segs[2])
	cmd, stdout, stderr, gateOpens, exited := child.cmd, child.stdout, child.stderr, child.stdin, child.exited
	// waitFor waits for s in b; false: the child exited first.
	waitFor := func(b *testkit.SyncBuffer, s, what string) bool {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !strings.Contains(b.String(), s); {
			select {
			case <-exited:
				return strings.Contains(b.String(), s)
			case <-time.After(time.Millisecond):
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s; stdout:\n%s\nstderr:\n%s", what, stdout.String(), stderr.String())
			}
		}
		return true
	}
	if !waitFor(stdout, "replaying\n", "the child's replay did not reach the gate") {
		t.Fatalf("the child exited before its replay reached the gate: %v; stderr:\n%s", cmd.ProcessState, stderr.String())
	}
	if strings.Contains(stderr.String(), `"recovered"`) {
		t.Fatalf("recovered while its replay was held; stderr:\n%s", stderr.String())
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if !waitFor(stderr, `"stopping"`, "SIGTERM during recovery went unread") {
		t.Fatalf("SIGTERM during recovery: exit status %v, want a clean stop and 0; stderr:\n%s", cmd.ProcessState, stderr.String())
	}
	gateOpens.Close() // the replay goes on to its end
	select {
	case <-exited:
	case <-time.After(60 * time.Second):
		t.Fatalf("no exit within 60 s of the replay's release; stderr:\n%s", stderr.String())
	}
	log := stderr.String()
	if code := cmd.ProcessState.ExitCode(); code != 0 || !strings.Contains(log, `"stopped"`) {
		t.Fatalf("SIGTERM during recovery: exit status %v (code %d), want a clean stop and 0; stderr:\n%s", cmd.ProcessState, code, log)
	}
	if !strings.Contains(log, fmt.Sprintf(`"replayed":%d,`, inputs)) {
		t.Fatalf("the recovery did not replay the %d inputs; stderr:\n%s", inputs, log)
	}
}

// gatedFS is the OS's filesystem, but a read of the records of the file
// at path (journal.Open reads an earlier segment's 16-byte header only)
// prints "replaying" and waits until stdin closes.
type gatedFS struct {
	vfs.FS
	path string
	once sync.Once
}

func (g *gatedFS) Open(name string) (vfs.File, error) {
	f, err := g.FS.Open(name)
	if err != nil || name != g.path {
		return f, err
	}
	return gatedFile{File: f, g: g}, nil
}

type gatedFile struct {
	vfs.File
	g *gatedFS
}

func (f gatedFile) ReadAt(p []byte, off int64) (int, error) {
	if len(p) > 4<<10 {
		f.g.once.Do(func() { fmt.Println("replaying"); io.Copy(io.Discard, os.Stdin) })
	}
	return f.File.ReadAt(p, off)
}

// A second signal during a stop that does not end exits with status 1;
// one within the grace of the first (the same Ctrl-C through a terminal's
// process group and a supervisor) does not, nor one after the stop.
func TestSecondSignalWhileStoppingExits(t *testing.T) {
	// run watches sig, takes its first signal and runs stop as serve does.
	run := func(grace time.Duration, stop func() error, sig chan os.Signal) (*stopSignals, chan int, chan error) {
		exited, stopped := make(chan int, 1), make(chan error, 1)
		w := watchStopSignals(sig, grace, zerolog.Nop(), func(code int) { exited <- code })
		sig <- syscall.SIGTERM
		<-w.first
		go func() { stopped <- w.during(stop) }()
		return w, exited, stopped
	}
	sig := make(chan os.Signal, 1)
	release := make(chan struct{})
	_, exited, stopped := run(0, func() error { <-release; return nil }, sig)
	sig <- syscall.SIGINT
	select {
	case code := <-exited:
		if code != 1 {
			t.Fatalf("exit status %d, want 1", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a second signal during the stop did not exit")
	}
	close(release)
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}

	// Within the grace: taken, no exit; the stop ends as it would.
	release = make(chan struct{})
	_, exited, stopped = run(time.Hour, func() error { <-release; return nil }, sig)
	sig <- syscall.SIGTERM
	for len(sig) > 0 {
		time.Sleep(time.Millisecond)
	}
	close(release)
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-exited:
		t.Fatalf("exit(%d) on a signal within the grace", code)
	default:
	}

	// After the stop (serve still writing its last lines): not taken.
	w, exited, stopped := run(0, func() error { return nil }, sig)
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	sig <- syscall.SIGINT
	time.Sleep(50 * time.Millisecond)
	select {
	case code := <-exited:
		t.Fatalf("exit(%d) on a signal after the stop", code)
	default:
	}
	w.finish() // again, as serve's deferred one after the stop's
}

// Ctrl-C while serve recovers (a long journal replay) or starts (a cold
// ring mapping): taken at once ("stopping" logged); the node stops once
// recovery or Start returns, without printing its addresses, and exits
// 0. A second Ctrl-C, a second or more after the first, exits at once
// with status 1, as the README says ("a second Ctrl-C …, a second or more
// after the first, exits at once (status 1), as a kill would"): nothing
// read the signals before the node was live, so the second was dropped
// and serve went on recovering. The child's recovery or Start lasts until
// the test closes its stdin: the exit comes while it has not ended.
func TestSignalsDuringRecoveryAndStart(t *testing.T) {
	if args := os.Getenv("CMD_TEST_SLOW_CHILD"); args != "" {
		phase := os.Getenv("CMD_TEST_SLOW_PHASE")
		slow := func() { fmt.Println(phase); io.Copy(io.Discard, os.Stdin) } // until stdin closes
		switch phase {
		case "recovering":
			newNode = func(cfg *config.Config, log zerolog.Logger, opts node.Options) (*node.Node, node.Recovered, error) {
				slow()
				return node.NewWithOptions(cfg, log, opts)
			}
		case "starting":
			startNode = func(n *node.Node, stop <-chan struct{}) (node.Addrs, error) {
				slow()
				return n.StartUnless(stop)
			}
		}
		serveAsChild(args)
	}
	for _, tc := range []struct {
		phase  string
		second bool // a second Ctrl-C, else the phase ends after the first
	}{
		{"recovering", false}, {"recovering", true}, {"starting", false}, {"starting", true},
	} {
		t.Run(fmt.Sprintf("%s/second=%t", tc.phase, tc.second), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			child := startServeChild(t, "TestSignalsDuringRecoveryAndStart", "CMD_TEST_SLOW_CHILD", dir, "CMD_TEST_SLOW_PHASE="+tc.phase)
			cmd, stdout, stderr, phaseEnds, exited := child.cmd, child.stdout, child.stderr, child.stdin, child.exited
			waitFor := func(b *testkit.SyncBuffer, s, what string) {
				t.Helper()
				for deadline := time.Now().Add(30 * time.Second); !strings.Contains(b.String(), s); time.Sleep(time.Millisecond) {
					if time.Now().After(deadline) {
						t.Fatalf("%s; stdout:\n%s\nstderr:\n%s", what, stdout.String(), stderr.String())
					}
				}
			}
			waitFor(stdout, tc.phase+"\n", "the child did not get to "+tc.phase)
			cmd.Process.Signal(syscall.SIGINT)
			waitFor(stderr, `"stopping"`, "a Ctrl-C while "+tc.phase+" went unread")
			if tc.second {
				time.Sleep(secondSignalGrace + 100*time.Millisecond) // after the grace: "stopping" is logged after the first is timed
				cmd.Process.Signal(syscall.SIGINT)
			} else {
				phaseEnds.Close()
			}
			select {
			case <-exited:
			case <-time.After(60 * time.Second):
				t.Fatalf("no exit; stderr:\n%s", stderr.String())
			}
			code, log := cmd.ProcessState.ExitCode(), stderr.String()
			if tc.second {
				if code != 1 || !strings.Contains(log, "second signal") {
					t.Fatalf("a second Ctrl-C while %s: exit status %d, want 1 at once; stderr:\n%s", tc.phase, code, log)
				}
				return
			}
			if code != 0 || !strings.Contains(log, `"stopped"`) {
				t.Fatalf("a Ctrl-C while %s: exit status %d, want a clean stop and 0; stderr:\n%s", tc.phase, code, log)
			}
			// Neither phase opens a port: Start, told of the stop, returns
			// before it does (it opened them and logged "live" first).
			if strings.Contains(stdout.String(), "ringex: gateway") || strings.Contains(log, `"live"`) {
				t.Fatalf("a Ctrl-C while %s: the node went live; stdout:\n%s\nstderr:\n%s", tc.phase, stdout.String(), log)
			}
		})
	}
}

// A member stopped for a stalled disk exits at once: its stop would wait
// on the disk (raft's shutdown waits for the hung log write), and the
// process would hang on, neither serving nor restarted. Any other fatal
// error stops the node first.
func TestStalledDiskExitsWithoutAStop(t *testing.T) {
	var logged strings.Builder
	log := zerolog.New(&logged)
	stalled := fmt.Errorf("%w: a write of the raft log has waited 5s", replicator.ErrDiskStalled)
	exited := -1
	stopped := false
	err := stopAfterFatal(stalled, func() error { stopped = true; return nil }, log, func(code int) { exited = code })
	if !errors.Is(err, replicator.ErrDiskStalled) || exited != 1 || stopped {
		t.Fatalf("stalled disk: err %v, exit code %d, stopped %v; want ErrDiskStalled, exit 1 and no stop", err, exited, stopped)
	}
	if !strings.Contains(logged.String(), "exiting without a stop") {
		t.Fatalf("the log does not say why it exits: %s", logged.String())
	}
	exited = -1
	other := errors.New("replicator: committed batch does not follow the local inputs")
	if err := stopAfterFatal(other, func() error { stopped = true; return nil }, log, func(code int) { exited = code }); err != other || !stopped || exited != -1 {
		t.Fatalf("other fatal error: err %v, stopped %v, exit code %d; want it back, stopped, no exit", err, stopped, exited)
	}
}

// serveChild is a child process of the test binary serving in a test's
// child part: its output kept, its stdin open until the test closes it.
type serveChild struct {
	cmd            *exec.Cmd
	stdout, stderr *testkit.SyncBuffer
	stdin          io.WriteCloser
	exited         chan struct{} // closed once the child has exited
}

// startServeChild starts the test binary running test, whose child part
// reads serve's arguments from the variable argsVar: serve on data dir
// with small rings and every port on a free loopback port; env is the
// child part's further environment. The child is killed, if it still
// runs, and waited for when the test ends.
func startServeChild(t *testing.T, test, argsVar, dir string, env ...string) *serveChild {
	t.Helper()
	args := "serve --set node.data_dir=" + dir + " --set gateway.listen=127.0.0.1:0 --set marketdata.listen=127.0.0.1:0 --set admin.listen=127.0.0.1:0" +
		" --set rings.input_slots=1024 --set rings.output_slots=1024 --set gateway.recent_reports=1024 --set engine.max_orders=65536"
	c := &serveChild{cmd: exec.Command(os.Args[0], "-test.run=^"+test+"$"), stdout: new(testkit.SyncBuffer), stderr: new(testkit.SyncBuffer),
		exited: make(chan struct{})}
	c.cmd.Env = append(append(os.Environ(), argsVar+"="+args), env...)
	c.cmd.Stdout, c.cmd.Stderr = c.stdout, c.stderr
	stdin, err := c.cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	c.stdin = stdin
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.cmd.Wait(); close(c.exited) }()
	t.Cleanup(func() {
		c.cmd.Process.Kill()
		<-c.exited
	})
	return c
}

// serveAsChild runs ringex with args, a test's child part, and exits: 1
// after printing the error it ended with, else 0.
func serveAsChild(args string) {
	root := newRootCmd()
	root.SetArgs(strings.Fields(args))
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "ringex:", err)
		os.Exit(1)
	}
	os.Exit(0)
}
