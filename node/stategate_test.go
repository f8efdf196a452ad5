package node

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// GET /state's answers are made one at a time, shared by the requests
// that came before one began, and rested stateRestFactor times as long as
// the last took: a client asking in a loop gets an answer after the
// rest, not one at once (on a fake clock).
func TestStateGate(t *testing.T) {
	const ms = time.Millisecond
	g, fc := fakeClockGate()
	answer := func(seq int64) func(context.Context) (NodeState, error) {
		return answered(func() NodeState { fc.now = fc.now.Add(ms); return NodeState{Seq: seq} }) // takes 1 ms
	}
	ctx := context.Background()
	check := func(what string, st NodeState, err error, seq int64, made int, sleeps ...time.Duration) {
		t.Helper()
		if err != nil || st.Seq != seq || g.made.Load() != int64(made) || !slices.Equal(fc.slept, sleeps) {
			t.Fatalf("%s: seq %d, %v, %d made, fc.slept %v; want seq %d, %d made, fc.slept %v", what, st.Seq, err, g.made.Load(), fc.slept, seq, made, sleeps)
		}
	}
	first := fc.now
	st, err := g.get(ctx, first.Add(-ms), answer(1))
	check("the first request", st, err, 1, 1)
	st, err = g.get(ctx, first.Add(-time.Nanosecond), answer(2))
	check("a request that came before the answer began", st, err, 1, 1)

	fc.now = fc.now.Add(2 * ms) // 3 ms after the first answer began; it took 1
	st, err = g.get(ctx, fc.now, answer(2))
	check("a request during the rest", st, err, 2, 2, 7*ms)

	g.sleep = func(context.Context, time.Duration) error { return context.Canceled }
	st, err = g.get(ctx, fc.now, answer(3))
	if err == nil || g.made.Load() != 2 {
		t.Fatalf("a request whose client left while it waited: %+v, %v, %d made", st, err, g.made.Load())
	}

	fc.now = fc.now.Add(time.Second)
	g.sleep = func(context.Context, time.Duration) error { t.Fatal("waited after the rest"); return nil }
	st, err = g.get(ctx, fc.now, answer(3))
	check("a request after the rest", st, err, 3, 3, 7*ms)

	// An answer that took 2 s rests stateRestMax, not 18 s.
	slow := answered(func() NodeState { fc.now = fc.now.Add(2 * time.Second); return NodeState{Seq: 4} })
	fc.now = fc.now.Add(time.Second)
	st, err = g.get(ctx, fc.now, slow)
	check("a slow answer", st, err, 4, 4, 7*ms)
	g.sleep = func(_ context.Context, d time.Duration) error {
		fc.slept = append(fc.slept, d)
		fc.now = fc.now.Add(d)
		return nil
	}
	st, err = g.get(ctx, fc.now, answer(5))
	check("a request right after a slow answer", st, err, 5, 5, 7*ms, stateRestMax)
}

// An answer that fails (making it panicked: ErrStateInternal, its stack
// logged) is rested after as one made is: the rest applied only after a
// success, and a GET /state that panicked every time, asked in a loop,
// had the node copy its state back to back and log a stack for each. It
// is not shared: a request that came before it began makes its own.
func TestStateGateRestsAfterAFailedAnswer(t *testing.T) {
	const ms = time.Millisecond
	g, fc := fakeClockGate()
	tries := 0
	failing := func(context.Context) (NodeState, error) {
		tries++
		fc.now = fc.now.Add(ms) // takes 1 ms
		return NodeState{}, ErrStateInternal
	}
	ctx := context.Background()
	first := fc.now
	if _, err := g.get(ctx, first.Add(-ms), failing); !errors.Is(err, ErrStateInternal) || len(fc.slept) != 0 {
		t.Fatalf("the first request: %v, fc.slept %v; want ErrStateInternal at once", err, fc.slept)
	}
	_, err := g.get(ctx, first.Add(-time.Nanosecond), failing)
	if !errors.Is(err, ErrStateInternal) || tries != 2 || !slices.Equal(fc.slept, []time.Duration{9 * ms}) {
		t.Fatalf("a request right after a failed answer: %v, %d tries, fc.slept %v; want a try of its own after a rest of 9 ms", err, tries, fc.slept)
	}
	st, err := g.get(ctx, fc.now, answered(func() NodeState { fc.now = fc.now.Add(ms); return NodeState{Seq: 7} }))
	if err != nil || st.Seq != 7 || g.made.Load() != 1 || !slices.Equal(fc.slept, []time.Duration{9 * ms, 9 * ms}) {
		t.Fatalf("a request after two failed answers: seq %d, %v, %d made, fc.slept %v; want seq 7 after another rest of 9 ms",
			st.Seq, err, g.made.Load(), fc.slept)
	}
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
	resting, rest := make(chan struct{}), make(chan struct{})
	restEnds := sync.OnceFunc(func() { close(rest) })
	defer restEnds() // the resting request answers, the test failed or not
	g := &stateGate{now: time.Now, sleep: func(context.Context, time.Duration) error {
		close(resting)
		<-rest
		return nil
	}}
	answer := answered(func() NodeState { time.Sleep(time.Millisecond); return NodeState{Seq: 1} })
	if _, err := g.get(context.Background(), time.Now(), answer); err != nil {
		t.Fatal(err)
	}
	first := make(chan error, 1)
	go func() {
		_, err := g.get(context.Background(), time.Now(), answer) // rests: the last took 1 ms
		first <- err
	}()
	received(t, resting, "the second request did not rest within 10 s")
	ctx, cancel := context.WithCancel(context.Background())
	waiter := make(chan error, 1)
	go func() {
		_, err := g.get(ctx, time.Now(), answer)
		waiter <- err
	}()
	cancel()
	if err := received(t, waiter, "a request waiting behind a rest stayed 10 s past its context's end"); !errors.Is(err, context.Canceled) {
		t.Errorf("the request whose context ended: %v, want context.Canceled", err)
	}
	restEnds()
	if err := received(t, first, "the resting request did not answer within 10 s of its rest"); err != nil {
		t.Fatal(err)
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
	answer := answered(func() NodeState { seq++; return NodeState{Seq: seq} }) // the clock does not tick
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

// answered is an answer for stateGate.get that is always made.
func answered(f func() NodeState) func(context.Context) (NodeState, error) {
	return func(context.Context) (NodeState, error) { return f(), nil }
}

// stateNow is State for tests that wait on nothing else: with a context
// that never ends it always answers.
func (n *Node) stateNow() NodeState {
	st, _ := n.State(context.Background())
	return st
}

// GET /state while the engine does not come to a break between batches
// (held here by a task, as by a long command or a hung stage) is
// answered 503 saying so within stateWait — the request making the
// answer waited for good, and so did every one behind it — and, once the
// engine goes on, the next is answered: the copy the first left behind
// was finished and freed its turn, and the engine never waited to hand
// an answer to a request gone.
func TestStateEngineNotAnswering(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	n.stateWait = 300 * time.Millisecond
	let := holdEngine(t, n)
	defer let() // before Stop: it waits for the engine
	for _, which := range []string{"the request making the answer", "one after it, behind the copy it left"} {
		if code, body := getState(t, addrs.Admin); code != http.StatusServiceUnavailable || !strings.Contains(body, ErrStateUnanswered.Error()) {
			t.Fatalf("GET /state, %s, with the engine held: %d %q; want 503 saying the answer was not made in time", which, code, body)
		}
	}
	let()
	// The copy given up on is made, and rested after (up to
	// stateRestMax, beyond the 300 ms above): as in production, the
	// request may wait out the rest.
	n.stateWait = stateWaitMax
	code, body := getState(t, addrs.Admin)
	var st NodeState
	if err := json.Unmarshal([]byte(body), &st); code != http.StatusOK || err != nil || st.Hash == "" {
		t.Fatalf("GET /state once the engine goes on: %d %q (%v)", code, body, err)
	}
}

// GET /state whose time goes on hashing the copy (a very large book),
// the engine going on, is answered 503 saying the answer was not made in
// time, not blaming the engine: it said the engine had not answered, had
// not come to a break between two batches.
func TestStateHashingLongNotBlamedOnTheEngine(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, _, err := NewWithOptions(cfg, zerolog.Nop(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	hashing, release := make(chan struct{}, 1), make(chan struct{})
	n.stateHashHook = func() { // before Start: read only by goroutines started after
		select {
		case hashing <- struct{}{}:
		default:
		}
		<-release
	}
	n.stateWait = time.Second // the copy of a node's empty state takes far less: it is hashing when the request gives up
	addrs, err := n.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	defer close(release) // before Stop: the answer's goroutine waits in the hook
	code, body := getState(t, addrs.Admin)
	select {
	case <-hashing:
	default:
		t.Fatalf("GET /state answered %d %q before its copy was hashed (test setup)", code, body)
	}
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "not made in time") || strings.Contains(body, "engine has not answered") {
		t.Fatalf("GET /state while its copy is hashed: %d %q; want 503 saying the answer was not made in time, not that the engine has not answered", code, body)
	}
}

// An answer a GET /state request gave up on (503: the engine held) is
// still made, and the next answer rests after it as after any other: a
// request that gave up left its copy running with no rest after it, so
// the next began another at once, and a client whose timeout was shorter
// than an answer (a probe with a 1 s timeout, a book of millions of
// orders) had the node copy and hash its state back to back — the core
// and the engine's copy steps the rest (stateRestFactor) is there to
// spare.
func TestStateRestsAfterAnAnswerNobodyWaitedFor(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	n.stateWait = 300 * time.Millisecond
	var mu sync.Mutex
	var slept []time.Duration
	n.stateGate.now = time.Now
	n.stateGate.sleep = func(_ context.Context, d time.Duration) error {
		mu.Lock()
		defer mu.Unlock()
		slept = append(slept, d)
		return nil
	}
	let := holdEngine(t, n)
	defer let() // before Stop: it waits for the engine
	if code, body := getState(t, addrs.Admin); code != http.StatusServiceUnavailable {
		t.Fatalf("GET /state with the engine held: %d %q, want 503", code, body)
	}
	let()
	// The answer given up on is made once the engine goes on.
	for deadline := time.Now().Add(10 * time.Second); len(n.stateTurn) != 0 || len(n.stateGate.turn) != 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the answer given up on was not made within 10 s of the engine going on")
		}
	}
	code, body := getState(t, addrs.Admin)
	var st NodeState
	if err := json.Unmarshal([]byte(body), &st); code != http.StatusOK || err != nil {
		t.Fatalf("GET /state once the engine went on: %d %q (%v)", code, body, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if made := n.stateGate.made.Load(); made != 2 || len(slept) != 1 || slept[0] <= 0 {
		t.Fatalf("after an answer given up on, the next: %d answers made, rested %v; want 2 made (the one given up on, then this), "+
			"and a rest before this one", made, slept)
	}
}

// getState is GET /state on the admin port at admin: its status and body.
// A request that waits for good fails the test after 10 s.
func getState(t *testing.T, admin string) (int, string) {
	t.Helper()
	return adminGet(t, admin, "/state")
}

// adminGet is GET path on the admin port at admin: its status and body.
// A request that waits for good fails the test after 10 s.
func adminGet(t *testing.T, admin, path string) (int, string) {
	t.Helper()
	return adminGetAs(t, admin, path, "")
}

// adminGetAs is adminGet with the admin token, when token is not empty.
func adminGetAs(t *testing.T, admin, path, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", "http://"+admin+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	hc := &http.Client{Timeout: 10 * time.Second}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// fakeGateClock is a stateGate's clock in a test: now, moved on only by
// the gate's sleeps (recorded in slept) and by the test.
type fakeGateClock struct {
	now   time.Time
	slept []time.Duration
}

// fakeClockGate is a stateGate on a fakeGateClock.
func fakeClockGate() (*stateGate, *fakeGateClock) {
	fc := &fakeGateClock{now: time.Unix(1000, 0)}
	return &stateGate{
		now: func() time.Time { return fc.now },
		sleep: func(_ context.Context, d time.Duration) error {
			fc.slept = append(fc.slept, d)
			fc.now = fc.now.Add(d)
			return nil
		},
	}, fc
}
