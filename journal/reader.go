package journal

import (
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ringex/ringex/vfs"
)

// Reader iterates a journal's records in sequence order from a given
// sequence, checking every CRC. It reads segments whole, one at a time,
// and the next one in the background while this one's records are used:
// a restart after a crash finds the journal on disk, not in the cache,
// and reading a segment there took 40–110 ms on the dev VM, during which
// the engine replaying behind the Reader waited (2026-12-04: 1.4 s of a
// 3.4 s replay of 10 M records). Asking the OS to fetch the files ahead
// (fadvise WILLNEED) did not do it: Linux reads at most its readahead
// window (8 MiB there) of each file on that hint.
//
// It holds two segments' worth of buffers while reading; Close waits for
// a read in flight.
type Reader struct {
	fs         vfs.FS
	dirs       []string // the directories read (NewReaderOf)
	segs       []string // segment names, in sequence order
	paths      []string // where each is
	idx        int
	data       []byte
	off        int64
	next       int64        // sequence expected next
	first      int64        // first sequence wanted
	lastSegIdx int          // the one segment a torn tail may end (the journal's last); -1: none, an archive
	ahead      *segmentRead // segment idx+1 being read, nil when none
	spare      []byte       // a buffer free for the next read ahead
	// tornFile and tornAt say where a torn tail starts, once Next has
	// returned io.EOF for one (tornFile "": none).
	tornFile string
	tornAt   int64
	unsynced bool      // SetUnsynced
	at       int64     // offset of the record Next returned last
	ids      journalID // the cluster id of the segments (checkIDs)
}

// ID is the cluster id the journal's segments carry ("": none, or only
// version 1 segments, which carry none).
func (r *Reader) ID() string { return r.ids.id }

// SetUnsynced reads the journal as one written without fdatasync (a
// cluster member's, journal.sync none): a bad record in the last segment
// ends it, well-formed records after it or not, as Open judges such a
// journal — a machine crash may keep a later page and lose an earlier one.
// Without it the tools called "corrupt" a member's journal its node
// starts on.
func (r *Reader) SetUnsynced() { r.unsynced = true }

// segmentRead is one segment read in the background.
type segmentRead struct {
	done chan struct{} // closed when data and err are set
	data []byte
	err  error
}

// NewReader opens dir for reading from sequence from (0: the start).
func NewReader(dir string, fs vfs.FS, from int64) (*Reader, error) {
	return NewReaderOf([]string{dir}, fs, from)
}

// NewReaderOf reads the segments of several directories as one journal:
// an archive (snapshot.journal_retention: archive moves segments there
// under their names) and the journal it came from, say. A segment in more
// than one (an archive copy whose removal a crash cut short) is read from
// the last directory listed. A directory that does not exist holds none.
func NewReaderOf(dirs []string, fs vfs.FS, from int64) (*Reader, error) {
	return NewReaderWith(dirs, fs, from, ReaderOptions{})
}

// ReaderOptions are a Reader's manners.
type ReaderOptions struct {
	// Checked, when set, remembers the segment headers the Reader
	// checked, and spares it reading again those it remembers
	// (CheckedHeaders).
	Checked *CheckedHeaders
}

// NewReaderWith is NewReaderOf with options.
func NewReaderWith(dirs []string, fs vfs.FS, from int64, opts ReaderOptions) (*Reader, error) {
	if fs == nil {
		fs = vfs.Default
	}
	// Listed last first: retention moves segments from the journal (the
	// last directory) to the archive, so one moved between two listings
	// is in the later one (read finds it wherever it went); listed in
	// order, it could be in neither. A name in several stays the last
	// directory's.
	where := map[string]string{}
	for i := len(dirs) - 1; i >= 0; i-- {
		dir := dirs[i]
		names, err := listSegments(fs, dir)
		if err != nil && (i == len(dirs)-1 || !errors.Is(err, iofs.ErrNotExist)) {
			return nil, fmt.Errorf("journal: %w", err)
		}
		for _, n := range names {
			if _, ok := where[n]; !ok {
				where[n] = filepath.Join(dir, n)
			}
		}
	}
	segs := slices.Sorted(maps.Keys(where))
	paths := make([]string, len(segs))
	for i, n := range segs {
		paths[i] = where[n]
	}
	r := &Reader{fs: fs, dirs: dirs, segs: segs, paths: paths, idx: -1, first: from}
	if err := r.checkIDs(opts.Checked); err != nil {
		return nil, err
	}
	// Start at the last segment whose first sequence is <= from.
	start := 0
	for i, s := range segs {
		if segmentFirst(s) <= from {
			start = i
		}
	}
	r.idx = start - 1
	r.lastSegIdx = len(segs) - 1
	return r, nil
}

// checkIDs checks that the headers of every segment listed carry one
// cluster id (ErrOtherJournal), those of the segments Next will not read
// too — before from, or past where its caller stops: a Reader from a
// later input refuses a journal holding a segment copied in from
// another, as Open and a Reader from the start do. It reads headers only
// (56 bytes a segment). A header that does not verify, or that cannot be
// read, is left to Next, which judges it — or fails on the read error —
// when it reads that segment; one Next never reads says nothing here, as
// a segment retired since the listing does not: a segment wholly before
// from that cannot be read (another owner's, a bad sector in an old
// archive) failed every Reader from a later input, which needs none of
// its bytes. With checked, a header it remembers is not read again, and
// one read that verifies is remembered.
func (r *Reader) checkIDs(checked *CheckedHeaders) error {
	buf := make([]byte, headerSize)
	if checked != nil {
		checked.forget(r.segs)
	}
	for i, name := range r.segs {
		if checked != nil {
			if id, ok := checked.lookup(name); ok {
				if err := r.ids.add(name, id); err != nil {
					return err
				}
				continue
			}
		}
		n, err := r.readHeader(r.paths[i], buf)
		if err != nil {
			// Retired since it was listed (not part of the journal now),
			// or unreadable: Next reads it again if it needs it.
			continue
		}
		if h, err := verifyHeader(buf[:n], name); err == nil {
			if err := r.ids.add(name, h.id); err != nil {
				return err
			}
			if checked != nil {
				checked.remember(name, h.id)
			}
		}
	}
	return nil
}

// readHeader reads the header of the segment at path into buf — or,
// moved from there since the reader listed it, under its name in
// another of the reader's directories (see read) — and returns its
// length (shorter than buf for a short file).
func (r *Reader) readHeader(path string, buf []byte) (int, error) {
	return readMoved(r.dirs, path, func(p string) (int, error) { return readAtStart(r.fs, p, buf) })
}

// readMoved is read(path) — or, path gone, read of the file of its name
// in the first of dirs that has it.
func readMoved[T any](dirs []string, path string, read func(path string) (T, error)) (T, error) {
	got, err := read(path)
	if !errors.Is(err, iofs.ErrNotExist) {
		return got, err
	}
	for _, dir := range dirs {
		if moved := filepath.Join(dir, filepath.Base(path)); moved != path {
			if got, merr := read(moved); merr == nil {
				return got, nil
			}
		}
	}
	return got, err
}

// readAtStart reads up to len(buf) bytes from the start of the file at
// path.
func readAtStart(fs vfs.FS, path string, buf []byte) (int, error) {
	f, err := fs.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n, err := f.ReadAt(buf, 0)
	if err == io.EOF {
		err = nil
	}
	return n, err
}

// Start is the first sequence of the earliest segment read (0: none).
func (r *Reader) Start() int64 {
	if len(r.segs) == 0 {
		return 0
	}
	return segmentFirst(r.segs[0])
}

// badTail judges a bad record at r.off: in the last segment with no
// valid record after it, a torn tail (io.EOF, noted in tornFile), as
// Open would truncate it; with valid ones after it, the torn batch Open
// refuses, in its words (ErrTornBatch); one the file's end cuts through,
// the segment cut short Open refuses (ErrCutShort); else ErrCorrupt.
func (r *Reader) badTail() error {
	if r.idx == r.lastSegIdx {
		if !r.unsynced && cutShort(r.data[r.off:]) {
			return cutShortError(r.paths[r.idx], r.off, int64(len(r.data)))
		}
		later := int64(-1)
		if !r.unsynced {
			later = findValidAfter(r.data, r.off, r.next-1)
		}
		if later < 0 {
			r.tornFile, r.tornAt = r.segs[r.idx], r.off
			return io.EOF
		}
		return tornBatchError(r.paths[r.idx], r.off, later)
	}
	return damagedSegmentError(r.paths[r.idx], r.off, "a record of a finished segment fails its check, so the segment was damaged after it was written "+
		"and the inputs from this record on, acknowledged ones, are unreadable")
}

// damagedSegmentError refuses the record at off of the finished segment
// at path (an earlier segment, or any of an archive's), found saying what
// is wrong with it. Nothing appends to a finished segment and no crash
// tears one (a roll fdatasyncs it before the next is created), so its
// records were acknowledged and damaged since: a copy of the segment is
// the remedy — also of the last segment's record out of sequence, which
// no crash leaves either (outOfSequenceError). The cut does not touch such a segment — it mends only the
// last one's torn batch — so it is named only to say so.
func damagedSegmentError(path string, off int64, found string) error {
	return fmt.Errorf("%w: %s at offset %d: %s; restore %s from a copy (the archive's shipped copy, a backup, "+
		"or another cluster member's segment of that name) and check it with `ringex journal inspect` (`--archive` for an archive's segment); "+
		"`ringex journal cut` does not mend it: it cuts only a torn batch from the journal's last segment",
		ErrCorrupt, path, off, found, filepath.Base(path))
}

// outOfSequenceError refuses the record at off of the segment at path,
// of sequence seq where want was due, whose checksum holds: a crash
// leaves records that fail their check, never a whole one out of
// sequence, so the segment — finished or the journal's last — is not as
// the journal wrote it, and the remedy is a finished segment's damage's
// (damagedSegmentError). Open (for the last segment) and a Reader say it
// in the same words; the cut takes out no such record.
func outOfSequenceError(path string, off, seq, want int64) error {
	return damagedSegmentError(path, off, fmt.Sprintf("sequence %d, want %d: a record out of sequence though its checksum holds, "+
		"which no crash leaves (a write it cuts short fails its check), so the segment is not as the journal wrote it "+
		"and the inputs from this record on, acknowledged ones too, are not the journal's", seq, want))
}

// overlapError refuses the segment at path, named for input first, read
// after the segment at prev, whose records run through want-1 (>= first):
// the two claim inputs first…want-1, so they are segments of two
// journals of one cluster id (another id's is ErrOtherJournal) — one of
// a journal this one replaced, or one an older copy put back — and one
// of them is not this journal's. No record is damaged: the remedy is
// moving that one out of its directory, which the operator finds by
// comparing their records with a copy's.
func overlapError(prev, path string, first, want int64) error {
	return fmt.Errorf("%w: %s starts at sequence %d, want %d: it and %s before it both claim inputs %d…%d, so they are segments of two journals "+
		"(one this journal replaced, or an older copy put back among its segments) and one of them is not this journal's; "+
		"find which (`ringex journal inspect -v` of a directory holding one of them prints its records: compare them with a backup's or another cluster member's) "+
		"and move it out of its directory — a node that installed a leader's snapshot keeps the replaced journal's archived segments in the archive's replaced/ subdirectory, "+
		"which no reader lists — then check with `ringex journal inspect`",
		ErrCorrupt, path, first, want, prev, first, want-1)
}

// Next reads the next record into rec (rec.Payload is valid until the next
// call). It returns io.EOF after the last record, or an error wrapping
// ErrCorrupt.
func (r *Reader) Next(rec *Record) error {
	for {
		if r.data != nil && r.off < int64(len(r.data)) {
			size, res := decodeRecord(r.data[r.off:], rec)
			switch res {
			case decodedOK:
				if r.next != 0 && rec.Seq != r.next {
					return outOfSequenceError(r.paths[r.idx], r.off, rec.Seq, r.next)
				}
				r.at = r.off
				r.off += int64(size)
				r.next = rec.Seq + 1
				if rec.Seq < r.first {
					continue
				}
				return nil
			case decodedBad:
				return r.badTail()
			}
			// decodedEnd: on to the next segment, only if zeros alone
			// follow (a zero length with data after it is a bad record,
			// as Open judges it): in the last one a torn tail, in any
			// other ErrCorrupt at this offset — not the next segment's
			// header blamed for it, nor, before any record was read, the
			// rest of this segment skipped unseen.
			if !allZero(r.data[r.off:]) {
				return r.badTail()
			}
		}
		r.idx++
		if r.idx >= len(r.segs) {
			return io.EOF
		}
		data, err := r.segment(r.idx)
		if err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		h, err := verifyHeader(data, r.segs[r.idx])
		if err != nil && r.idx == r.lastSegIdx && tornHeader(data, segmentFirst(r.segs[r.idx])) {
			// A roll the header never reached the disk for, or only part
			// of it: Open reports it as a torn tail at offset 0 and
			// writes the header again, so the Reader says so too.
			r.tornFile, r.tornAt = r.segs[r.idx], 0
			return io.EOF
		}
		if err != nil {
			return err
		}
		if err := r.ids.add(r.segs[r.idx], h.id); err != nil {
			return err
		}
		first := segmentFirst(r.segs[r.idx])
		if r.next != 0 && first > r.next {
			// No record is damaged: a whole segment is not in any of
			// the directories (lost, or left behind when they were
			// copied), and the message says which inputs and where.
			return fmt.Errorf("%w: %s starts at sequence %d, want %d: inputs %d…%d are in no segment of %s (a segment is missing: restore it from a backup or a replica)",
				ErrCorrupt, r.paths[r.idx], first, r.next, r.next, first-1, strings.Join(r.dirs, " or "))
		}
		if r.next != 0 && first != r.next {
			return overlapError(r.paths[r.idx-1], r.paths[r.idx], first, r.next)
		}
		// The segment's first record is its header's sequence, also in
		// the first segment read: one that holds none (all lost) is then
		// found by the next segment's start, as between any two.
		r.next = first
		r.data, r.off = data, h.size
	}
}

// Torn says where the torn tail Next ended the journal at begins: the
// path of the last segment and the offset of its first byte that is no
// record ("", -1 until Next has returned io.EOF for one). Open truncates
// such a tail; a reader that ends there has not reached the end written.
func (r *Reader) Torn() (segment string, offset int64) {
	if r.tornFile == "" {
		return "", -1
	}
	return r.paths[r.lastSegIdx], r.tornAt
}

// endsShort says, once Next has returned io.EOF at the end of the last
// segment's data with no torn tail, whether that data ran to the file's
// end — no zero length after the last record (or the header) — in a
// file smaller than the segment before it, and gives both sizes. Every
// segment is preallocated to the journal's segment size before anything
// is written in it (a roll, Open; the cut and a spare keep the size), so
// a segment's data reaches its file's end only when the segment is full,
// as large as the one before it unless the segment size was lowered
// since. A copy cut short exactly between two records — or just after
// the header — reads so, its records sound: the Reader cannot tell which
// inputs are gone, nor that any are, so it is no error, only a finding.
// A journal of one segment has none to compare with.
func (r *Reader) endsShort() (size, before int64, short bool, err error) {
	last := len(r.segs) - 1
	if r.tornFile != "" || last < 1 || r.idx <= last || r.data == nil || r.off != int64(len(r.data)) {
		return 0, 0, false, nil
	}
	before, err = readMoved(r.dirs, r.paths[last-1], func(p string) (int64, error) {
		f, err := r.fs.Open(p)
		if err != nil {
			return 0, err
		}
		defer f.Close()
		return f.Size()
	})
	if err != nil {
		return 0, 0, false, fmt.Errorf("journal: %w", err)
	}
	size = int64(len(r.data))
	return size, before, size < before, nil
}

// Position is the path of the segment holding the record Next returned
// last, and the record's offset in it ("", -1 before any): for an error
// report that names it (in the journal or its archive).
func (r *Reader) Position() (segment string, offset int64) {
	if r.data == nil || r.idx < 0 || r.idx >= len(r.segs) {
		return "", -1
	}
	return r.paths[r.idx], r.at
}

// segment returns the bytes of segment idx — read ahead, or read now —
// and starts reading the one after it in the background, into the buffer
// of the segment before (the records read from it are no longer valid).
//
// Next reads the segments in order, so a read ahead, when there is one,
// is of segment idx.
func (r *Reader) segment(idx int) ([]byte, error) {
	var data []byte
	var err error
	if a := r.ahead; a != nil {
		<-a.done
		r.ahead = nil
		data, err = a.data, a.err
	} else {
		data, err = r.read(r.paths[idx], r.spare)
	}
	r.spare, r.data = r.data, nil
	if err == nil && idx+1 < len(r.segs) {
		a := &segmentRead{done: make(chan struct{})}
		path, buf := r.paths[idx+1], r.spare
		r.ahead, r.spare = a, nil
		go func() {
			defer close(a.done)
			a.data, a.err = r.read(path, buf)
		}()
	}
	return data, err
}

// read reads the segment at path — or, gone from there since the reader
// listed it, under its name in another of the reader's directories: a
// node's retention moves segments from its journal to the archive while
// a resend or a replay reads them (it listed them once).
func (r *Reader) read(path string, buf []byte) ([]byte, error) {
	return readMoved(r.dirs, path, func(p string) ([]byte, error) { return readSegment(r.fs, p, buf) })
}

// Close waits for the read ahead in flight, if any. The Reader is not
// used after.
func (r *Reader) Close() {
	if a := r.ahead; a != nil {
		<-a.done
		r.ahead = nil
	}
	r.data, r.spare = nil, nil
}

// Stats summarizes a journal for `ringex journal inspect`.
type Stats struct {
	Segments int
	// Begins is the input the first segment is named for: where the
	// journal read begins, records or none (BeginAt's empty segment).
	Begins       int64
	Records      int64
	FirstSeq     int64
	LastSeq      int64
	PayloadBytes int64
	// ArchiveSegments: how many of Segments were read from
	// InspectOptions.Archive.
	ArchiveSegments int
	// TornFile and TornAt: the last segment ends in bytes that are no
	// record (a write a crash cut short — or a damaged last record),
	// from offset TornAt; Open truncates them. TornFile "": none. TornAt
	// 0: the last segment is all zeros, its header never written (Open
	// writes it again; nothing is dropped).
	TornFile string
	TornAt   int64
	// ID is the journal's cluster id, which its segments carry ("": its
	// segments are all of version 1, written before segments carried one).
	ID string
	// ShortFile, when not "", is the last segment, whose data runs to its
	// file's end — no zero length after its last record — in a file of
	// ShortSize bytes, smaller than the segment before it (BeforeSize):
	// what a copy of the journal cut short exactly between two records
	// leaves (Reader.endsShort), or a full segment after the segment size
	// was lowered. Its records are sound; Open refuses it where the file
	// is smaller than Options.SegmentBytes (ErrEndsShort), which the
	// Reader does not know: compare the last sequence with the source's.
	ShortFile             string
	ShortSize, BeforeSize int64
	// FailedIn is the path of the segment Inspect's error was met in —
	// the archive's or the journal's: a tool that mends only the
	// journal's last segment (ringex journal cut) says where the damage
	// is. "": no error, or one met before any segment was read.
	FailedIn string
}

// InspectOptions say what Inspect reads and how it judges it.
type InspectOptions struct {
	// Archive, when set, is read before dir as one journal (NewReaderOf):
	// the segments snapshot.journal_retention: archive moved there, so a
	// gap or a bad record where they meet the journal's is found. It need
	// not exist.
	Archive string
	// Unsynced: dir's last segment was written without fdatasync
	// (Reader.SetUnsynced).
	Unsynced bool
	// DirIsArchive: dir is an archive. Its segments were retired whole,
	// each fdatasynced, and no node truncates them, so none is a last
	// segment that may end torn: a bad record anywhere — at the end of
	// the newest one too — is ErrCorrupt.
	DirIsArchive bool
}

// missingNewest refuses, as Open's caller does (Recovery.Missing), a
// journal read through to the end of its newest segment, newest, that
// rolled to a later one (NewestFile): the segments alone read as a
// journal ending there. A NewestFile that does not verify is its
// ErrCorrupt.
func missingNewest(fs vfs.FS, dir, newest string, st Stats) error {
	if fs == nil {
		fs = vfs.Default
	}
	recorded, err := readNewest(fs, dir)
	if err != nil || recorded <= segmentFirst(newest) {
		return err
	}
	last := st.LastSeq
	if st.Records == 0 {
		last = st.Begins - 1
	}
	return MissingSegmentError(dir, recorded, last, "")
}

// Inspect reads every record of the journal in dir, verifying every CRC
// and sequence, and that dir holds the newest segment the journal rolled
// to (NewestFile; ErrMissingSegment). With each non-nil it is called with every record (valid
// until it returns).
func Inspect(dir string, fs vfs.FS, each func(*Record)) (Stats, error) {
	return InspectWith(dir, fs, InspectOptions{}, each)
}

// InspectWith is Inspect with options.
func InspectWith(dir string, fs vfs.FS, opts InspectOptions, each func(*Record)) (Stats, error) {
	dirs := []string{dir}
	if opts.Archive != "" {
		dirs = []string{opts.Archive, dir}
	}
	r, err := NewReaderOf(dirs, fs, 0)
	if err != nil {
		return Stats{}, err
	}
	if opts.Unsynced {
		r.SetUnsynced()
	}
	if opts.DirIsArchive {
		r.lastSegIdx = -1
	}
	defer r.Close()
	st := Stats{Segments: len(r.segs), Begins: r.Start()}
	if opts.Archive != "" {
		for _, p := range r.paths {
			if filepath.Dir(p) == filepath.Clean(opts.Archive) {
				st.ArchiveSegments++
			}
		}
	}
	if len(r.segs) == 0 {
		return st, fmt.Errorf("%w in %s", ErrNoSegments, dir)
	}
	var rec Record
	for {
		err := r.Next(&rec)
		st.ID = r.ID()
		if err == io.EOF {
			st.TornFile, st.TornAt = r.tornFile, r.tornAt
			size, before, short, err := r.endsShort()
			if err != nil {
				return st, err
			}
			if short {
				st.ShortFile, st.ShortSize, st.BeforeSize = r.paths[len(r.paths)-1], size, before
			}
			if opts.DirIsArchive {
				return st, nil // NewestFile is the journal's, not an archive's
			}
			return st, missingNewest(fs, dir, r.segs[len(r.segs)-1], st)
		}
		if err != nil {
			if r.idx >= 0 && r.idx < len(r.paths) { // Next fails only in a segment it reads
				st.FailedIn = r.paths[r.idx]
			}
			return st, err
		}
		if st.Records == 0 {
			st.FirstSeq = rec.Seq
		}
		st.LastSeq = rec.Seq
		st.Records++
		st.PayloadBytes += int64(len(rec.Payload))
		if each != nil {
			each(&rec)
		}
	}
}
