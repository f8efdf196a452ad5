package node

import (
	"testing"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/input"
)

// The journaller's batch allocates nothing (rules 5 and 7): one lock, and
// the node's own record for every input.
func TestJournalBatchAllocatesNothing(t *testing.T) {
	n, fill := stagesAlone(t)
	next := int64(0)
	allocs := testing.AllocsPerRun(200, func() {
		fill(next)
		if err := n.journalBatch(next, next+stageBatch-1); err != nil {
			t.Fatal(err)
		}
		next += stageBatch
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per journal batch", allocs)
	}
}

// stageBatch is the batch of stagesAlone's inputs a test or benchmark
// hands a stage at once.
const stageBatch = 64

// stagesAlone makes a node that is not started (journal.sync none: the
// stages' own work, not the disk's) for a test to call its stages'
// handlers itself, and fill, which publishes stageBatch inputs from
// ring slot from: NewOrder-sized payloads the journal does not decode,
// the unmarshaler rejects (malformed) and the engine answers with a
// reject that goes nowhere (no output port is open), each received at
// its slot's number (Unix ns).
func stagesAlone(t testing.TB) (*Node, func(from int64)) {
	t.Helper()
	cfg := testConfig(t, t.TempDir())
	cfg.Journal.Sync = "none"
	n, _, err := New(cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.discard() })
	n.stats.init(len(cfg.Instruments)) // as Start does
	payload := make([]byte, 104)
	return n, func(from int64) {
		for s := from; s < from+stageBatch; s++ {
			n.fillInput(s, input.KindClient, 1, 1, s, payload)
		}
	}
}

// The journaller's and the engine's batch handlers, stageBatch inputs a
// batch, each observing its stage latency once. Observing the batch's
// oldest input (a comparison per input in the loop over the batch)
// against its last (one slot read after it), alternated six times, three
// runs of 20 000 batches each, on the shared 2-core dev VM (2026-12-07,
// load average 13–16): journal 33–148 µs a batch, median 82, against
// 25–231, median 88; engine 2.5–24.7 µs, median 4.6, against 2.6–21.7,
// median 9.5 — no difference the noise lets through; 0 allocations
// either way.
//
//	go test ./node -run '^$' -bench StageBatch -count 6
func BenchmarkStageBatch(b *testing.B) {
	for _, stage := range []struct {
		name  string
		batch func(n *Node, lo, hi int64) error
	}{
		{"journal", (*Node).journalBatch},
		{"engine", func(n *Node, lo, hi int64) error {
			if err := n.unmarshalBatch(lo, hi); err != nil {
				return err
			}
			return n.engineBatch(lo, hi)
		}},
	} {
		b.Run(stage.name, func(b *testing.B) {
			n, fill := stagesAlone(b)
			b.ReportAllocs()
			next := int64(0)
			for b.Loop() {
				fill(next)
				if err := stage.batch(n, next, next+stageBatch-1); err != nil {
					b.Fatal(err)
				}
				next += stageBatch
			}
		})
	}
}
