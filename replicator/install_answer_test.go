package replicator

import (
	"encoding/binary"
	"io"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// stateOfApplied gives c a node state that is only its applied input:
// Snapshot writes it, Install and SnapshotApplied read it back.
func stateOfApplied(c *Config) {
	c.Snapshot = func(v int64, w io.Writer) error { return binary.Write(w, binary.LittleEndian, v) }
	c.Install = func(r io.Reader) (int64, error) {
		var v int64
		err := binary.Read(r, binary.LittleEndian, &v)
		return v, err
	}
	c.SnapshotApplied = c.Install
}

// A member sent the leader's state stages it and stops to load it
// (ErrInstalled), and its node closes it at once. Raft answers the
// leader only after Restore has returned: a Close that shut raft down
// before that (a node stopping fast, which a loaded machine's scheduling
// allows) had raft answer the install failed ("raft is already
// shutdown") though the state was staged, and the leader sent the same
// state again at the member's next start — which staged it and stopped
// a second time, a member joining stuck one start short of the leader
// (node's joinEmpty: 2 of 10 runs beside three busy loops). Here the
// node's stop reaches raft's shutdown before Restore returns, whenever
// Close lets it.
func TestAnInstalledStateIsNotSentAgain(t *testing.T) {
	tune := func(c *Config) { stateOfApplied(c); c.TrailingEntries = 1 }
	var (
		fi    int
		dir   string
		peers []Peer
		last  int64
	)
	ms, l := startCommitted(t, 3, tune, 10, func(ms []*member, l *member) (err error) {
		waitSame(t, ms, 10)
		f := followersOf(ms, l)[0]
		fi, dir, peers = int(f.r.cfg.NodeID-1), f.r.cfg.Dir, f.r.cfg.Peers
		f.r.Close()
		if last, err = commitManyOrLost(t, l, 11, 5); err != nil { // one entry each: the compaction keeps only the last
			return err
		}
		// Each member up holds the inputs (the leader's FSM counts its
		// own, applied before commitManyOrLost returns) and compacts:
		// whichever leads sends f its state.
		up := slices.DeleteFunc(slices.Clone(ms), func(m *member) bool { return m == f })
		waitSame(t, followersOf(up, l), last)
		compactEach(t, up)
		return nil
	})

	var installs atomic.Int64
	counted := func(c *Config) {
		install := c.Install
		c.Install = func(r io.Reader) (int64, error) { installs.Add(1); return install(r) }
	}
	var behind atomic.Pointer[member]
	closed := make(chan struct{})
	m, err := openMemberWith(t, peers, fi, dir, nil, false, func(c *Config) {
		tune(c)
		counted(c)
		c.Applied = 10
		c.OnFatal = func(error) { // on Restore's goroutine, as the node's stop is told
			m := behind.Load()
			go func() { m.r.Close(); close(closed) }()
			// Restore returns once raft is shut down or Close waits for
			// it to return (awaitInstallAnswered), a second at most: the
			// leader's deadline for the answer (transportTimeout) runs
			// meanwhile, and a wait of the whole second, as Close made
			// it every time, left a loaded machine half of it.
			for deadline := time.Now().Add(time.Second); m.r.raft.State() != raft.Shutdown && goroutinesRunning("(*Replicator).awaitInstallAnswered") == 0 && time.Now().Before(deadline); {
				time.Sleep(time.Millisecond)
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	behind.Store(m)
	select {
	case <-closed:
	case <-time.After(10 * time.Second): // waitFatal's limit, for the same install
		t.Fatalf("the member behind was not sent the leader's state in 10 s (installs: %d)", installs.Load())
	}
	if n := installs.Load(); n != 1 {
		t.Fatalf("%d installs before the stop, want 1", n)
	}

	// Its next start, on the state it staged (the node loaded it).
	var fatal atomic.Pointer[error]
	again, err := openMemberWith(t, peers, fi, dir, nil, false, func(c *Config) {
		tune(c)
		counted(c)
		c.Applied = last
		c.OnFatal = func(err error) { fatal.Store(&err) }
	})
	if err != nil {
		t.Fatal(err)
	}
	commitWhileLeading(t, leading(t, append(ms, again), l), last+1, 1)
	for deadline := time.Now().Add(20 * time.Second); again.r.Applied() <= last; time.Sleep(10 * time.Millisecond) {
		if p := fatal.Load(); p != nil || installs.Load() > 1 || time.Now().After(deadline) {
			var err error
			if p != nil {
				err = *p
			}
			t.Fatalf("restarted on the state it staged: applied %d, %d installs in all (want 1), stopped for %v", again.r.Applied(), installs.Load(), err)
		}
	}
	if n := installs.Load(); n != 1 {
		t.Fatalf("%d installs in all, want 1: the leader sent its state again", n)
	}
}
