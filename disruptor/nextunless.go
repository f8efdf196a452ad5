package disruptor

import "errors"

// NextUnless is Next for a producer whose right to claim can end while it
// waits for room: refuse is asked before every attempt to claim, and once
// it says true NextUnless returns ErrRefused having claimed nothing.
//
// Next cannot be given up: a multi-producer ring's claim is taken before
// the wait for room (one compare-and-swap, then the wait), and a claimed
// slot must be published. A producer that checked its right before Next
// and then waited published, once there was room, an input it had lost
// the right to make — the node's gateway, after its member lost the lead
// (a follower's ring then holds an input no leader commits). NextUnless
// claims only with room (TryNext), so refuse is asked after the wait,
// just before the claim. A producer parked in the wait is woken as
// consumers advance, or by Wake, not when refuse turns true: it holds no
// slot meanwhile, and is refused at its next look.
//
// The wait only looks (room, refuse): the signal may look more than once
// per wake-up, and a look that claimed lost the slots of every look but
// the last — never published, they stalled the ring.
//
// Like Next it fails with ErrClaimSize for a claim that could never
// succeed and with ErrHalted once the ring is halted, also while waiting.
// It allocates nothing.
func NextUnless(seqr Sequencer, n int64, refuse func() bool) (int64, error) {
	s := seqr.core()
	for {
		if refuse() {
			return 0, ErrRefused
		}
		if hi, err := seqr.TryNext(n); !errors.Is(err, ErrFull) {
			return hi, err
		}
		// Room for n, or a refusal: then the loop claims or refuses.
		// Another producer may take the room first: the loop waits again.
		ready := func() bool {
			cur := seqr.claimed()
			m, _ := s.gateMin(cur)
			return cur+n-s.size <= m || refuse()
		}
		if !s.sig.waitFor(s.wait, ready, s.halted.Load) {
			return 0, ErrHalted
		}
	}
}
