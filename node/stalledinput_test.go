package node

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/disruptor"
	"github.com/ringex/ringex/gateway"
	"github.com/ringex/ringex/input"
	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/proto/wire"
)

// A session whose reader waits to publish into an input ring that stays
// full (the engine stalled) gives up after gateway.read_timeout, before
// it claims: its session ends — unregistered, so its account's one slot
// (max_sessions_per_account 1) takes a new logon, and its client told
// why — and the ring, with no slot claimed and left unpublished, takes
// every input once the engine runs again. Before, the reader waited for
// as long as the ring stayed full: its client heard nothing (read to
// the end: still open after 5 s) and its session held the account's slot
// (a second logon: LogonReject TooManySessions).
func TestAReaderHeldOnAStalledRingEndsItsSession(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	setConfig(t, cfg, map[string]string{
		"rings.input_slots":                "4",
		"gateway.max_sessions_per_account": "1",
		"gateway.read_timeout":             "1s",
		"gateway.heartbeat_interval":       "250ms",
	})
	n, addrs, _ := startNode(t, cfg)
	const acct = 4 // no cancel-on-disconnect
	a := dial(t, addrs.Gateway, acct)
	defer a.Close()
	release := holdEngineOnFullRing(t, n, cfg)
	defer release()
	published := n.in.published()

	a.NewOrder(limit(1, wire.SideBuy, 100, 1)) // read, and held at the full ring
	err := testkit.ReadToEnd(t, a, "the session held on the full ring")
	if got := client.ClosedBy(err); got != "shutdown" || !strings.Contains(err.Error(), "gateway.read_timeout") {
		t.Fatalf("the session held on the full ring ended with %v, want a Closing saying the node took no input for gateway.read_timeout", err)
	}
	if got := n.gw.Counters.Disconnects[gateway.CauseInputStalled].Load(); got != 1 {
		t.Errorf("%d disconnects counted input_stalled, want 1", got)
	}
	// Its slot is free while the ring is still full.
	b := dial(t, addrs.Gateway, acct)
	defer b.Close()
	if got := n.in.published(); got != published {
		t.Fatalf("the ring's published cursor moved from %d to %d while the engine was held: the order given up on was published", published, got)
	}

	release()
	in := cfg.Instruments[0]
	b.NewOrder(limit(2, wire.SideBuy, in.ReferencePrice-in.TickSize, in.LotSize))
	// (The ring's filling inputs, malformed, are answered to the
	// account's sessions too: passed over.)
	if m := next(t, b, func(m client.Message) bool {
		return m.Type == wire.MessageExecutionReport && m.Report.ClientOrderID == 2
	}); m.Report.Kind != wire.ExecKindAccepted {
		t.Fatalf("the new session's order was answered %+v", m.Report)
	}
	// Every input published came through: no slot was claimed and left.
	waitUntil(t, func() bool { return n.stats.engine.Sequence().Load() >= n.in.published() }, n)
}

// PublishBatch into a ring with room — the common case — allocates
// nothing, its wait bounded or not: the bound arms its timer only once
// a claim finds the ring full.
func TestPublishBatchWithRoomAllocatesNothing(t *testing.T) {
	in, err := newRing[input.Slot]("input", 1024, true, disruptor.Adaptive, func(name string, err error) { t.Error(name, err) })
	if err != nil {
		t.Fatal(err)
	}
	drain, err := in.add("drain", func(lo, hi int64) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if err := in.start(); err != nil {
		t.Fatal(err)
	}
	defer in.halt()
	n := &Node{in: in}
	payloads := [][]byte{make([]byte, 64), make([]byte, 64)}
	for _, wait := range []time.Duration{0, time.Minute} {
		publish := func() {
			if _, err := n.PublishBatch(input.KindClient, 1, 1, 0, payloads, wait); err != nil {
				t.Fatal(err)
			}
			for drain.Sequence().Load() < n.in.published() {
				runtime.Gosched() // AllocsPerRun runs with GOMAXPROCS=1
			}
		}
		publish() // warm up: the consumer started and parked once
		if a := testing.AllocsPerRun(1000, publish); a != 0 {
			t.Errorf("wait %v: %v allocs per PublishBatch of 2 frames with room", wait, a)
		}
	}
}
