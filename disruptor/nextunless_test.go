package disruptor

import (
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
)

// NextUnless waits for room like Next, and a refusal that comes while it
// waits ends the wait with ErrRefused and no claim: the next claim takes
// the slot it waited for. Without a refusal it claims once there is room;
// a halt ends the wait with ErrHalted.
func TestNextUnlessRefusedWhileWaitingClaimsNothing(t *testing.T) {
	for _, producers := range []int{1, 2} {
		for _, end := range []string{"refused", "room", "halted"} {
			_, seqr := newTestRing(t, 4, producers, Adaptive)
			consumer := NewSequence(0)
			seqr.AddGating(consumer)
			barrier := NewBarrier(seqr)
			var refused atomic.Bool
			if hi, err := NextUnless(seqr, 4, refused.Load); err != nil || hi != 3 {
				t.Fatalf("producers=%d: claim of an empty ring: %d, %v", producers, hi, err)
			}
			seqr.Publish(0, 3)
			type claim struct {
				hi  int64
				err error
			}
			claimed := make(chan claim, 1)
			go func() {
				hi, err := NextUnless(seqr, 1, refused.Load)
				claimed <- claim{hi, err}
			}()
			for seqr.core().sig.waiters.Load() == 0 { // waiting: it found the ring full
				select {
				case c := <-claimed:
					t.Fatalf("producers=%d: NextUnless on a full ring returned %d, %v without waiting", producers, c.hi, c.err)
				default:
				}
				runtime.Gosched()
			}
			want := claim{hi: 4}
			switch end {
			case "refused":
				refused.Store(true)
				want = claim{err: ErrRefused}
				barrier.Done(consumer, 0) // room, and a wake-up
			case "room":
				barrier.Done(consumer, 0)
			case "halted":
				want = claim{err: ErrHalted}
				seqr.Halt()
			}
			within(t, "NextUnless waiting for room", func() {
				if c := <-claimed; c.hi != want.hi || !errors.Is(c.err, want.err) {
					t.Errorf("producers=%d, %s: NextUnless = %d, %v, want %d, %v", producers, end, c.hi, c.err, want.hi, want.err)
				}
			})
			if end == "refused" {
				if hi, err := seqr.TryNext(1); err != nil || hi != 4 {
					t.Errorf("producers=%d: the claim after a refusal = %d, %v, want 4: the refused call held a slot", producers, hi, err)
				}
			}
		}
	}
}

// NextUnless claims once per call however often the wait looks at the
// ring: park looks again after a wake-up only the recheck timer
// delivered, to count it (TimerWakeups). Its look was a claim (TryNext)
// before, and that second claim was lost, never published: the
// consumers waited for its slots, the producers for room, and a node
// under load stopped taking orders (two gateway sessions parked 35 and
// 39 minutes in a run of the node's tests). Here the timer's wake-up
// comes when there is room for one slot and no consumer woke anyone.
func TestNextUnlessClaimsOnceWhenTheWaitLooksTwice(t *testing.T) {
	for _, producers := range []int{1, 2} {
		_, seqr := newTestRing(t, 4, producers, Adaptive)
		consumer := NewSequence(0)
		seqr.AddGating(consumer)
		hi, err := seqr.Next(4)
		if err != nil {
			t.Fatal(err)
		}
		seqr.Publish(hi-3, hi)
		sig := seqr.core().sig
		parked := make(chan struct{}, 1)
		sig.onPark = func() {
			select {
			case parked <- struct{}{}:
			default:
			}
		}
		claimed := make(chan int64, 1)
		var never atomic.Bool
		go func() {
			hi, err := NextUnless(seqr, 1, never.Load)
			if err != nil {
				t.Error(err)
			}
			claimed <- hi
		}()
		within(t, "NextUnless parking on a full ring", func() { <-parked })
		consumer.Store(0) // room for one slot, and no wake-up
		sig.recheckFired()
		within(t, "NextUnless woken by the recheck timer with room", func() {
			if hi := <-claimed; hi != 4 {
				t.Errorf("producers=%d: NextUnless = %d, want 4", producers, hi)
			}
		})
		seqr.Publish(4, 4)
		consumer.Store(4)
		if hi, err := seqr.TryNext(1); err != nil || hi != 5 {
			t.Errorf("producers=%d: the next claim = %d, %v, want 5: NextUnless claimed more than it returned", producers, hi, err)
		}
	}
}
