package node

import (
	"testing"

	"github.com/ringex/ringex/engine"
)

// A snapshot whose copy is still open when the engine stage stops is
// finished from the stopped engine and written (snapcopy.go, 4): Stop
// waits for it. Here its driver is held off (copyMu) until the engine
// has exited, so the copy is begun and finished on the stopped engine;
// with snapshot.on_stop off, the snapshot at the journal's end is that
// one, and it is the state the node stopped in.
func TestSnapshotCopyOpenAtStopIsWritten(t *testing.T) {
	for _, held := range []bool{true, false} {
		cfg := testConfig(t, t.TempDir())
		if err := cfg.Set("snapshot.on_stop", "false"); err != nil {
			t.Fatal(err)
		}
		n, addrs, _ := startNode(t, cfg)
		n.copyStepBytes = 128 // about one order a step: the copy spans many batches
		c := dial(t, addrs.Gateway, 4)
		restBids(t, c, cfg.Instruments[0], 1, 600)
		if held {
			n.copyMu.Lock()
		}
		if err := n.RequestSnapshot(); err != nil {
			t.Fatal(err)
		}
		stopped := make(chan error, 1)
		go func() { stopped <- n.Stop() }()
		if held {
			<-n.stats.engine.Done()
			n.copyMu.Unlock()
		}
		if err := <-stopped; err != nil {
			t.Fatal(err)
		}
		f := n.Final()
		seqs, err := n.snaps.List()
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, seq := range seqs {
			snap, err := n.snaps.Read(seq)
			if err != nil {
				t.Fatal(err)
			}
			if seq == f.LastSeq {
				found = true
				if snap.Hash != f.Hash || engine.SnapshotHash(snap.Payload) != f.Hash {
					t.Errorf("held %v: the snapshot at input %d: hash %016x, the node stopped with %016x", held, seq, snap.Hash, f.Hash)
				}
			}
		}
		if !found {
			t.Fatalf("held %v: snapshots at %v, none at the journal's end %d (copy steps %d)", held, seqs, f.LastSeq, n.stats.copySteps.Load())
		}
		t.Logf("held %v: snapshots %v, copy steps %d", held, seqs, n.stats.copySteps.Load())
	}
}
