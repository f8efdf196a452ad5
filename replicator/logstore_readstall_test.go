package replicator

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// A leader whose disk stops answering under a read of its raft log
// (GetLog: raft replicating to a follower past its cache, the FSM's
// reads) cuts itself off and stops with ErrDiskStalled, as one whose log
// write hangs (TestAStalledLeaderDiskHandsTheLeadOver), and the others
// elect a leader that commits. Only writes were timed before: the read
// held the store's read lock and its caller for as long as the disk hung
// and was seen only through the next StoreLogs, waiting behind it — here,
// with nothing proposed, never.
func TestAStalledRaftLogReadStopsTheMember(t *testing.T) {
	const limit = time.Second
	ms, l := startCommitted(t, 3, func(c *Config) { c.DiskStallTimeout = limit }, 2, nil)
	logs := l.r.logs
	held, release := make(chan struct{}), make(chan struct{})
	var hold sync.Once
	logs.mu.Lock()
	logs.reading = func() { hold.Do(func() { close(held); <-release }) }
	logs.mu.Unlock()
	released := sync.OnceFunc(func() { close(release) })
	defer released() // before the cleanup's Close, which waits for raft's loops
	read := make(chan error, 1)
	go func() {
		first, err := logs.FirstIndex()
		if err == nil {
			var e raft.Log
			err = logs.GetLog(first, &e)
		}
		read <- err
	}()
	select {
	case <-held:
	case <-time.After(10 * time.Second):
		t.Fatal("no read of the raft log reached the disk within 10 s")
	}
	fatal := waitFatal(t, l, func() string {
		return fmt.Sprintf("the leader's log read has hung for 10 s and it is not stopped (LogWaiting %v)", l.r.LogWaiting())
	})
	if !errors.Is(fatal, ErrDiskStalled) || !strings.Contains(fatal.Error(), "raft log") {
		t.Fatalf("OnFatal got %v, want ErrDiskStalled naming the raft log", fatal)
	}
	if !l.r.trans.cut.Load() {
		t.Fatal("the stalled leader is not cut off from its peers: its heartbeats keep the others from electing")
	}
	next := waitLeader(t, ms, l)
	commit(t, next, 3, 1)
	released()
	if err := <-read; err != nil {
		t.Fatalf("the read, once the disk answered: %v", err)
	}
	if waited := logs.Pending.Oldest(); waited != 0 {
		t.Fatalf("the read returned, still counted as under way for %v", waited)
	}
	noneFailed(t, followersOf(ms, l))
}
