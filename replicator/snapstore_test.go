package replicator

import (
	"io"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/ringex/ringex/vfs"
)

// closingStore is a raft snapshot store whose sinks discard what is
// written and whose Close waits for release: a disk flushing the file.
type closingStore struct {
	raft.SnapshotStore
	entered, release chan struct{}
}

func (s closingStore) Create(raft.SnapshotVersion, uint64, uint64, raft.Configuration, uint64, raft.Transport) (raft.SnapshotSink, error) {
	return closingSink{entered: s.entered, release: s.release}, nil
}

type closingSink struct{ entered, release chan struct{} }

func (closingSink) Write(p []byte) (int, error) { return io.Discard.Write(p) }
func (s closingSink) Close() error              { close(s.entered); <-s.release; return nil }
func (closingSink) Cancel() error               { return nil }
func (closingSink) ID() string                  { return "test" }

// A large raft snapshot's Close — raft's file store fsyncs the whole
// file there — is not counted as a stall while the bytes could still be
// flushing at flushFloor: a healthy member flushing 62 MB per
// million resting orders on a slow disk was stopped with ErrDiskStalled
// at every compaction past cluster.disk_stall_timeout (review 181). A
// small one's Close is timed at once, as a hung disk's must be.
func TestSnapshotCloseAllowedTimeToFlush(t *testing.T) {
	for _, tc := range []struct {
		name    string
		bytes   int
		allowed bool
	}{
		{"64 MiB: 4 s to flush at the floor", 64 << 20, true},
		{"1 KiB: timed at once", 1 << 10, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var pending vfs.Pending
			entered, release := make(chan struct{}), make(chan struct{})
			store := &observedSnapshots{SnapshotStore: closingStore{entered: entered, release: release}, o: &pending}
			sink, err := store.Create(raft.SnapshotVersionMax, 1, 1, raft.Configuration{}, 1, nil)
			if err != nil {
				t.Fatal(err)
			}
			chunk := make([]byte, 1<<20)
			for left := tc.bytes; left > 0; left -= len(chunk) {
				if _, err := sink.Write(chunk[:min(left, len(chunk))]); err != nil {
					t.Fatal(err)
				}
			}
			closed := make(chan error, 1)
			go func() { closed <- sink.Close() }()
			<-entered // Close is under way (its Begin is before)
			time.Sleep(100 * time.Millisecond)
			waited := pending.Oldest()
			close(release)
			if err := <-closed; err != nil {
				t.Fatal(err)
			}
			if tc.allowed && waited != 0 {
				t.Fatalf("Close of %d bytes counted as waiting %v after 100 ms: its flush is allowed %v", tc.bytes, waited, flushAllowance(int64(tc.bytes)))
			}
			if !tc.allowed && waited < 50*time.Millisecond {
				t.Fatalf("Close of %d bytes counted as waiting %v after 100 ms: a hung disk would go unseen", tc.bytes, waited)
			}
		})
	}
}
