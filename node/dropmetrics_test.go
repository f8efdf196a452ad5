package node

import (
	"testing"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/journal"
	"github.com/ringex/ringex/proto/wire"
)

// The snapshot a recovery writes past the inputs it dropped is the
// newest on disk: the metrics say so. They named the snapshot restored
// (ringex_inputs_since_snapshot counted the inputs before the drop a
// restart would no longer replay; ringex_snapshot_sequence said none
// written).
func TestTheSnapshotPastADropIsInTheMetrics(t *testing.T) {
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
	for i := uint64(1); i <= 3; i++ {
		c.NewOrder(limit(i, wire.SideBuy, in.ReferencePrice-in.TickSize*int64(i), 1))
	}
	poison := next(t, c, func(m client.Message) bool { return m.Report.ClientOrderID == 2 }).Report.InputSeq
	next(t, c, func(m client.Message) bool { return m.Report.ClientOrderID == 3 })
	c.Close()
	n.Stop()
	replayEmitHook = func(ev *engine.Event) {
		if ev.Seq == poison && ev.Type != engine.EvRejected {
			panic("test: poisoned input")
		}
	}
	defer func() { replayEmitHook = nil }()
	crc, _, err := journal.ChecksumAt([]string{cfg.JournalDir()}, nil, poison)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := journal.AddDrop(nil, cfg.JournalDir(), journal.Drop{Seq: poison, Checksum: crc}); err != nil {
		t.Fatal(err)
	}
	n2, rec, err := New(conf(), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n2.Start(); err != nil {
		t.Fatal(err)
	}
	defer n2.Stop()
	m := scrapeMetrics(t, n2.adminLn.Addr().String())
	if v, _ := metricValue(m, "ringex_inputs_since_snapshot"); v != 0 {
		t.Errorf("ringex_inputs_since_snapshot %v after a snapshot at the journal's end (input %d), want 0", v, rec.LastSeq)
	}
	if v, _ := metricValue(m, "ringex_snapshot_sequence"); int64(v) != rec.LastSeq {
		t.Errorf("ringex_snapshot_sequence %v, want %d (written past the drop)", v, rec.LastSeq)
	}
}
