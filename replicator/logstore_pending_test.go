package replicator

import (
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// A large raft log write — a follower catching up takes up to
// raftBatchEntries entries of up to ~200 KB in one StoreLogs, one write
// and one fdatasync (~51 MB; here a quarter of it) — is not counted as a stall while its bytes
// could still be flushing at flushFloor: a healthy member on a disk
// under ~10 MB/s (~51 MB/s for a disk_stall_timeout of 1 s) was cut off
// and stopped with ErrDiskStalled, the flush 40c7ff8 allowed for in a
// raft snapshot's Close. A small one is timed at once, as a hung disk's
// must be. The write is held at the store's lock, which StoreLogs times
// from before.
func TestLargeLogWriteAllowedTimeToFlush(t *testing.T) {
	for _, tc := range []struct {
		name    string
		entries int
		size    int
		allowed bool
	}{
		{"64 entries of 200 KB: 0.8 s to flush at the floor", 64, 200 << 10, true},
		{"one entry of 1 KiB: timed at once", 1, 1 << 10, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := OpenLogStore(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			data := make([]byte, tc.size)
			logs := make([]*raft.Log, tc.entries)
			for i := range logs {
				logs[i] = &raft.Log{Index: uint64(i + 1), Term: 1, Type: raft.LogCommand, Data: data}
			}
			began := make(chan struct{})
			s.storing = func() { close(began) }
			s.mu.Lock()
			stored := make(chan error, 1)
			go func() { stored <- s.StoreLogs(logs) }()
			select { // timed from here; held at the lock
			case <-began:
			case <-time.After(10 * time.Second):
				t.Fatal("StoreLogs did not begin within 10 s")
			}
			time.Sleep(100 * time.Millisecond)
			waited := s.Pending.Oldest()
			s.mu.Unlock()
			if err := <-stored; err != nil {
				t.Fatal(err)
			}
			if tc.allowed && waited != 0 {
				t.Fatalf("StoreLogs of %d bytes counted as waiting %v after 100 ms", tc.entries*tc.size, waited)
			}
			if !tc.allowed && waited < 50*time.Millisecond {
				t.Fatalf("StoreLogs of %d bytes counted as waiting %v after 100 ms: a hung disk would go unseen", tc.entries*tc.size, waited)
			}
		})
	}
}

// A DeleteRange — raft truncating its log's suffix for a new leader
// (segments removed, one truncated and fsynced), or its prefix after a
// snapshot (segments removed) — held on the disk in one of its
// operations counts as a raft log operation under way, so the disk-stall
// watch (Replicator.LogWaiting) sees a truncation on a hung disk. Before
// de50784 only StoreLogs was timed: Pending stayed empty while a
// DeleteRange's removal or truncate waited.
func TestDeleteRangeTimedWhileItWaits(t *testing.T) {
	for _, tc := range []struct {
		name string
		cut  func(s *LogStore) (min, max uint64)
	}{
		{"suffix, a segment removed", func(s *LogStore) (uint64, uint64) { return s.segs[len(s.segs)-1].first, s.last }},
		{"suffix, truncated", func(s *LogStore) (uint64, uint64) { return s.segs[len(s.segs)-1].first + 1, s.last }},
		{"prefix", func(s *LogStore) (uint64, uint64) { return s.first, s.segs[1].first - 1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openTestLog(t, t.TempDir(), 64<<10)
			defer s.Close()
			data := make([]byte, 16<<10)
			for next := uint64(1); len(s.segs) < 3 || len(s.active().offs) < 2; next++ {
				if err := s.StoreLogs([]*raft.Log{{Index: next, Term: 1, Type: raft.LogCommand, Data: data}}); err != nil {
					t.Fatal(err)
				}
			}
			min, max := tc.cut(s)
			held, release := make(chan struct{}), make(chan struct{})
			defer func(orig func()) { deletesOnDisk = orig }(deletesOnDisk)
			first := true
			deletesOnDisk = func() {
				if first {
					first = false
					close(held)
					<-release
				}
			}
			deleted := make(chan error, 1)
			go func() { deleted <- s.DeleteRange(min, max) }()
			select {
			case <-held:
			case <-time.After(10 * time.Second):
				t.Fatal("DeleteRange reached no disk operation within 10 s")
			}
			var waited time.Duration
			for deadline := time.Now().Add(5 * time.Second); waited == 0 && time.Now().Before(deadline); {
				time.Sleep(time.Millisecond)
				waited = s.Pending.Oldest()
			}
			close(release)
			if err := <-deleted; err != nil {
				t.Fatal(err)
			}
			if waited == 0 {
				t.Fatal("DeleteRange held in a disk operation for 5 s not counted as under way: a truncation on a hung disk goes unseen")
			}
			if left := s.Pending.Oldest(); left != 0 {
				t.Fatalf("DeleteRange returned, still counted as under way for %v", left)
			}
		})
	}
}

// A compaction (DeleteRange of a prefix, on raft's snapshot goroutine)
// that waits for the store's lock while a follower's large catch-up
// write holds it is not counted as a stall while that write is within
// its flush allowance: the write is timed itself, from once its bytes
// could have flushed at flushFloor. Before, DeleteRange was timed from
// before the lock with no allowance: on a healthy disk under ~10 MB/s a
// compaction behind a ~51 MB write passed cluster.disk_stall_timeout and
// stopped the member — the stall ecbcc94 stopped for the write itself.
// The write is stood for by the lock held and its allowance begun.
func TestDeleteRangeBehindALargeWriteNotCountedStalled(t *testing.T) {
	s, err := OpenLogStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	logs := make([]*raft.Log, 8)
	for i := range logs {
		logs[i] = &raft.Log{Index: uint64(i + 1), Term: 1, Type: raft.LogCommand, Data: []byte("x")}
	}
	if err := s.StoreLogs(logs); err != nil {
		t.Fatal(err)
	}
	began := make(chan struct{})
	s.deleting = func() { close(began) }
	s.mu.Lock()
	write := s.Pending.BeginAllowing(time.Hour) // a large write, within its allowance
	deleted := make(chan error, 1)
	go func() { deleted <- s.DeleteRange(1, 4) }()
	select {
	case <-began:
	case <-time.After(10 * time.Second):
		s.mu.Unlock()
		t.Fatal("DeleteRange did not begin within 10 s")
	}
	time.Sleep(50 * time.Millisecond)
	waited := s.Pending.Oldest()
	s.Pending.End(write)
	s.mu.Unlock()
	if err := <-deleted; err != nil {
		t.Fatal(err)
	}
	if waited != 0 {
		t.Fatalf("DeleteRange waiting at the lock behind a write within its flush allowance counted as waiting %v", waited)
	}
	if first, _ := s.FirstIndex(); first != 5 {
		t.Fatalf("first index %d, want 5", first)
	}
}
