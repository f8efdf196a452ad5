package node

import (
	"errors"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/proto/wire"
	"github.com/ringex/ringex/vfs"
)

// A coarser tick size, across a clean stop, with an order resting off the
// new grid: the change is unsafe (the order cannot live on that grid) and
// is refused like removing an instrument with resting orders,
// engine.ErrConfigChanged naming the instrument and price. Before, the
// engine called the snapshot corrupt: the node fell back to the
// snapshot of input 0 and advised starting with the old config and
// stopping cleanly — what the operator had just done.
func TestTickSizeChangeWithAnOffGridOrderRefused(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	in := cfg.Instruments[0]
	n, addrs, _ := startNode(t, cfg)
	c := dial(t, addrs.Gateway, 4)                                       // no cancel-on-disconnect
	c.NewOrder(limit(1, wire.SideBuy, in.ReferencePrice-in.TickSize, 1)) // off a 2x grid when ref/tick is even
	next(t, c, func(m client.Message) bool { return m.Report.ClientOrderID == 1 })
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	coarse := testConfig(t, dir)
	coarse.Instruments[0].TickSize = in.TickSize * 2
	n2, _, err := New(coarse, zerolog.Nop())
	if err == nil {
		n2.discard()
		t.Fatalf("a coarser tick size with a resting order off its grid started (%d live orders)", n2.eng.LiveOrders())
	}
	if !errors.Is(err, engine.ErrConfigChanged) {
		t.Errorf("want engine.ErrConfigChanged (an unsafe change of the config), got %v", err)
	}
	if errors.Is(err, ErrRulesChanged) && strings.Contains(err.Error(), "a clean stop then takes a snapshot") {
		t.Errorf("the refusal tells the operator to stop cleanly and change the config — which is what they did")
	}
}

// The journal's end snapshot (a clean stop's) damaged at rest: a start
// under a changed config is refused (ErrRulesChanged), advising a start
// with the old config and a clean stop (which snapshots), then the
// change. Followed literally, it works: the clean stop replaces the
// damaged snapshot. Before, it wrote none (a file was there already) and
// the change was refused again, for ever.
func TestCleanStopReplacesADamagedEndSnapshot(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	in := cfg.Instruments[0]
	n, addrs, _ := startNode(t, cfg)
	c := dial(t, addrs.Gateway, 4) // no cancel-on-disconnect
	for i := uint64(1); i <= 5; i++ {
		c.NewOrder(limit(i, wire.SideBuy, in.ReferencePrice-int64(i)*in.TickSize, 1))
	}
	next(t, c, func(m client.Message) bool { return m.Report.ClientOrderID == 5 })
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	end := n.Final().LastSeq
	damageSnapshot(t, cfg, end) // a bad sector in the stop's snapshot

	changed := func() *config.Config {
		c := testConfig(t, dir)
		c.Accounts[3].MaxOpenOrders = 500
		return c
	}
	if n2, _, err := New(changed(), zerolog.Nop()); err == nil {
		n2.discard()
		t.Fatal("setup: the changed config started over a journal to replay")
	} else if !errors.Is(err, ErrRulesChanged) {
		t.Fatalf("setup: %v", err)
	}
	// The advice: the old config, a clean stop, then the change.
	n3, _, rec := startNode(t, testConfig(t, dir))
	if rec.Replayed == 0 {
		t.Fatalf("setup: recovered %+v, want a replay past the damaged snapshot", rec)
	}
	if err := n3.Stop(); err != nil {
		t.Fatal(err)
	}
	n4, rec4, err := New(changed(), zerolog.Nop())
	if err != nil {
		t.Fatalf("after the advised clean stop with the old config, the changed config is still refused: %v", err)
	}
	defer n4.discard()
	if rec4.LastSeq != end || rec4.Replayed != 0 {
		t.Fatalf("recovered %+v", rec4)
	}
}

// As TestTickSizeChangeWithAnOffGridOrderRefused, for a coarser lot size
// with a resting quantity off it.
func TestLotSizeChangeWithAnOffLotOrderRefused(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	in := cfg.Instruments[0]
	n, addrs, _ := startNode(t, cfg)
	c := dial(t, addrs.Gateway, 4)
	c.NewOrder(limit(1, wire.SideBuy, in.ReferencePrice-in.TickSize, 3*in.LotSize))
	next(t, c, func(m client.Message) bool { return m.Report.ClientOrderID == 1 })
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	coarse := testConfig(t, dir)
	coarse.Instruments[0].LotSize = in.LotSize * 2
	n2, _, err := New(coarse, zerolog.Nop())
	if err == nil {
		n2.discard()
		t.Fatalf("a coarser lot size with a resting quantity off it started")
	}
	if !errors.Is(err, engine.ErrConfigChanged) {
		t.Errorf("want engine.ErrConfigChanged, got %v", err)
	}
}

// snapDirSyncFault fails the first SyncDir of the snapshot directory
// after a snapshot file was renamed into it, while armed.
type snapDirSyncFault struct {
	vfs.FS
	dir     string
	armed   atomic.Bool
	renamed atomic.Bool
}

func (f *snapDirSyncFault) Rename(o, n string) error {
	if f.armed.Load() && strings.HasSuffix(n, ".snap") {
		f.renamed.Store(true)
	}
	return f.FS.Rename(o, n)
}

func (f *snapDirSyncFault) SyncDir(d string) error {
	if f.armed.Load() && f.renamed.Load() && filepath.Clean(d) == filepath.Clean(f.dir) {
		f.armed.Store(false)
		return syscall.EIO
	}
	return f.FS.SyncDir(d)
}

// The config-change procedure with snapshot.keep 1 and journal_retention
// delete: a clean stop, then a start under the new limits, which
// rewrites the journal's end snapshot. A failed directory fsync during
// that rewrite fails the start and keeps the snapshot: the node starts
// again. Before, Write removed what it had renamed over the old file:
// every later start, old config or new, found only the empty state of
// input 0 and no journal before the deleted snapshot.
func TestFailedRulesRewriteKeepsTheOnlySnapshot(t *testing.T) {
	dir := t.TempDir()
	conf := func(maxOpen int64) *config.Config {
		c := testConfig(t, dir)
		for k, v := range map[string]string{"snapshot.keep": "1", "snapshot.journal_retention": "delete"} {
			if err := c.Set(k, v); err != nil {
				t.Fatal(err)
			}
		}
		if maxOpen > 0 {
			c.Accounts[2].MaxOpenOrders = maxOpen
		}
		return c
	}
	cfg := conf(0)
	n, a, _ := startNode(t, cfg)
	restBids(t, dial(t, a.Gateway, 3), cfg.Instruments[0], 1, 12000) // more than one 1 MiB segment
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	final := n.Final()
	fs := &snapDirSyncFault{FS: vfs.Default, dir: cfg.SnapshotDir()}
	fs.armed.Store(true)
	if n2, _, err := NewWithOptions(conf(50000), zerolog.Nop(), Options{FS: fs}); err == nil {
		n2.discard()
		t.Fatal("setup: the start under the new limits did not fail")
	} else {
		t.Logf("start under the new limits, the directory fsync failing: %v", err)
	}
	n3, rec, err := New(cfg, zerolog.Nop()) // back to the old config
	if err != nil {
		t.Fatalf("after one failed directory fsync the node cannot start with its old config either: %v", err)
	}
	defer n3.discard()
	if rec.Hash != final.Hash {
		t.Fatalf("recovered %+v, the node stopped at %+v", rec, final)
	}
}

// A start under changed rules with nothing to replay rewrites the
// snapshot under them, and says so at warn level: an "unknown" rules
// mark's message (snapshot/rules.go) tells the operator to look for
// this line, and a node logging at warn dropped it at info.
func TestRulesRewriteLoggedAtWarn(t *testing.T) {
	dir := t.TempDir()
	n, _, _ := startNode(t, testConfig(t, dir))
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	changed := testConfig(t, dir)
	changed.Accounts[0].MaxOrderQty++
	logs := new(testkit.SyncBuffer)
	n2, _, err := New(changed, zerolog.New(logs).Level(zerolog.WarnLevel))
	if err != nil {
		t.Fatal(err)
	}
	n2.discard()
	if !strings.Contains(logs.String(), "snapshot: rewritten under the changed instruments, accounts or limits") {
		t.Fatalf("no rewrite line in a warn-level log:\n%s", logs.String())
	}
}
