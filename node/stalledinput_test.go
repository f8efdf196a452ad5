package node

import (
	"strings"
	"testing"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/gateway"
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
