package replicator

import (
	"encoding/binary"
	"io"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/rs/zerolog"

	"github.com/ringex/ringex/internal/testkit"
)

// listingMember is soloMember whose raft snapshots record whether the
// node listed its dropped inputs when it wrote them (listing), as a
// node's state stream does with its drops section.
func listingMember(t *testing.T, addr, dir string, applied, droppedThrough int64, listing *atomic.Bool) *Replicator {
	t.Helper()
	enc := func(v int64, w io.Writer) error {
		var lists int64
		if listing.Load() {
			lists = 1
		}
		return binary.Write(w, binary.LittleEndian, [2]int64{v, lists})
	}
	read := func(r io.Reader) ([2]int64, error) {
		var v [2]int64
		err := binary.Read(r, binary.LittleEndian, &v)
		return v, err
	}
	dec := func(r io.Reader) (int64, error) { v, err := read(r); return v[0], err }
	lists := func(r io.Reader) (bool, error) { v, err := read(r); return v[1] == 1, err }
	r, err := Open(Config{NodeID: 1, Listen: addr, Peers: []Peer{{ID: 1, Raft: addr, Gateway: "gw-1"}}, Dir: dir,
		Bootstrap: true, Incarnation: uint64(time.Now().UnixNano()), Logger: zerolog.Nop(), HeartbeatTimeout: testHeartbeatTimeout,
		Applied: applied, Dropped: droppedList(droppedThrough),
		Deliver: func(*Batch) error { return nil }, OnFatal: func(err error) { t.Errorf("fatal: %v", err) },
		Snapshot: enc, Install: dec, SnapshotApplied: dec, SnapshotListsDrops: lists})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// newestListing reports whether the member's newest raft snapshot was
// written listing the dropped inputs.
func newestListing(t *testing.T, r *Replicator) bool {
	t.Helper()
	metas, err := r.fsm.snaps.List()
	if err != nil || len(metas) == 0 {
		t.Fatalf("no raft snapshot (%v)", err)
	}
	_, rc, err := r.fsm.snaps.Open(metas[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	ok, err := r.cfg.SnapshotListsDrops(rc)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// A raft snapshot written before the node listed a dropped input it
// holds is no use in place of the input's entries: a member sent it
// replays the input. A member whose log holds no entry of the input any
// more — raft removed them all when it installed such a state — but whose
// newest raft snapshot is that one was taken for done: it took no raft
// snapshot of its own, and the stale one was what a member behind was
// sent. It must take one that lists the input.
//
// Idle, the member applies no input after its start: the barrier it
// commits on taking the lead (barrierOfThisTerm) is what raft's FSM
// runner applies past the stale snapshot, without which raft answers
// every snapshot asked for "nothing new" (hashicorp/raft runFSM: nothing
// applied since the start).
func TestAStaleRaftSnapshotIsReplacedEvenWithNoEntryLeft(t *testing.T) {
	for _, trading := range []bool{true, false} {
		t.Run(map[bool]string{true: "trading", false: "idle"}[trading], func(t *testing.T) {
			staleSnapshotReplaced(t, trading)
		})
	}
}

func staleSnapshotReplaced(t *testing.T, trading bool) {
	addr, dir := testkit.ReserveAddrs(t, 1)[0], t.TempDir()
	var listing atomic.Bool
	r := listingMember(t, addr, dir, 0, 0, &listing)
	awaitReady(t, r)
	last := proposeOwn(t, r, 1, 10, 3) // inputs 1…30
	if err := r.Compact(); err != nil {
		t.Fatal(err)
	}
	r.Close()
	// The log emptied, as after an install.
	s, err := OpenLogStore(filepath.Join(dir, "log"))
	if err != nil {
		t.Fatal(err)
	}
	first, _ := s.FirstIndex()
	lastIndex, _ := s.LastIndex()
	if err := s.DeleteRange(first, lastIndex); err != nil {
		t.Fatal(err)
	}
	s.Close()

	const dropped = 14
	listing.Store(true) // the node lists it from now on
	r = listingMember(t, addr, dir, last, dropped, &listing)
	defer r.Close()
	if newestListing(t, r) {
		t.Fatal("the newest raft snapshot lists the input before any was taken (test setup)")
	}
	awaitReady(t, r)
	if trading {
		proposeOwn(t, r, last+1, 1, 3)
	}
	for deadline := time.Now().Add(10 * time.Second); !newestListing(t, r); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("after 10 s the newest raft snapshot, which a member behind is sent, still holds the dropped input unlisted")
		}
	}
	var l raft.Log
	if f, _ := r.logs.FirstIndex(); f != 0 && r.logs.GetLog(f, &l) == nil && l.Type == raft.LogCommand {
		if b, _ := ParseBatch(l.Data); b.First <= dropped {
			t.Fatalf("the log holds input %d…", b.First)
		}
	}
}
