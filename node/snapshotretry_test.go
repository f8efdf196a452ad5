package node

import (
	"strings"
	"testing"
	"time"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/vfs"
)

// snapshot.every_inputs paces itself by the last snapshot taken, not the
// last one asked for, which may have been skipped or failed: it then
// waited a whole interval (20 M inputs by default) before asking again,
// the journal growing all the while.
//
// Skipped: with no state copy free when one is due (both still with the
// writer, here held by the test) it does not ask — a request would be
// skipped — and asks at the first input once one is free: well before
// the next interval, which a skipped request used to start.
func TestSnapshotEveryInputsAfterASkip(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	if err := cfg.Set("snapshot.every_inputs", "100"); err != nil {
		t.Fatal(err)
	}
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	c := dial(t, addrs.Gateway, 4) // no cancel-on-disconnect
	in := cfg.Instruments[0]
	var held []*engine.StateCopy
	for range snapshotCopies {
		held = append(held, <-n.snapCopies)
	}
	restBids(t, c, in, 1, 150) // one due at input 100
	for _, sc := range held {
		n.snapCopies <- sc
	}
	for id := uint64(151); id <= 180 && n.stats.snapshots[snapshotWritten].Load() == 0; id++ {
		restBids(t, c, in, id, id) // an input at a time, each after the last is applied
	}
	waitUntil(t, func() bool { return n.stats.snapshots[snapshotWritten].Load() == 1 })
	if skipped := n.stats.snapshots[snapshotSkipped].Load(); skipped != 0 {
		t.Fatalf("%d snapshots skipped: every_inputs asked while none could be taken", skipped)
	}
}

// Failed: after a snapshot whose write failed, every_inputs asks again
// at the first input after a back-off (a millisecond here, a second and
// doubling in production), not an interval (1000 inputs here) later; the
// failure's log line says when.
func TestSnapshotEveryInputsAfterAFailure(t *testing.T) {
	n, c, in, fs, logs := afterAFailedSnapshot(t, "1000")
	defer n.Stop()
	fs.failing.Store(false)
	// Logged by the writer after it counted the failure.
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(logs.String(), `"retry_in"`); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Errorf("the failure's log line says nothing of the next attempt:\n%s", logs.String())
			break
		}
	}
	for id := uint64(11); id <= 200 && n.stats.snapshots[snapshotWritten].Load() == 0; id++ {
		restBids(t, c, in, id, id)
	}
	waitUntil(t, func() bool { return n.stats.snapshots[snapshotWritten].Load() == 1 })
}

// After a failed write, the back-off's retry is one snapshot: while its
// write is under way (one state copy with the writer, one free),
// every_inputs must not ask for another one.
func TestSnapshotRetryAfterAFailureAsksOnce(t *testing.T) {
	n, c, in, fs, _ := afterAFailedSnapshot(t, "100000")
	defer n.Stop()
	fs.holding.Store(true)
	fs.failing.Store(false)
	time.Sleep(5 * time.Millisecond)
	// The retry is asked at the next input; its write is held.
	for id := uint64(11); id <= 60; id++ {
		restBids(t, c, in, id, id)
		time.Sleep(2 * time.Millisecond)
	}
	close(fs.release)
	waitUntil(t, func() bool { return n.stats.snapshots[snapshotWritten].Load() >= 1 })
	time.Sleep(300 * time.Millisecond)
	if w := n.stats.snapshots[snapshotWritten].Load(); w != 1 {
		t.Fatalf("one failed snapshot's retry wrote %d snapshots (writes begun: %d, skipped %d): every_inputs asked again while the retry was being written",
			w, fs.creates.Load()-1, n.stats.snapshots[snapshotSkipped].Load())
	}
}

// afterAFailedSnapshot starts a node with snapshot.every_inputs every
// and a back-off of a millisecond, rests 10 bids of account 4 (session
// c) on instrument in, and has one snapshot's write fail: fs still
// failing, its log in logs.
func afterAFailedSnapshot(t *testing.T, every string) (n *Node, c *client.Client, in config.Instrument, fs *snapshotFaults, logs *testkit.SyncBuffer) {
	t.Helper()
	cfg := testConfig(t, t.TempDir())
	setConfig(t, cfg, map[string]string{"snapshot.every_inputs": every})
	fs = &snapshotFaults{FS: vfs.Default, release: make(chan struct{})}
	n, addrs, logs := startNodeLogging(t, cfg, Options{FS: fs})
	n.snapRetryFirst = time.Millisecond
	c = dial(t, addrs.Gateway, 4)
	in = cfg.Instruments[0]
	restBids(t, c, in, 1, 10)
	fs.failing.Store(true)
	if err := n.RequestSnapshot(); err != nil {
		n.Stop()
		t.Fatal(err)
	}
	waitUntil(t, func() bool { return n.stats.snapshots[snapshotFailed].Load() == 1 })
	return n, c, in, fs, logs
}
