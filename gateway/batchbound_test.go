package gateway

import (
	"testing"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/input"
	"github.com/ringex/ringex/proto"
)

// wantOrdersInOrder checks that account's frames among frames are its
// orders 1…n, each once, in the order sent.
func wantOrdersInOrder(t *testing.T, frames []published, account uint32, n int) {
	t.Helper()
	var got []uint64
	for _, f := range frames {
		if f.account == account && f.kind == input.KindClient {
			got = append(got, proto.NewOrderAt(f.payload, mustPos(t, f.payload)).ClientOrderID)
		}
	}
	if len(got) != n {
		t.Fatalf("account %d: %d orders published, want %d", account, len(got), n)
	}
	for i, id := range got {
		if id != uint64(i+1) {
			t.Fatalf("account %d: frame %d has client order id %d", account, i, id)
		}
	}
}

// More frames in one read than a batch holds (maxBatchFrames) take the
// ring in batches of at most maxBatchFrames, a claim the ring can hold,
// every frame once and in order; a session reading past the bound beside
// it, and sending on meanwhile, loses nothing either.
func TestReadPastTheBatchBoundLosesNothing(t *testing.T) {
	g, ring := startGateway(t, Config{})
	busy, err := client.Dial(g.Addr().String(), 1, "one", client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	beside, err := client.Dial(g.Addr().String(), 2, "two", client.Options{AutoFlush: true})
	if err != nil {
		t.Fatal(err)
	}
	defer beside.Close()

	// The busy session's reader holds its first frame at the full ring,
	// so the rest, sent in one write, wait in its socket for one read.
	ring.setBlocked(true)
	if busy.NewOrder(order(1)) != nil || busy.Flush() != nil {
		t.Fatal("send")
	}
	ring.awaitWaiting(t)
	const busyOrders = 3*maxBatchFrames + 5
	enc := proto.NewEncoder()
	var burst []byte
	for i := uint64(2); i <= busyOrders; i++ {
		burst = append(burst, enc.NewOrder(i, order(i))...)
	}
	if busy.SendRaw(burst) != nil || busy.Flush() != nil {
		t.Fatal("send")
	}
	// Beside it, as many again, one write each: half while the ring is
	// full, half while the busy session's batches take it.
	const besideOrders = 2 * maxBatchFrames
	for i := uint64(1); i <= besideOrders/2; i++ {
		if beside.NewOrder(order(i)) != nil {
			t.Fatal("send")
		}
	}
	sent := make(chan error, 1)
	go func() {
		for i := uint64(besideOrders/2 + 1); i <= besideOrders; i++ {
			if err := beside.NewOrder(order(i)); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	ring.setBlocked(false)
	if err := <-sent; err != nil {
		t.Fatal(err)
	}

	frames := ring.waitFor(t, busyOrders+besideOrders)
	wantOrdersInOrder(t, frames, 1, busyOrders)
	wantOrdersInOrder(t, frames, 2, besideOrders)
	if got := ring.largestBatch(); got != maxBatchFrames {
		t.Fatalf("largest batch %d frames, want the bound, %d", got, maxBatchFrames)
	}
}
