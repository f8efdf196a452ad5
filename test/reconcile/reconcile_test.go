package reconcile

import (
	"errors"
	"flag"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/internal/testnode"
	"github.com/ringex/ringex/node"
	"github.com/ringex/ringex/proto"
)

var binary string // built once by TestMain, for `ringex replay`

func TestMain(m *testing.M) { testkit.MainWithRingex(m, &binary) }

// The seeds TestReconcileRandomTrading runs. They fix each account's
// stream of messages; how the streams interleave is the machine's.
var (
	seeds    = []uint64{20261205, 7}
	seedFlag = flag.Uint64("reconcile.seed", 0, "run TestReconcileRandomTrading with this seed instead of the fixed ones")
)

// settings are the node's on top of testnode's: no snapshot at stop, so
// that a restart restores one taken while trading and replays the
// journal after it; pools that must grow past 1024 orders; three
// snapshots kept, so that older ones are pruned and their journal
// segments archived (a replay from the start reads the archive).
var settings = map[string]string{"snapshot.on_stop": "false", "engine.max_orders": "1024", "snapshot.keep": "3"}

// messages is how many messages each account sends in a phase. Account 4
// (demo-small) sends fewer: its sessions may send 1000 a second
// (gateway.rate_limit), a burst of a second's worth.
type messages struct{ perAccount, small int }

// Random trading on four accounts in three phases, reconciled after the
// second and the third against the model (rules_test.go), the drop copy
// and the market-data feed; the node restarts between them from a
// snapshot and its journal; `ringex replay` of the data at the end
// reaches the node's final state and books.
func TestReconcileRandomTrading(t *testing.T) {
	runSeeds := seeds
	if *seedFlag != 0 {
		runSeeds = []uint64{*seedFlag}
	}
	for _, seed := range runSeeds {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) { reconcileRandomTrading(t, seed) })
	}
}

// scenario is one seed's run of TestReconcileRandomTrading: the
// accounts' order flows and every trading session of both runs of the
// node, whose reports together are the whole history.
type scenario struct {
	t       *testing.T
	cfg     *config.Config
	flows   map[uint32]*orderFlow // by account
	traders []*session
	// haltedAfter: the instrument was halted after this input.
	haltedAfter map[uint32]int64
}

func reconcileRandomTrading(t *testing.T, seed uint64) {
	cfg := testnode.Config(t, t.TempDir(), settings)
	sc := &scenario{t: t, cfg: cfg, flows: map[uint32]*orderFlow{}, haltedAfter: map[uint32]int64{}}
	for _, a := range cfg.Accounts {
		sc.flows[a.ID] = newOrderFlow(cfg, seed, a.ID)
	}

	// Run 1: a phase with deep resting orders while snapshots are taken
	// and a second subscriber joins, then a phase with mass cancels.
	n1, _, addrs := testnode.Open(t, cfg)
	early := subscribe(t, cfg, addrs.MarketData)
	traders, drop := sc.logOn(addrs.Gateway, "run1")
	for _, f := range sc.flows {
		f.deepEvery = 2
	}
	snapshotting := sc.requestSnapshots(n1)
	trading := sc.trade(traders, messages{1000, 300})
	late := subscribe(t, cfg, addrs.MarketData) // joins while the books change
	trading.Wait()
	t.Logf("%d snapshots taken while trading (others skipped: one under way)", snapshotting.stop())
	for _, f := range sc.flows {
		f.deepEvery = 0
	}
	sc.trade(traders, messages{600, 200}).Wait()
	live := sc.quiesce(traders)
	run1 := sc.reconcile("run 1", []*subscriber{early, late}, drop)

	// Run 2 on the same data: the state it recovers is the one run 1
	// stopped in, the same orders live and the same books; then a phase
	// with instrument 3 halted.
	if err := n1.Stop(); err != nil {
		t.Fatal(err)
	}
	final1 := n1.Final()
	for _, s := range append(traders, drop) {
		if err := s.awaitEnd(); err != nil {
			t.Fatalf("%s: the node stopped: %v", s.name, err)
		}
	}
	n2, rec, addrs := testnode.Open(t, cfg)
	t.Logf("restart: snapshot of input %d, %d inputs replayed, to input %d", rec.SnapshotSeq, rec.Replayed, rec.LastSeq)
	if rec.Hash != final1.Hash || rec.LastSeq != final1.LastSeq {
		t.Errorf("restart: recovered input %d, state %016x; the node stopped at input %d, state %016x", rec.LastSeq, rec.Hash, final1.LastSeq, final1.Hash)
	}
	if rec.SnapshotSeq == 0 || rec.Replayed == 0 {
		t.Errorf("restart: snapshot of input %d, %d inputs replayed: the test means to restore a snapshot and replay the journal after it", rec.SnapshotSeq, rec.Replayed)
	}
	after := subscribe(t, cfg, addrs.MarketData)
	traders, drop = sc.logOn(addrs.Gateway, "run2")
	compareLiveOrders(t, live, sc.quiesce(traders))
	sc.checkFeed("after the restart", after, run1, time.Now().Add(hangAfter))

	const halted = 3
	sc.haltedAfter[halted] = sc.lastInput()
	if err := n2.Halt(halted); err != nil {
		t.Fatal(err)
	}
	snapshotting = sc.requestSnapshots(n2)
	sc.trade(traders, messages{1500, 150}).Wait()
	snapshotting.stop()
	// snapshot.keep snapshots after the trading, so that the segments
	// before them are archived whatever the requests above found to take:
	// on a loaded machine (CI's packages in parallel) they took few, the
	// newest kept were run 1's, and the archive checkReplay reads stayed
	// empty.
	sc.snapshotsAtEnd(n2, 3)
	sc.quiesce(traders)
	run2 := sc.reconcile("run 2", []*subscriber{after}, drop)
	if err := n2.Stop(); err != nil {
		t.Fatal(err)
	}
	sc.checkReplay(n2.Final(), run2)
}

// logOn opens a trading session of every account and a drop copy of
// account 1.
func (sc *scenario) logOn(gateway, run string) (traders []*session, drop *session) {
	for _, a := range sc.cfg.Accounts {
		traders = append(traders, dial(sc.t, sc.cfg, gateway, a.ID, false, fmt.Sprintf("%s account %d", run, a.ID)))
	}
	drop = dial(sc.t, sc.cfg, gateway, 1, true, run+" drop copy of account 1")
	sc.traders = append(sc.traders, traders...)
	return traders, drop
}

// trade sends each session its account's next messages, all sessions at
// once, flushing every 25 and pausing a millisecond so that the
// sessions' inputs interleave finely. Wait returns when all are sent (a
// test that fails first waits at its end).
func (sc *scenario) trade(sessions []*session, n messages) *sync.WaitGroup {
	var wg sync.WaitGroup
	sc.t.Cleanup(wg.Wait)
	for _, s := range sessions {
		count, flow := n.perAccount, sc.flows[s.account]
		if s.account == 4 {
			count = n.small
		}
		wg.Go(func() {
			for i := 1; i <= count; i++ {
				err := s.send(flow.next())
				if err == nil && (i%25 == 0 || i == count) {
					err = s.c.Flush()
					time.Sleep(time.Millisecond)
				}
				if err != nil {
					sc.t.Errorf("%s: %v", s.name, err)
					return
				}
			}
		})
	}
	return &wg
}

// snapshotter asks the node for a snapshot every 10 ms until stopped.
type snapshotter struct {
	stopping chan struct{}
	taken    chan int
	once     sync.Once
	requests int
}

// requestSnapshots starts asking; stop ends it (a test that fails first
// stops it at its end, before the node).
func (sc *scenario) requestSnapshots(n *node.Node) *snapshotter {
	s := &snapshotter{stopping: make(chan struct{}), taken: make(chan int)}
	sc.t.Cleanup(func() { s.stop() })
	go func() {
		requested := 0
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			// Asked every 10 ms, some find the last one still copied or
			// written: skipped (409 on the admin port), not an error.
			err := n.RequestSnapshot()
			switch {
			case errors.Is(err, node.ErrSnapshotSkipped):
			case err != nil:
				sc.t.Errorf("snapshot: %v", err)
			default:
				requested++
			}
			select {
			case <-s.stopping:
				s.taken <- requested
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

// snapshotsAtEnd takes n snapshots one after the other, each asked again
// while the one before is still being copied or written.
func (sc *scenario) snapshotsAtEnd(nd *node.Node, n int) {
	sc.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for taken := 0; taken < n; {
		switch err := nd.RequestSnapshot(); {
		case err == nil:
			taken++
		case !errors.Is(err, node.ErrSnapshotSkipped):
			sc.t.Fatalf("snapshot: %v", err)
		case time.Now().After(deadline):
			sc.t.Fatalf("%d of %d snapshots taken in 20 s", taken, n)
		default:
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// stop ends the requests and says how many there were.
func (s *snapshotter) stop() int {
	s.once.Do(func() {
		close(s.stopping)
		s.requests = <-s.taken
	})
	return s.requests
}

// quiesce waits until the exchange has answered every request sent, and
// returns the live orders of every account. Each session's listing of
// its live orders comes after all its own inputs; once every session has
// had one, no input of any is left, and a second round lists the state
// they left.
func (sc *scenario) quiesce(sessions []*session) []proto.Report {
	for _, s := range sessions {
		s.liveOrders(sc.t)
	}
	var live []proto.Report
	for _, s := range sessions {
		live = append(live, s.liveOrders(sc.t)...)
	}
	return live
}

// lastInput is the latest input any session has a report of.
func (sc *scenario) lastInput() int64 {
	last := int64(0)
	for _, s := range sc.traders {
		_, reports := s.record()
		for _, r := range reports {
			last = max(last, r.InputSeq)
		}
	}
	return last
}
