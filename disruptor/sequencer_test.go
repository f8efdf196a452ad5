package disruptor

import (
	"errors"
	"math/rand"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

func TestClaimSize(t *testing.T) {
	for _, producers := range []int{1, 2} {
		_, seqr := newTestRing(t, 8, producers, Adaptive)
		for _, n := range []int64{0, -1, 9, 1 << 40} {
			if _, err := seqr.Next(n); !errors.Is(err, ErrClaimSize) {
				t.Errorf("producers=%d: Next(%d) = %v, want ErrClaimSize", producers, n, err)
			}
			if _, err := seqr.TryNext(n); !errors.Is(err, ErrClaimSize) {
				t.Errorf("producers=%d: TryNext(%d) = %v, want ErrClaimSize", producers, n, err)
			}
		}
		if hi, err := seqr.Next(8); err != nil || hi != 7 {
			t.Errorf("producers=%d: Next(size) = %d, %v", producers, hi, err)
		}
	}
}

// TryNext reports a full ring without waiting, and succeeds again once the
// gating consumer moves.
func TestTryNextOnFullRing(t *testing.T) {
	for _, producers := range []int{1, 2} {
		_, seqr := newTestRing(t, 8, producers, Adaptive)
		consumer := NewSequence(0)
		seqr.AddGating(consumer) // starts at the cursor, -1
		hi, err := seqr.TryNext(8)
		if err != nil || hi != 7 {
			t.Fatalf("producers=%d: claim of an empty ring: %d, %v", producers, hi, err)
		}
		seqr.Publish(0, 7)
		if _, err := seqr.TryNext(1); !errors.Is(err, ErrFull) {
			t.Fatalf("producers=%d: TryNext on a full ring = %v, want ErrFull", producers, err)
		}
		consumer.Store(1)
		if _, err := seqr.TryNext(3); !errors.Is(err, ErrFull) {
			t.Fatalf("producers=%d: TryNext(3) with 2 free = %v, want ErrFull", producers, err)
		}
		if hi, err := seqr.TryNext(2); err != nil || hi != 9 {
			t.Fatalf("producers=%d: TryNext(2) with 2 free = %d, %v", producers, hi, err)
		}
		seqr.RemoveGating(consumer)
		if _, err := seqr.TryNext(8); err != nil {
			t.Fatalf("producers=%d: TryNext with no gating = %v", producers, err)
		}
	}
}

// Halt wakes a producer blocked on a full ring.
func TestHaltUnblocksProducer(t *testing.T) {
	for _, producers := range []int{1, 2} {
		_, seqr := newTestRing(t, 4, producers, Adaptive)
		seqr.AddGating(NewSequence(0))
		hi, _ := seqr.Next(4)
		seqr.Publish(hi-3, hi)
		errc := make(chan error)
		go func() { _, err := seqr.Next(1); errc <- err }()
		seqr.Halt()
		within(t, "blocked Next after Halt", func() {
			if err := <-errc; !errors.Is(err, ErrHalted) {
				t.Errorf("producers=%d: blocked Next after Halt = %v", producers, err)
			}
		})
		if _, err := seqr.Next(1); !errors.Is(err, ErrHalted) {
			t.Errorf("producers=%d: Next on halted ring = %v", producers, err)
		}
		if _, err := seqr.TryNext(1); !errors.Is(err, ErrHalted) {
			t.Errorf("producers=%d: TryNext on halted ring = %v", producers, err)
		}
	}
}

// The multi-producer sequencer against a naive model, on 200k seeded
// random operations in one goroutine: claims of random sizes, publishes
// of random outstanding claims in any order, and a consumer that takes
// random parts of what is published. The model keeps the set of published
// sequences; the sequencer must agree on the contiguous published run and
// on when the ring is full.
func TestMultiProducerMatchesModel(t *testing.T) {
	const size = 16
	rng := rand.New(rand.NewSource(1))
	p, consumer, barrier := newGatedMulti(t, size)
	type claim struct{ lo, hi int64 }
	var (
		outstanding []claim
		published   = map[int64]bool{}
		claimed     = int64(-1)
	)
	modelPublished := func() int64 {
		s := consumer.Load()
		for published[s+1] {
			s++
		}
		return s
	}
	for op := 0; op < 200000; op++ {
		switch rng.Intn(3) {
		case 0: // claim
			n := int64(1 + rng.Intn(size/2))
			wantFull := claimed+n-size > consumer.Load()
			hi, err := p.TryNext(n)
			if wantFull != errors.Is(err, ErrFull) || (err != nil && !wantFull) {
				t.Fatalf("op %d: TryNext(%d) = %d, %v; model full=%v (claimed %d, consumer %d)",
					op, n, hi, err, wantFull, claimed, consumer.Load())
			}
			if err == nil {
				if hi != claimed+n {
					t.Fatalf("op %d: TryNext(%d) = %d, want %d", op, n, hi, claimed+n)
				}
				claimed = hi
				outstanding = append(outstanding, claim{hi - n + 1, hi})
			}
		case 1: // publish a random outstanding claim
			if len(outstanding) == 0 {
				continue
			}
			i := rng.Intn(len(outstanding))
			c := outstanding[i]
			outstanding = slices.Delete(outstanding, i, i+1)
			p.Publish(c.lo, c.hi)
			for s := c.lo; s <= c.hi; s++ {
				published[s] = true
			}
		case 2: // consume part of what is available
			next := consumer.Load() + 1
			want := modelPublished()
			if got := barrier.Available(next); got != want {
				t.Fatalf("op %d: Available(%d) = %d, model %d", op, next, got, want)
			}
			if got := p.Published(); got != want {
				t.Fatalf("op %d: Published() = %d, model %d", op, got, want)
			}
			if want >= next {
				to := next + rng.Int63n(want-next+1)
				for s := next; s <= to; s++ {
					delete(published, s)
				}
				consumer.Store(to)
			}
		}
	}
}

// Producers waiting for room hold claims more than a ring beyond the
// consumer. Published must not count the unpublished slots between as
// published (it once scanned only the last ring below the claim cursor,
// where the previous round's marks read as unpublished only by luck of
// position), and a consumer added then starts after the claim cursor.
func TestPublishedWithWaitingProducers(t *testing.T) {
	const size = 16
	p, consumer, barrier := newGatedMulti(t, size)
	if _, err := p.TryNext(size); err != nil { // 0 … 15, unpublished
		t.Fatal(err)
	}
	p.Publish(0, 3)
	claims := make(chan int64, 2)
	for range 2 {
		go func() {
			hi, err := p.Next(2) // 16 … 19: waits for the consumer
			if err != nil {
				t.Error(err)
			}
			claims <- hi
		}()
	}
	for p.claim.Load() != 19 {
		runtime.Gosched()
	}
	if got := p.Published(); got != 3 {
		t.Fatalf("Published with producers waiting = %d, want 3", got)
	}
	late := NewSequence(0)
	if start := p.AddGating(late); start != 19 || late.Load() != 19 {
		t.Fatalf("added consumer starts at %d (seq %d), want the claim cursor 19", start, late.Load())
	}
	p.Publish(4, 15)
	if got := p.Published(); got != 15 {
		t.Fatalf("Published = %d, want 15", got)
	}
	barrier.Done(consumer, 15)
	for range 2 {
		hi := <-claims
		p.Publish(hi-1, hi)
	}
	if got := p.Published(); got != 19 {
		t.Fatalf("Published = %d, want 19", got)
	}
}

// While the producer laps the ring and the consumer follows, Published
// never returns less than was published before the call: a slot reused
// during its scan counts as published.
func TestPublishedWhileLapping(t *testing.T) {
	ring, seqr := newTestRing(t, 8, 2, Adaptive) // multi-producer, one producing
	g := NewGroup(seqr, nil)
	mustAdd(t, g, Consumer{Name: "base", Handler: nop})
	mustStart(t, g)
	var stop atomic.Bool
	var lastPublished atomic.Int64
	lastPublished.Store(InitialSequence)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for !stop.Load() {
			hi, err := seqr.Next(1)
			if err != nil {
				return
			}
			ring.ForWrite(hi).seq = hi
			seqr.Publish(hi, hi)
			lastPublished.Store(hi)
		}
	}()
	for range 200000 {
		before := lastPublished.Load()
		if got := seqr.Published(); got < before {
			t.Fatalf("Published = %d after %d was published", got, before)
		}
	}
	stop.Store(true)
	<-done
	if err := g.Drain(); err != nil {
		t.Fatal(err)
	}
}

// A producer that parks on a new consumer's first start is woken when
// AddGating moves that start to the claim cursor: nothing else would wake
// it, since the consumer waits for that producer's slots.
func TestAddGatingWakesParkedProducer(t *testing.T) {
	const size = 4
	p, base, barrier := newGatedMulti(t, size)
	if _, err := p.TryNext(size); err != nil {
		t.Fatal(err)
	}
	p.Publish(0, 3)
	barrier.Done(base, 3)
	claimed := make(chan int64, 1)
	testHookAddGating = func() {
		// Between the two steps: the new consumer gates at 3 for now.
		go func() {
			if hi, err := p.Next(size); err == nil { // 4 … 7
				p.Publish(hi-size+1, hi)
			}
			hi, err := p.Next(1) // 8: waits for every consumer to pass 4
			if err != nil {
				t.Error(err)
			}
			claimed <- hi
		}()
		for p.claim.Load() != 8 || p.sig.waiters.Load() == 0 {
			runtime.Gosched()
		}
		barrier.Done(base, 7) // wakes the producer; the new consumer still holds it
	}
	defer func() { testHookAddGating = nil }()
	late := NewSequence(0)
	if start := p.AddGating(late); start != 8 {
		t.Fatalf("added consumer starts at %d, want the claim cursor 8", start)
	}
	select {
	case hi := <-claimed:
		if hi != 8 {
			t.Fatalf("claim = %d, want 8", hi)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the producer parked on the new consumer's first start was never woken")
	}
}

// newGatedMulti returns a multi-producer sequencer of size slots gated by
// one hand-driven consumer sequence, and that consumer's barrier.
func newGatedMulti(t *testing.T, size int) (*MultiProducer, *Sequence, *Barrier) {
	t.Helper()
	p, err := NewMultiProducer(size, Adaptive)
	if err != nil {
		t.Fatal(err)
	}
	consumer := NewSequence(0)
	p.AddGating(consumer)
	return p, consumer, NewBarrier(p)
}
