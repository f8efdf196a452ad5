package replicator

import (
	"encoding/binary"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/internal/testkit"
)

// A raft snapshot taken after the node stopped taking deliveries
// (ErrDeliveryStopped: its ring halted for a stop, while its snapshot
// writer still calls Compact) must not cover the entries left
// undelivered: raft starts after its newest snapshot, so those entries
// are never delivered again, and the node misses inputs the cluster
// committed.
func TestNoRaftSnapshotPastUndeliveredEntries(t *testing.T) {
	peers := []Peer{{ID: 1, Raft: testkit.ReserveAddrs(t, 1)[0], Gateway: "gw-1"}}
	dir := t.TempDir()
	enc := func(v int64, w io.Writer) error { return binary.Write(w, binary.LittleEndian, v) }
	dec := func(r io.Reader) (int64, error) {
		var v int64
		err := binary.Read(r, binary.LittleEndian, &v)
		return v, err
	}
	var halted atomic.Bool
	var mu sync.Mutex
	var got []int64
	var fatal []error
	open := func(applied int64) *Replicator {
		t.Helper()
		r, err := Open(Config{NodeID: 1, Listen: peers[0].Raft, Peers: peers, Dir: dir, Bootstrap: true, Incarnation: uint64(time.Now().UnixNano()),
			Logger: zerolog.Nop(), Applied: applied, HeartbeatTimeout: testHeartbeatTimeout,
			Deliver: func(b *Batch) error {
				if halted.Load() {
					return fmt.Errorf("%w: halted", ErrDeliveryStopped)
				}
				mu.Lock()
				defer mu.Unlock()
				for s := b.First; s <= b.Last(); s++ {
					got = append(got, s)
				}
				return nil
			},
			OnFatal:  func(err error) { mu.Lock(); fatal = append(fatal, err); mu.Unlock() },
			Snapshot: enc, Install: dec, SnapshotApplied: dec})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	r := open(0)
	awaitReady(t, r)
	own := batch(1, 5)
	binary.LittleEndian.PutUint32(own[4:], 1)
	binary.LittleEndian.PutUint64(own[8:], r.cfg.Incarnation)
	if err := r.Propose(own); err != nil {
		r.Close()
		t.Fatal(err)
	}
	// The node's ring halts for a stop; an entry of another origin
	// (a leader's, as a follower gets it) commits meanwhile.
	halted.Store(true)
	other := batch(6, 5)
	binary.LittleEndian.PutUint32(other[4:], 2)
	if err := r.Propose(other); err != nil {
		r.Close()
		t.Fatal(err)
	}
	// The snapshot writer finishes a snapshot and compacts.
	compactErr := r.Compact()
	r.Close()
	t.Logf("compact while delivery stopped: %v", compactErr)

	// Next start: the node's journal holds inputs 1…5.
	halted.Store(false)
	r = open(5)
	defer r.Close()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= 5 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 5 || got[0] != 6 {
		t.Fatalf("after the restart delivered %v, want inputs 6…10 (committed, never delivered); fatal: %v", got, fatal)
	}
}
