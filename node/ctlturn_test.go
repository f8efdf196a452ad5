package node

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/config"
)

// Many control requests, one after the other and then together, behind
// an engine that takes no input on a full ring: every one leaves at its
// deadline, POST /halt among them answered 503 with a node alone's text
// of ErrControlUnconfirmed, which does not say "not the leader" (it did:
// a node alone is never that); the only goroutine left behind is the first one's claim, which
// holds the turn, and it too is gone once the engine moves. Only that
// first claim is published: the requests that waited for the turn
// behind it published nothing. A review of 50d5229 (claimControl's
// turn and claim goroutine), no code change.
func TestControlRequestsBehindAHeldEngineLeaveOneClaim(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, _, _ := startNode(t, cfg)
	defer n.Stop()
	n.ctlWait = 100 * time.Millisecond
	instrument := cfg.Instruments[0].ID
	release := holdEngineOnFullRing(t, n, cfg)
	defer release() // before Stop: it drains through the engine
	base := runtime.NumGoroutine()
	if err := n.Halt(instrument); !errors.Is(err, ErrControlUnconfirmed) {
		t.Fatalf("the first halt: %v, want ErrControlUnconfirmed", err)
	}
	requests := []func() error{
		func() error { return n.Resume(instrument) },
		func() error { return n.SuspendAccount(4) },
		n.RequestSnapshot,
		func() error { return n.HaltAndCancelOrders(instrument) },
	}
	for i := range 8 { // one after the other
		if err := requests[i%len(requests)](); !errors.Is(err, ErrControlUnconfirmed) {
			t.Fatalf("request %d behind the held turn: %v, want ErrControlUnconfirmed", i, err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for i := range 32 { // together
		wg.Go(func() { errs <- requests[i%len(requests)]() })
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	received(t, done, "32 control requests behind the held turn did not all return in 10 s")
	close(errs)
	for err := range errs {
		if !errors.Is(err, ErrControlUnconfirmed) {
			t.Fatalf("a request behind the held turn: %v, want ErrControlUnconfirmed", err)
		}
	}
	rec, req := httptest.NewRecorder(), httptest.NewRequest("POST", "/halt?instrument="+cfg.Instruments[1].Symbol, nil)
	req.Host = "127.0.0.1"
	(*n.adminServes.Load()).ServeHTTP(rec, req)
	if body := rec.Body.String(); rec.Code != http.StatusServiceUnavailable || strings.Contains(body, "not the leader") ||
		!strings.Contains(body, "the journal's disk is stuck, the engine is not taking inputs, or the node is stopping") {
		t.Fatalf("POST /halt behind the held turn on a node alone: %d %q, want 503 naming a stuck journal disk, an engine "+
			"not taking inputs or a stop, not 'not the leader'", rec.Code, body)
	}
	// The first halt's claim, waiting for a slot, is the one goroutine
	// more (others may take a moment to exit after answering).
	for deadline := time.Now().Add(5 * time.Second); runtime.NumGoroutine() > base+1; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines after 41 requests left, %d before them: more than the one claim left behind", runtime.NumGoroutine(), base)
		}
	}
	release()
	for deadline := time.Now().Add(5 * time.Second); runtime.NumGoroutine() > base; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines after the engine moved, %d before the requests: the claim did not end", runtime.NumGoroutine(), base)
		}
	}
	n.ctlWait = controlWait
	if err := n.ResumeAccount(5); err != nil { // applied after every claim before it
		t.Fatal(err)
	}
	st := n.stateNow()
	if !slices.Contains(st.Halted, instrument) || slices.Contains(st.Halted, cfg.Instruments[1].ID) || slices.Contains(st.Suspended, 4) {
		t.Fatalf("halted %v, suspended %v: want only the first halt's claim applied (instrument %d halted)", st.Halted, st.Suspended, instrument)
	}
	n.snapAnswers.mu.Lock()
	waiting := len(n.snapAnswers.waiting)
	n.snapAnswers.mu.Unlock()
	if waiting != 0 {
		t.Fatalf("%d snapshot answers kept for requests that left", waiting)
	}
}

// Stop with an abandoned control claim waiting for a slot behind a held
// engine: Stop waits for it at ctlMu, the claim is published before
// control inputs close, so the halt its request was told might not take
// effect is journaled and holds after a restart; a request while Stop
// waits leaves at its deadline, and one after it is refused as stopping.
// A review of 50d5229, no code change.
func TestStopPublishesAnAbandonedClaimFirst(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	n, _, _ := startNode(t, cfg)
	n.ctlWait = 100 * time.Millisecond
	instrument := cfg.Instruments[0].ID
	release := holdEngineOnFullRing(t, n, cfg)
	if err := n.Halt(instrument); !errors.Is(err, ErrControlUnconfirmed) {
		release()
		t.Fatalf("halt behind the held engine: %v, want ErrControlUnconfirmed", err)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- n.Stop() }()
	<-n.stopping()
	if err := n.Resume(instrument); !errors.Is(err, ErrControlUnconfirmed) && !errors.Is(err, ErrStopping) {
		release()
		t.Fatalf("resume while Stop waits for the claim: %v, want ErrControlUnconfirmed or ErrStopping", err)
	}
	release()
	if err := received(t, stopped, "Stop did not return in 10 s after the engine was let go"); err != nil {
		t.Fatal(err)
	}
	if err := n.SuspendAccount(4); !errors.Is(err, ErrStopping) {
		t.Fatalf("suspension after Stop: %v, want ErrStopping", err)
	}
	n2, _, err := New(testConfig(t, dir), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer n2.Stop()
	if st := n2.stateNow(); !slices.Contains(st.Halted, instrument) || slices.Contains(st.Suspended, 4) {
		t.Fatalf("after the restart halted %v, suspended %v: want the abandoned halt's claim journaled, nothing after it", st.Halted, st.Suspended)
	}
}

// ErrControlUnconfirmed in a cluster member's text says "not the leader",
// which `ringex … --admin A,B,C` goes on to the next member for (passOn);
// a node alone's does not. Both are ErrControlUnconfirmed (errors.Is).
func TestControlUnconfirmedTextPerNode(t *testing.T) {
	alone := testConfig(t, t.TempDir())
	member := testConfig(t, t.TempDir())
	member.Cluster.Peers = []config.Peer{{ID: 1}, {ID: 2}, {ID: 3}}
	for _, tt := range []struct {
		cfg          *config.Config
		which        string
		notTheLeader bool
	}{{alone, "a node alone", false}, {member, "a cluster member", true}} {
		err := (&Node{cfg: tt.cfg}).controlUnconfirmed()
		if !errors.Is(err, ErrControlUnconfirmed) || strings.Contains(err.Error(), "not the leader") != tt.notTheLeader {
			t.Errorf("%s: %q (ErrControlUnconfirmed: %v), want 'not the leader' in it %v", tt.which, err, errors.Is(err, ErrControlUnconfirmed), tt.notTheLeader)
		}
	}
}
