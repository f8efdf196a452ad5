package node

import (
	"testing"

	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/snapshot"
)

// BenchmarkResendRulesCheck measures what a resend replaying from a
// snapshot pays to check the rules records between its start point and
// its request (rulesKeptBetween) — here three snapshots of a book of
// 100 000 resting orders, taken after the start point — against the
// restore of the start point itself (engineAt), which it pays anyway.
// The same Store checks them again and again, as the node's resends do.
//
//	go test ./node -run '^$' -bench BenchmarkResendRulesCheck -count 3
//
// The 2-vCPU dev VM, 2026-12-07 (6.2 MB a snapshot, page cache warm):
// check 3.4–4.7 ms when every check read each snapshot whole, 24–31 µs
// since one verified is read whole once (snapshot.Store.RulesBetween);
// restore 14–20 ms.
func BenchmarkResendRulesCheck(b *testing.B) {
	cfg := testConfig(b, b.TempDir())
	for i := range cfg.Accounts {
		cfg.Accounts[i].MaxOpenOrders = 0
	}
	ecfg := EngineConfig(cfg)
	ecfg.MaxOrders = 1 << 17
	eng, err := engine.NewEngine(ecfg, discard{})
	if err != nil {
		b.Fatal(err)
	}
	in := cfg.Instruments[0]
	for i := 1; i <= 100_000; i++ {
		eng.Apply(&engine.Command{Type: engine.CmdNewOrder, Seq: int64(i), Timestamp: int64(i), Account: cfg.Accounts[i%len(cfg.Accounts)].ID,
			ClientOrderID: uint64(i), Instrument: in.ID, Side: engine.Buy, OrderType: engine.Limit, TIF: engine.GTC,
			Price: in.ReferencePrice - int64(1+i%50)*in.TickSize, Quantity: 1})
	}
	store, err := snapshot.OpenStore(cfg.SnapshotDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	n := &Node{cfg: cfg, snaps: store, rules: EngineConfig(cfg).Fingerprint()}
	payload := eng.AppendSnapshot(nil)
	for _, seq := range []int64{100_000, 200_000, 300_000, 400_000} { // the start point, then three
		if _, err := store.Write(snapshot.Snapshot{Seq: seq, Rules: n.rules, Payload: payload}); err != nil {
			b.Fatal(err)
		}
	}
	size := float64(snapshot.FileSize(snapshot.Snapshot{Payload: payload}))
	b.Run("check", func(b *testing.B) {
		for b.Loop() {
			if err := n.rulesKeptBetween(100_000, 450_000); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(size/1e6, "MB/snapshot")
	})
	b.Run("restore", func(b *testing.B) {
		w := &resender{n: n}
		for b.Loop() {
			if _, _, err := w.engineAt(100_000); err != nil {
				b.Fatal(err)
			}
		}
	})
}
