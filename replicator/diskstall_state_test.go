package replicator

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

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
// write: raft's main loop waits in it, on a candidate or a voter) or its
// raft snapshots (Compact's, or a follower's install of the leader's
// state) is stopped with ErrDiskStalled, as one whose raft log write
// hangs. Only the raft log was timed before: such a member stayed in the
// cluster answering nothing, and nothing reported it.
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
			if !errors.Is(fatal, ErrDiskStalled) || !strings.Contains(fatal.Error(), "stable store (term and vote) or raft snapshots") {
				t.Fatalf("OnFatal got %v, want ErrDiskStalled naming the stable store or snapshots", fatal)
			}
			if !m.r.trans.cut.Load() {
				t.Fatal("the stalled member is not cut off from its peers")
			}
		})
	}
}
