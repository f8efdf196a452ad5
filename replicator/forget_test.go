package replicator

import (
	"encoding/binary"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/rs/zerolog"

	"github.com/ringex/ringex/internal/testkit"
)

// soloMember opens a one-member cluster in dir whose node holds inputs up
// to applied and dropped the inputs dropped; its raft snapshot state is
// the input it reaches.
func soloMember(t *testing.T, addr, dir string, applied int64, dropped ...int64) *Replicator {
	t.Helper()
	enc := func(v int64, w io.Writer) error { return binary.Write(w, binary.LittleEndian, v) }
	dec := func(r io.Reader) (int64, error) {
		var v int64
		err := binary.Read(r, binary.LittleEndian, &v)
		return v, err
	}
	r, err := Open(Config{NodeID: 1, Listen: addr, Peers: []Peer{{ID: 1, Raft: addr, Gateway: "gw-1"}}, Dir: dir,
		Bootstrap: true, Incarnation: uint64(time.Now().UnixNano()), Logger: zerolog.Nop(), HeartbeatTimeout: testHeartbeatTimeout,
		Applied: applied, Dropped: dropped,
		Deliver: func(*Batch) error { return nil }, OnFatal: func(err error) { t.Errorf("fatal: %v", err) },
		Snapshot: enc, Install: dec, SnapshotApplied: dec})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// proposeOwn commits inputs first… in entries of per inputs, as r's own.
func proposeOwn(t *testing.T, r *Replicator, first int64, entries, per int) int64 {
	t.Helper()
	for range entries {
		e := batch(first, per)
		binary.LittleEndian.PutUint32(e[4:], r.cfg.NodeID)
		binary.LittleEndian.PutUint64(e[8:], r.cfg.Incarnation)
		if err := r.Propose(e); err != nil {
			t.Fatal(err)
		}
		first += int64(per)
	}
	return first - 1
}

// scanHolding is lastHolding by reading every entry.
func scanHolding(t *testing.T, s *LogStore, seq int64) (uint64, bool) {
	t.Helper()
	first, _ := s.FirstIndex()
	last, _ := s.LastIndex()
	var index uint64
	for i := first; i <= last && first != 0; i++ {
		var l raft.Log
		if err := s.GetLog(i, &l); err != nil {
			t.Fatal(err)
		}
		if l.Type != raft.LogCommand {
			continue
		}
		if b, err := ParseBatch(l.Data); err == nil && b.First <= seq {
			index = i
		}
	}
	return index, index != 0
}

// lastHolding, a binary search, finds what a scan of the log does: the
// last batch entry holding an input at or before the one asked — over
// entries of three inputs and the membership entry and no-ops among them.
func TestLastHoldingAgainstAScan(t *testing.T) {
	r := soloMember(t, testkit.ReserveAddrs(t, 1)[0], t.TempDir(), 0)
	defer r.Close()
	awaitReady(t, r)
	last := proposeOwn(t, r, 1, 20, 3)
	for seq := int64(0); seq <= last+1; seq++ {
		want, wantOK := scanHolding(t, r.logs, seq)
		if got, ok := r.logs.lastHolding(seq); got != want || ok != wantOK {
			t.Fatalf("input %d: index %d (%v), a scan says %d (%v)", seq, got, ok, want, wantOK)
		}
	}
}

// A member whose node dropped inputs keeps no log entry holding one, so
// that no member behind is ever sent one (it is sent the node's state):
// once its node has taken them, it takes a raft snapshot covering them
// and removes them — and, as a compaction in the middle of a segment
// comes back at the next start, again at each Open before raft runs.
// The entries after them stay; a dropped input far ahead of the node (an
// entry left after a journal cut) holds back none of this.
func TestDroppedInputsLeaveTheLog(t *testing.T) {
	t.Run("one", func(t *testing.T) { testDroppedInputsLeaveTheLog(t) })
	t.Run("and one far ahead", func(t *testing.T) { testDroppedInputsLeaveTheLog(t, 1<<40) })
}

func testDroppedInputsLeaveTheLog(t *testing.T, ahead ...int64) {
	addr, dir := testkit.ReserveAddrs(t, 1)[0], t.TempDir()
	r := soloMember(t, addr, dir, 0)
	awaitReady(t, r)
	last := proposeOwn(t, r, 1, 10, 3) // inputs 1…30, an entry of each three
	const dropped = 14                 // in the entry of 13…15
	index, ok := r.logs.lastHolding(dropped)
	if !ok {
		t.Fatal("no entry holds the input")
	}
	if snap, _ := newestSnapshot(r.fsm.snaps); snap != 0 {
		t.Fatalf("a raft snapshot at %d before any was asked for", snap)
	}
	r.Close()

	check := func(r *Replicator) {
		t.Helper()
		if _, ok := r.logs.lastHolding(dropped); ok {
			t.Fatal("the log still holds an entry with the dropped input")
		}
		var l raft.Log
		if first, _ := r.logs.FirstIndex(); first != index+1 || r.logs.GetLog(first, &l) != nil {
			t.Fatalf("the log begins at %d, want %d", first, index+1)
		}
		if b, err := ParseBatch(l.Data); err != nil || b.First != dropped+2 {
			t.Fatalf("the first entry left holds %d… (%v), want the entry after the dropped input's", b.First, err)
		}
	}
	r = soloMember(t, addr, dir, last, append([]int64{dropped}, ahead...)...)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, ok := r.logs.lastHolding(dropped); !ok {
			break
		}
		if time.Now().After(deadline) {
			r.Close()
			t.Fatal("the entries of the dropped input are still in the log after 10 s")
		}
	}
	if snap, _ := newestSnapshot(r.fsm.snaps); snap < index {
		t.Fatalf("the entries up to %d removed, the newest raft snapshot is at %d", index, snap)
	}
	check(r)
	r.Close()

	// At the next start the entries removed from the segment's middle
	// are read again; Open removes them before raft can send one.
	s, err := OpenLogStore(filepath.Join(dir, "log"))
	if err != nil {
		t.Fatal(err)
	}
	first, _ := s.FirstIndex()
	s.Close()
	if first > index {
		t.Fatalf("the log opens at %d, past the entries removed: nothing for the start to remove (test setup)", first)
	}
	r = soloMember(t, addr, dir, last, append([]int64{dropped}, ahead...)...)
	defer r.Close()
	check(r)
}

// droppedList is Config.Dropped of one input (none for 0).
func droppedList(seq int64) []int64 {
	if seq == 0 {
		return nil
	}
	return []int64{seq}
}

// Config.Dropped is searched (droppedAtMost): a list out of order, with a
// sequence twice or below 1 is refused, not searched wrong.
func TestDroppedMustIncrease(t *testing.T) {
	for _, dropped := range [][]int64{{5, 3}, {3, 3}, {0}, {-1, 4}} {
		c := Config{NodeID: 1, Dir: "d", Listen: "l", Peers: []Peer{{ID: 1}}, Deliver: func(*Batch) error { return nil }, Dropped: dropped}
		if err := c.Validate(); err == nil {
			t.Errorf("dropped inputs %v accepted", dropped)
		}
	}
	c := Config{NodeID: 1, Dir: "d", Listen: "l", Peers: []Peer{{ID: 1}}, Deliver: func(*Batch) error { return nil }, Dropped: []int64{1, 7, 9}}
	if err := c.Validate(); err != nil {
		t.Errorf("increasing dropped inputs refused: %v", err)
	}
}

// newestSnapshot is the index of the newest raft snapshot, 0 with none.
func newestSnapshot(snaps raft.SnapshotStore) (uint64, error) {
	metas, err := snaps.List()
	if err != nil || len(metas) == 0 {
		return 0, err
	}
	return metas[0].Index, nil
}

// DroppedInLog counts the dropped inputs the node has taken and the log
// has not been cleared of: not those ahead of the node, not those done.
func TestDroppedInLog(t *testing.T) {
	r := &Replicator{cfg: Config{Dropped: []int64{3, 8, 20}}, fsm: &fsm{}}
	for _, c := range []struct {
		applied, forgotten int64
		want               int
	}{
		{0, 0, 0}, {3, 0, 1}, {10, 0, 2}, {10, 3, 1}, {10, 8, 0}, {25, 8, 1}, {25, 20, 0},
	} {
		r.fsm.applied.Store(c.applied)
		r.forgotten.Store(c.forgotten)
		if got := r.DroppedInLog(); got != c.want {
			t.Errorf("applied %d, forgotten through %d: %d in the log, want %d", c.applied, c.forgotten, got, c.want)
		}
	}
}
