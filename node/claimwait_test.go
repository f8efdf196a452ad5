package node

import (
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ringex/ringex/input"
)

// A publish that waits for room in a full input ring when its member
// loses the lead is refused (ErrNotLeader, as it would have been a
// moment later) and takes no slot. It checked the lead before its claim,
// and a claim of the multi-producer ring is taken before the wait: once
// the ring had room, the member — a follower by then — published an
// input no leader would commit, whose sequence the next leader's batches
// took. It stopped (ErrDiverged, or ErrInputsLost when its replicator
// stage came first) and restarted, for an input whose client had been
// told nothing; the Publish call said it was taken.
func TestAPublishWaitingForRoomIsRefusedWhenTheLeadIsLost(t *testing.T) {
	for _, tc := range []struct {
		name    string
		publish func(n *Node) error
	}{
		{"publishSlot", func(n *Node) error {
			return n.Publish(input.KindClient, 0, 1, time.Now().UnixNano(), []byte("x"))
		}},
		{"PublishBatch", func(n *Node) error {
			_, err := n.PublishBatch(input.KindClient, 0, 1, time.Now().UnixNano(), [][]byte{[]byte("x"), []byte("y")}, 0)
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A 1 s election timeout: the setup keeps its leader on a
			// loaded machine, and a failover still takes a few seconds.
			ns := startTestClusterWith(t, map[string]string{"rings.input_slots": "4", "cluster.election_timeout": "1s"})
			old := readyLeader(t, ns, nil)
			release := holdEngine(t, old)
			defer release()
			for range old.in.seq.Size() { // the held engine frees no slot: the ring is full
				if err := old.Publish(input.KindClient, 0, 1, time.Now().UnixNano(), []byte("x")); err != nil {
					t.Fatal(err)
				}
			}
			// Committed, so that the step-down loses nothing in flight.
			waitUntil(t, func() bool { return old.cl.committed.Load() == old.base+old.in.published() })
			published := make(chan error, 1)
			go func() { published <- tc.publish(old) }()
			waitUntil(t, func() bool { return parkedIn("node.(*Node)." + tc.name) })

			old.cl.r.Isolate(true)
			waitUntil(t, func() bool { return !old.cl.accepting.Load() })
			l := publishBids(t, ns, old, 1, 5) // batches that take the sequences after old's
			want := appliedAll(t, l)
			old.cl.r.Isolate(false)
			release()

			if err := received(t, published, "the publish waiting for room did not return in 10 s after the ring had room"); !errors.Is(err, ErrNotLeader) {
				t.Errorf("the publish waiting when the lead was lost returned %v, want ErrNotLeader", err)
			}
			deadline := time.Now().Add(10 * time.Second)
			for old.cl.r.Applied() < want.Seq {
				select {
				case err := <-old.Fatal():
					t.Fatalf("the member that lost the lead stopped: %v", err)
				default:
				}
				if time.Now().After(deadline) {
					t.Fatalf("the member that lost the lead applied %d in 10 s, the leader %d", old.cl.r.Applied(), want.Seq)
				}
				time.Sleep(5 * time.Millisecond)
			}
			if got := appliedAll(t, old); got.Seq < want.Seq || (got.Seq == want.Seq && got.Hash != want.Hash) {
				t.Fatalf("the member that lost the lead is at input %d (hash %s), the leader was at %d (%s)", got.Seq, got.Hash, want.Seq, want.Hash)
			}
		})
	}
}

// parkedIn reports whether a goroutine in function fn (package-qualified,
// as a stack names it) is parked waiting on a ring: for a producer, for
// room.
func parkedIn(fn string) bool {
	buf := make([]byte, 1<<20)
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if strings.Contains(g, fn+"(") && strings.Contains(g, "disruptor.(*signal).park(") {
			return true
		}
	}
	return false
}
