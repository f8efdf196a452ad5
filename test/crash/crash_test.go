package crash

import (
	"fmt"
	"math/rand"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/proto/wire"
)

var binary string // built once by TestMain

func TestMain(m *testing.M) { testkit.MainWithRingex(m, &binary) }

// server is one ringex serve process.
type server struct{ *testkit.Proc }

// start runs ringex serve on dataDir with small rings and loopback ports,
// and waits until it listens.
func start(t *testing.T, dataDir string, run int) *server {
	t.Helper()
	return &server{testkit.StartServe(t, binary, filepath.Join(dataDir, fmt.Sprintf("serve-%d.log", run)),
		"--set", "node.data_dir="+dataDir,
		"--set", "gateway.listen=127.0.0.1:0", "--set", "marketdata.listen=127.0.0.1:0", "--set", "admin.listen=127.0.0.1:0",
		"--set", "rings.input_slots=65536", "--set", "rings.output_slots=65536", "--set", "gateway.recent_reports=4096",
		"--set", "journal.segment_bytes=1048576", "--set", "snapshot.schedule=")}
}

// logged finds the first JSON log line with the message and returns it.
func (s *server) logged(t *testing.T, msg string) map[string]any {
	t.Helper()
	m := s.Logged(msg)
	if m == nil {
		t.Fatalf("no %q in the log; its end %s:\n%s", msg, s.LogPath, s.LogTail(logTailBytes))
	}
	return m
}

// kill is the test's crash: it stops s with SIGKILL and waits for it. A
// server that had exited by itself before the kill came — a panic, a
// fatal error — fails the test, naming its exit and its log's end: the
// recovery after it is checked like any other, and would hide the crash.
func (s *server) kill(t testing.TB) {
	t.Helper()
	s.Kill9()
	if s.ExitedByItself() {
		t.Fatalf("the server exited by itself (%v) before the kill; the end of its log %s:\n%s", s.Cmd.ProcessState, s.LogPath, s.LogTail(logTailBytes))
	}
}

// logTailBytes is how much of a log's end a failure shows: the lines
// around an exit, a fatal error's or a panic's stack.
const logTailBytes = 8 << 10

// offlineHash runs ringex replay over the (stopped) node's data.
func offlineHash(t *testing.T, dataDir string) string {
	t.Helper()
	out, err := exec.Command(binary, "replay", "--set", "node.data_dir="+dataDir, "--from-snapshot").CombinedOutput()
	if err != nil {
		t.Fatalf("ringex replay: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`state hash ([0-9a-f]{16})`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no state hash in:\n%s", out)
	}
	return string(m[1])
}

var secrets = testkit.DemoSecrets

// acks collects the client order ids the exchange accepted, per account.
type acks struct {
	mu  sync.Mutex
	ids map[uint32][]uint64
}

func (a *acks) add(account uint32, id uint64) {
	a.mu.Lock()
	a.ids[account] = append(a.ids[account], id)
	a.mu.Unlock()
}

// trade sends up to perAccount resting orders from each account (buys
// below and sells above the reference price, so none trades and every
// accepted order stays live) until done closes or the connection breaks,
// recording every Accepted report.
func trade(t *testing.T, gateway string, run, perAccount int, a *acks, done <-chan struct{}) {
	var wg sync.WaitGroup
	for account := range secrets {
		wg.Add(1)
		go func(account uint32) {
			defer wg.Done()
			c, err := client.Dial(gateway, account, secrets[account], client.Options{})
			if err != nil {
				// The kill may land before a slow logon (a loaded CI
				// machine); the test closes done right after it.
				select {
				case <-done:
				case <-time.After(5 * time.Second):
					t.Errorf("account %d: %v", account, err)
				}
				return
			}
			reader := make(chan struct{})
			go func() {
				defer close(reader)
				for {
					m, err := c.Next()
					if err != nil {
						return // killed
					}
					if m.Type == wire.MessageExecutionReport {
						switch m.Report.Kind {
						case wire.ExecKindAccepted:
							a.add(account, m.Report.ClientOrderID)
						case wire.ExecKindRejected:
							t.Errorf("account %d: order %d rejected, reason %d", account, m.Report.ClientOrderID, m.Report.Reason)
						}
					}
				}
			}()
			// The reader is done before trade returns: the acks it reads
			// are counted (a.add), then read by the test without a.mu.
			defer func() { c.Close(); <-reader }()
			rng := rand.New(rand.NewSource(int64(run*10) + int64(account)))
			for i := 1; i <= perAccount; i++ {
				select {
				case <-done:
					return
				default:
				}
				err := c.NewOrder(testkit.RestingOrder(uint64(run)*1_000_000+uint64(i), int64(1+rng.Intn(50)), int64(1+rng.Intn(9))))
				if err == nil && i%16 == 0 {
					err = c.Flush()
					time.Sleep(time.Millisecond) // at most ~16k orders/s per account: the kill lands mid-stream
				}
				if err != nil {
					return
				}
			}
			c.Flush()
			<-reader // every ack until the kill
		}(account)
	}
	wg.Wait()
}

// Run the server under load, kill -9 it at random moments, restart it
// each time: the state it rebuilds equals an offline replay of its
// journal, and at the end every order ever acknowledged is still live
// (a cancel of each one succeeds).
func TestKill9KeepsAcknowledgedOrders(t *testing.T) {
	dataDir := t.TempDir()
	a := &acks{ids: map[uint32][]uint64{}}
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	const kills = 4
	for run := 1; run <= kills; run++ {
		s := start(t, dataDir, run)
		if run > 1 {
			// The recovered state is the journal's: same hash as offline.
			if got, want := s.logged(t, "recovered")["state_hash"], lastOffline; got != want {
				t.Fatalf("run %d recovered state %v, offline replay %s", run, got, want)
			}
		}
		if run%2 == 0 { // a snapshot mid-journal: recovery = snapshot + journal
			resp, err := http.Post("http://"+s.Admin()+"/snapshot", "", nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
		done := make(chan struct{})
		traded := make(chan struct{})
		go func() { trade(t, s.Gateway(), run, 20000, a, done); close(traded) }()
		time.Sleep(time.Duration(100+rng.Intn(400)) * time.Millisecond)
		s.kill(t)
		close(done)
		<-traded
		a.mu.Lock()
		t.Logf("run %d: killed with %d orders acknowledged so far", run, len(a.ids[1])+len(a.ids[2])+len(a.ids[3]))
		a.mu.Unlock()
		lastOffline = offlineHash(t, dataDir)
	}

	// Final run: every acknowledged order is still there.
	s := start(t, dataDir, kills+1)
	if got := s.logged(t, "recovered")["state_hash"]; got != lastOffline {
		t.Fatalf("final recovery %v, offline replay %s", got, lastOffline)
	}
	total := 0
	for account, ids := range a.ids {
		total += len(ids)
		testkit.CancelAll(t, []string{s.Gateway()}, account, secrets[account], testkit.DemoInstrument, ids)
	}
	if total < kills*100 {
		t.Fatalf("only %d orders acknowledged over %d runs: the load did not run", total, kills)
	}
	s.Sigterm(t)
	stopped := s.logged(t, "stopped")["state_hash"]
	if off := offlineHash(t, dataDir); stopped != off {
		t.Fatalf("stopped with state %v, offline replay of its journal %s", stopped, off)
	}
	t.Logf("%d kill -9 runs, %d acknowledged orders, all present", kills, total)
}

var lastOffline string

// The kill tells a server that exited by itself before it from one it
// ended: here a SIGQUIT from elsewhere (not a stop of the test's) ends
// the server first, its goroutines' stacks in its log as a panic's
// would be, and the kill fails naming the exit and the log's end; a
// running server's kill passes.
func TestKillTellsAnExitBeforeIt(t *testing.T) {
	running := start(t, t.TempDir(), 1)
	if msg := testkit.FailureOf(t, 30*time.Second, running.kill); msg != "" {
		t.Fatalf("a running server's kill failed: %s", msg)
	}
	crashed := start(t, t.TempDir(), 1)
	crashed.Cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-crashed.Exited:
	case <-time.After(30 * time.Second):
		t.Fatal("the server runs on 30 s after SIGQUIT")
	}
	msg := testkit.FailureOf(t, 30*time.Second, crashed.kill)
	if !strings.Contains(msg, "exited by itself (exit status 2) before the kill") || !strings.Contains(msg, "goroutine ") {
		t.Fatalf("a server that exited by itself before the kill: %q; want its exit and its log's end, the stacks", msg)
	}
}
