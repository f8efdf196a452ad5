package main

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/journal"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"

	"net"
	"path/filepath"
	"runtime"
	"strings"
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
	time.Sleep(500 * time.Millisecond)
	left := runtime.NumGoroutine() - before
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

// SIGTERM while serve recovers (a long journal replay) stops the node
// once it is built and exits 0, as the documentation promises: the
// process was killed by the signal (exit status not 0, the log lines
// still buffered lost) — signal.Notify came after recovery and Start.
func TestSigtermDuringRecoveryStopsCleanly(t *testing.T) {
	if os.Getenv("CMD_TEST_SERVE_CHILD") != "" {
		root := newRootCmd()
		root.SetArgs(strings.Fields(os.Getenv("CMD_TEST_SERVE_CHILD")))
		if err := root.Execute(); err != nil {
			fmt.Fprintln(os.Stderr, "ringex:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	dir := filepath.Join(t.TempDir(), "data")
	// A journal that takes a while to replay: limit orders resting on
	// one book (each replayed through the engine).
	j, _, err := journal.Open(filepath.Join(dir, "journal"), journal.Options{SegmentBytes: 64 << 20, Sync: journal.SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	enc := proto.NewEncoder()
	const inputs = 1_500_000
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
	demo := config.Default()
	if err := demo.Set("node.data_dir", dir); err != nil {
		t.Fatal(err)
	}
	writeInputZeroSnapshot(t, demo)
	args := "serve --set node.data_dir=" + dir + " --set gateway.listen=127.0.0.1:0 --set marketdata.listen=127.0.0.1:0 --set admin.listen=127.0.0.1:0" +
		" --set rings.input_slots=1024 --set rings.output_slots=1024 --set gateway.recent_reports=1024 --set engine.max_orders=65536"
	cmd := exec.Command(os.Args[0], "-test.run=^TestSigtermDuringRecoveryStopsCleanly$")
	cmd.Env = append(os.Environ(), "CMD_TEST_SERVE_CHILD="+args)
	var stdout, stderr testkit.SyncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(stdout.String(), "demo account"); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("the child printed nothing")
		}
	}
	time.Sleep(200 * time.Millisecond) // recovering
	recovering := !strings.Contains(stderr.String(), `"recovered"`)
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatal("no exit within 60 s of SIGTERM")
	}
	if !recovering {
		t.Skipf("the replay was over before SIGTERM:\n%s", stderr.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("SIGTERM during recovery: exit status %v (code %d), want a clean stop and 0; stderr:\n%s", cmd.ProcessState, code, stderr.String())
	}
}

// A second signal during a stop that does not end exits with status 1;
// one within the grace of the first (the same Ctrl-C through a terminal's
// process group and a supervisor) does not.
func TestSecondSignalWhileStoppingExits(t *testing.T) {
	run := func(grace time.Duration, stop func() error, sig chan os.Signal) (chan int, chan error) {
		exited, stopped := make(chan int, 1), make(chan error, 1)
		go func() {
			stopped <- stopOrExitOnSecondSignal(stop, sig, grace, zerolog.Nop(), func(code int) { exited <- code })
		}()
		return exited, stopped
	}
	sig := make(chan os.Signal, 1)
	release := make(chan struct{})
	exited, stopped := run(0, func() error { <-release; return nil }, sig)
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
	exited, stopped = run(time.Hour, func() error { <-release; return nil }, sig)
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
}
