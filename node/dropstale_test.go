package node

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ringex/ringex/journal"
)

// A raft snapshot taken before the operator dropped an input may hold
// that input: raft snapshots the replicator's applied input, which runs
// ahead of the engine (the ring between them), so a snapshot taken just
// before the engine panicked can reach past the input it panicked on. Its
// stream, written before the input was listed, has no drops section.
// After the drop, each member's newest raft snapshot was that one: it
// covered every entry holding the input, so Open removed them and took
// the member for done — no raft snapshot of its own after the drop, and
// the runbook's "the raft log holds no dropped input now" never logged.
// A member joining was then sent the stale state, replayed the input with
// no drops entry for it, and panicked on it (or applied it).
func TestAStaleRaftSnapshotHoldingTheDroppedInputIsNotSent(t *testing.T) {
	ns := startTestClusterWith(t, map[string]string{"snapshot.on_stop": "false"})
	// Each member's raft snapshot reaches past the input (as it would
	// have, its ring behind, before its engine panicked on it).
	_, _, logs := dropOnEveryMemberAfter(t, ns, nil, func() {
		for i, n := range ns {
			if err := n.cl.r.Compact(); err != nil {
				t.Fatalf("member %d: %v", i+1, err)
			}
		}
	})
	l := publishBids(t, ns, nil, 6, 9)
	// What the runbook has the operator wait for before a member joins.
	li := slices.Index(ns, l)
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(logs[li].String(), "the raft log holds no dropped input now"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Errorf("the leader never logged that its raft log holds no dropped input (its newest raft snapshot predates the drop)")
			break
		}
	}
	joinEmpty(t, ns, (li+1)%len(ns))
}

// streamListsDrops: a stream lists the dropped inputs it holds when its
// drops section names each one after its snapshot, with its checksum (a
// version 1 stream names none).
func TestStreamListsDrops(t *testing.T) {
	src, st := raftSource(t, Options{})
	defer src.Stop()
	snapSeq := newestSnapshot(t, src, st.Seq)
	if st.Seq <= snapSeq+1 {
		t.Fatalf("no inputs after the snapshot at %d (test setup)", snapSeq)
	}
	in := snapSeq + 1
	written := func(list *journal.Drops) []byte {
		var buf bytes.Buffer
		if err := src.writeState(st.Seq, list, &buf); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	none := written(nil)
	withIn := written(dropsOf(t, journal.Drop{Seq: in, Checksum: 0xabc}))
	for _, c := range []struct {
		name   string
		stream []byte
		drops  *journal.Drops
		want   bool
	}{
		{"no drops", none, nil, true},
		{"v1, a drop at or before its snapshot", none, dropsOf(t, journal.Drop{Seq: max(snapSeq, 1), Checksum: 1}), snapSeq >= 1},
		{"v1, a drop after its snapshot", none, dropsOf(t, journal.Drop{Seq: in, Checksum: 0xabc}), false},
		{"v2 listing it", withIn, dropsOf(t, journal.Drop{Seq: in, Checksum: 0xabc}), true},
		{"v2, another checksum", withIn, dropsOf(t, journal.Drop{Seq: in, Checksum: 0xabd}), false},
		{"v2, one more", withIn, dropsOf(t, journal.Drop{Seq: in, Checksum: 0xabc}, journal.Drop{Seq: st.Seq + 5, Checksum: 2}), false},
	} {
		got, err := streamListsDrops(bytes.NewReader(c.stream), c.drops)
		if err != nil || got != c.want {
			t.Errorf("%s: %v, %v; want %v", c.name, got, err, c.want)
		}
	}
	if _, err := streamListsDrops(bytes.NewReader(withIn[:installHeader+3]), nil); !errors.Is(err, ErrInstallStream) {
		t.Errorf("a cut stream: %v, want ErrInstallStream", err)
	}
}
