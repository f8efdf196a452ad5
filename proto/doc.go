// Package proto is ringex's wire protocol: FlatBuffers messages (schema in
// ringex.fbs, Go code generated into package wire) carried in length-
// prefixed frames over TCP.
//
// Framing. Every message travels as one frame:
//
//	+----------------------+-------------------------------------+
//	| length uint32 (LE)   | payload: a FlatBuffers Envelope     |
//	| 4 bytes              | length bytes, 1 ≤ length ≤ maximum  |
//	+----------------------+-------------------------------------+
//
// The length counts the payload only. This is exactly FlatBuffers'
// "size-prefixed" buffer, so a builder's FinishSizePrefixed output is a
// frame. The 4-byte little-endian prefix and the Envelope root are part of
// the format; a change needs a new protocol version.
//
// Contract:
//
//  1. Nothing from outside is read through the generated accessors before
//     Verify accepted it: FlatBuffers' Go accessors trust their input and
//     panic (or read garbage) on a malformed buffer, and Go has no
//     FlatBuffers verifier. Verify checks the root, every vtable and table
//     bound, every field's width, string and vector bounds, and the union
//     type, for the one message the envelope carries.
//  2. A FrameReader never returns a frame longer than its maximum: an
//     oversize length is an error before any payload byte is read.
//  3. Encoders reuse one Builder; the bytes they return are valid until
//     the encoder's next call.
package proto
