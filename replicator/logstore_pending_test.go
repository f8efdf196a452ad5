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

// A DeleteRange — raft truncating its log's suffix for a new leader, or
// its prefix after a snapshot — held on the disk (here at the store's
// lock, which it waits for) counts as a raft log operation under way, so
// the disk-stall watch (Replicator.LogWaiting) sees a truncation on a
// hung disk. Before, only StoreLogs was timed: Pending stayed empty while
// DeleteRange waited.
func TestDeleteRangeTimedWhileItWaits(t *testing.T) {
	for _, tc := range []struct {
		name     string
		min, max uint64
	}{
		{"suffix", 5, 8},
		{"prefix", 1, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
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
			s.mu.Lock()
			deleted := make(chan error, 1)
			go func() { deleted <- s.DeleteRange(tc.min, tc.max) }()
			var waited time.Duration
			for deadline := time.Now().Add(5 * time.Second); waited == 0 && time.Now().Before(deadline); {
				time.Sleep(time.Millisecond)
				waited = s.Pending.Oldest()
			}
			s.mu.Unlock()
			if err := <-deleted; err != nil {
				t.Fatal(err)
			}
			if waited == 0 {
				t.Fatal("DeleteRange held at the store's lock for 5 s not counted as under way: a truncation on a hung disk goes unseen")
			}
			if left := s.Pending.Oldest(); left != 0 {
				t.Fatalf("DeleteRange returned, still counted as under way for %v", left)
			}
		})
	}
}
