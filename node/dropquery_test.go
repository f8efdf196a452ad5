package node

import (
	"testing"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/journal"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// A dropped query (an order status request here) is refused as a query:
// to its asker alone and never resent, as the engine refuses any query.
// Its reject was an ordinary report: every resend after the restart
// repeated a Rejected naming the request's cursor as a client order id.
func TestADroppedQueryIsNotResent(t *testing.T) {
	dir := t.TempDir()
	conf := func() *config.Config {
		cfg := testConfig(t, dir)
		cfg.Snapshot.OnStop = false
		cfg.Accounts[0].CancelOnDisconnect = false
		return cfg
	}
	cfg := conf()
	in := cfg.Instruments[0]
	n, addrs, _ := startNode(t, cfg)
	c := dial(t, addrs.Gateway, 1)
	c.NewOrder(limit(1, wire.SideBuy, in.ReferencePrice-in.TickSize, 1))
	first := next(t, c, func(m client.Message) bool { return m.Report.ClientOrderID == 1 }).Report.InputSeq
	c.OrderStatus(proto.OrderStatus{AfterOrderID: 7})
	poison := next(t, c, func(m client.Message) bool {
		return m.Type == wire.MessageExecutionReport && m.Report.Kind == wire.ExecKindStatusDone
	}).Report.InputSeq
	c.Close()
	n.Stop()

	replayEmitHook = func(ev *engine.Event) { // answering the status panics; refusing it does not
		if ev.Seq == poison && ev.Type != engine.EvRejected {
			panic("test: poisoned input")
		}
	}
	defer func() { replayEmitHook = nil }()
	crc, found, err := journal.ChecksumAt([]string{cfg.JournalDir()}, nil, poison)
	if err != nil || !found {
		t.Fatalf("input %d: found %v, %v", poison, found, err)
	}
	if _, err := journal.AddDrop(nil, cfg.JournalDir(), journal.Drop{Seq: poison, Checksum: crc}); err != nil {
		t.Fatal(err)
	}
	n2, _, err := New(conf(), zerolog.Nop())
	if err != nil {
		t.Fatalf("restart with the status request dropped: %v", err)
	}
	addrs, err = n2.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer n2.Stop()
	c = dial(t, addrs.Gateway, 1)
	defer c.Close()
	tag, err := c.Resend(first - 1)
	if err != nil {
		t.Fatal(err)
	}
	resent, _, _ := resendAnswer(t, c, tag)
	for _, r := range resent {
		if r.InputSeq == poison {
			t.Fatalf("the dropped status request's refusal was resent: %+v (all: %+v)", r, resent)
		}
	}
	if len(resent) != 1 || resent[0].ClientOrderID != 1 {
		t.Fatalf("resent %+v, want order 1's acceptance alone", resent)
	}
}
