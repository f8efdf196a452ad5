// Package journal is ringex's write-ahead log of inputs: every raw input
// the engine will see, appended in sequence, made durable in batches
// (group commit), and read back for recovery, replay, inspection and
// replica catch-up.
//
// On-disk format, version 2. These constants and layouts are part of the
// format: change them only with a new version.
//
// A journal is a directory of segment files named
// "<first sequence, 20 decimal digits>.journal", so names sort in sequence
// order. A segment is preallocated to SegmentBytes (the unused tail reads
// as zeros) and starts with a 56-byte header:
//
//	offset 0   magic    [4]byte  "RXJL"
//	offset 4   version  uint32   2
//	offset 8   first    int64    sequence of the segment's first record
//	offset 16  id       [32]byte the journal's cluster id (Options.ID),
//	                             text padded with zeros
//	offset 48  crc      uint32   CRC-32C of bytes 0–47
//	offset 52  zero     [4]byte
//
// then records, each starting at a multiple of 8 bytes:
//
//	offset 0  length   uint32  bytes of body (29 + payload), > 0
//	offset 4  crc      uint32  CRC-32C (Castagnoli) of the body
//	offset 8  body:
//	            seq       int64
//	            recvTime  int64  gateway receive time, Unix ns
//	            session   uint64
//	            account   uint32
//	            kind      uint8
//	            payload   [length-29]byte
//	padding   zeros up to the next multiple of 8
//
// All integers are little-endian. A payload is the frame as the gateway
// read it, whatever its type: a journal written before 2026-12-07 may hold
// frames of types newer than the build that wrote them (proto/ringex.fbs's
// header says what a build that adds a type must do about them). A length
// of zero marks the end of the data (the preallocated tail). Sequences increase by exactly one, within
// a segment and from one segment to the next.
//
// Version 1 segments, written by builds before 2026-12-06 and still read
// (and appended to, when last), have a 16-byte header: magic, version 1,
// first — no id and no checksum of their own. Every segment of a journal
// carries the same id (a version 1 segment, none, agrees with any): Open,
// the Reader and CutTornBatch refuse segments of two ids
// (ErrOtherJournal; the Reader checks the header of every segment, not
// only of those it reads from its start input on — of those it can read:
// one it cannot fails it only when it reads its records — once per process
// with a CheckedHeaders, which a node's resends share) — a segment copied in
// from another cluster's or standalone node's journal, whose inputs at
// the same sequences are others; sequence checks alone passed it. A cluster's members share
// one id (cluster.id), so a segment of one member's journal, which holds
// the same inputs in the same bytes (contract 5), is one of another's
// too. A journal keeps its id: the segments a roll creates carry the
// id of the journal's segments, whatever Options.ID says — and one begun
// in a directory holding no segment beside its archive (Options.Archive)
// the id of the archive's segments, whose journal it continues.
//
// The directory may also hold DropsFile, "dropped-inputs": the
// operator's list of inputs the engine must not apply (drops.go). Readers
// ignore it; the replay and the node's unmarshaler read it. It is written
// whole (AddDrop, WriteDrops: a temporary file renamed over it), and is
// at most MaxDropsFileSize bytes; a raft snapshot stream carries its
// entries past the stream's snapshot to the member that installs it
// (node/install.go).
//
// The directory also holds NewestFile, "newest-segment" (newest.go: its
// 20-byte layout, version 1): the first input of the segment the journal
// last rolled to, written whole after each roll — beside the journaller,
// not on its path, so it may lag a roll or two until Close waits for it
// (a lower value is never a false alarm) — and by Open when it is
// behind; a failed write stops the journal at its next Sync. Readers
// ignore it. A journal whose newest segments were lost
// reads, segments alone, as one that ends at the previous segment's end;
// Open reports the segment it names when the directory lacks it
// (Recovery.Missing), and the node refuses to start there.
//
// With Options.PrepareSegments the directory may also hold "next.spare":
// the next segment, zeros written ahead in the background and renamed to
// its segment name when the journal rolls. It is not part of the journal:
// readers ignore it, and Open replaces whatever a crash left there — or
// removes it, when the journal is opened without PrepareSegments (as a
// cluster member's is: SyncNone turns it off). A spare that cannot be
// written (an I/O error, a full disk) is removed at once and reported to
// Options.OnSpareError; the roll then creates the segment itself.
//
// Contract:
//
//  1. Append buffers; Sync writes the buffered batch, fdatasyncs it (in
//     SyncBatch mode) and only then advances Durable. Callers release
//     effects of a sequence only once Durable() >= it.
//  2. Fail stop. A write or sync error puts the journal in a failed state:
//     every later call returns that error, Durable never advances again,
//     and the node must stop (the kernel may have dropped the dirty pages;
//     retrying an fsync can report success for lost data). The process
//     that opens the journal next may still read those pages — the
//     kernel keeps them cached, marked clean — so Open writes the last
//     segment's records again and fdatasyncs them before anything is
//     appended after them (about 0.1 s for a full 64 MiB segment on the
//     2-vCPU Xeon dev VM of 2026-12-05); a disk still failing refuses
//     the start.
//  3. New and renamed segments are made durable by fsyncing the directory.
//     BeginAt makes an empty journal's start durable so: its first
//     segment, holding no record, names the input it begins at. A
//     directory with no segment says nothing of where its journal began.
//     Segments retired (deleted or archived) go oldest first, each made
//     durable before the next, so a crash never leaves a gap.
//  4. Open checks every segment's header (its checksum and cluster id
//     too, in version 2) and every record of the last
//     segment, the one it appends to. A torn tail there — a record that
//     fails its check with nothing valid after it, or a zero length with
//     bytes after it that are not records (the data's end is a zero
//     length followed by zeros only) — is truncated and reported (zeroed
//     in place: the file keeps its size, see ErrEndsShort below); so
//     is a header a roll's crash left unwritten or part-written (no
//     byte past it, each byte of it zero or the header's: tornHeader),
//     a torn tail at offset 0 whose header Open writes again. A Reader checks every record's CRC and sequence as it
//     reads, and the continuity from one segment to the next. A bad
//     record anywhere else, or one followed by valid records (with
//     SyncBatch; see SyncNone below), is ErrCorrupt naming the file and
//     offset (the latter ErrTornBatch too, from Open and a Reader
//     alike, naming the offset of the valid records and the tool that
//     cuts them; CutTornBatch keeps the bytes it cuts beside the
//     segment, and Uncut writes them back only over what the cut left,
//     within the segment, into the last segment): from Open for the last
//     segment and any header, from the Reader for the records of earlier
//     segments. A bad record the last segment's file ends inside (with
//     SyncBatch) is no torn tail either: a segment is preallocated before
//     a record is written in it, so no crash shortens one, and a file
//     that ends inside a record was cut short afterwards (a copy that did
//     not finish, a truncation), the acknowledged records after it gone —
//     ErrCutShort, with ErrCorrupt, from Open and a Reader alike, in one
//     message; CutTornBatch takes the partial record out when the operator
//     gives those records up. One cut short exactly between two records,
//     or just after its header, leaves every record whole and reads as a
//     journal ending early: the data of a segment never reaches its
//     file's end — no record ends at its segment's end (but one alone in
//     a segment of the smallest size), and a torn tail or a cut is zeroed
//     in place — so Open refuses a last segment whose data runs to the
//     end of a file smaller than Options.SegmentBytes (ErrEndsShort; the
//     file grown to a segment's size accepts it — a segment a build
//     before 2026-12-08 filled exactly, with SegmentBytes raised since,
//     reads so too: those builds let a record end at the segment's end,
//     and a start on a full disk that dropped a torn tail could leave
//     the file short), and Inspect,
//     which knows no segment size, reports it where the segment before
//     it is larger (Stats.ShortFile). Nothing on disk tells more
//     (NewestFile names the newest segment, not its end). An archive (ArchiveBefore's directory) has no last
//     segment — nothing appends to it, no Open truncates it — so
//     InspectWith's DirIsArchive calls a bad record anywhere there
//     ErrCorrupt, at the end of its newest segment too. So a restart reads only the segments its replay needs,
//     once: Open used to check every record of every segment, reading the
//     whole journal before replay read most of it again. Measured on the
//     2-vCPU Xeon dev VM of 2026-12-03 (11 M records, 1.4 GB, three runs
//     each, alternating): Open took 1.8–3.7 s with the page cache dropped
//     and 0.9–1.1 s with it warm; now 0.2–0.3 s, and the Reader has the
//     OS fetch the next segments (readAhead) while it works.
//  5. A record's checksum (Checksum: the CRC-32C of its body) names its
//     input: every journal that holds the input holds it in the same
//     bytes. ChecksumAt reads it back for one input, through a small
//     buffer, so that a snapshot can record its last input's and be
//     checked against the journal it is restored beside. ChecksumAt reads
//     the input's segment from its start, its cluster id checked against
//     the newest segment's (two headers read, whatever an archive holds:
//     ErrOtherJournal); RecentChecksum, for an input
//     near the journal's end (a snapshot's), reads from a mark the
//     journal keeps at most 256 KiB before it (recordMarks: a compare per
//     append; BenchmarkAppend/batch=4096 alternating, 324–332 ns/op
//     before, 327–344 after — the fdatasync's drift).
//
// SyncNone skips the fdatasync per batch: appends reach the OS page cache
// only, so a process crash loses nothing but a machine crash can lose the
// last batches — and clients may have seen their effects. It is for
// tests, benchmarks and replicas whose durability comes from elsewhere.
// A segment is still fdatasynced when it is finished, so what a machine
// crash loses is only ever in the last segment (measured on that VM with
// 64 MiB segments: the batch that rolls waits ~1–1.5 ms longer), and
// Checkpoint makes everything appended durable. Open truncates the last
// segment at its first bad record even with valid ones after it: pages
// written after a lost one may survive, and nothing after the last
// Checkpoint was promised (a cluster member's raft log holds it again).
// With SyncBatch that is ErrCorrupt instead (contract 4): records there
// were acknowledged once their batch's fdatasync returned, so valid ones
// after a bad one mean damage to acknowledged data, or a lost page of the
// last batch — which Open cannot tell apart.
package journal
