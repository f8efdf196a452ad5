package node

import (
	"math"
	"runtime/metrics"

	"github.com/prometheus/client_golang/prometheus"
)

// gcPauses serves the runtime's stop-the-world pauses for garbage
// collection as ringex_gc_pause_seconds, read from runtime/metrics at
// scrape time: part="stopping", how long stopping every goroutine took
// (each must reach a point where it can be preempted), and part="total",
// the whole pause. Every goroutine of the node — the engine's, the
// gateway's readers — waits through both. A long "stopping" means some
// goroutine ran where it could not be preempted, as the snapshot writer
// did in one long memmove or memclr until 2026-12-04 (up to 569 ms; see
// package internal/pieces).
type gcPauses struct {
	desc    *prometheus.Desc
	buckets []float64
}

// gcPauseMetrics are the runtime/metrics names, by part.
var gcPauseMetrics = [...]struct{ part, name string }{
	{"stopping", "/sched/pauses/stopping/gc:seconds"},
	{"total", "/sched/pauses/total/gc:seconds"},
}

func newGCPauses() *gcPauses {
	return &gcPauses{
		desc: prometheus.NewDesc("ringex_gc_pause_seconds",
			"Stop-the-world pauses of the garbage collector: stopping every goroutine (part=stopping) and the whole pause (part=total).",
			[]string{"part"}, nil),
		// 1 µs doubling to ~1 s: past the other latencies' ~131 ms, as a
		// pause that long is what this is watched for.
		buckets: prometheus.ExponentialBuckets(1e-6, 2, 21),
	}
}

func (c *gcPauses) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *gcPauses) Collect(ch chan<- prometheus.Metric) {
	samples := make([]metrics.Sample, len(gcPauseMetrics))
	for i, m := range gcPauseMetrics {
		samples[i].Name = m.name
	}
	metrics.Read(samples)
	for i, s := range samples {
		if s.Value.Kind() != metrics.KindFloat64Histogram {
			continue // not in this Go version
		}
		count, sum, cumulative := rebucket(s.Value.Float64Histogram(), c.buckets)
		ch <- prometheus.MustNewConstHistogram(c.desc, count, sum, cumulative, gcPauseMetrics[i].part)
	}
}

// rebucket turns a runtime histogram into Prometheus cumulative buckets
// with the upper bounds les. A runtime bucket counts under every le at
// or above its upper boundary (the buckets are cumulative), so a count is
// never placed below its value. The sum is estimated from the runtime's buckets (their
// midpoints; the lower bound of an unbounded one), which is all the
// runtime keeps.
func rebucket(h *metrics.Float64Histogram, les []float64) (count uint64, sum float64, cumulative map[float64]uint64) {
	cumulative = make(map[float64]uint64, len(les))
	for _, le := range les { // every bucket served, 0 until a pause fits under it
		cumulative[le] = 0
	}
	for i, n := range h.Counts {
		if n == 0 {
			continue
		}
		lo, hi := h.Buckets[i], h.Buckets[i+1]
		count += n
		switch {
		case math.IsInf(lo, -1):
			sum += float64(n) * max(hi, 0)
		case math.IsInf(hi, 1):
			sum += float64(n) * lo
		default:
			sum += float64(n) * (lo + hi) / 2
		}
		for _, le := range les {
			if hi <= le {
				cumulative[le] += n
			}
		}
	}
	return count, sum, cumulative
}
