package node

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"
)

// GET /state's answers are made one at a time, shared by the requests
// that came before one began, and rested stateRestFactor times as long as
// the last took: a client asking in a loop gets an answer after the
// rest, not one at once (on a fake clock).
func TestStateGate(t *testing.T) {
	const ms = time.Millisecond
	clock := time.Unix(1000, 0)
	var slept []time.Duration
	g := &stateGate{
		now: func() time.Time { return clock },
		sleep: func(_ context.Context, d time.Duration) error {
			slept = append(slept, d)
			clock = clock.Add(d)
			return nil
		},
	}
	answer := func(seq int64) func() NodeState {
		return func() NodeState { clock = clock.Add(ms); return NodeState{Seq: seq} } // takes 1 ms
	}
	ctx := context.Background()
	check := func(what string, st NodeState, err error, seq int64, made int, sleeps ...time.Duration) {
		t.Helper()
		if err != nil || st.Seq != seq || g.made != made || !slices.Equal(slept, sleeps) {
			t.Fatalf("%s: seq %d, %v, %d made, slept %v; want seq %d, %d made, slept %v", what, st.Seq, err, g.made, slept, seq, made, sleeps)
		}
	}
	first := clock
	st, err := g.get(ctx, first, answer(1))
	check("the first request", st, err, 1, 1)
	st, err = g.get(ctx, first, answer(2))
	check("a request that came before the answer began", st, err, 1, 1)

	clock = clock.Add(2 * ms) // 3 ms after the first answer began; it took 1
	st, err = g.get(ctx, clock, answer(2))
	check("a request during the rest", st, err, 2, 2, 7*ms)

	g.sleep = func(context.Context, time.Duration) error { return context.Canceled }
	st, err = g.get(ctx, clock, answer(3))
	if err == nil || g.made != 2 {
		t.Fatalf("a request whose client left while it waited: %+v, %v, %d made", st, err, g.made)
	}

	clock = clock.Add(time.Second)
	g.sleep = func(context.Context, time.Duration) error { t.Fatal("waited after the rest"); return nil }
	st, err = g.get(ctx, clock, answer(3))
	check("a request after the rest", st, err, 3, 3, 7*ms)
}

// The answer is never older than the request: a halt answered 202 shows
// in the GET /state right after it, however soon after another.
func TestStateAnswerIsCurrent(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	get := func() NodeState {
		t.Helper()
		resp, err := http.Get("http://" + addrs.Admin + "/state")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var st NodeState
		if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /state: %d, %v", resp.StatusCode, err)
		}
		return st
	}
	for _, id := range []uint32{1, 2} {
		before := get()
		if code := adminStatus(t, addrs.Admin, "POST", "/halt?instrument="+cfg.Instruments[id-1].Symbol, "", nil, ""); code != http.StatusAccepted {
			t.Fatalf("halt: %d", code)
		}
		if after := get(); !slices.Contains(after.Halted, id) || after.Seq <= before.Seq {
			t.Fatalf("GET /state right after halting %d: halted %v at input %d (before: %d)", id, after.Halted, after.Seq, before.Seq)
		}
	}
	n.stateGate.mu.Lock()
	defer n.stateGate.mu.Unlock()
	if n.stateGate.made != 4 {
		t.Fatalf("GET /state answered %d times through the gate, want 4", n.stateGate.made)
	}
}
