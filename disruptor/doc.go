// Package disruptor is the ring buffer through which every ringex stage
// passes messages: a pre-allocated ring of slots, sequencers that hand out
// slots to producers, and batch processors that consume them, each stage
// with its own sequence.
//
// Contract:
//
//  1. Sequences are int64 and never wrap. Slot of sequence s is
//     s & (size-1); size is a power of two. A sequence counts from 0.
//  2. Two-phase publish. A producer claims n slots (Next blocks, TryNext
//     returns ErrFull instead of waiting), writes them, then publishes the
//     claimed range. Until it is published no consumer reads a claimed slot.
//  3. Multi-producer rings mark availability per slot, so a producer never
//     waits for another producer's publish; a consumer sees the longest
//     contiguous published run.
//  4. Producers never overwrite an unconsumed slot: a claim of sequence s
//     waits until every gating sequence is >= s - size.
//     Invariant: cursor - size <= min(gating sequences).
//  5. A consumer is gated on a set of upstream sequences (the producer's
//     cursor when the set is empty). It sees sequence s only after every
//     upstream has finished s, and advances its own sequence only after its
//     handler returned for the whole batch — so a journaller that fsyncs at
//     the end of a batch never lets a downstream stage see an unsynced slot.
//  6. Handlers see batches: each event with an end-of-batch flag, or the
//     whole available range at once; a maximum batch size may bound it.
//  7. Waiting: BusySpin burns a core and is for dedicated cores only;
//     Yielding spins with runtime.Gosched; Adaptive (the default) spins
//     briefly, yields, then parks on a condition variable. Publishing and
//     consumer progress wake parked goroutines with one atomic load when
//     nobody is parked, so an idle pipeline uses almost no CPU and a busy
//     one pays no syscall.
//  8. A handler panic is recovered, reported to the group's error handler,
//     and halts the group: every waiter (consumers and blocked producers)
//     returns ErrHalted; Wait returns the panic as an error. Nothing hangs.
//  9. Consumers may be added to and removed from a running ring
//     (AddGating/RemoveGating): a consumer added at run time starts after
//     the last published sequence.
//
// Memory: a ring holds size × sizeof(T) bytes, allocated once. Slot types
// should be pointer-free (fixed-size arrays and integers) so the garbage
// collector never scans the ring: ringex's input ring of 2^24 slots of 256
// bytes is 4 GiB of address space, its output rings 2^22 slots each. A
// multi-producer ring adds 4 bytes per slot for availability flags.
package disruptor
