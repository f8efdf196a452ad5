package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/input"
	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
	"github.com/ringex/ringex/vfs"
)

// An operator's control input during Stop is refused (503) or kept: one
// answered 202 Accepted while the ring drained landed above the drain's
// target and was never journaled — the kill switch pulled during a
// shutdown was gone after the restart.
func TestControlAcceptedDuringStopIsKept(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	n, addrs, _ := startNode(t, cfg)
	// The engine still has work when Stop begins (held here; a backlog
	// in the ring in production): the input ring drains for a while.
	release := holdEngine(t, n)
	defer release() // a failure before the release lets the engine go
	stopped := make(chan error, 1)
	go func() { stopped <- n.Stop() }()
	waitUntil(t, func() bool {
		c, err := net.Dial("tcp", addrs.Gateway)
		if err == nil {
			c.Close()
		}
		return err != nil // the gateway is closed: Stop is draining
	})
	time.Sleep(100 * time.Millisecond)
	resp, err := http.Post("http://"+addrs.Admin+"/accounts/2/suspend", "", nil)
	if err != nil {
		release()
		<-stopped
		t.Skipf("admin closed first: %v", err)
	}
	resp.Body.Close()
	release()
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusAccepted {
		return // refused: the operator knows it did not take
	}
	n2, _, err := New(testConfig(t, dir), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer n2.Stop()
	if st := n2.stateNow(); !slices.Contains(st.Suspended, 2) {
		t.Fatalf("suspend of account 2 answered 202 Accepted during Stop, but after the restart suspended accounts are %v (journal ends at %d)", st.Suspended, n.Final().LastSeq)
	}
}

// A second Stop reports what the first did: after a journal failure the
// node did not stop cleanly, and a caller asking again is not told it did.
func TestSecondStopReportsTheFailure(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	efs := &vfs.ErrorFS{FS: vfs.Default, Op: vfs.OpSync, Skip: 3, Sticky: true}
	n, addrs, _ := startNodeWith(t, cfg, Options{FS: efs})
	c := dial(t, addrs.Gateway, 4)
	in := cfg.Instruments[0]
	// An order a millisecond, each its own journal batch and fsync, until
	// the fourth fsync fails (50 at once, under load, could all go in
	// fewer than four batches: no failure, no fatal).
	deadline := time.After(10 * time.Second)
failed:
	for i := uint64(1); ; i++ {
		c.NewOrder(limit(i, wire.SideBuy, in.ReferencePrice-in.TickSize, 1))
		select {
		case <-n.Fatal():
			break failed
		case <-deadline:
			t.Fatal("no fatal")
		case <-time.After(time.Millisecond):
		}
	}
	first := n.Stop()
	second := n.Stop()
	if first == nil || second == nil {
		t.Fatalf("first Stop: %v, second Stop: %v", first, second)
	}
}

// Stop returns while clients keep connecting: a client that connects as
// the gateway closes, logs on and heartbeats must not hold Stop.
func TestStopWhileClientsConnect(t *testing.T) {
	for round := range 20 {
		cfg := testConfig(t, t.TempDir())
		n, addrs, _ := startNode(t, cfg)
		secret := cfg.Accounts[3].Secret
		quit := make(chan struct{})
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				enc := proto.NewEncoder()
				for {
					select {
					case <-quit:
						return
					default:
					}
					c, err := net.Dial("tcp", addrs.Gateway)
					if err != nil {
						continue
					}
					if _, err := c.Write(enc.Logon(1, 4, secret)); err != nil {
						c.Close()
						continue
					}
					wg.Add(1)
					go func() { // a live client: heartbeats until the test ends
						defer wg.Done()
						defer c.Close()
						enc := proto.NewEncoder() // its own: an Encoder is not safe for concurrent use, and its frames alias its buffer
						go io.Copy(io.Discard, c)
						for {
							select {
							case <-quit:
								return
							case <-time.After(200 * time.Millisecond):
								if _, err := c.Write(enc.Heartbeat(2)); err != nil {
									return
								}
							}
						}
					}()
				}
			}()
		}
		time.Sleep(time.Duration(round%5) * time.Millisecond)
		stopped := make(chan error, 1)
		go func() { stopped <- n.Stop() }()
		clientsEnd := sync.OnceFunc(func() { close(quit); wg.Wait() })
		t.Cleanup(clientsEnd) // a failed round's clients too
		received(t, stopped, fmt.Sprintf("round %d: Stop still waiting after 10 s for a session that logged on while the gateway closed", round))
		clientsEnd()
	}
}

// noRoom answers every preallocation with ENOSPC: a disk with less free
// than journal.segment_bytes (small writes still succeed).
func noRoom() *vfs.ErrorFS {
	return &vfs.ErrorFS{FS: vfs.Default, Op: vfs.OpPreallocate, Err: syscall.ENOSPC, Sticky: true}
}

// A node stopped because the journal could not start its next segment
// (less than a segment free) is refused at every start while the disk is
// still that full. The first refused start left the segment's header
// written and its preallocation failed; the next found a valid segment,
// never allocated it, and went live on the full disk, to stop again at
// the next write: live and refused by turns.
func TestStartOnAStillFullDiskIsRefusedEveryTime(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	if err := cfg.Set("journal.prepare_segments", "false"); err != nil {
		t.Fatal(err)
	}
	efs := &vfs.ErrorFS{FS: vfs.Default, Op: vfs.OpPreallocate, Skip: 1, Err: syscall.ENOSPC, Sticky: true}
	n, addrs, _ := startNodeWith(t, cfg, Options{FS: efs})
	c := dial(t, addrs.Gateway, 3)
	in := cfg.Instruments[0]
	stopped := false
	for id := uint64(1); id <= 20000 && !stopped; id += 500 {
		for k := id; k < id+500; k++ {
			o := limit(k, wire.SideBuy, in.ReferencePrice-in.TickSize*int64(1+k%20), 1)
			o.TIF = wire.TimeInForceIOC
			c.NewOrder(o)
		}
		select {
		case <-n.Fatal():
			stopped = true
		case <-time.After(300 * time.Millisecond):
		}
	}
	if !stopped {
		t.Fatal("the journal rolled without a fault")
	}
	n.Stop()
	for start := 1; start <= 3; start++ {
		n2, _, err := NewWithOptions(testConfig(t, dir), zerolog.Nop(), Options{FS: noRoom()})
		if err == nil {
			n2.discard()
			seg := ""
			names, _ := os.ReadDir(cfg.JournalDir())
			for _, e := range names {
				fi, _ := e.Info()
				seg += " " + e.Name() + "=" + strconv.FormatInt(fi.Size(), 10)
			}
			t.Fatalf("start %d on a disk with less than a segment free succeeded (journal dir:%s); an earlier start was refused", start, seg)
		}
		t.Logf("start %d refused: %v", start, err)
	}
}

// A clean stop whose snapshot at the journal's end (snapshot.on_stop)
// could not be written does not report a clean stop: the operator who
// stops a node to change its config relies on that snapshot. Stop logged
// the failure and returned nil, and serve exited 0.
func TestStopReportsAFailedStopSnapshot(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	fs := &snapshotFaults{FS: vfs.Default}
	n, addrs, logs := startNodeLogging(t, cfg, Options{FS: fs})
	fs.failing.Store(true)
	c := dial(t, addrs.Gateway, 4)
	c.NewOrder(limit(1, wire.SideBuy, cfg.Instruments[0].ReferencePrice, 1))
	next(t, c, report(wire.ExecKindAccepted))
	err := n.Stop()
	if seqs, _ := n.snaps.List(); len(seqs) > 0 && seqs[len(seqs)-1] == n.Final().LastSeq {
		t.Fatalf("the stop snapshot was written after all (%v)", seqs)
	}
	if err == nil {
		t.Logf("log:\n%s", logs.String())
		t.Fatalf("Stop returned nil: no snapshot at the journal's end (input %d), yet the stop is reported clean", n.Final().LastSeq)
	}
}

// SIGTERM while `ringex serve` recovers: serve stops the node New built,
// without starting it. That stop is clean (exit 0, "stopped") and must
// snapshot at the journal's end like any clean stop (snapshot.on_stop) —
// the engine has replayed the whole journal — so the next start replays
// nothing and may run under a changed config. It took none (only a live
// node did), and the next start replayed it all again.
func TestStopDuringRecoverySnapshotsAtTheJournalsEnd(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	if err := cfg.Set("snapshot.on_stop", "false"); err != nil { // as if it had crashed
		t.Fatal(err)
	}
	n, addrs, _ := startNode(t, cfg)
	c := dial(t, addrs.Gateway, 4)
	restBids(t, c, cfg.Instruments[0], 1, 50)
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	last := n.Final().LastSeq

	// The start the operator stops before it is live.
	n2, rec, err := New(testConfig(t, dir), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if rec.Replayed == 0 {
		t.Fatalf("nothing replayed: %+v", rec)
	}
	if err := n2.Stop(); err != nil {
		t.Fatal(err)
	}
	n3, rec3, err := New(testConfig(t, dir), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer n3.Stop()
	if rec3.SnapshotSeq != last || rec3.Replayed != 0 {
		t.Fatalf("after a clean stop during recovery the next start recovered %+v; want the stop's snapshot at input %d and nothing replayed", rec3, last)
	}
}

// gatedFS holds every read-only open of a journal segment (a replay's)
// until release is closed.
type gatedFS struct {
	vfs.FS
	release chan struct{}
}

func (g *gatedFS) Open(name string) (vfs.File, error) {
	if strings.HasSuffix(name, ".journal") {
		<-g.release
	}
	return g.FS.Open(name)
}

// The admin port answers while the node replays its journal at start:
// /healthz "ok", /readyz and every other endpoint 503 "replaying". It was
// opened only once the node went live: a probe got "connection refused"
// for the whole replay, and a liveness probe with a short delay killed a
// node in the middle of it, over and over.
func TestAdminAnswersProbesDuringRecovery(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	if err := cfg.Set("snapshot.on_stop", "false"); err != nil { // the next start replays
		t.Fatal(err)
	}
	n, addrs, _ := startNode(t, cfg)
	c := dial(t, addrs.Gateway, 4)
	restBids(t, c, cfg.Instruments[0], 1, 5)
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}

	cfg = testConfig(t, dir)
	admin := testkit.ReserveAddrs(t, 1)[0]
	if err := cfg.Set("admin.listen", admin); err != nil {
		t.Fatal(err)
	}
	fs := &gatedFS{FS: vfs.Default, release: make(chan struct{})}
	built := make(chan *Node, 1)
	go func() {
		n, _, err := NewWithOptions(cfg, zerolog.Nop(), Options{FS: fs})
		if err != nil {
			t.Error(err)
		}
		built <- n
	}()
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + admin + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(b))
	}
	waitUntil(t, func() bool { code, _ := get("/healthz"); return code == http.StatusOK })
	for _, path := range []string{"/readyz", "/metrics", "/state"} {
		if code, body := get(path); code != http.StatusServiceUnavailable || body != StartReplaying {
			t.Errorf("GET %s while replaying: %d %q, want 503 replaying", path, code, body)
		}
	}
	close(fs.release)
	n = <-built
	if n == nil {
		t.FailNow()
	}
	defer n.Stop()
	if _, err := n.Start(); err != nil {
		t.Fatal(err)
	}
	if code, body := get("/readyz"); code != http.StatusOK || body != "ready" {
		t.Fatalf("GET /readyz once live: %d %q", code, body)
	}
	if code, _ := get("/metrics"); code != http.StatusOK {
		t.Fatalf("GET /metrics once live: %d", code)
	}
}

// Once the journal is replayed, the admin port says the node maps its
// rings (rings.prefault) — 503 "starting: mapping rings" to /readyz and
// every endpoint but /healthz — until it is live: it said "replaying",
// and an operator looked for a journal replay long over (the default
// rings' 5.5 GB take tens of seconds to map on a loaded machine).
func TestAdminSaysMappingRingsAtStart(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	if err := cfg.Set("rings.prefault", "true"); err != nil {
		t.Fatal(err)
	}
	n, _, err := New(cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	admin := n.adminLn.Addr().String()
	mapping, hold := make(chan struct{}), make(chan struct{})
	release := sync.OnceFunc(func() { close(hold) })
	defer release() // before Stop, which waits for Start
	n.populateHook = func() { close(mapping); <-hold }
	started := make(chan error, 1)
	go func() { _, err := n.Start(); started <- err }()
	received(t, mapping, "Start did not begin mapping the rings within 10 s")
	wantNotLive(t, admin, StartMappingRings, "while mapping the rings")
	if code, _ := adminGet(t, admin, "/healthz"); code != http.StatusOK {
		t.Errorf("GET /healthz while mapping the rings: %d", code)
	}
	release()
	if err := received(t, started, "Start did not return within 10 s of the rings' mapping"); err != nil {
		t.Fatal(err)
	}
	if code, body := adminGet(t, admin, "/readyz"); code != http.StatusOK || strings.TrimSpace(body) != "ready" {
		t.Fatalf("GET /readyz once live: %d %q", code, body)
	}
}

// The engine's pools are mapped (rings.prefault) as New makes the engine,
// before the snapshot's restore and the journal's replay: the admin port
// answers 503 StartMappingPools meanwhile, then "replaying" again. It
// answered "replaying" throughout, for a replay not begun.
func TestAdminSaysMappingPoolsBeforeTheReplay(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	if err := cfg.Set("rings.prefault", "true"); err != nil {
		t.Fatal(err)
	}
	addr, release := heldMappingPools(t, cfg)
	wantNotLive(t, addr, StartMappingPools, "while mapping the engine's pools")
	n := release()
	defer n.Stop()
	wantNotLive(t, addr, StartReplaying, "once the pools are mapped, before Start")
}

// wantNotLive checks that the admin port at admin answers 503 word to
// /readyz, /state and /metrics, as a node not live yet does; when says
// in which step.
func wantNotLive(t *testing.T, admin, word, when string) {
	t.Helper()
	for _, path := range []string{"/readyz", "/state", "/metrics"} {
		if code, body := adminGet(t, admin, path); code != http.StatusServiceUnavailable || strings.TrimSpace(body) != word {
			t.Errorf("GET %s %s: %d %q, want 503 %q", path, when, code, strings.TrimSpace(body), word)
		}
	}
}

// A stop asked before Start's live stage (a SIGTERM while it mapped the
// rings) returns ErrStoppedBeforeLive with no stage started and no
// trading port open; Stop then stops the node cleanly, as one never
// started.
func TestStartUnlessStopped(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, _, err := New(cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	close(stop)
	if _, err := n.StartUnless(stop); !errors.Is(err, ErrStoppedBeforeLive) {
		t.Fatalf("StartUnless with the stop asked: %v, want ErrStoppedBeforeLive", err)
	}
	if n.live.Load() || n.engineStarted.Load() || n.mdLn != nil || n.ports.snapshot()["gateway"] {
		t.Fatalf("went live: live %v, engine started %v, ports %v", n.live.Load(), n.engineStarted.Load(), n.ports.snapshot())
	}
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	n2, _, _ := startNode(t, cfg) // the directories are free again
	n2.Stop()
}

// A control input blocked claiming a slot of a full input ring holds
// ctlMu, and Stop waits for ctlMu before its drain. That wait lasts only
// as long as the stage that stalls the ring, which the drain would wait
// for too: no stage of the input ring waits for a step of Stop after
// ctlMu (the replicator's awaitFate ends on stopping, closed before), so
// once the stage moves the claim gets its slot, Stop goes on, and the
// input — published before ctlClosed, so below the drain's target — is
// applied and journaled.
func TestStopWaitsOutAControlClaimOnAFullRing(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	n, _, _ := startNode(t, cfg)
	release := holdEngineOnFullRing(t, n, cfg) // the stalled stage
	halted := make(chan error, 1)
	go func() { halted <- n.Halt(cfg.Instruments[0].ID) }()
	waitUntil(t, func() bool { // the halt waits for a slot, holding ctlMu
		if n.ctlMu.TryLock() {
			n.ctlMu.Unlock()
			return false
		}
		return true
	})
	stopped := make(chan error, 1)
	go func() { stopped <- n.Stop() }()
	<-n.stopping()
	release()
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if err := <-halted; err != nil {
		t.Fatalf("the halt claimed its slot before Stop closed control inputs, yet: %v", err)
	}
	n2, _, err := New(testConfig(t, dir), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer n2.Stop()
	if st := n2.stateNow(); !slices.Contains(st.Halted, cfg.Instruments[0].ID) {
		t.Fatalf("halt accepted across Stop, but after the restart halted instruments are %v", st.Halted)
	}
}

// GET /state in flight across Stop: admin.Close does not wait for it, so
// it reads the stopped engine while Stop snapshots it (snapshotAtStop)
// and closes the journal. Safe: once the engine goroutine has exited,
// State reads the engine (under view.mu) and touches only its own copy
// and the engine's open-copy mark, and Stop only reads the engine's
// state too. Run with -race: the request is let go once the engine has
// stopped, with nothing ordering it after Stop's reads.
func TestStateRequestInFlightAcrossStop(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, addrs, _ := startNode(t, cfg)
	n.copyStepBytes = 4 << 10 // several steps
	c := dial(t, addrs.Gateway, 4)
	restBids(t, c, cfg.Instruments[0], 1, 200)
	inner := *n.adminServes.Load()
	entered, release := make(chan struct{}), make(chan struct{})
	answered := make(chan *httptest.ResponseRecorder, 1)
	var holding http.Handler = http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		rec := httptest.NewRecorder() // the connection is closed by then
		defer func() { answered <- rec }()
		// Served as if its client still waited: the request's context
		// ended with the admin server, and GET /state leaves unanswered
		// a request whose client is gone (stateGate).
		inner.ServeHTTP(rec, r.WithContext(context.WithoutCancel(r.Context())))
	})
	n.adminServes.Store(&holding)
	go func() {
		if resp, err := http.Get("http://" + addrs.Admin + "/state"); err == nil {
			resp.Body.Close()
		}
	}()
	<-entered
	stopped := make(chan error, 1)
	go func() { stopped <- n.Stop() }()
	<-n.stats.engine.Done()
	close(release)
	rec := <-answered
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	var st NodeState
	if err := json.Unmarshal(rec.Body.Bytes(), &st); rec.Code != http.StatusOK || err != nil {
		t.Fatalf("GET /state across Stop: %d %q (%v)", rec.Code, rec.Body.String(), err)
	}
	if f := n.Final(); st.Seq != f.LastSeq || st.Hash != fmt.Sprintf("%016x", f.Hash) {
		t.Fatalf("GET /state across Stop reported input %d hash %s; the node stopped at %+v", st.Seq, st.Hash, f)
	}
}

// Control requests behind an engine that takes no input, on a full
// ring: each leaves at its deadline (ErrControlUnconfirmed) instead of
// waiting for a slot for good. The first one's claim stays, published
// once the engine moves; the requests behind it published nothing — a
// halt refused while the snapshot request held the turn is never
// applied — and the abandoned snapshot request leaves no answer waiting.
func TestControlRequestsLeaveAStuckEngine(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, _, _ := startNode(t, cfg)
	defer n.Stop()
	n.ctlWait = 200 * time.Millisecond
	release := holdEngineOnFullRing(t, n, cfg)
	defer release() // before Stop: it drains through the engine
	instrument := cfg.Instruments[0].ID
	within := func(what string, call func() error) error {
		t.Helper()
		done := make(chan error, 1)
		go func() { done <- call() }()
		return received(t, done, what+" behind a stuck engine on a full ring did not return in 10 s", n)
	}
	if err := within("a snapshot request", n.RequestSnapshot); !errors.Is(err, ErrControlUnconfirmed) {
		t.Fatalf("snapshot request: %v, want ErrControlUnconfirmed", err)
	}
	if err := within("a halt", func() error { return n.Halt(instrument) }); !errors.Is(err, ErrControlUnconfirmed) {
		t.Fatalf("halt: %v, want ErrControlUnconfirmed", err)
	}
	release()
	n.ctlWait = controlWait
	if err := within("a suspension after the engine moved", func() error { return n.SuspendAccount(4) }); err != nil {
		t.Fatal(err)
	}
	st := n.stateNow()
	if slices.Contains(st.Halted, instrument) {
		t.Fatalf("the halt refused while the turn was held was applied after all: halted %v", st.Halted)
	}
	if !slices.Contains(st.Suspended, 4) {
		t.Fatalf("suspended accounts %v after the suspension was confirmed", st.Suspended)
	}
	n.snapAnswers.mu.Lock()
	waiting := len(n.snapAnswers.waiting)
	n.snapAnswers.mu.Unlock()
	if waiting != 0 {
		t.Fatalf("%d snapshot answers still kept for requests that left", waiting)
	}
}

// holdEngine holds n's engine inside a batch until release (safe to
// call more than once; call it before n.Stop, whose drain goes through
// the engine).
func holdEngine(t testing.TB, n *Node) (release func()) {
	t.Helper()
	return holdConsumer(t, n, n.stats.engine, "engine")
}

// holdConsumer holds c, a stage of n, between two of its batches, in a
// task (Do), until release (safe to call more than once): what is
// published meanwhile waits in its ring. who names c in a failure, which
// names n and its fates too, and says whether c had stopped (Do refused
// the task) or only had not taken it in time — or, c nil (a stage not
// deployed: the market-data fan-out while the port is closed), that
// there is nothing to hold.
func holdConsumer(t testing.TB, n *Node, c *consumer, who string) (release func()) {
	t.Helper()
	stage := fmt.Sprintf("node %d's %s", n.cfg.Node.ID, who)
	if c == nil { // its Do would panic on the goroutine below, ending the test binary
		t.Fatalf("%s is not deployed: nothing to hold", stage)
	}
	let, held, refused := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() {
		if !c.Do(func() { close(held); <-let }) {
			close(refused)
		}
	}()
	release = sync.OnceFunc(func() { close(let) })
	taken := false
	defer func() { // a task not taken in time is let go, taken later or never
		if !taken {
			release()
		}
	}()
	if _, _, took := receivedEither(t, held, refused, stage+" did not take the holding task within 10 s (a batch or an earlier task of it has not ended)", n); !took {
		t.Fatalf("%s had stopped: it refused the holding task%s", stage, fates([]*Node{n}))
	}
	taken = true
	return release
}

// holdEngineOnFullRing holds n's engine inside a batch and fills the
// input ring behind it: nothing more can be claimed until release (safe
// to call more than once; call it before n.Stop, whose drain goes
// through the engine).
func holdEngineOnFullRing(t *testing.T, n *Node, cfg *config.Config) (release func()) {
	t.Helper()
	release = holdEngine(t, n)
	for i := range cfg.Rings.InputSlots {
		if err := n.Publish(input.KindClient, 0, 4, time.Now().UnixNano(), []byte("x")); err != nil {
			release()
			t.Fatalf("node %d: input %d of the %d filling the ring behind its held engine: %v%s", n.cfg.Node.ID, i+1, cfg.Rings.InputSlots, err, fates([]*Node{n}))
		}
	}
	return release
}
