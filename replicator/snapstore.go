package replicator

import (
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
	return observedSink{SnapshotSink: sink, o: s.o}, nil
}

type observedSink struct {
	raft.SnapshotSink
	o vfs.Observer
}

func (s observedSink) Write(p []byte) (int, error) {
	defer s.o.End(s.o.Begin())
	return s.SnapshotSink.Write(p)
}

func (s observedSink) Close() error {
	defer s.o.End(s.o.Begin())
	return s.SnapshotSink.Close()
}

func (s observedSink) Cancel() error {
	defer s.o.End(s.o.Begin())
	return s.SnapshotSink.Cancel()
}
