package node

import (
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/input"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
	"github.com/ringex/ringex/vfs"
)

// gateFS holds every fdatasync of a journal segment while held is set,
// until released; while failing is set, each fails with EIO instead.
type gateFS struct {
	vfs.FS
	held    atomic.Bool
	failing atomic.Bool
	mu      sync.Mutex
	release chan struct{}
	waiting atomic.Int32
	synced  atomic.Int64 // fdatasyncs that returned
}

func (g *gateFS) wrap(f vfs.File, err error, name string) (vfs.File, error) {
	if err != nil || !strings.HasSuffix(name, ".journal") {
		return f, err
	}
	return gateFile{f, g}, nil
}

func (g *gateFS) Create(name string) (vfs.File, error) {
	f, err := g.FS.Create(name)
	return g.wrap(f, err, name)
}
func (g *gateFS) OpenReadWrite(name string) (vfs.File, error) {
	f, err := g.FS.OpenReadWrite(name)
	return g.wrap(f, err, name)
}

type gateFile struct {
	vfs.File
	g *gateFS
}

func (f gateFile) Sync() error {
	if f.g.failing.Load() {
		return syscall.EIO
	}
	if f.g.held.Load() {
		f.g.mu.Lock()
		ch := f.g.release
		f.g.mu.Unlock()
		f.g.waiting.Add(1)
		<-ch
		f.g.waiting.Add(-1)
	}
	err := f.File.Sync()
	f.g.synced.Add(1)
	return err
}

// Durable before visible: while the journal's fdatasync is held, the
// engine does not apply the order, so no report of it can go out;
// released, it does. The engine is shown to have had its chance at the
// order, not waited on for a time: a quiet window of 300 ms passed
// without testing anything when the engine was merely late.
func TestNoReportBeforeTheJournalFsync(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	g := &gateFS{FS: vfs.Default, release: make(chan struct{})}
	n, addrs, _ := startNodeWith(t, cfg, Options{FS: g})
	defer n.Stop()
	release := sync.OnceFunc(func() { g.held.Store(false); close(g.release) })
	defer release() // before Stop, which syncs the journal
	c := dial(t, addrs.Gateway, 1)
	in := cfg.Instruments[0]
	c.NewOrder(limit(1, wire.SideBuy, in.ReferencePrice-in.TickSize, 1))
	next(t, c, report(wire.ExecKindAccepted))
	before := n.in.published()
	g.held.Store(true)
	c.NewOrder(limit(2, wire.SideBuy, in.ReferencePrice-in.TickSize, 1))
	// Order 2 is in the ring, and the journaller holds its batch's fsync.
	waitUntil(t, func() bool { return n.in.published() > before && g.waiting.Load() > 0 })
	slot := n.in.published()
	// The engine runs a task (Do) between two batches, and after one
	// takes every slot its barrier lets it before it runs the next: had
	// the barrier let it have order 2's slot, it applied it before the
	// second task.
	for range 2 {
		if !n.stats.engine.Do(func() {}) {
			t.Fatal("the engine stopped")
		}
	}
	if n.stats.engine.Sequence().Load() >= slot {
		t.Fatalf("the engine applied order 2 (ring slot %d) while its journal fsync was held", slot)
	}
	release()
	next(t, c, func(m client.Message) bool { return m.Report.ClientOrderID == 2 })
}

// goroutinesSettle waits until the goroutine count is at most want, and
// returns the count and the stacks.
func goroutinesSettle(want int) (int, string) {
	deadline := time.Now().Add(3 * time.Second)
	for {
		g := runtime.NumGoroutine()
		if g <= want || time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			return g, string(buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A panic on the engine goroutine (a bug in a command) stops the node:
// Fatal, Stop reports it, no goroutine is left, and the node takes no
// more inputs.
func TestEnginePanicStopsTheNode(t *testing.T) {
	http.DefaultClient.CloseIdleConnections()
	base := runtime.NumGoroutine()
	func() {
		cfg := testConfig(t, t.TempDir())
		n, addrs, _ := startNode(t, cfg)
		c := dial(t, addrs.Gateway, 1)
		in := cfg.Instruments[0]
		c.NewOrder(limit(1, wire.SideBuy, in.ReferencePrice-in.TickSize, 1))
		next(t, c, report(wire.ExecKindAccepted))
		go n.stats.engine.Do(func() { panic("engine bug") })
		t.Logf("fatal: %v", received(t, n.Fatal(), "no fatal within 10 s of the engine's panic", n))
		c.NewOrder(limit(2, wire.SideBuy, in.ReferencePrice-in.TickSize, 1))
		done := make(chan error, 1)
		go func() { done <- n.Stop() }()
		if err := received(t, done, "Stop hangs after an engine panic"); err == nil {
			t.Error("Stop after an engine panic returned nil")
		}
		// Once Stop has returned, nothing of the node writes to c any
		// more: what c reads now is all it was ever sent (no quiet
		// window, which a late answer passed).
		got, _ := reportsUntil(c, 5*time.Second, func(proto.Report) bool { return false })
		for _, r := range got {
			if r.ClientOrderID == 2 {
				t.Errorf("order answered after the engine died: %+v", r)
			}
		}
		c.Close()
	}()
	http.DefaultClient.CloseIdleConnections()
	if g, stacks := goroutinesSettle(base); g > base {
		t.Fatalf("%d goroutines after Stop, %d before the node:\n%s", g, base, stacks)
	}
}

// stopFollowerWhileLeaderTrades stops a follower of a three-node
// cluster while the leader takes inputs as fast as it can (a pause every 8), and returns what
// its Stop returned and the fatal error it reported, if any.
func stopFollowerWhileLeaderTrades(t *testing.T) (stopErr, fatal error) {
	ns := startTestCluster(t)
	leader := readyLeader(t, ns, nil)
	var follower *Node
	for _, n := range ns {
		if n != leader {
			follower = n
			break
		}
	}
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		enc := proto.NewEncoder()
		in := leader.cfg.Instruments[0]
		for i := uint64(1); ; i++ {
			select {
			case <-quit:
				return
			default:
			}
			frame := enc.NewOrder(i, limit(i, wire.SideBuy, in.ReferencePrice-int64(1+i%40)*in.TickSize, 1))
			if leader.Publish(input.KindClient, 0, 1, time.Now().UnixNano(), frame[proto.PrefixSize:]) != nil {
				return
			}
			if i%8 == 0 {
				time.Sleep(50 * time.Microsecond)
			}
		}
	})
	defer func() { close(quit); wg.Wait() }()
	time.Sleep(300 * time.Millisecond)
	stopErr = follower.Stop()
	select {
	case fatal = <-follower.Fatal():
	default:
	}
	return stopErr, fatal
}

// A follower stopped while the leader trades on stops cleanly — every
// input it journaled applied, its snapshot at stop written (README: a
// clean stop snapshots at the journal's end; a stop without it exits 1)
// — and reports nothing fatal (`ringex serve` exits 1 with the first
// Fatal error after a Stop that returned nil). Its journaller took a
// batch past the drain point that the engine never applied, and raft's
// deliveries into the drained ring were reported fatal ("disruptor:
// halted"). Each round is a race the old code lost about 1 in 4–8 times.
func TestFollowerStopWhileLeaderTradesIsClean(t *testing.T) {
	for round := range 4 {
		err, fatal := stopFollowerWhileLeaderTrades(t)
		if err != nil {
			t.Fatalf("round %d: follower's Stop: %v", round, err)
		}
		if fatal != nil {
			t.Fatalf("round %d: the stopped follower reports a fatal error: %v", round, fatal)
		}
	}
}
