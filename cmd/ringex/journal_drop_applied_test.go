package main

import (
	"strings"
	"testing"

	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/input"
	"github.com/ringex/ringex/journal"
	"github.com/ringex/ringex/snapshot"
)

// An input the node's newest snapshot is past was applied (or dropped)
// before it: the engine panics only on one after it. Listed — a
// mistyped --input, the dry run's line misread — it changed nothing the
// node held, but every resend replaying across it answered its order
// rejected (dropped-by-operator) while the order was live on the book,
// and a start from an earlier snapshot (the newest damaged), or ringex
// replay, built another state than the cluster's. drop refuses it.
func TestJournalDropRefusesAnInputTheStateIsPast(t *testing.T) {
	cfg, j := demoJournal(t)
	for seq := int64(1); seq <= 5; seq++ {
		if err := j.Append(&journal.Record{Seq: seq, Session: 1, Account: 1, Kind: uint8(input.KindClient), Payload: []byte{1, 2, 3}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Sync(); err != nil {
		t.Fatal(err)
	}
	j.Close()
	ecfg, payload, store := emptyState(t, cfg) // the state's content does not matter here
	if _, err := store.Write(snapshot.Snapshot{Seq: 3, Hash: engine.SnapshotHash(payload), Rules: ecfg.Fingerprint(), Payload: payload}); err != nil {
		t.Fatal(err)
	}
	dir := cfg.JournalDir()
	for _, args := range [][]string{{"--input", "2"}, {"--input", "3", "--yes"}} {
		out, err := ringex(t, nil, append([]string{"journal", "drop", dir}, args...)...)
		if err == nil || !strings.Contains(err.Error(), "past input") {
			t.Errorf("drop %v under a snapshot of input 3: %v, want a refusal\n%s", args, err, out)
		}
	}
	if d, err := journal.ReadDrops(nil, dir); err != nil || d.Len() != 0 {
		t.Fatalf("the drops file lists %v (%v), want nothing", d.Entries(), err)
	}
	mustRingex(t, "journal", "drop", dir, "--input", "4", "--yes") // after the snapshot: the one the engine could panic on
	mustRingex(t, "journal", "drop", dir, "--input", "4", "--yes") // listed already: said so, not refused
}
