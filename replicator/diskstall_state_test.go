package replicator

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/vfs"
)

// stallObserved is an Observer that records each write in p, then holds
// it while s is held: the writes of a disk that stopped answering, as
// the member's own timing sees them.
type stallObserved struct {
	p *vfs.Pending
	s *vfs.Stall
}

func (o stallObserved) Begin() uint64 {
	id := o.p.Begin()
	o.s.Begin()
	return id
}

func (o stallObserved) End(id uint64) { o.p.End(id) }

// A member whose disk hangs under raft's stable store (a term or vote
// write: raft's main loop waits in it, on a candidate or a voter), its
// raft snapshots (Compact's, or a follower's install of the leader's
// state) or its file of fenced addresses (a committed move applied: raft's
// FSM goroutine waits in it) is stopped with ErrDiskStalled, as one whose
// raft log write hangs. Only the raft log was timed before: such a
// member stayed in the cluster answering nothing, and nothing reported
// it.
func TestAStalledRaftStateDiskStopsTheMember(t *testing.T) {
	for _, tc := range []struct {
		name string
		// hang starts a write of m's that the disk holds until release.
		hang func(t *testing.T, m *member) (release func())
	}{
		{"stable store", func(t *testing.T, m *member) func() {
			// The disk hangs under a Set holding the store's lock: raft's
			// next term or vote write waits behind it.
			m.r.stable.mu.Lock()
			done := make(chan error, 1)
			go func() { done <- m.r.stable.SetUint64([]byte("CurrentTerm"), 1<<40) }()
			return func() {
				m.r.stable.mu.Unlock()
				if err := <-done; err != nil {
					t.Error(err)
				}
			}
		}},
		{"raft snapshots", func(t *testing.T, m *member) func() {
			var stall vfs.Stall
			stall.Hold()
			m.r.snaps.o = stallObserved{p: &m.r.snapsPending, s: &stall}
			done := make(chan error, 1)
			go func() {
				sink, err := m.r.snaps.Create(raft.SnapshotVersionMax, 1, 1, raft.Configuration{}, 1, m.r.trans)
				if err == nil {
					err = sink.Cancel()
				}
				done <- err
			}()
			return func() {
				stall.Release()
				if err := <-done; err != nil {
					t.Error(err)
				}
			}
		}},
		{"fenced addresses", func(t *testing.T, m *member) func() {
			// A committed move applied (observe, on raft's FSM goroutine)
			// writes the file: the disk hangs under it.
			var stall vfs.Stall
			stall.Hold()
			f := m.r.trans.fence
			f.mu.Lock()
			f.fs = vfs.Observed(vfs.Default, stallObserved{p: &f.pending, s: &stall})
			f.mu.Unlock()
			servers := m.r.raft.GetConfiguration().Configuration().Servers
			moved := slices.Clone(servers)
			i := slices.IndexFunc(moved, func(s raft.Server) bool { return s.ID != serverID(m.r.cfg.NodeID) })
			moved[i].Address = raft.ServerAddress(testkit.ReserveAddrs(t, 1)[0])
			f.observe(servers) // as applied so far: no move
			done := make(chan struct{})
			go func() { f.observe(moved); close(done) }()
			return func() {
				stall.Release()
				<-done
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const limit = time.Second
			ms, l := startCommitted(t, 3, func(c *Config) { c.DiskStallTimeout = limit }, 1, nil)
			m := followersOf(ms, l)[0]
			release := tc.hang(t, m)
			defer release() // before the cleanup's Close, which waits for raft's loops
			fatal := waitFatal(t, m, func() string {
				return fmt.Sprintf("the member's %s write has hung for 10 s and it is not stopped (StateWaiting %v)", tc.name, m.r.StateWaiting())
			})
			if !errors.Is(fatal, ErrDiskStalled) || !strings.Contains(fatal.Error(), "stable store (term and vote), raft snapshots or file of fenced addresses") {
				t.Fatalf("OnFatal got %v, want ErrDiskStalled naming the stable store, snapshots or fenced addresses", fatal)
			}
			if !m.r.trans.cut.Load() {
				t.Fatal("the stalled member is not cut off from its peers")
			}
		})
	}
}
