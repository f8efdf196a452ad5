package node

import (
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/proto/wire"
)

// clearState is whether the engine still clears a halted book, whether a
// noop of the node's is on its way, and the engine's live orders — read
// on the engine goroutine, between two batches.
func clearState(t testing.TB, n *Node) (pending, asked bool, live int) {
	t.Helper()
	if !n.stats.engine.Do(func() { pending, live = n.eng.ClearPending(), n.eng.LiveOrders() }) {
		t.Fatal("the engine stage has stopped")
	}
	return pending, n.clearNoop.asked.Load(), live
}

// waitCleared waits until the clear is over and no noop of the node's is
// on its way, and returns the engine's live orders then.
func waitCleared(t testing.TB, n *Node) int {
	t.Helper()
	var live int
	waitUntil(t, func() bool {
		pending, asked, l := clearState(t, n)
		live = l
		return !pending && !asked
	}, n)
	return live
}

// placeAt rests order clOrd of c on in, ticks from its reference price
// (negative: a bid), and waits for its accept.
func placeAt(t *testing.T, c *client.Client, in config.Instrument, clOrd uint64, ticks int64) {
	t.Helper()
	side := wire.SideBuy
	if ticks > 0 {
		side = wire.SideSell
	}
	o := limit(clOrd, side, in.ReferencePrice+ticks*in.TickSize, in.LotSize)
	o.Instrument = in.ID
	c.NewOrder(o)
	if m := next(t, c, func(m client.Message) bool { return m.Report.ClientOrderID == clOrd }); m.Report.Kind != wire.ExecKindAccepted {
		t.Fatalf("order %d: %+v", clOrd, m.Report)
	}
}

// With engine.halt_clear_chunk k, a halt with cancel_orders of a book of
// 22 orders (two accounts, both sides, several levels) reports every
// cancel to its owner's session and empties the market-data book,
// although nothing is sent after the halt: the node's own noops, one at
// a time, report the chunks after the halt's — ceil(22/k)-1 of them and
// not one more. The other instrument's order stays. A restart replaying
// the journal (the halt and the noops) comes back to the same state.
//
// Before the node sent noops, only the halt's first chunk (3 cancels)
// went out: the reads of the fourth report timed out.
func TestHaltClearChunkedDrivenByTheNodeAlone(t *testing.T) {
	const chunk, perAccount = 3, 11
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	setConfig(t, cfg, map[string]string{"engine.halt_clear_chunk": fmt.Sprint(chunk)})
	cfg.Snapshot.OnStop = false // the restart replays the halt and the noops from the journal
	cfg.Accounts[1].CancelOnDisconnect = false
	n, addrs, _ := startNode(t, cfg)
	btc, eth := cfg.Instruments[0], cfg.Instruments[1]

	c4, c2 := dial(t, addrs.Gateway, 4), dial(t, addrs.Gateway, 2)
	var want4, want2 []uint64
	for i := int64(1); i <= perAccount; i++ {
		ticks := 1 + i%4
		if i%2 == 1 {
			ticks = -ticks
		}
		placeAt(t, c4, btc, uint64(i), ticks)
		placeAt(t, c2, btc, uint64(100+i), -ticks)
		want4, want2 = append(want4, uint64(i)), append(want2, uint64(100+i))
	}
	placeAt(t, c2, eth, 500, -1)

	md := dialMD(t, addrs.MarketData)
	md.Subscribe(btc.ID)
	snap := next(t, md, func(m client.Message) bool { return m.Type == wire.MessageBookSnapshot })
	type level struct {
		side  wire.Side
		price int64
	}
	book := map[level]int64{}
	for _, l := range snap.Bids {
		book[level{wire.SideBuy, l.Price}] = l.Quantity
	}
	for _, l := range snap.Asks {
		book[level{wire.SideSell, l.Price}] = l.Quantity
	}
	if len(book) != 8 {
		t.Fatalf("the book before the halt has %d levels, want 8: %+v", len(book), snap)
	}

	before := n.stateNow()
	if err := n.HaltAndCancelOrders(btc.ID); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		c    *client.Client
		want []uint64
	}{{c4, want4}, {c2, want2}} {
		var got []uint64
		for range tt.want {
			m := next(t, tt.c, report(wire.ExecKindCancelled))
			if m.Report.Reason != uint8(engine.CancelInstrumentHalted) || m.Report.Instrument != btc.ID {
				t.Fatalf("cancel %d of %v: %+v", len(got)+1, tt.want, m.Report)
			}
			got = append(got, m.Report.ClientOrderID)
		}
		slices.Sort(got)
		if !slices.Equal(got, tt.want) {
			t.Fatalf("cancelled %v, want %v", got, tt.want)
		}
	}
	next(t, md, func(m client.Message) bool {
		if m.Type == wire.MessageLevelUpdate && m.Instrument == btc.ID {
			if l := (level{m.Level.Side, m.Level.Price}); m.Level.Quantity == 0 {
				delete(book, l)
			} else {
				book[l] = m.Level.Quantity
			}
		}
		return len(book) == 0
	})

	if live := waitCleared(t, n); live != 1 {
		t.Fatalf("%d live orders after the clear, want 1 (on %s)", live, eth.Symbol)
	}
	after := n.stateNow()
	noops := (2*perAccount+chunk-1)/chunk - 1
	if got := after.Seq - before.Seq - 1; got != int64(noops) {
		t.Fatalf("%d inputs after the halt, want %d noops", got, noops)
	}
	if !slices.Equal(after.Halted, []uint32{btc.ID}) {
		t.Fatalf("halted %v", after.Halted)
	}
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}

	n, _, rec := startNode(t, cfg)
	defer n.Stop()
	again := n.stateNow()
	if rec.Replayed == 0 || again.Seq != after.Seq || again.Hash != after.Hash {
		t.Fatalf("restarted (%+v): seq %d hash %s; before the stop seq %d hash %s", rec, again.Seq, again.Hash, after.Seq, after.Hash)
	}
	if pending, asked, _ := clearState(t, n); pending || asked {
		t.Fatalf("restarted: clear pending %v, noop asked %v", pending, asked)
	}
}

// A node stopped in the middle of a chunked clear (a crash: its journal
// ends with the halt and the noops sent so far) restarts to the state it
// stopped in, clear pending, and goes on with the clear itself, with no
// input from anyone. The journal's rules include the chunk: under
// another (0, the whole book at once) it is refused, not replayed into
// another state.
func TestHaltClearChunkedRestartMidClear(t *testing.T) {
	const chunk, orders = 2, 10
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	setConfig(t, cfg, map[string]string{"engine.halt_clear_chunk": fmt.Sprint(chunk)})
	cfg.Snapshot.OnStop = false
	btc := cfg.Instruments[0]

	// hold holds the noop publisher at its nth noop until release closes.
	var reached, release chan struct{}
	hold := func(nth int32) {
		var count atomic.Int32
		reached, release = make(chan struct{}), make(chan struct{})
		r, rel := reached, release
		clearNoopHook = func(*Node) {
			if count.Add(1) == nth {
				close(r)
				<-rel
			}
		}
	}
	t.Cleanup(func() { clearNoopHook = nil })

	hold(3)
	n, addrs, _ := startNode(t, cfg)
	c4 := dial(t, addrs.Gateway, 4)
	for i := int64(1); i <= orders; i++ {
		placeAt(t, c4, btc, uint64(i), -1-i%3)
	}
	if err := n.HaltAndCancelOrders(btc.ID); err != nil {
		t.Fatal(err)
	}
	received(t, reached, "the third noop was not asked for", n)
	// The halt's input and two noops applied: 6 reported, 4 to go.
	if pending, _, live := clearState(t, n); !pending || live != orders-3*chunk {
		t.Fatalf("mid-clear: pending %v, %d live orders, want true and %d", pending, live, orders-3*chunk)
	}
	mid := n.stateNow()
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	close(release) // the held publisher finds the node stopped: nothing published

	whole := testConfig(t, dir) // halt_clear_chunk 0
	whole.Snapshot.OnStop = false
	if _, _, err := New(whole, zerolog.Nop()); !errors.Is(err, ErrRulesChanged) {
		t.Fatalf("a journal written with chunk %d replayed with 0: %v, want ErrRulesChanged", chunk, err)
	}

	hold(1)
	n, _, rec := startNode(t, cfg)
	defer n.Stop()
	received(t, reached, "the restarted node asked for no noop", n)
	got := n.stateNow()
	if rec.Replayed == 0 || got.Seq != mid.Seq || got.Hash != mid.Hash {
		t.Fatalf("restarted (%+v): seq %d hash %s; stopped at seq %d hash %s", rec, got.Seq, got.Hash, mid.Seq, mid.Hash)
	}
	close(release)
	if live := waitCleared(t, n); live != 0 {
		t.Fatalf("%d live orders after the clear, want 0", live)
	}
	left := orders - 3*chunk
	if end := n.stateNow(); end.Seq != mid.Seq+int64(left/chunk) {
		t.Fatalf("the clear ended at input %d, want %d (%d noops after input %d)", end.Seq, mid.Seq+int64(left/chunk), left/chunk, mid.Seq)
	}
}

// engine.halt_clear_chunk is one of the rules: EngineConfig passes it,
// and the fingerprint a node records in its snapshots (and its raft
// entries carry) changes with it. (At 0 the engine hashes nothing of it,
// so a node of before the key keeps its fingerprint.)
func TestHaltClearChunkIsOfTheRules(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	off := EngineConfig(cfg)
	if off.HaltClearChunk != 0 {
		t.Fatalf("default chunk %d, want 0", off.HaltClearChunk)
	}
	setConfig(t, cfg, map[string]string{"engine.halt_clear_chunk": "4096"})
	on := EngineConfig(cfg)
	if on.HaltClearChunk != 4096 {
		t.Fatalf("chunk %d, want 4096", on.HaltClearChunk)
	}
	setConfig(t, cfg, map[string]string{"engine.halt_clear_chunk": "2048"})
	other := EngineConfig(cfg)
	if f0, f1, f2 := off.Fingerprint(), on.Fingerprint(), other.Fingerprint(); f1 == f0 || f2 == f1 || f2 == f0 {
		t.Fatalf("fingerprints: chunk 0 %016x, 4096 %016x, 2048 %016x", f0, f1, f2)
	}
}
