package replicator

import (
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// Raft compacts the log (DeleteRange of a prefix, on its snapshot
// goroutine) while the leader goes on storing entries (its main loop). A
// compaction after snapshot.every_inputs removes tens of segments, each
// with a directory sync (62 ms for 34 on the dev VM's ext4), and it held
// the store's lock all the while: every append, and so every commit,
// waited. Here the removal is held at its first file until an append has
// gone through: it did not before.
func TestCompactionDoesNotHoldAppends(t *testing.T) {
	s := openTestLog(t, t.TempDir(), 64<<10)
	defer s.Close()
	data := make([]byte, 16<<10)
	next := uint64(1)
	for len(s.segs) < 6 {
		if err := s.StoreLogs([]*raft.Log{{Index: next, Term: 1, Type: raft.LogCommand, Data: data}}); err != nil {
			t.Fatal(err)
		}
		next++
	}
	cut := s.segs[len(s.segs)-2].first - 1 // all but the last two segments
	removing, appended := make(chan struct{}), make(chan struct{})
	held := true
	defer func(orig func()) { deletesOnDisk = orig }(deletesOnDisk)
	deletesOnDisk = func() {
		if held {
			held = false
			close(removing)
			<-appended
		}
	}
	done := make(chan error, 1)
	go func() { done <- s.DeleteRange(1, cut) }()
	<-removing
	stored := make(chan error, 1)
	go func() {
		stored <- s.StoreLogs([]*raft.Log{{Index: next, Term: 1, Type: raft.LogCommand, Data: []byte("x")}})
	}()
	select {
	case err := <-stored:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		close(appended)
		<-done
		t.Fatal("an append waited for the compaction's file removals")
	}
	close(appended)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if first, _ := s.FirstIndex(); first != cut+1 {
		t.Fatalf("first index %d after the compaction, want %d", first, cut+1)
	}
	if last, _ := s.LastIndex(); last != next {
		t.Fatalf("last index %d, want %d", last, next)
	}
	// Reopened, the store holds what it was left with.
	s.Close()
	r := openTestLog(t, s.dir, 64<<10)
	defer r.Close()
	if first, _ := r.FirstIndex(); first > cut+1 {
		t.Fatalf("reopened: first index %d, past %d", first, cut+1)
	}
	if last, _ := r.LastIndex(); last != next {
		t.Fatalf("reopened: last index %d, want %d", last, next)
	}
}
