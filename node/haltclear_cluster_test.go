package node

import (
	"sync/atomic"
	"testing"
)

// A cluster's leader stopped in the middle of a chunked clear, with no
// client sending anything: the member elected after it, which never sent
// a noop (followers send none: the leader's reach them replicated), goes
// on with the clear as it becomes the leader, and the member left follows
// it to the same state. Without the look at a pending clear when a
// member becomes the leader, the new leader waited for an input that
// never came: waitCleared timed out.
func TestHaltClearChunkedGoesOnAfterAFailover(t *testing.T) {
	const chunk, orders = 2, 8
	defer func() { clearNoopHook = nil }() // once every member has stopped
	ns := startTestClusterWith(t, map[string]string{"engine.halt_clear_chunk": "2"})
	defer func() {
		for _, n := range ns {
			n.Stop()
		}
	}()
	old := readyLeader(t, ns, nil)
	var count atomic.Int32
	reached, release := make(chan struct{}), make(chan struct{})
	clearNoopHook = func(n *Node) {
		if n == old && count.Add(1) == 2 {
			close(reached)
			<-release
		}
	}
	defer close(release)

	btc := ns[0].cfg.Instruments[0]
	c4 := dial(t, old.gw.Addr().String(), 4)
	for i := int64(1); i <= orders; i++ {
		placeAt(t, c4, btc, uint64(i), -1-i%3)
	}
	if err := old.HaltAndCancelOrders(btc.ID); err != nil {
		t.Fatal(err)
	}
	received(t, reached, "the leader asked for no second noop", ns...)
	// The halt's chunk and the first noop's are applied: 4 orders left.
	if pending, _, live := clearState(t, old); !pending || live != orders-2*chunk {
		t.Fatalf("mid-clear: pending %v, %d live orders, want true and %d", pending, live, orders-2*chunk)
	}
	mid := old.stateNow().Seq
	if err := old.Stop(); err != nil {
		t.Fatal(err)
	}
	leader := readyLeader(t, ns, old)
	var follower *Node
	for _, n := range ns {
		if n != old && n != leader {
			follower = n
		}
	}
	if live := waitCleared(t, leader); live != 0 {
		t.Fatalf("%d live orders after the clear on the new leader, want 0", live)
	}
	end := leader.stateNow()
	if end.Seq < mid+int64((orders-2*chunk)/chunk) {
		t.Fatalf("the clear ended at input %d, %d after input %d: want at least %d noops", end.Seq, end.Seq-mid, mid, (orders-2*chunk)/chunk)
	}
	waitUntil(t, func() bool { st := follower.stateNow(); return st.Seq == end.Seq && st.Hash == end.Hash }, ns...)
	if pending, asked, live := clearState(t, follower); pending || asked || live != 0 {
		t.Fatalf("follower: pending %v, noop asked %v, %d live orders", pending, asked, live)
	}
}
