// Package snapshot stores engine snapshots: write one atomically, find the
// newest valid one (falling back past damaged files), and prune old ones.
//
// File format, version 4 (little-endian; part of the format):
//
//	offset 0   magic    [4]byte "RXSN"
//	offset 4   version  uint32  4
//	offset 8   seq      int64   input sequence the snapshot was taken at
//	offset 16  hash     uint64  the engine's state hash at seq
//	offset 24  length   uint64  payload bytes
//	offset 32  rules    uint64  engine.Config.Fingerprint the state was
//	                            decided under (0: unknown)
//	offset 40  input    uint64  bit 32 set: bits 0–31 are the checksum the
//	                            journal stores with input seq's record
//	                            (journal.Checksum), which ties the
//	                            snapshot to its journal; clear: unknown
//	offset 48  sessions [16]uint64 (SessionSlots) each the highest session
//	                            id of one cluster member that the
//	                            inputs up to seq carry, the member in
//	                            its low bits; 0: an empty slot
//	                            (Snapshot.Sessions)
//	offset 176 payload  [length]byte (engine.AppendSnapshot output)
//	then       crc      uint32  CRC-32C of everything before it
//
// Versions 1 to 3 are still read, their sessions all 0 (unknown: a node
// then finds its ids in the resting orders and the journal after seq,
// as the builds that wrote them did; the version 4 snapshots it writes
// after a start from one record those, not the ids of the other inputs
// before it). Version 3 has no sessions field (its payload starts at
// 48), version 2 no input field either (payload at 40), and version 1 no
// rules field either (payload at 32).
//
// Every version, later ones included, starts with the magic and the
// version and ends with the CRC-32C of everything before it: a file of a
// version above this build's whose checksum matches was written by a
// later build (ErrNewerVersion, which this build cannot read), one whose
// checksum does not is damaged (ErrCorrupt).
//
// Files are named "<seq, 20 digits>.snap". Contract:
//
//  1. Write puts the bytes in "<name>.tmp", fsyncs the file, renames it
//     to its final name and fsyncs the directory. A crash at any point
//     leaves either no new snapshot (a stray .tmp, ignored, and removed
//     by RemoveTemps, which a node calls when it opens the directory,
//     and by the next Write) or a complete one; the previous snapshot is
//     never touched.
//  2. Newest opens snapshots newest first and returns the first whose
//     checksum and header verify, reporting the ones it skipped: damaged
//     (ErrCorrupt) or of a later build (ErrNewerVersion), which the
//     caller may refuse to start past.
//  3. Write may run on any goroutine; the engine only produces the bytes.
//  4. Prune never deletes the record of a change of rules: a snapshot it
//     deletes whose rules differ from the record before it leaves a rules
//     mark ("<seq>.rules", rules.go). RulesBetween lists the snapshots and
//     marks between two inputs, so that a replay, which decides every
//     input under one config, can refuse to cross a change of rules. A snapshot's record counts
//     only once the whole file verifies (read whole once: a header that
//     reads as when its file verified is not verified again): one whose checksum fails is
//     damage (ErrRulesUnknown wrapping ErrCorrupt, naming the file), and
//     Prune leaves no record of rules for it — its rules field may be the
//     damaged byte — but an unknown mark, which RulesBetween reports the
//     same way: deleted without one, the inputs after it read as decided
//     under the rules before it, though it may have recorded a change
//     with no mark beside it (a crash between a start's rewrite of its
//     snapshot and MarkRules, or a directory of a build before marks).
//     Damage only: a snapshot Prune cannot read for an I/O error fails
//     the Prune, which deletes nothing; and a good copy put back beside
//     an unknown mark gets its record written over the mark when Prune
//     deletes it again.
package snapshot
