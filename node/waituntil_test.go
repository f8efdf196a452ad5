package node

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ringex/ringex/internal/testkit"
)

// A wait that times out names the fatal error of each member that
// delivered one and the stop of each member stopped, and says nothing of
// a member with neither: a cluster test's wait on a member whose stage
// failed (a fenced or diverged replicator) said only "condition not
// reached in 10s". The fatal error is still there for the test to read.
func TestWaitUntilNamesAMembersFatalErrorAndStop(t *testing.T) {
	start := func(id uint32) *Node {
		cfg := testConfig(t, t.TempDir())
		cfg.Node.ID = id
		n, _, _ := startNode(t, cfg)
		return n
	}
	failed, stopped, quiet := start(1), start(2), start(3)
	defer failed.Stop()
	defer quiet.Stop()
	if err := stopped.Stop(); err != nil {
		t.Fatal(err)
	}
	cause := errors.New("node: stage replicator: replicator: fenced")
	failed.fail(cause)
	msg := testkit.FailureOf(t, 20*time.Second, func(tb testing.TB) {
		waitWithin(tb, 50*time.Millisecond, func() bool { return false }, failed, stopped, quiet)
	})
	for _, want := range []string{"condition not reached in 50ms", "\n  node 1: fatal: " + cause.Error(), "\n  node 2: stopped (Stop: <nil>)"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the wait failed with %q, want %q in it", msg, want)
		}
	}
	if strings.Contains(msg, "node 3") {
		t.Errorf("the wait failed with %q: node 3 neither failed nor stopped", msg)
	}
	select {
	case err := <-failed.Fatal():
		if err != cause {
			t.Errorf("Fatal after the wait: %v, want %v", err, cause)
		}
	default:
		t.Error("the wait took node 1's fatal error off its channel")
	}
}

// Holding a stage that has stopped fails at once, naming the member, the
// stage and that it had stopped, with the member's fates: it waited 10 s
// and said "the engine did not take the task within 10 s", naming no
// member — in a cluster test, not which of three.
func TestHoldingAStoppedStageNamesItsMember(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Node.ID = 2
	n, _, _ := startNode(t, cfg)
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	msg := testkit.FailureOf(t, 20*time.Second, func(tb testing.TB) { holdEngine(tb, n) })
	for _, want := range []string{"node 2's engine had stopped: it refused the holding task", "\n  node 2: stopped (Stop: <nil>)"} {
		if !strings.Contains(msg, want) {
			t.Errorf("holding the stopped engine failed with %q, want %q in it", msg, want)
		}
	}
}

// Holding a stage that is not deployed — the market-data fan-out of a
// port nobody subscribed to, n.mdHub.deployed.Load() nil — fails saying
// so: the holding goroutine called Do on nil and panicked, ending the
// whole test binary with no word of which test or stage.
func TestHoldingAStageNotDeployedSaysSo(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, _, _ := startNode(t, cfg)
	defer n.Stop()
	msg := testkit.FailureOf(t, 20*time.Second, func(tb testing.TB) {
		holdConsumer(tb, n, n.mdHub.deployed.Load(), "market-data fan-out")
	})
	if want := "node 1's market-data fan-out is not deployed: nothing to hold"; msg != want {
		t.Fatalf("holding the fan-out of a port nobody subscribed to failed with %q, want %q", msg, want)
	}
}
