package disruptor

import (
	"errors"
	"math/rand"
	"slices"
	"testing"
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
		seqr.AddGating(consumer) // starts at the published cursor, -1
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
	p, err := NewMultiProducer(size, Adaptive)
	if err != nil {
		t.Fatal(err)
	}
	consumer := NewSequence(0)
	p.AddGating(consumer)
	barrier := NewBarrier(p)
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
