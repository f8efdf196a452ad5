package node

import (
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ringex/ringex/vfs"
)

// blockingSnapFS fails snapshot writes while failing, and holds them
// (until release is closed) while holding.
type blockingSnapFS struct {
	vfs.FS
	failing atomic.Bool
	holding atomic.Bool
	release chan struct{}
	creates atomic.Int32
}

func (f *blockingSnapFS) Create(name string) (vfs.File, error) {
	if strings.HasSuffix(name, ".snap.tmp") {
		f.creates.Add(1)
		if f.failing.Load() {
			return nil, syscall.ENOSPC
		}
		if f.holding.Load() {
			<-f.release
		}
	}
	return f.FS.Create(name)
}

// After a failed write, the back-off's retry is one snapshot: while its
// write is under way (one state copy with the writer, one free),
// every_inputs must not ask for another one.
func TestSnapshotRetryAfterAFailureAsksOnce(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	if err := cfg.Set("snapshot.every_inputs", "100000"); err != nil {
		t.Fatal(err)
	}
	fs := &blockingSnapFS{FS: vfs.Default, release: make(chan struct{})}
	n, addrs, _ := startNodeLogging(t, cfg, Options{FS: fs})
	defer n.Stop()
	n.snapRetryFirst = time.Millisecond
	c := dial(t, addrs.Gateway, 4)
	in := cfg.Instruments[0]
	restBids(t, c, in, 1, 10)
	fs.failing.Store(true)
	if err := n.RequestSnapshot(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { return n.stats.snapshots[snapshotFailed].Load() == 1 })
	fs.holding.Store(true)
	fs.failing.Store(false)
	time.Sleep(5 * time.Millisecond)
	// The retry is asked at the next input; its write is held.
	for id := uint64(11); id <= 60; id++ {
		restBids(t, c, in, id, id)
		time.Sleep(2 * time.Millisecond)
	}
	close(fs.release)
	waitUntil(t, func() bool { return n.stats.snapshots[snapshotWritten].Load() >= 1 })
	time.Sleep(300 * time.Millisecond)
	if w := n.stats.snapshots[snapshotWritten].Load(); w != 1 {
		t.Fatalf("one failed snapshot's retry wrote %d snapshots (writes begun: %d, skipped %d): every_inputs asked again while the retry was being written",
			w, fs.creates.Load()-1, n.stats.snapshots[snapshotSkipped].Load())
	}
}
