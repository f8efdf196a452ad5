package node

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Each stage's latency is observed, once per batch, for the batch's
// oldest input: inputs received an hour apart, journaled in one batch
// and applied in one, are recorded at the hour by both stages. Both
// observed the batch's last input, the newest — the least latency of the
// batch, where the end-to-end histogram takes a write's oldest report —
// so the stages' figures did not add up to it.
func TestStageLatencyObservedAtTheOldestInputOfABatch(t *testing.T) {
	// Every input is received after start, but for order 3's hour: order
	// 1's report can reach the client before the engine observes its
	// batch, so that observation may fall on either side of before.
	start := time.Now()
	h := holdBatches(t, "journaller", &journalBatchHook)
	o := startClockedOrders(t, h) // order 1 journaled and applied
	n := o.n
	stages := map[string]prometheus.Observer{"journal": n.stats.journalStage, "engine": n.stats.engineStage}
	before := map[string]latencies{}
	for name, st := range stages {
		before[name] = observed(t, st)
	}

	o.anHourApart(t, h, func(seq int64) { // the journaller's batch of order 2: orders 3 and 4 are journaled together after it
		t.Helper()
		waitUntil(t, func() bool { return n.base+n.in.published() >= seq })
	})
	h.release()
	// The engine applies an input after the journaller's batch holding it,
	// and each stage observes its batch before it finishes it.
	waitUntil(t, func() bool { return n.base+n.stats.engine.Sequence().Load() >= o.first+3 })

	for name, st := range stages {
		now := observed(t, st)
		sum, count := now.sum-before[name].sum, now.count-before[name].count
		// Orders 2 to 4 in two or three batches (the engine may take
		// order 2 with the others), and order 1's if observed after
		// before, each observed at most since start but for order 3's
		// hour.
		if most := time.Hour + time.Duration(count)*time.Since(start); sum < time.Hour || sum > most {
			t.Errorf("%s stage: %d batches of inputs received an hour and a moment ago observed at %v in all, want from 1h to %v", name, count, sum, most)
		}
	}
}
