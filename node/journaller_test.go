package node

import (
	"testing"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/input"
)

// The journaller's batch allocates nothing (rules 5 and 7): one lock, and
// the node's own record for every input.
func TestJournalBatchAllocatesNothing(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Journal.Sync = "none" // the allocations, not the disk
	n, _, err := New(cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer n.discard()
	n.stats.init(len(cfg.Instruments)) // as Start does
	// A NewOrder's size; the journal does not decode what it holds.
	payload := make([]byte, 104)
	const batch = 64
	next := int64(0)
	allocs := testing.AllocsPerRun(200, func() {
		for s := next; s < next+batch; s++ {
			n.fillInput(s, input.KindClient, 1, 1, s, payload)
		}
		if err := n.journalBatch(next, next+batch-1); err != nil {
			t.Fatal(err)
		}
		next += batch
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per journal batch", allocs)
	}
}
