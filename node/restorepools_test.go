package node

import (
	"slices"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/internal/testkit"
)

// A snapshot that does not restore — its file verifies, the engine
// refuses its state (here a trailing byte, after restoring every order)
// — makes New try the next older one. With rings.prefault each try made
// and mapped another set of engine pools, and the node held one set per
// snapshot tried until the collector ran. Three such snapshots before
// the good one: New allocates less than half a set of pools more than
// with the good one alone (TotalAlloc, which no collection lowers); it
// allocated three sets more. The good snapshot is restored.
func TestSnapshotsThatDoNotRestoreMapThePoolsOnce(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	setConfig(t, cfg, map[string]string{"rings.prefault": "true"})
	n, a, _ := startNode(t, cfg)
	restBids(t, dial(t, a.Gateway, 3), cfg.Instruments[0], 1, 5)
	if err := n.Stop(); err != nil { // a snapshot at the stop
		t.Fatal(err)
	}
	seqs, _ := n.snaps.List()
	good, err := n.snaps.Read(seqs[len(seqs)-1])
	if err != nil {
		t.Fatal(err)
	}

	allocated := func(logs *testkit.SyncBuffer) (uint64, Recovered) {
		t.Helper()
		var n *Node
		var rec Recovered
		var err error
		bytes := testkit.AllocatedBy(func() { n, rec, err = New(cfg, zerolog.New(logs)) })
		if err != nil {
			t.Fatal(err)
		}
		if err := n.discard(); err != nil {
			t.Fatal(err)
		}
		return bytes, rec
	}
	alone, _ := allocated(new(testkit.SyncBuffer))

	bad := append(slices.Clone(good.Payload), 0)
	for i := range int64(3) {
		s := good
		s.Seq, s.Payload, s.Hash = good.Seq+1+i, bad, engine.SnapshotHash(bad)
		if _, err := n.snaps.Write(s); err != nil {
			t.Fatal(err)
		}
	}
	logs := new(testkit.SyncBuffer)
	tried, rec := allocated(logs)
	if rec.SnapshotSeq != good.Seq || strings.Count(logs.String(), "does not restore") != 3 {
		t.Fatalf("restored the snapshot of input %d, want %d, after three that do not restore:\n%s", rec.SnapshotSeq, good.Seq, logs)
	}

	ecfg := EngineConfig(cfg)
	ecfg.MaxOrders, ecfg.MapPools = cfg.Engine.MaxOrders, true
	pools := testkit.AllocatedBy(func() {
		if _, err := engine.NewEngine(ecfg, nil); err != nil {
			t.Error(err)
		}
	})
	if tried > alone+pools/2 {
		t.Fatalf("New allocated %d bytes past three snapshots that do not restore, %d with the good one alone: "+
			"%.1f sets of engine pools (%d bytes) more, want none", tried, alone, float64(tried-alone)/float64(pools), pools)
	}
	t.Logf("New allocated %d bytes past three snapshots that do not restore, %d with the good one alone; a set of pools is %d", tried, alone, pools)
}
