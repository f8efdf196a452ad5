// Package unmarshal turns the raw frames in input-ring slots into engine
// commands. Decode is what the unmarshaler consumer calls for every slot;
// the consumer is the only writer of a slot's Cmd field.
//
// Contract of Decode(seq, slot):
//
//  1. It never panics and never reads outside the slot's Raw[:Len]: the
//     frame is checked by proto.VerifyMsg (root, vtables, table bounds,
//     every field's width, union type) before any field is read, and a
//     Len beyond Raw is itself a malformed frame. No recover() is
//     involved; FuzzDecode holds it to this.
//  2. Every slot gets a command; Cmd is overwritten completely, so nothing
//     from the slot's previous lap of the ring survives.
//  3. Seq (the ring sequence passed in), Timestamp (RecvTime), Session and
//     Account always come from the ring and the slot header the producer
//     stamped — never from the wire. A session acts only for its own
//     account, and the envelope's client sequence number is not used.
//  4. A frame that fails verification becomes engine.CmdInvalid with
//     engine.ReasonMalformedFrame; the engine turns it into a reject for
//     the session, in sequence with everything else. So does one of a
//     type newer than this build, which the gateway refuses since
//     2026-12-07 but a journal written before may hold: a build that
//     knows the type would decode it (proto/ringex.fbs's header says
//     what whoever adds an order-entry type must do about those).
//  5. A well-formed message that has no business in the ring becomes
//     engine.CmdInvalid with engine.ReasonUnknownCommand: a Halt, Resume
//     or SnapshotRequest in a slot that is not input.KindControl (only the
//     node itself produces control slots; any other Kind is treated as a
//     client's), a Logon, a ListInstruments (the gateway answers it and
//     journals none, but a journal of a build before 2026-12-07 may hold
//     one), and any exchange-to-client message.
//  6. A NewOrder with an enum code no order can have is CmdInvalid with
//     the engine's reason for that field, checked in this order: side not
//     Buy/Sell (ReasonInvalidSide; the side is then cleared, not echoed),
//     order type not Limit/Market (ReasonInvalidOrderType), time in force
//     not GTC/IOC/FOK (ReasonInvalidTimeInForce), self-trade mode above
//     Allow (ReasonInvalidSTP). The other decoded fields stay, so the
//     reject echoes the client order id. Checks that depend on other
//     fields or on state (market + GTC, post-only market, price and
//     quantity, limits) are the engine's.
//  7. Session-level messages that reach the ring (Heartbeat, Logout,
//     Subscribe, Unsubscribe — the gateway keeps the first two and
//     refuses the others, but a journal of a build before 2026-12-05
//     may hold them) become engine.CmdNoop: harmless, and the engine
//     emits nothing for them.
//  8. Decode allocates nothing, on valid and invalid frames alike, and is
//     pure: the same slot bytes and seq give the same command, in every
//     replay and on every replica.
//  9. Drop(seq, slot) is Decode for an input the operator dropped
//     (journal.DropsFile; the caller matched it): the command becomes
//     engine.CmdInvalid with engine.ReasonDroppedByOperator, its decoded
//     fields kept, so the engine applies nothing of it and its reject
//     echoes the client order id. A CmdNoop stays one (the engine emits
//     nothing for it). A query (CmdOrderStatus, CmdResend) keeps its
//     type with Reason ReasonDroppedByOperator: the engine refuses it as
//     a query, to its asker alone and never resent. A node-issued input
//     (input.KindControl) becomes a CmdNoop: no client sent it, and no
//     client's report stream gets its refusal.
//
// Wire enum codes have the engine's numeric values (tested), so fields are
// copied without translation.
package unmarshal
