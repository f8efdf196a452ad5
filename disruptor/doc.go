// Package disruptor is the ring buffer through which every ringex stage
// passes messages: a pre-allocated ring of pointer-free slots, sequencers
// that hand slots to producers, and batch processors that consume them,
// each consumer with its own sequence.
//
// A producer claims, writes, publishes:
//
//	hi, err := seqr.Next(n)        // or TryNext: ErrFull instead of waiting
//	for s := hi - n + 1; s <= hi; s++ {
//		*ring.ForWrite(s) = ...
//	}
//	seqr.Publish(hi-n+1, hi)
//
// or fills the claim as slices: first, second := ring.ForWriteRange(hi-n+1,
// hi), second non-empty only where the claim wraps past the ring's end.
//
// Consumers run in a Group: each is a Processor with a BatchHandler (the
// whole available range at once) or an EventHandler (each slot with an
// end-of-batch flag), gated on the producer or on upstream consumers.
//
// # Contract
//
//  1. Sequences are int64, count from 0 and never wrap. The slot of
//     sequence s is s & (size-1); size is a power of two.
//  2. Two-phase publish. A producer claims n slots (Next waits for room,
//     TryNext returns ErrFull instead), writes them, then publishes the
//     range. No consumer reads a claimed slot before it is published, and
//     every claimed slot must be published. A producer whose right to
//     claim can end while it waits (a cluster leader's gateway) claims
//     with NextUnless, which asks before each attempt and returns
//     ErrRefused holding nothing: Next's claim is taken before its wait. A claim of fewer than 1 or
//     more than size slots fails with ErrClaimSize; it never waits.
//  3. A SingleProducer has one producing goroutine, which publishes its
//     claims in order. A MultiProducer has any number; each publish marks
//     its slots in an availability buffer, so a producer never waits for
//     another producer's publish, and consumers see the longest contiguous
//     published run, found in one pass.
//  4. Producers never overwrite a slot a consumer has not finished: a
//     claim of sequence s waits until every gating sequence is >= s - size.
//     Invariant: claimed - size <= min(gating sequences). A Group gates
//     the producers on every one of its consumers.
//  5. A consumer after upstream consumers sees sequence s only after every
//     upstream finished s (the diamond: journaller, replicator and
//     unmarshaler in parallel, the engine after all three). A consumer
//     advances its own sequence only after its handler returned for the
//     whole batch, so a journaller that fsyncs at the end of a batch never
//     lets a downstream stage or a producer see an unsynced slot as done.
//  6. Handlers see batches: the whole available range, or each event with
//     an end-of-batch flag; Consumer.MaxBatch bounds a batch. Processor.Do
//     hands a function to a consumer's goroutine, which runs it between
//     two batches (woken if parked), so a stage's single-writer state can
//     be changed when no slot comes.
//  7. Consumers can be added to and removed from a running ring (Group.Add
//     after Start, Group.Remove; Sequencer.AddGating/RemoveGating). A
//     consumer added at run time starts after the ring's cursor — the
//     published cursor of a single-producer ring, the claim cursor of a
//     multi-producer one (a slot claimed before the Add and published
//     after it is skipped) — and gates the producers from then on; a
//     removed one first consumes what was published, then stops gating.
//     Limitation: on a multi-producer ring, add a consumer (or remove all
//     but one added later) only while no claim is outstanding, or before
//     Start. A consumer that becomes the only gate while a claim below
//     its start is unpublished lets the other producers claim a ring past
//     that slot and reuse it: its late Publish then marks an older round
//     over the newer, the newer sequence never reads as published, and
//     the ring stalls (found by an audit, 2026-12-05; unfixed). The node
//     adds at run time only to single-producer rings (the
//     market-data fan-out); its multi-producer input ring's consumers are
//     fixed before Start.
//  8. Waiting (WaitStrategy): BusySpin burns a core and is for dedicated
//     cores only; Yielding polls with runtime.Gosched; Adaptive, the
//     default, yields a few times, then parks. Producers and consumers
//     wake parked goroutines with one atomic load when nobody is parked (no
//     lock, no syscall), so a busy pipeline pays nothing for parking and an
//     idle one uses almost no CPU. Sequences are published with release
//     stores (a plain MOV on amd64), not fenced ones; the price is that a
//     wake-up can in principle be lost while a store is still in flight,
//     and the wait strategy bounds that delay at about a millisecond
//     (signal in wait.go; TimerWakeups counts such wake-ups). Producers
//     blocked on a full ring do not spin under Adaptive: a consumer
//     written by hand (Barrier, outside a Group) must advance its sequence
//     with Barrier.Done, which wakes them.
//  9. Lifecycle: Group.Start; Group.Drain consumes everything published so
//     far, stops the consumers and halts the ring; Group.Halt stops now.
//     On a halted ring every waiter returns: consumers exit and claims,
//     blocked or not, fail with ErrHalted. Nothing hangs.
//  10. A handler that panics or returns an error fails the pipeline: the
//     failure (wrapping ErrHandler, naming the consumer and batch) goes to
//     the group's error handler, the ring halts, and Wait and Drain return
//     it.
//
// # Memory
//
// A ring holds size × sizeof(T) bytes, allocated once by NewRing
// (Ring.Bytes reports it). Slot types must be pointer-free (fixed-size
// arrays, integers, structs of those; NewRing rejects others with
// ErrPointerSlot), so the garbage collector never scans a ring: the
// input ring of 2^24 slots of 256 bytes is 4 GiB; an output ring of 2^22
// slots of 128 bytes is 512 MiB. On Linux the slots are mapped outside
// the Go heap (except in race-detector builds) and unmapped when the Ring
// becomes unreachable, so a slot pointer must not outlive its Ring. Off
// the heap a ring does not raise the collector's heap goal: GOGC paces
// the real garbage, not gigabytes of rings. A MultiProducer adds 4 bytes per slot of
// availability (64 MiB for 2^24 slots). Sequences are padded to 256 bytes
// each. Claiming, publishing and consuming allocate nothing.
//
// # Cost
//
// Every publish is one atomic store, which on amd64 also waits for the
// producer's earlier slot writes; a slot cache line a consumer on another
// core has read must first come back (~100–250 ns on the 2-core dev
// machine), and so must the cursor's line after each consumer look.
// Producers fill slots through Ring.ForWrite, which prefetches the lines
// they write next so that the transfer overlaps their work, and consumers
// look at the cursor about twice per batch (Processor.linger); claiming
// several slots at once amortizes the store itself. See bench_test.go for
// measured numbers against channels.
package disruptor
