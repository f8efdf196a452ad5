// Package unmarshal turns the raw frames in input-ring slots into engine
// commands. It is the only writer of a slot's Cmd field.
//
// Contract:
//
//  1. Decode never panics and never reads outside the slot: the frame is
//     checked by proto.Verify (bounds, vtables, union type) before any
//     generated accessor touches it.
//  2. Every slot gets a command. A frame that fails validation becomes
//     engine.CmdInvalid with a reason (ReasonMalformedFrame, or
//     ReasonUnknownCommand for a message that has no business in the ring,
//     such as a control message from a client), so the engine reports the
//     reject to the session in sequence with everything else.
//  3. Seq, Timestamp, Session and Account always come from the ring and
//     the slot header the gateway stamped — never from the wire. A session
//     acts only for its own account.
//  4. Control messages (Halt, Resume, SnapshotRequest) are accepted only
//     from slots of input.KindControl, which only the node itself produces.
//  5. Session-level messages that reach the ring (Heartbeat, Logout,
//     Subscribe, Unsubscribe) become engine.CmdNoop.
//  6. Decode allocates nothing.
//
// Field values are copied as they are: enum codes on the wire have the
// engine's numeric values, and the engine validates them (an unknown side
// or order type is the engine's reject, with its reason).
package unmarshal
