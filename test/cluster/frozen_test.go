//go:build !windows

package cluster

import (
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A member only frozen (SIGSTOP: a paused VM, a cut cable) is replaced
// as lost. When it wakes, the members refuse its raft RPCs from its
// former address and it stops itself, naming where its id is now; no
// acknowledged order is lost and the three trade on.
//
// The disk-stall watch is off: what it must not do here — take the
// freeze for a stalled disk (a loaded run woke to "a disk operation of
// the raft log has waited 6.409s" and stopped before it heard of the
// fence) — replicator's TestDiskWatchTellsAFreezeFromAStall proves, and
// a loaded machine's genuinely slow fsync would stop a member of this
// test for a reason it does not test. Elections and the lease take the 500 ms
// the runbook gives shared machines: with one of three frozen, the two
// left lost their leader at every pause of 150 ms, and a heavily loaded
// run had none for the flow's 15 s ("no leader known").
func TestFrozenMemberReplacedIsFencedWhenItWakes(t *testing.T) {
	c := startCluster(t, "--set", "cluster.disk_stall_timeout=0", "--set", "cluster.election_timeout=500ms")
	l := c.leader(10 * time.Second)
	frozen := c.other(l)
	other := c.other(l, frozen)
	f := startFlow(t, []string{l.gateway})
	time.Sleep(300 * time.Millisecond)
	old := frozen.proc
	old.Cmd.Process.Signal(syscall.SIGSTOP)
	t.Cleanup(func() { old.Cmd.Process.Signal(syscall.SIGCONT) })

	newRaft := c.replace(frozen, other, l)
	time.Sleep(300 * time.Millisecond) // trading goes on while it joins
	old.Cmd.Process.Signal(syscall.SIGCONT)
	select {
	case <-old.Exited:
	case <-time.After(30 * time.Second):
		old.QuitWithStacks() // its goroutines' stacks, in its log; the test's stop, not its own
		t.Fatalf("the old process runs on 30 s after it woke; its log's end:\n%s", old.LogTail(32<<10))
	}
	if code := old.Cmd.ProcessState.ExitCode(); code == 0 {
		t.Fatal("the fenced process exited 0")
	}
	log, _ := os.ReadFile(old.LogPath)
	if !strings.Contains(string(log), "replicator: fenced") || !strings.Contains(string(log), newRaft) {
		t.Fatalf("the old process stopped without saying it was fenced, and where its id is now:\n%s", log)
	}
	acks, seq, hash := c.haltAndAgree(f)
	n := allPresent(t, c.gatewaysFrom(c.leader(10*time.Second)), acks)
	t.Logf("member %d fenced at its former address: the three at input %d hash %s; %d acknowledged orders on the leader", frozen.id, seq, hash, n)
}
