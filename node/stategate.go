package node

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// stateRestFactor sets how long GET /state rests between two answers it
// makes: stateRestFactor times as long as the last one took. Each answer
// copies the engine's state (in steps on the engine goroutine) and hashes
// the copy (on the request's goroutine): BenchmarkState on the 2-core dev
// VM, 5 000 resting orders: 0.74 ms per answer, 14 µs of it on the
// engine goroutine; 50 000: 6.4 ms, 0.22 ms. A client asking in a loop
// kept a core of two hashing and made trading wait for a copy step every
// few hundred microseconds; with the rest it takes at most a tenth of a
// core, whatever the book's size.
const stateRestFactor = 9

// stateRestMax caps that rest: an answer that waited long — for a
// snapshot's copy, or behind the engine's batches — says nothing of what
// the next will cost, and 9 s of rest after a 1 s answer would outlast
// `ringex status`'s 10 s timeout while up to adminMaxConnections callers
// held every admin connection waiting.
const stateRestMax = time.Second

// stateWaitMax bounds a GET /state request, its wait for a turn, its
// rest and the engine's answer: an engine held inside a batch (a long
// command, a stage after it stalled) or hung answered nothing, and the
// request waited for good. Well within `ringex status`'s 10 s, as
// controlWait is, and five times stateRestMax.
const stateWaitMax = 5 * time.Second

// stateGate makes GET /state's answers one at a time, rested (see
// stateRestFactor), and shares each among the requests that came before
// it began: every answer is of the state after the request arrived —
// never an older one kept — so that a halt answered 202 shows in the next
// GET /state. A request that comes while one is being made, or during
// the rest, waits for the next — or leaves, when its context ends first.
// GET /state's context ends stateWaitMax after the request came, at the
// latest: an engine that does not answer is told (503), not waited for.
type stateGate struct {
	// turn is held (a value in it) by the request resting, then by the
	// goroutine making its answer until it is made, whether or not the
	// request still waits: a channel, not a mutex, so that one waiting
	// for it leaves when its context ends — a client gone does not keep
	// its admin connection, one of adminMaxConnections, through
	// another's rest.
	turnOnce sync.Once
	turn     chan struct{}
	// Held by turn's holder.
	st    NodeState
	began time.Time // when the last answer made (st) began; zero: none yet
	// tried is when the last answer began, made or failed, and took how
	// long it took: the rest is counted from them. An answer that failed
	// rests too: without, a GET /state that panics in a loop made the
	// node copy its state back to back and log a stack each time.
	tried time.Time
	took  time.Duration
	made  atomic.Int64 // answers made, for tests
	// A test's clock; nil: time.Now and sleepCtx.
	now   func() time.Time
	sleep func(context.Context, time.Duration) error
}

// get answers a request that arrived at arrived (its context ctx),
// making the answer with answer unless one began since. It fails when
// ctx ends while the request waits for its turn or rests (ctx's error),
// or before its answer is made (ErrStateUnanswered: the answer is still
// made, shared and rested after, by a goroutine that holds the turn
// until then — one at most), or with answer's error, which leaves
// nothing to share but is rested after as an answer is. answer is
// called with ctx's values but not its end.
func (g *stateGate) get(ctx context.Context, arrived time.Time, answer func(context.Context) (NodeState, error)) (NodeState, error) {
	now, sleep := g.now, g.sleep
	if now == nil {
		now, sleep = time.Now, sleepCtx
	}
	g.turnOnce.Do(func() { g.turn = make(chan struct{}, 1) })
	if !takeTurn(ctx, g.turn) {
		return NodeState{}, ctx.Err()
	}
	// Begun strictly after: two equal readings do not say which came
	// first (a clock that ticks coarsely gives many), and the copy may
	// have begun before what the request's client did just before it.
	if g.began.After(arrived) {
		st := g.st
		<-g.turn
		return st, nil // begun after this request came: of the state since
	}
	if rest := g.tried.Add(g.took + min(g.took*stateRestFactor, stateRestMax)).Sub(now()); !g.tried.IsZero() && rest > 0 {
		if err := sleep(ctx, rest); err != nil {
			<-g.turn
			return NodeState{}, err
		}
	}
	// The answer is made to its end, and rested after, whether or not
	// this request still waits for it: its own goroutine holds the turn
	// until then. Left to the request (answer(ctx) giving up with it), a
	// request that gave up left its copy running but no rest after it —
	// the next request began another at once, and a client whose timeout
	// was shorter than an answer had the node copy and hash back to back.
	type made struct {
		st  NodeState
		err error
	}
	done := make(chan made, 1) // room for it: the answer's goroutine never waits for a reader
	go func() {
		began := now()
		st, err := answer(context.WithoutCancel(ctx))
		g.tried, g.took = began, now().Sub(began)
		if err == nil {
			g.began, g.st = began, st
			g.made.Add(1)
		}
		<-g.turn
		done <- made{st, err}
	}()
	select {
	case m := <-done:
		return m.st, m.err
	case <-ctx.Done():
		select {
		case m := <-done: // both ready: the answer
			return m.st, m.err
		default:
			return NodeState{}, ErrStateUnanswered
		}
	}
}

// sleepCtx waits d, or until ctx ends (its error then).
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// takeTurn takes turn (a token: a channel of capacity 1) and reports
// true, or reports false when ctx ends first. A free turn is taken
// whatever ctx says: a request whose context ended as it came still gets
// an answer nobody else is making.
func takeTurn(ctx context.Context, turn chan struct{}) bool {
	select {
	case turn <- struct{}{}:
		return true
	default:
	}
	select {
	case turn <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}
