package journal

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ringex/ringex/vfs"
)

// SyncMode chooses what Sync does. See the package doc for the trade-off.
type SyncMode uint8

const (
	// SyncBatch fdatasyncs once per Sync (per batch). The default.
	SyncBatch SyncMode = iota
	// SyncNone writes to the page cache only.
	SyncNone
)

// Options configure a journal.
type Options struct {
	FS           vfs.FS // default vfs.Default
	SegmentBytes int64  // default 64 MiB
	Sync         SyncMode
	// PrepareSegments writes each next segment ahead, in the background,
	// so appends overwrite blocks already written and each fdatasync
	// writes only data (see spare). It doubles the journal's disk writes
	// (while segments last long enough: see spareMinLife) and keeps one
	// more segment's worth of disk in use. Only in SyncBatch mode, where
	// an fdatasync waits for it.
	PrepareSegments bool
	// OnSpareError, if set, is told of each failure to write the next
	// segment ahead (an I/O error or a full disk; not a preparation
	// Close stopped). The journal goes on without that spare — the roll
	// creates the segment itself — so nothing else would tell, yet a
	// write or fdatasync error on the journal's disk is a disk to look
	// at. Called from the goroutine that wrote the spare, never after
	// Close returns; Close may be waiting for it with the journal's lock
	// held, so it must not call the journal.
	OnSpareError func(error)
	// ID is the cluster id a new journal's segments carry (a node's
	// cluster.id): every segment of a journal carries its journal's, so
	// that one copied in from another journal is refused
	// (ErrOtherJournal). A journal that has one keeps it: its new
	// segments carry the id its segments do, whatever ID says (a cluster
	// member's data trading on as a standalone node keeps its
	// cluster's). Empty: a new journal gets "standalone-" and 16 random
	// hex digits. At most 32 bytes of letters, digits, '.', '_' and '-'.
	ID string
	// Archive, when set, is the directory the journal's retired segments
	// are moved to (ArchiveBefore). A directory holding no segment begins
	// a journal that continues the archive's, and carries the id of the
	// archive's newest segment whose header verifies, whatever ID says:
	// a journal lost beside its archive and begun again (a node's
	// --accept-lost-journal) carried a new id, and the archive's
	// segments and its own each refused the other's (ErrOtherJournal)
	// at the next start. Read only when the directory holds no segment;
	// one that cannot be read is passed over (ID then).
	Archive string

	// bufferBytes is the capacity the append buffer starts with; 0:
	// appendBuffer. Unexported: for the package's fuzz targets, which
	// open a journal per input and spent much of each input zeroing a
	// buffer they append a few records to.
	bufferBytes int
}

// appendBuffer is the append buffer's capacity at Open: the records of a
// batch wait in it for Sync's one write, and a batch larger than it
// grows it once.
const appendBuffer = 1 << 20

// ValidID checks a cluster id (Options.ID) for the segment header: at
// most 32 bytes, each a letter, a digit, '.', '_' or '-'; "" is valid.
func ValidID(id string) error {
	if len(id) > idSize {
		return fmt.Errorf("journal: cluster id %q is longer than %d bytes", id, idSize)
	}
	for _, c := range []byte(id) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("journal: cluster id %q: only letters, digits, '.', '_' and '-'", id)
		}
	}
	return nil
}

// newStandaloneID is the id of a new journal given none: its own, so
// that two standalone nodes' segments are told apart too.
func newStandaloneID() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("journal: a cluster id: %w", err)
	}
	return "standalone-" + hex.EncodeToString(b[:]), nil
}

// Validate fills defaults and checks the options.
func (o *Options) Validate() error {
	if o.FS == nil {
		o.FS = vfs.Default
	}
	if o.SegmentBytes == 0 {
		o.SegmentBytes = 64 << 20
	}
	if o.SegmentBytes < headerSize+int64(encodedSize(MaxPayload)) {
		return fmt.Errorf("journal: segment size %d too small for the largest record", o.SegmentBytes)
	}
	if o.Sync > SyncNone {
		return fmt.Errorf("journal: unknown sync mode %d", o.Sync)
	}
	if err := ValidID(o.ID); err != nil {
		return err
	}
	if o.Sync != SyncBatch {
		o.PrepareSegments = false
	}
	if o.bufferBytes == 0 {
		o.bufferBytes = appendBuffer
	}
	return nil
}

// Recovery reports what Open found.
type Recovery struct {
	Segments int
	FirstSeq int64 // 0 when empty
	LastSeq  int64 // 0 when empty
	Records  int64
	TornFile string // set when a torn tail was truncated
	// TornOffset is where the torn tail began. 0: the segment held no
	// record and its header never wholly reached the disk (a roll that a
	// crash cut short, or whose preallocation failed and left the file
	// 0 bytes); Open wrote the header again and preallocated the segment.
	TornOffset  int64
	TornDropped int64 // bytes dropped with the torn tail, to its last non-zero byte
	// ID is the journal's cluster id, which its new segments carry: its
	// segments' (version 2), else Options.ID or a new standalone one.
	ID string
	// Missing, when not 0, is the first input of the newest segment the
	// journal rolled to (NewestFile), which is not in the directory: it
	// and any after it are gone, the inputs from Missing on with them,
	// acknowledged ones too. The journal ends at LastSeq nevertheless;
	// the caller must not append before the segments are back or the
	// operator gave those inputs up (removed NewestFile).
	Missing int64
}

// Journal is the append side of a journal directory. Append and Sync are
// called from one goroutine (the journaller); Durable may be read from any.
type Journal struct {
	opts Options
	dir  string

	mu       sync.Mutex // guards the fields below against Close racing the writer
	seg      vfs.File
	segFirst int64
	id       string // the cluster id new segments carry (Recovery.ID)
	off      int64  // end of written data in seg
	buf      []byte // encoded, not yet written
	last     int64  // last appended sequence; first-1 before any
	err      error  // sticky failure (fail stop)
	closed   bool
	spare    *spare // the next segment, being written ahead
	segStart time.Time
	now      func() time.Time // time.Now; tests replace it
	trim     vfs.CacheTrimmer // drops seg's pages behind off
	batchRec Record           // AppendBatch's record, filled for each input
	marks    recordMarks      // where recent records start (RecentChecksum)
	newest   newestRecorder   // the rolls' newest-segment records

	durable  atomic.Int64
	segments atomic.Int64 // segment files in dir

	// retireMu serializes DeleteBefore and ArchiveBefore. Not mu: they
	// touch only finished segments, which appends never change, and an
	// archive on another filesystem copies each one (seconds for a
	// journal's worth) — under mu, every append and sync waited for it.
	retireMu sync.Mutex
}

// Segments is the number of segment files in the journal directory; each
// occupies Options.SegmentBytes on disk (preallocated). Safe from any
// goroutine.
func (j *Journal) Segments() int64 { return j.segments.Load() }

// Open opens (creating if needed) the journal in dir, recovers it, and
// positions it to append after the last record.
func Open(dir string, opts Options) (*Journal, Recovery, error) {
	if err := opts.Validate(); err != nil {
		return nil, Recovery{}, err
	}
	fs := opts.FS
	if err := fs.MkdirAll(dir); err != nil {
		return nil, Recovery{}, fmt.Errorf("journal: %w", err)
	}
	segs, err := listSegments(fs, dir)
	if err != nil {
		return nil, Recovery{}, fmt.Errorf("journal: %w", err)
	}
	j := &Journal{opts: opts, dir: dir, buf: make([]byte, 0, opts.bufferBytes), last: -1, now: time.Now}
	j.newest.fs, j.newest.dir = fs, dir
	j.marks.newSegment()
	rec := Recovery{Segments: len(segs)}
	j.segments.Store(int64(len(segs)))
	setID := func(id string) error {
		if id == "" {
			id = opts.ID
		}
		if id == "" {
			var err error
			if id, err = newStandaloneID(); err != nil {
				return err
			}
		}
		j.id, rec.ID = id, id
		return nil
	}
	if len(segs) == 0 {
		// An archive that cannot be read (its disk not mounted) leaves
		// ID: a start does not need it, and the retention that moves
		// segments there reports it (ArchiveBefore's error).
		archived, _ := DirID(opts.Archive, fs)
		if err := setID(archived); err != nil {
			return nil, rec, err
		}
		j.durable.Store(0)
		j.prepareSpare()
		return j, rec, nil
	}
	// Earlier segments: the header only (see contract 4 in doc.go), and
	// every one of this journal (ErrOtherJournal).
	var ids journalID
	if err := checkHeaders(fs, dir, segs[:len(segs)-1], &ids); err != nil {
		return nil, rec, err
	}
	path := filepath.Join(dir, segs[len(segs)-1])
	data, err := readSegment(fs, path, nil)
	if err != nil {
		return nil, rec, fmt.Errorf("journal: %w", err)
	}
	if err := addLastID(&ids, segs[len(segs)-1], data); err != nil {
		return nil, rec, err
	}
	scan, err := scanSegment(path, data, segmentFirst(segs[len(segs)-1]), true, opts.Sync == SyncNone)
	if err != nil {
		return nil, rec, err
	}
	if err := setID(ids.id); err != nil {
		return nil, rec, err
	}
	recorded, err := readNewest(fs, dir)
	if err != nil {
		return nil, rec, err
	}
	if recorded > segmentFirst(segs[len(segs)-1]) {
		rec.Missing = recorded
	}
	// A last segment cut short exactly between two records: refused
	// before anything below writes it — the preallocation below would
	// make it read as any segment, and the start after a refused one
	// would go on without a word, giving the lost inputs' sequences
	// (order ids) out again. Every segment is preallocated to
	// SegmentBytes before a record is written in it (a roll, Open, the
	// cut, a spare; a failed preallocation leaves a file without a
	// header: a torn one, not this), no record ends at its segment's
	// end (appendLocked), and a torn tail or a cut is zeroed in place,
	// the file keeping its size (zeroRange), so a segment's data reaches
	// its file's end only in a file cut short after it was written. Not
	// alarms: segment_bytes raised or lowered since the segment was
	// written (its data ends before its file's), a journal of one
	// segment (compared with SegmentBytes, not the segment before), the
	// zeros after the data cut (a zero length ends the data). One false
	// alarm is left, refused with the remedy (the file grown to a
	// segment's size, what Open would have done): a last segment a build
	// before 2026-12-08 filled exactly, with segment_bytes raised since
	// (nothing on disk records a segment's size); exactly full at
	// SegmentBytes, it is taken.
	if !scan.torn && scan.end == int64(len(data)) && scan.end < opts.SegmentBytes {
		return nil, rec, endsShortError(dir, path, scan.end, opts.SegmentBytes, scan.last)
	}
	if scan.torn {
		rec.TornFile, rec.TornOffset = path, scan.end
		rec.TornDropped = dataLen(data[scan.end:])
	}
	rec.FirstSeq, rec.LastSeq = segmentFirst(segs[0]), scan.last
	rec.Records = rec.LastSeq - rec.FirstSeq + 1
	if rec.Records <= 0 {
		rec.FirstSeq, rec.LastSeq, rec.Records = 0, 0, 0
	}

	// Reopen the last segment for appending; zero a torn tail so it reads
	// as the end of data.
	lastName := segs[len(segs)-1]
	f, err := fs.OpenReadWrite(filepath.Join(dir, lastName))
	if err != nil {
		return nil, rec, fmt.Errorf("journal: %w", err)
	}
	opened := false
	defer func() {
		if !opened {
			f.Close() // a refused start leaves no file open
		}
	}()
	j.seg, j.segFirst, j.off, j.last = f, segmentFirst(lastName), scan.end, scan.last
	// Marked as appended ones are (RecentChecksum): a snapshot of one of
	// these inputs after the restart reads from a mark, not the segment.
	j.marks.noteRecords(data[:scan.end], scan.head.size, j.segFirst)
	// What was read may be only the page cache's: pages whose writeback
	// failed — an fdatasync error, which stopped the last run — stay
	// cached, marked clean, and no later fdatasync writes them. Write the
	// records this journal continues from again and make them durable
	// before any record is appended (and acknowledged) after them; a disk
	// still failing refuses the start. (One segment's write at start: a
	// failed fdatasync only ever concerns the last segment, as a roll
	// makes the one before durable first.)
	if scan.end > scan.head.size { // records to write again
		if _, err := f.WriteAt(data[:scan.end], 0); err != nil {
			return nil, rec, fmt.Errorf("journal: rewriting the last segment: %w", err)
		}
		if err := f.Sync(); err != nil {
			return nil, rec, fmt.Errorf("journal: rewriting the last segment: %w", err)
		}
	}
	j.trim.Reset(scan.end)
	if int64(len(data)) < opts.SegmentBytes {
		// A segment whose preallocation failed (a roll or a start on a
		// disk with less than a segment free): allocate it before
		// anything is written to it, or a start after a refused one
		// went live on the still-full disk.
		if err := f.Preallocate(opts.SegmentBytes); err != nil {
			return nil, rec, fmt.Errorf("journal: preallocating: %w", namePath(path, err))
		}
	}
	if scan.head.size == 0 {
		// The header never made it: write it again (the current
		// version's, with the journal's id).
		if _, err := f.WriteAt(segmentHeader(j.segFirst, j.id), 0); err != nil {
			return nil, rec, fmt.Errorf("journal: %w", err)
		}
		j.off = headerSize
	}
	if rec.TornFile != "" {
		// Zeroed in place, the file keeping its size: truncated and
		// preallocated again, a start on a full disk whose preallocation
		// failed left a file its data ran to the end of, which the next
		// start refused (ErrEndsShort) though nothing was lost. Zeros
		// over blocks the file holds need no new one.
		if err := zeroRange(f, j.off, scan.end+rec.TornDropped-j.off); err != nil {
			return nil, rec, fmt.Errorf("journal: dropping the torn tail: %w", namePath(path, err))
		}
		if err := f.Sync(); err != nil {
			return nil, rec, fmt.Errorf("journal: %w", err)
		}
	}
	// The last segment's name may not be durable: a run stopped between
	// its roll's create (or spare rename) and the directory fsync.
	// Records appended to it are acknowledged once fdatasynced, so its
	// name must be durable first (contract 3).
	if err := fs.SyncDir(dir); err != nil {
		return nil, rec, fmt.Errorf("journal: fsync directory: %w", err)
	}
	if recorded < j.segFirst {
		// A journal of a build before NewestFile, or a crash between a
		// roll's segment and its record: recorded from here on.
		if err := writeNewest(fs, dir, j.segFirst); err != nil {
			return nil, rec, fmt.Errorf("journal: recording the newest segment: %w", err)
		}
	}
	j.durable.Store(max(j.last, 0))
	j.prepareSpare()
	opened = true
	return j, rec, nil
}

// endsShortError says that the journal in dir ends at input last in its
// last segment, path, whose data runs to the end of a file of size
// bytes, smaller than a segment (segmentBytes): a copy cut short
// between two records, the inputs after last gone. It names the checks
// and the remedies: the journal copied again; or, once the copy is known
// to end where its source does (or segment_bytes was raised since a
// build before 2026-12-08 filled the segment), the file grown to a
// segment's size, which accepts it.
// Wraps ErrEndsShort.
func endsShortError(dir, path string, size, segmentBytes, last int64) error {
	return fmt.Errorf("%w: %s ends at input %d, its data running to the end of its file, %d bytes, smaller than a segment (journal.segment_bytes, %d): "+
		"every segment is preallocated before a record is written in it, so a copy of the journal cut short between two records reads so, "+
		"the inputs after %d — acknowledged ones too — left out, and a start would give their sequences (order ids) out again; "+
		"copy the journal again from its source, or compare `ringex journal inspect %s` with the source's: only if it ends where the source's does "+
		"(or journal.segment_bytes was raised since a build before 2026-12-08 filled this segment), accept it with `truncate -s %d %s` and start",
		ErrEndsShort, path, last, size, segmentBytes, last, dir, segmentBytes, path)
}

// BeginAt makes where an empty journal begins durable: it creates the
// journal's first segment, named first and holding no record yet, and
// fsyncs it and the directory, as a roll does. The journal then ends at
// first-1 (LastSeq, Durable; so does the next Open's), and the next Append
// must be first. A directory holding no segment says nothing of where its
// journal began: one whose segments were moved away or lost with their
// disk reads the same. On a journal holding a segment it returns
// ErrSequence.
func (j *Journal) BeginAt(first int64) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.usable(); err != nil {
		return err
	}
	if j.seg != nil || j.last >= 0 || first < 1 {
		return fmt.Errorf("%w: begin at %d, the journal holds segments or records already (last %d)", ErrSequence, first, j.last)
	}
	if err := j.roll(first); err != nil {
		return j.fail(err)
	}
	j.last = first - 1
	j.durable.Store(j.last)
	return nil
}

// Append buffers one record. Its sequence must be LastSeq()+1 (any
// positive sequence for the first record of an empty journal).
func (j *Journal) Append(r *Record) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.appendLocked(r)
}

// AppendBatch buffers count records in order, as Append does each,
// under one lock: the journaller's batch. fill sets the fields of record
// i of the batch into r (one Record, reused: every field each time). It
// stops at the first record refused and returns why; the records before
// it stay buffered.
//
// Why: a lock and an unlock per record were 5 % of a cluster follower's
// CPU (make cluster-bench, 2026-12-05), uncontended — only Close and
// Checkpoint take the lock from elsewhere, and rarely. (A range over an
// iter.Seq did the same with 3 allocations per batch: its yield function
// escapes into the iterator.)
func (j *Journal) AppendBatch(count int, fill func(i int, r *Record)) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	for i := range count {
		fill(i, &j.batchRec)
		if err := j.appendLocked(&j.batchRec); err != nil {
			return err
		}
	}
	return nil
}

// appendLocked is Append with j.mu held.
func (j *Journal) appendLocked(r *Record) error {
	if err := j.usable(); err != nil {
		return err
	}
	if len(r.Payload) > MaxPayload {
		return fmt.Errorf("%w: %d bytes", ErrPayloadTooLarge, len(r.Payload))
	}
	if (j.last >= 0 && r.Seq != j.last+1) || r.Seq < 1 {
		return fmt.Errorf("%w: %d after %d", ErrSequence, r.Seq, j.last)
	}
	size := int64(encodedSize(len(r.Payload)))
	// A record never ends at its segment's end (but one alone in a
	// segment of the smallest size, which it fills): a segment's data
	// runs to its file's end only when the file was cut short after it
	// was written, whatever SegmentBytes says now (ErrEndsShort). A
	// segment filled exactly, opened with SegmentBytes raised, was
	// refused as one cut between two records.
	if end := j.off + int64(len(j.buf)) + size; j.seg == nil || end > j.opts.SegmentBytes ||
		(end == j.opts.SegmentBytes && j.last >= j.segFirst) {
		if err := j.roll(r.Seq); err != nil {
			return j.fail(err)
		}
	}
	j.marks.note(r.Seq, j.segFirst, j.off+int64(len(j.buf)))
	j.buf = appendRecord(j.buf, r)
	j.last = r.Seq
	return nil
}

// Fsyncs reports whether Sync fdatasyncs (SyncBatch) or only writes.
func (j *Journal) Fsyncs() bool { return j.opts.Sync == SyncBatch }

// Sync writes the buffered batch and (in SyncBatch mode) fdatasyncs it,
// then advances Durable to the last appended sequence.
func (j *Journal) Sync() error { return j.sync(j.opts.Sync == SyncBatch) }

// Checkpoint makes every record appended so far durable, in either mode:
// it writes what is buffered and fdatasyncs the segment being written
// (finished segments were synced when they rolled). A node whose journal
// is not fsynced per batch (in a cluster) calls it before a snapshot and
// before raft forgets the entries the journal then holds alone. Safe to
// call while the journaller appends.
func (j *Journal) Checkpoint() error { return j.sync(true) }

// sync writes the buffered batch, fdatasyncs it when fsync, and advances
// Durable.
func (j *Journal) sync(fsync bool) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.usable(); err != nil {
		return err
	}
	if err := j.newest.err(); err != nil {
		return j.fail(err)
	}
	if err := j.flush(); err != nil {
		return j.fail(err)
	}
	if fsync && j.seg != nil {
		if err := j.seg.Sync(); err != nil {
			return j.fail(fmt.Errorf("fdatasync: %w", err))
		}
		j.trim.Synced(j.seg, j.off)
	} else if j.seg != nil {
		j.trim.Written(j.seg, j.off)
	}
	// Invariant: Durable() <= every sequence written and synced.
	j.durable.Store(max(j.last, 0))
	return nil
}

// Durable is the highest sequence made durable (0: none).
func (j *Journal) Durable() int64 { return j.durable.Load() }

// ID is the journal's cluster id, which its new segments carry
// (Recovery.ID): set by Open, never changed.
func (j *Journal) ID() string { return j.id }

// LastSeq is the last appended sequence (0 when empty).
func (j *Journal) LastSeq() int64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return max(j.last, 0)
}

// Err returns the failure that stopped the journal, if any.
func (j *Journal) Err() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.err
}

// Close syncs and closes the journal.
func (j *Journal) Close() error {
	err := j.Sync()
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return nil
	}
	j.closed = true
	j.stopSpare()
	if nerr := j.newest.wait(); err == nil && nerr != nil {
		err = fmt.Errorf("journal: %w", nerr)
	}
	if j.seg != nil {
		if cerr := j.seg.Close(); err == nil {
			err = cerr
		}
	}
	if errors.Is(err, ErrClosed) {
		err = nil
	}
	return err
}

func (j *Journal) usable() error {
	switch {
	case j.closed:
		return ErrClosed
	case j.err != nil:
		return j.err
	}
	return nil
}

// fail records a fatal error: the journal stops for good.
func (j *Journal) fail(err error) error {
	if j.err == nil {
		j.err = fmt.Errorf("journal: failed, the node must stop: %w", err)
	}
	return j.err
}

// flush writes the buffered records at the end of the segment.
func (j *Journal) flush() error {
	if len(j.buf) == 0 {
		return nil
	}
	n, err := j.seg.WriteAt(j.buf, j.off)
	if err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if n != len(j.buf) {
		return fmt.Errorf("short write: %d of %d bytes", n, len(j.buf))
	}
	j.off += int64(n)
	j.buf = j.buf[:0]
	return nil
}

// roll finishes the current segment and starts one whose first record is
// first.
func (j *Journal) roll(first int64) error {
	fs := j.opts.FS
	// Write the next segment ahead only after one created by this run
	// lasted spareMinLife. One filled faster means the journal is near the
	// disk's or the machine's limit, where writing ahead costs more than
	// it gains; before the first has filled, that is not known (the spare
	// written at Open covers the first roll).
	slow := !j.segStart.IsZero() && j.now().Sub(j.segStart) >= spareMinLife
	if j.seg != nil {
		if err := j.flush(); err != nil {
			return err
		}
		// In either mode: the next segment's header is made durable
		// below, and a later segment must never outlive the end of this
		// one — a crash would leave a gap Open and the Reader refuse,
		// where a lost tail of the last segment is only truncated. With
		// SyncNone it waits for little: the cache trimmer has started
		// writing back all but the last MiB or two.
		if err := j.seg.Sync(); err != nil {
			return fmt.Errorf("fdatasync: %w", err)
		}
		j.seg.DropCache(0, j.off) // finished: none of it is written again
		if err := j.seg.Close(); err != nil {
			return err
		}
		j.seg = nil
	}
	name := filepath.Join(j.dir, SegmentName(first))
	f, err := j.takeSpare(name)
	if err != nil {
		return fmt.Errorf("rename the prepared segment: %w", err)
	}
	if f == nil {
		if f, err = fs.Create(name); err != nil {
			return fmt.Errorf("create segment: %w", err)
		}
		if err := f.Preallocate(j.opts.SegmentBytes); err != nil {
			f.Close()
			return fmt.Errorf("preallocate segment: %w", namePath(name, err))
		}
	}
	if _, err := f.WriteAt(segmentHeader(first, j.id), 0); err != nil {
		f.Close()
		return fmt.Errorf("write segment header: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("fdatasync: %w", err)
	}
	if err := fs.SyncDir(j.dir); err != nil {
		f.Close()
		return fmt.Errorf("fsync directory: %w", err)
	}
	j.newest.record(first) // after the name is durable: never ahead of it
	j.seg, j.segFirst, j.off, j.segStart = f, first, headerSize, j.now()
	j.marks.newSegment()
	j.trim.Reset(0)
	j.segments.Add(1)
	if slow {
		j.prepareSpare()
	}
	return nil
}

// DeleteBefore removes segments all of whose records are below seq (it
// keeps the segment holding seq-1's successor). It returns how many it
// removed.
func (j *Journal) DeleteBefore(seq int64) (int, error) {
	return j.retireBefore(seq, func(name string) error {
		if err := j.opts.FS.Remove(filepath.Join(j.dir, name)); err != nil {
			return err
		}
		return j.opts.FS.SyncDir(j.dir)
	})
}

// ArchiveBefore moves the segments DeleteBefore would remove into dir
// (created if needed; on another filesystem each is copied durably, then
// removed), fsyncing both directories, and returns how many it moved;
// appends go on meanwhile. Archived segments keep their names, so `ringex journal
// inspect` reads the archive like a journal — one with no last segment
// that may end torn (InspectOptions.DirIsArchive) — and `ringex replay`
// reads it with the journal as one (NewReaderOf).
func (j *Journal) ArchiveBefore(seq int64, dir string) (int, error) {
	if err := j.opts.FS.MkdirAll(dir); err != nil {
		return 0, err
	}
	return j.retireBefore(seq, func(name string) error {
		src, dst := filepath.Join(j.dir, name), filepath.Join(dir, name)
		if err := j.opts.FS.Rename(src, dst); errors.Is(err, syscall.EXDEV) {
			// The archive is on another filesystem than the journal
			// (journal.dir on a disk of its own): copy, then remove.
			if err := copyDurable(j.opts.FS, src, dst); err != nil {
				return err
			}
			if err := j.opts.FS.SyncDir(dir); err != nil {
				return err
			}
			if err := j.opts.FS.Remove(src); err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
		if err := j.opts.FS.SyncDir(dir); err != nil { // in the archive before it leaves the journal
			return err
		}
		return j.opts.FS.SyncDir(j.dir)
	})
}

// retireBefore applies retire to every segment wholly below seq, oldest
// first, stopping at the first error. Each retire makes its change
// durable before the next: were the directory synced once at the end, a
// crash could keep an older segment whose successor is gone — a journal
// with a gap, which Open refuses.
func (j *Journal) retireBefore(seq int64, retire func(name string) error) (int, error) {
	j.retireMu.Lock()
	defer j.retireMu.Unlock()
	segs, err := listSegments(j.opts.FS, j.dir)
	if err != nil {
		return 0, err
	}
	done := 0
	for i := 0; i+1 < len(segs); i++ {
		// Segment i holds [first_i, first_{i+1}); it may go when all of
		// that is below seq.
		if segmentFirst(segs[i+1]) > seq {
			break
		}
		if err = retire(segs[i]); err != nil {
			break
		}
		done++
		j.segments.Add(-1)
	}
	return done, err
}

// copyPiece is how much of a segment copyDurable copies at a time; each
// piece is written out to the disk before the next (File.WriteOut).
const copyPiece = 1 << 20

// copyDurable copies src to dst (through dst.tmp, renamed once synced).
//
// It writes the copy out piece by piece, so that its fdatasync has at
// most a piece left to flush: the journal's writes are timed for
// cluster.disk_stall_timeout (the node's observed filesystem), and a
// whole segment (64 MiB by default) flushed by one fdatasync on a slow
// archive disk was taken for a disk that stopped answering.
func copyDurable(fs vfs.FS, src, dst string) error {
	in, err := fs.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	size, err := in.Size()
	if err != nil {
		return err
	}
	tmp := dst + ".tmp"
	_ = fs.Remove(tmp)
	out, err := fs.Create(tmp)
	if err != nil {
		return err
	}
	buf := make([]byte, copyPiece)
	for off := int64(0); off < size; {
		n, rerr := in.ReadAt(buf[:min(int64(len(buf)), size-off)], off)
		if n > 0 {
			_, werr := out.WriteAt(buf[:n], off)
			if werr == nil {
				werr = out.WriteOut(off, int64(n))
			}
			if werr != nil {
				out.Close()
				return werr
			}
			off += int64(n)
		}
		if rerr != nil && !(errors.Is(rerr, io.EOF) && off >= size) {
			out.Close()
			return rerr
		}
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return fs.Rename(tmp, dst)
}

// namePath returns err naming the file at path once: as it is when it
// names it already (an *fs.PathError of path, as vfs.Default's errors
// are), else with the path in front. A full disk's ENOSPC says which file
// it refused, so the operator knows which disk to free.
func namePath(path string, err error) error {
	var pe *iofs.PathError
	if errors.As(err, &pe) && pe.Path == path {
		return err
	}
	return fmt.Errorf("%s: %w", path, err)
}
