package node

import (
	"math"
	"runtime"
	"runtime/metrics"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// A runtime bucket is counted under every upper bound at or above its own,
// never below; the unbounded ones only in the count.
func TestRebucket(t *testing.T) {
	h := &metrics.Float64Histogram{
		Buckets: []float64{math.Inf(-1), 0, 1e-6, 3e-6, 1e-3, 2e-3, math.Inf(1)},
		Counts:  []uint64{0, 5, 2, 0, 1, 1},
	}
	count, sum, cum := rebucket(h, []float64{1e-6, 2e-6, 4e-6, 2e-3})
	if count != 9 {
		t.Fatalf("count %d, want 9", count)
	}
	want := map[float64]uint64{1e-6: 5, 2e-6: 5, 4e-6: 7, 2e-3: 8}
	for le, n := range want {
		if cum[le] != n {
			t.Errorf("le %g: %d, want %d", le, cum[le], n)
		}
	}
	if wantSum := 5*0.5e-6 + 2*2e-6 + 1*1.5e-3 + 1*2e-3; math.Abs(sum-wantSum) > 1e-12 {
		t.Errorf("sum %g, want %g", sum, wantSum)
	}
}

// The collector serves both parts, and a collection shows in the count.
func TestGCPausesServed(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(newGCPauses())
	counts := func() map[string]uint64 {
		fams, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]uint64{}
		for _, f := range fams {
			if f.GetName() != "ringex_gc_pause_seconds" || f.GetType() != dto.MetricType_HISTOGRAM {
				t.Fatalf("family %s of type %v", f.GetName(), f.GetType())
			}
			for _, m := range f.Metric {
				got[m.Label[0].GetValue()] = m.Histogram.GetSampleCount()
			}
		}
		return got
	}
	before := counts()
	runtime.GC()
	after := counts()
	for _, part := range []string{"stopping", "total"} {
		if after[part] <= before[part] {
			t.Errorf("part %s: %d pauses after a collection, %d before", part, after[part], before[part])
		}
	}
}
