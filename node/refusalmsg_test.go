package node

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/proto/wire"
	"github.com/ringex/ringex/replay"
)

// A start refused because the journal after the snapshot it restores
// does not begin where the snapshot ends — its newer snapshots removed,
// not damaged, and retention deleted the segments before them — names
// the journal and says what to put back, as the refusal past damaged
// snapshots does. It was replay's bare "the journal does not hold the
// inputs to start from: it starts at input N, the replay at 1".
func TestMissingInputsRefusalNamesTheJournalAndTheRemedy(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	setConfig(t, cfg, map[string]string{"snapshot.keep": "1", "snapshot.journal_retention": "delete"})
	n, a, _ := startNode(t, cfg)
	restBids(t, dial(t, a.Gateway, 3), cfg.Instruments[0], 1, 12000)
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	last := n.Final().LastSeq
	if err := os.Remove(filepath.Join(cfg.SnapshotDir(), fmt.Sprintf("%020d.snap", last))); err != nil {
		t.Fatal(err) // the snapshot moved aside by hand
	}
	n2, _, err := New(cfg, zerolog.Nop())
	if err == nil {
		n2.discard()
		t.Fatal("started")
	}
	if !errors.Is(err, replay.ErrMissing) {
		t.Fatalf("%v, want ErrMissing", err)
	}
	if !strings.Contains(err.Error(), cfg.JournalDir()) || !strings.Contains(err.Error(), "backup") {
		t.Fatalf("refused without naming the journal or the remedy: %v", err)
	}
}

// A start refused because a record between the snapshot it restores
// and the journal's end says the rules changed there (A, B, then A again,
// the snapshots after the first A damaged) names that record's file and
// what to do, as checkRules' refusal does.
func TestRulesChangedBetweenRefusalNamesTheRecord(t *testing.T) {
	dir := t.TempDir()
	cfg := func(maxOpen int64) *config.Config {
		c := testConfig(t, dir)
		c.Snapshot.Keep = 3
		c.Snapshot.JournalRetention = config.RetentionKeep
		if maxOpen > 0 {
			c.Accounts[3].MaxOpenOrders = maxOpen
		}
		return c
	}
	in := cfg(0).Instruments[0]
	run := func(c *config.Config, snapAfter uint64, ids ...uint64) {
		t.Helper()
		n, addrs, _ := startNode(t, c)
		cl := dial(t, addrs.Gateway, 4)
		for _, id := range ids {
			cl.NewOrder(limit(id, wire.SideBuy, in.ReferencePrice-int64(id)*in.TickSize, 1))
			next(t, cl, func(m client.Message) bool { return m.Type == wire.MessageExecutionReport })
			if id == snapAfter {
				waitSnapshot(t, n)
			}
		}
		cl.Close()
		if err := n.Stop(); err != nil {
			t.Fatal(err)
		}
	}
	run(cfg(0), 2, 1, 2, 3)
	run(cfg(3), 0, 4)
	run(cfg(0), 0)
	seqs, _ := filepath.Glob(filepath.Join(cfg(0).SnapshotDir(), "*.snap"))
	for _, p := range seqs[2:] { // all but those of input 0 and of the first A
		b, _ := os.ReadFile(p)
		b[len(b)-6] ^= 1
		os.WriteFile(p, b, 0o600)
	}
	n, _, err := New(cfg(0), zerolog.Nop())
	if err == nil {
		n.discard()
		t.Fatal("started")
	}
	if !errors.Is(err, ErrRulesChanged) {
		t.Fatalf("%v, want ErrRulesChanged", err)
	}
	if !strings.Contains(err.Error(), cfg(0).SnapshotDir()) || !strings.Contains(err.Error(), "backup") {
		t.Fatalf("refused without naming the record's file or the remedy: %v", err)
	}
}
