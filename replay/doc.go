// Package replay runs journaled inputs through unmarshal and the engine,
// as the live pipeline would have: the replay stage of a node's startup,
// `ringex replay`, and anything else that rebuilds state from a journal
// use it.
//
// Contract:
//
//  1. The engine sees exactly the records in [from, to] (to 0: the
//     journal's end), in sequence order, each decoded by unmarshal.Decode
//     (unmarshal.Drop when dropped, contract 6) with its journaled sequence, session, account, kind and receive
//     time — the same command the live engine saw, so the same events and
//     state hash follow.
//  2. Reading, CRC checking and decoding run on a reader goroutine; the
//     engine runs on the caller's goroutine. Batches of decoded slots move
//     between them through a fixed pool, so a replay uses two cores and
//     allocates nothing per record.
//  3. The reader reads no record past to: a node may replay its own
//     journal while the journaller appends after to. RunWith gives up
//     with ErrStopped, between batches, when Options.Stop closes, and
//     ends without an error after the record at which Options.Until
//     first says so.
//  4. Any journal error (corruption, a sequence gap) ends the replay with
//     that error after the records before it were applied; the reader
//     goroutine has exited when Run returns. A journal (with its
//     archive) whose first segment starts after from, or whose first
//     record at or after from is not from itself, is ErrMissing, before
//     anything is applied — even when it holds no record at all. A torn
//     tail in the last segment (journal.Reader.Torn) ends the replay
//     without an error, as the journal's end would — a node's start
//     truncates it — and Stats says where it begins.
//  5. An engine panic applying an input ends the replay with a
//     *PanicError (ErrEnginePanicked) naming the input, its segment and
//     offset, and holding the stack; the inputs before it were applied
//     (Stats), the engine's state after it is undefined. The journaled
//     input would panic again at every start: the caller reports it, it
//     does not crash.
//  6. An input the journal directory's drops file (journal.DropsFile)
//     lists with its record's checksum is decoded by unmarshal.Drop: the
//     engine rejects it (dropped-by-operator) instead of applying it —
//     in a node's recovery, its resends and ringex replay alike (a node
//     passes the list it read at its start, Options.KnownDrops). Stats names the inputs dropped, and
//     those listed with another checksum (applied). A drops file that
//     cannot be read or parsed ends the replay before anything is
//     applied.
//  7. CheckSnapshotInput compares a snapshot's checksum of its last
//     input with the journal's record of it: a snapshot of other inputs
//     (ErrOtherInputs) is refused by a node's start and by `ringex
//     replay`, which would replay the journal after another state; so
//     is one whose input's segment is another journal's
//     (journal.ErrOtherJournal), both in one error (OtherJournalSegment).
//  8. Stats.Applying is the engine's share of a replay's time, timed
//     per batch (a clock read per up to 1024 records); the rest is
//     the journal's reading, which reads each segment whole. A short
//     replay of a young journal is mostly that: a segment is
//     preallocated (journal.segment_bytes, 64 MiB by default) and the
//     Reader checks its unused tail is zeros, so that a lost run of
//     bytes with records after it is found, not taken for the end.
package replay
