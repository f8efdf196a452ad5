package node

import (
	"context"
	"encoding/json"
	"errors"
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
		if err != nil || st.Seq != seq || g.made.Load() != int64(made) || !slices.Equal(slept, sleeps) {
			t.Fatalf("%s: seq %d, %v, %d made, slept %v; want seq %d, %d made, slept %v", what, st.Seq, err, g.made.Load(), slept, seq, made, sleeps)
		}
	}
	first := clock
	st, err := g.get(ctx, first.Add(-ms), answer(1))
	check("the first request", st, err, 1, 1)
	st, err = g.get(ctx, first.Add(-time.Nanosecond), answer(2))
	check("a request that came before the answer began", st, err, 1, 1)

	clock = clock.Add(2 * ms) // 3 ms after the first answer began; it took 1
	st, err = g.get(ctx, clock, answer(2))
	check("a request during the rest", st, err, 2, 2, 7*ms)

	g.sleep = func(context.Context, time.Duration) error { return context.Canceled }
	st, err = g.get(ctx, clock, answer(3))
	if err == nil || g.made.Load() != 2 {
		t.Fatalf("a request whose client left while it waited: %+v, %v, %d made", st, err, g.made.Load())
	}

	clock = clock.Add(time.Second)
	g.sleep = func(context.Context, time.Duration) error { t.Fatal("waited after the rest"); return nil }
	st, err = g.get(ctx, clock, answer(3))
	check("a request after the rest", st, err, 3, 3, 7*ms)

	// An answer that took 2 s rests stateRestMax, not 18 s.
	slow := func() NodeState { clock = clock.Add(2 * time.Second); return NodeState{Seq: 4} }
	clock = clock.Add(time.Second)
	st, err = g.get(ctx, clock, slow)
	check("a slow answer", st, err, 4, 4, 7*ms)
	g.sleep = func(_ context.Context, d time.Duration) error {
		slept = append(slept, d)
		clock = clock.Add(d)
		return nil
	}
	st, err = g.get(ctx, clock, answer(5))
	check("a request right after a slow answer", st, err, 5, 5, 7*ms, stateRestMax)
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
	if made := n.stateGate.made.Load(); made != 4 {
		t.Fatalf("GET /state answered %d times through the gate, want 4", made)
	}
}

// A request waiting its turn behind another — one resting, or making an
// answer — leaves when its context ends, and the gate serves the next:
// it waited on the gate's mutex, deaf to its context, for as long as the
// other took (a rest is stateRestFactor times the last answer's time), and
// the admin connection of a client gone stayed held all that while.
func TestStateGateWaiterLeavesWithItsContext(t *testing.T) {
	resting := make(chan struct{})
	rest := make(chan struct{})
	g := &stateGate{now: time.Now, sleep: func(context.Context, time.Duration) error {
		close(resting)
		<-rest
		return nil
	}}
	answer := func() NodeState { time.Sleep(time.Millisecond); return NodeState{Seq: 1} }
	if _, err := g.get(context.Background(), time.Now(), answer); err != nil {
		t.Fatal(err)
	}
	first := make(chan error, 1)
	go func() {
		_, err := g.get(context.Background(), time.Now(), answer) // rests: the last took 1 ms
		first <- err
	}()
	select {
	case <-resting:
	case <-time.After(10 * time.Second):
		t.Fatal("the second request did not rest within 10 s")
	}
	ctx, cancel := context.WithCancel(context.Background())
	waiter := make(chan error, 1)
	go func() {
		_, err := g.get(ctx, time.Now(), answer)
		waiter <- err
	}()
	cancel()
	select {
	case err := <-waiter:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("the request whose context ended: %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		close(rest)
		t.Fatal("a request waiting behind a rest stayed 10 s past its context's end")
	}
	close(rest)
	select {
	case err := <-first:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the resting request did not answer within 10 s of its rest")
	}
}

// A request that arrived at the very reading of the clock the last answer
// began at is given a new answer: the two readings being equal does not
// order them — the copy may have begun before the request's halt was
// applied — so only an answer begun strictly after the request is shared.
// On a clock that ticks coarsely (Windows' monotonic clock advances every
// 0.5–15.6 ms) equal readings are common.
func TestStateGateSharesOnlyAnswersBegunAfter(t *testing.T) {
	clock := time.Unix(1000, 0)
	g := &stateGate{
		now:   func() time.Time { return clock },
		sleep: func(context.Context, time.Duration) error { return nil },
	}
	seq := int64(0)
	answer := func() NodeState { seq++; return NodeState{Seq: seq} } // the clock does not tick
	if st, _ := g.get(context.Background(), clock, answer); st.Seq != 1 {
		t.Fatalf("the first answer: %d", st.Seq)
	}
	if st, _ := g.get(context.Background(), clock, answer); st.Seq != 2 {
		t.Fatalf("a request arrived at the reading the last answer began at was given answer %d, want a new one (2)", st.Seq)
	}
	if st, _ := g.get(context.Background(), clock.Add(-time.Nanosecond), answer); st.Seq != 2 {
		t.Fatalf("a request arrived before the last answer began was given answer %d, want that one (2)", st.Seq)
	}
}
