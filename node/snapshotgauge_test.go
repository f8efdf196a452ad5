package node

import "testing"

// ringex_inputs_since_snapshot counts the durable inputs after the newest
// snapshot on disk: all of them before the first, few after one is
// written, and after a restart exactly the ones the restart replayed.
func TestInputsSinceSnapshot(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Snapshot.OnStop = false // a journal to replay after the snapshot
	n, addrs, _ := startNode(t, cfg)
	c := dial(t, addrs.Gateway, 1)
	in := cfg.Instruments[0]
	sinceSnapshot := func(admin string) (since, durable float64) {
		body := scrapeMetrics(t, admin)
		since, ok1 := metricValue(body, "ringex_inputs_since_snapshot")
		durable, ok2 := metricValue(body, "ringex_journal_durable_sequence")
		if !ok1 || !ok2 {
			t.Fatalf("not served: ringex_inputs_since_snapshot %v, ringex_journal_durable_sequence %v", ok1, ok2)
		}
		return since, durable
	}
	restBids(t, c, in, 1, 50)
	if since, durable := sinceSnapshot(addrs.Admin); since != durable || since < 50 {
		t.Fatalf("before any snapshot: %v inputs since, %v durable; want all of them", since, durable)
	}
	if err := n.RequestSnapshot(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { return n.stats.snapshots[snapshotWritten].Load() == 1 })
	restBids(t, c, in, 51, 60)
	since, durable := sinceSnapshot(addrs.Admin)
	if want := durable - float64(n.stats.lastSnapshotSeq.Load()); since != want || since < 10 || since > 12 {
		t.Fatalf("after a snapshot and 10 orders: %v inputs since, want %v", since, want)
	}
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	n2, addrs2, rec := startNode(t, cfg)
	defer n2.Stop()
	if since, _ := sinceSnapshot(addrs2.Admin); since != float64(rec.Replayed) || rec.Replayed == 0 {
		t.Fatalf("after a restart: %v inputs since the snapshot, %d replayed", since, rec.Replayed)
	}
}
