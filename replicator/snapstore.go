package replicator

import (
	"time"

	"github.com/hashicorp/raft"

	"github.com/ringex/ringex/vfs"
)

// observedSnapshots is raft's snapshot store with its writes seen by o
// (Replicator.stateWaiting: contract item 9): making a snapshot (its
// directory and metadata, fsynced), each write of its data, and the
// sink's Close and Cancel (the data's fsync, the metadata's, the
// rename). Raft writes one on its snapshot goroutine (Compact) and, on
// a follower sent the leader's state, on its main loop: a disk hung
// under it kept the member in the cluster, answering nothing. Reads
// (List, Open) are not observed, as vfs.Observed does not observe them.
type observedSnapshots struct {
	raft.SnapshotStore
	o vfs.Observer
}

func (s *observedSnapshots) Create(version raft.SnapshotVersion, index, term uint64, c raft.Configuration,
	cIndex uint64, trans raft.Transport) (raft.SnapshotSink, error) {
	defer s.o.End(s.o.Begin())
	sink, err := s.SnapshotStore.Create(version, index, term, c, cIndex, trans)
	if err != nil {
		return nil, err
	}
	return &observedSink{SnapshotSink: sink, o: s.o}, nil
}

type observedSink struct {
	raft.SnapshotSink
	o vfs.Observer
	// written counts the bytes Write took: raft's file store buffers
	// them and fsyncs the whole file in Close.
	written int64
}

func (s *observedSink) Write(p []byte) (int, error) {
	defer s.o.End(s.o.Begin())
	n, err := s.SnapshotSink.Write(p)
	s.written += int64(n)
	return n, err
}

// flushFloor is the pace, in bytes a second, below which a write that
// waits for a disk to flush many bytes at once counts as stalled: the
// fsync of a raft snapshot in Close (raft's file store writes the
// snapshot through a buffer and fsyncs it once at the end: 62 MB per
// million resting orders), and a raft log write of many entries (up to
// raftBatchEntries of ~200 KB in one write and fsync on a follower
// catching up: ~51 MB). A healthy disk flushing that much can take
// longer than cluster.disk_stall_timeout. 16 MB/s is well under any
// disk a member should run on (a spinning disk writes ~100 MB/s in
// sequence); a hung one is still caught, later by the write's size at
// this pace.
const flushFloor = 16 << 20

// flushAllowance is how long n bytes take to flush at flushFloor.
func flushAllowance(n int64) time.Duration {
	return time.Duration(float64(n) / flushFloor * float64(time.Second))
}

// Close is timed from once the snapshot's bytes could have been flushed
// at flushFloor (vfs.Pending.BeginAllowing), when the observer
// can allow for it.
func (s *observedSink) Close() error {
	if p, ok := s.o.(interface {
		BeginAllowing(time.Duration) uint64
	}); ok {
		defer s.o.End(p.BeginAllowing(flushAllowance(s.written)))
	} else {
		defer s.o.End(s.o.Begin())
	}
	return s.SnapshotSink.Close()
}

func (s *observedSink) Cancel() error {
	defer s.o.End(s.o.Begin())
	return s.SnapshotSink.Cancel()
}
