// Package input defines the slot of the input ring: the one record every
// input stage shares.
//
// A slot holds a raw frame exactly as a client sent it (or as the node
// issued a control command), the header the producer stamped on it, and the
// decoded Command. The ring is pre-allocated and slots are reused, so the
// slot type is pointer-free: the garbage collector never scans the ring.
//
// Single writer, per field group (ARCHITECTURE.md rule 1):
//
//  1. The producer that claimed the slot (a gateway session reader, or the
//     node for control commands) writes RecvTime, Session, Account, Kind,
//     Len and Raw, then publishes.
//  2. The unmarshaler is the only writer of Cmd. It reads the header and
//     Raw and fills Cmd (CmdInvalid with a reason if the frame is bad).
//  3. The journaller and replicator only read the header and Raw; they may
//     run in parallel with the unmarshaler because they never touch Cmd.
//  4. The engine reads Cmd only after all three have passed the slot.
//
// Memory: a slot is SlotSize (256) bytes, so the default input ring of 2^24
// slots reserves 4 GiB of address space; with rings.prefault (the
// default) every page is touched at startup, so the first pass over the
// ring takes no page faults, otherwise only as the ring is first written
// (and they count in RSS from then on). Tests use rings of 2^10–2^14
// slots.
package input
