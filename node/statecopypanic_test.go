package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/internal/testkit"
)

// stateWithin is n.State bounded by 10 s.
func stateWithin(t *testing.T, n *Node) (NodeState, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return n.State(ctx)
}

// panicOnce is a stateStepHook that panics the first time it runs.
func panicOnce() func() {
	var calls atomic.Int32
	return func() {
		if calls.Add(1) == 1 {
			panic("injected: between two steps of the state copy")
		}
	}
}

// A panic on State's goroutine between two steps of its copy, with the
// engine running, leaves no copy open on the engine: the next GET /state
// is answered and the engine goes on trading and snapshotting. Before,
// the engine's copy stayed open, and the next copy's first step (on the
// engine goroutine) panicked in BeginCopy: the engine stage failed.
func TestStatePanicMidCopyLeavesNoCopyOpen(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	n.copyStepBytes = 128 // about one order a step: the copy spans many batches
	c := dial(t, addrs.Gateway, 4)
	restBids(t, c, cfg.Instruments[0], 1, 100)
	n.stateStepHook = panicOnce() // read by State's goroutine, started after
	if _, err := stateWithin(t, n); !errors.Is(err, ErrStateInternal) {
		t.Fatalf("State with a panic between its copy's steps: %v, want ErrStateInternal", err)
	}
	st, err := stateWithin(t, n)
	select {
	case <-n.stats.engine.Done():
		t.Fatalf("the engine stage stopped after a panic in State's copy: %v", n.stats.engine.Err())
	default:
	}
	if err != nil || st.Hash == "" {
		t.Fatalf("State after a panic in the last one's copy: %+v, %v", st, err)
	}
	restBids(t, c, cfg.Instruments[0], 101, 101)
	if err := n.RequestSnapshot(); err != nil {
		t.Fatalf("a snapshot after a panic in State's copy: %v", err)
	}
}

// The same with the engine stopped (the copy is begun and finished on
// State's goroutine, under view.mu): the next State answers the state
// the node stopped in. Before, the copy left open made every later
// State panic in BeginCopy ("a copy is open"): ErrStateInternal for good.
func TestStatePanicMidCopyOfAStoppedEngine(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, addrs, _ := startNode(t, cfg)
	c := dial(t, addrs.Gateway, 4)
	restBids(t, c, cfg.Instruments[0], 1, 100)
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	n.stateStepHook = panicOnce()
	if _, err := stateWithin(t, n); !errors.Is(err, ErrStateInternal) {
		t.Fatalf("State of a stopped engine with a panic in its copy: %v, want ErrStateInternal", err)
	}
	st, err := stateWithin(t, n)
	if f := n.Final(); err != nil || st.Seq != f.LastSeq || st.Hash != fmt.Sprintf("%016x", f.Hash) {
		t.Fatalf("State of a stopped engine after a panic in the last one's copy: %+v, %v; the node stopped at %+v", st, err, f)
	}
}

// stackLoggedAt is the stack_logged_at field of the JSON log line.
func stackLoggedAt(t *testing.T, line string) string {
	t.Helper()
	var e struct {
		At string `json:"stack_logged_at"`
	}
	if err := json.Unmarshal([]byte(line), &e); err != nil || e.At == "" {
		t.Fatalf("no stack_logged_at in the panic's log line (%v): %s", err, line)
	}
	return e.At
}

// The log's time formats, as logStamp renders them: local time (the
// time's zone) to the millisecond for cmd/ringex's layout.
func TestLogStamp(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 999_123_456, time.FixedZone("", 5*3600+1800))
	for _, c := range []struct{ format, want string }{
		{"2006-01-02T15:04:05.000Z07:00", "2026-03-04T05:06:07.999+05:30"},
		{time.RFC3339, "2026-03-04T05:06:07+05:30"},
		{zerolog.TimeFormatUnix, "1772580967"},
		{zerolog.TimeFormatUnixMs, "1772580967999"},
		{zerolog.TimeFormatUnixMicro, "1772580967999123"},
		{zerolog.TimeFormatUnixNano, "1772580967999123456"},
	} {
		if got := logStamp(at, c.format); got != c.want {
			t.Errorf("logStamp(%v, %q) = %q, want %q", at, c.format, got, c.want)
		}
	}
}

// A GET /state that panics every time logs its stack once a minute at
// most, the panics between counted in the next: it logged a stack for
// every answer, asked in a loop a flood of the same stack.
func TestStatePanicStackLoggedOnceAMinute(t *testing.T) {
	var logs testkit.SyncBuffer
	n, _, err := New(testConfig(t, t.TempDir()), zerolog.New(&logs))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Start(); err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	n.stateHashHook = func() { panic("injected: before the hash") }
	logged := func() []string {
		var lines []string
		for _, l := range strings.Split(logs.String(), "\n") {
			if strings.Contains(l, "making the answer panicked") {
				lines = append(lines, l)
			}
		}
		return lines
	}
	for i := range 3 {
		_, err := stateWithin(t, n)
		if !errors.Is(err, ErrStateInternal) {
			t.Fatalf("State with a panic before its hash: %v, want ErrStateInternal", err)
		}
		// Only the first's stack is logged: the others must not say
		// theirs is (they did), but quote the logged line's stamp.
		if first, inLog := i == 0, strings.Contains(err.Error(), "its stack is in the node's log"); inLog != first ||
			!first && !strings.Contains(err.Error(), fmt.Sprintf("an earlier panic was logged with stack_logged_at %q", stackLoggedAt(t, logged()[0]))) {
			t.Fatalf("panic %d of 3 within a minute, its stack logged %v: %v", i+1, first, err)
		}
	}
	// The stamp is the time the minute is counted from, as the log
	// renders times: the answers quoted it in UTC to the second, a time
	// the log (local, to the millisecond) did not hold.
	if at, want := stackLoggedAt(t, logged()[0]), logStamp(n.statePanicStackAt, zerolog.TimeFieldFormat); at != want {
		t.Fatalf("the line's stack_logged_at is %q, want %q (the time the panic was logged at, in the log's format)", at, want)
	}
	if l := logged(); len(l) != 1 || !strings.Contains(l[0], `"stack":`) || !strings.Contains(l[0], `"not_logged_since_last":0`) {
		t.Fatalf("three panics within a minute logged %d times, want once with its stack:\n%s", len(l), strings.Join(l, "\n"))
	}
	n.statePanicStackAt = n.statePanicStackAt.Add(-statePanicStackEvery) // a minute on (no State running: its turn is free)
	if _, err := stateWithin(t, n); !errors.Is(err, ErrStateInternal) || !strings.Contains(err.Error(), "its stack is in the node's log") {
		t.Fatalf("State with a panic before its hash, a minute after the last logged: %v, want ErrStateInternal saying its stack is in the log", err)
	}
	if l := logged(); len(l) != 2 || !strings.Contains(l[1], `"stack":`) || !strings.Contains(l[1], `"not_logged_since_last":2`) {
		t.Fatalf("a panic a minute after the one logged: %d logged, want a second with its stack and the 2 between counted:\n%s",
			len(l), strings.Join(l, "\n"))
	}
}
