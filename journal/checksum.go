package journal

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"maps"
	"path/filepath"
	"slices"

	"github.com/ringex/ringex/vfs"
)

// Checksum is the checksum a journal stores with r's record: the CRC-32C
// of the record's body (seq, receive time, session, account, kind,
// payload). Every member of a cluster journals an input in the same
// bytes, so it names the input, not the journal that holds it; two
// different inputs share one with a chance of 1 in 2^32.
func Checksum(r *Record) uint32 {
	return binary.LittleEndian.Uint32(appendRecord(nil, r)[4:])
}

// checksumReadBuffer is how much of a segment ChecksumAt holds at once.
const checksumReadBuffer = 1 << 20

// ChecksumAt is the checksum stored with the record of input seq in the
// segments of dirs — read as NewReaderOf reads them: an archive, then the
// journal it came from, a segment in both read from the last. Found false:
// no segment of theirs holds seq (the journal begins after it, or ends
// before it). It reads the segment that would hold seq from its start
// through a small buffer, never the whole file at once (a node checks its
// snapshot at start so; one it writes asks RecentChecksum first). A bad
// record before seq, or at it, is an error wrapping ErrCorrupt; the
// segment it reads carrying another cluster id than the newest segment
// an error wrapping ErrOtherJournal, naming both by their paths (in an
// archive or the journal). It reads those two headers only,
// not every segment's (an archive's thousands, at each node's start).
func ChecksumAt(dirs []string, fs vfs.FS, seq int64) (crc uint32, found bool, err error) {
	if fs == nil {
		fs = vfs.Default
	}
	where := map[string]string{} // a segment's name: its path, in the last of dirs that has it
	for _, dir := range dirs {
		names, err := listSegments(fs, dir)
		if err != nil && !errors.Is(err, iofs.ErrNotExist) {
			return 0, false, fmt.Errorf("journal: %w", err)
		}
		for _, n := range names {
			where[n] = filepath.Join(dir, n)
		}
	}
	var path string
	var first int64
	for n, p := range where {
		if f := segmentFirst(n); f <= seq && f >= first {
			path, first = p, f
		}
	}
	if path == "" {
		return 0, false, nil
	}
	f, br, err := readFrom(fs, path, 0, checksumReadBuffer)
	if err != nil {
		return 0, false, fmt.Errorf("journal: %w", err)
	}
	defer f.Close()
	name := filepath.Base(path)
	head, err := br.Peek(headerSize)
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, false, fmt.Errorf("journal: %s: %w", name, err)
	}
	h, err := verifyHeader(head, name)
	if err != nil {
		return 0, false, err
	}
	var ids journalID
	if err := newestID(fs, where, name, &ids); err != nil {
		return 0, false, err
	}
	if err := ids.add(path, h.id); err != nil {
		return 0, false, err
	}
	br.Discard(int(h.size))
	return checksumFrom(br, name, h.size, first, seq)
}

// newestID adds to ids the cluster id of the newest segment where lists
// (name: path), but read — the journal ChecksumAt is asked about — for
// the segment read to be checked against: one copied in from another
// journal, into an archive say, holding the input asked for gives
// another input's checksum, and a node checking its snapshot against it
// would blame the snapshot (replay.ErrOtherInputs) instead of the
// segment. A header that does not verify, or a segment gone since it
// was listed, is passed over for the one before it (a torn header is
// left to whoever reads that segment); only the headers up to the first
// that verifies are read.
func newestID(fs vfs.FS, where map[string]string, read string, ids *journalID) error {
	buf := make([]byte, headerSize)
	names := slices.Sorted(maps.Keys(where))
	for i := len(names) - 1; i >= 0; i-- {
		name := names[i]
		if name == read {
			continue
		}
		n, err := readAtStart(fs, where[name], buf)
		if errors.Is(err, iofs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		h, err := verifyHeader(buf[:n], name)
		if err == nil {
			ids.passed = nil
			return ids.add(where[name], h.id)
		}
		if ids.passed == nil {
			ids.passed = err // it names the segment
		}
	}
	return nil
}

// DirID is the cluster id of the newest segment of dir whose header
// verifies ("": dir is "", does not exist, holds no segment, or only
// version 1 ones), read as newestID reads it: the id of the journal in
// dir, which a tool that does not Open it names (Journal.ID). When dir
// holds segments and no header among them verifies, the id is unknown:
// "" and an error wrapping ErrCorrupt that names the newest segment and
// why its header does not read.
func DirID(dir string, fs vfs.FS) (string, error) {
	if fs == nil {
		fs = vfs.Default
	}
	if dir == "" {
		return "", nil
	}
	names, err := listSegments(fs, dir)
	if errors.Is(err, iofs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("journal: %w", err)
	}
	where := map[string]string{}
	for _, n := range names {
		where[n] = filepath.Join(dir, n)
	}
	var ids journalID
	if err := newestID(fs, where, "", &ids); err != nil {
		return "", err
	}
	if ids.passed != nil {
		return "", fmt.Errorf("journal: no segment header in %s verifies; the newest: %w", dir, ids.passed)
	}
	return ids.id, nil
}

// checksumFrom reads records from br — the segment name's bytes from
// offset off, where the record of input at starts — up to seq's, and
// returns its checksum (found false: the segment's data ends before it).
func checksumFrom(br *bufio.Reader, name string, off, at, seq int64) (crc uint32, found bool, err error) {
	for ; ; at++ {
		b, _ := br.Peek(recordHeader)
		n := 0
		if len(b) == recordHeader {
			n = int(binary.LittleEndian.Uint32(b))
		}
		if n == 0 {
			return 0, false, nil // the segment's data ends before seq
		}
		size := encodedSize(n - bodyFixed)
		if at == seq {
			size = recordHeader + n
		}
		b, _ = br.Peek(size) // short (a bad length past the buffer): the check fails
		var r Record
		if used, res := decodeRecord(b, &r); res != decodedOK || r.Seq != at || (at != seq && used != size) {
			return 0, false, fmt.Errorf("%w: %s at offset %d: record %d fails its check", ErrCorrupt, name, off, at)
		}
		if at == seq {
			return binary.LittleEndian.Uint32(b[4:]), true, nil
		}
		br.Discard(size)
		off += int64(size)
	}
}

// markBytes is how far apart recordMarks notes records at most (the
// segment's bytes RecentChecksum reads at most, beside the record asked
// for); maxMarks how many it keeps: 256 MiB of the journal's end.
const (
	markBytes = 256 << 10
	maxMarks  = 1024
)

// recordMark is where the record of input seq starts: in the segment
// whose first input is segFirst, at offset off.
type recordMark struct{ seq, segFirst, off int64 }

// recordMarks notes where recent records start — every segment's first
// record appended since Open (or held by the last segment at Open), and
// one at least every markBytes after it — so that RecentChecksum reads a
// few hundred KiB from the mark before an input instead of its segment
// from the start (up to journal.segment_bytes, from the disk: the journal
// drops its pages from the cache as it writes them). The oldest marks go
// first. Under Journal.mu.
type recordMarks struct {
	ring    [maxMarks]recordMark
	n, next int   // marks held; the ring index of the next
	lastOff int64 // offset of the newest mark in the current segment; -1: none yet
}

// newSegment says the next record noted starts a segment (or is the
// first appended since Open): it is marked.
func (m *recordMarks) newSegment() { m.lastOff = -1 }

// note is told where each record appended starts.
func (m *recordMarks) note(seq, segFirst, off int64) {
	if m.lastOff >= 0 && off-m.lastOff < markBytes {
		return
	}
	m.ring[m.next] = recordMark{seq: seq, segFirst: segFirst, off: off}
	m.next = (m.next + 1) % maxMarks
	m.n = min(m.n+1, maxMarks)
	m.lastOff = off
}

// noteRecords notes where the records of data — a segment's bytes from
// its start, every record whole and checked (Open's scan of the last
// segment), the first at offset start — start; the segment's first
// input is first.
func (m *recordMarks) noteRecords(data []byte, start, first int64) {
	m.newSegment()
	seq := first
	for off := start; off+recordHeader <= int64(len(data)); seq++ {
		n := int(binary.LittleEndian.Uint32(data[off:]))
		if n < bodyFixed {
			return
		}
		m.note(seq, first, off)
		off += int64(encodedSize(n - bodyFixed))
	}
}

// before is the newest mark at or before input seq, false with none: seq
// is older than the marks kept (or than the first record appended since
// Open). Marks start each segment since, so it is in seq's segment.
func (m *recordMarks) before(seq int64) (recordMark, bool) {
	for i := 1; i <= m.n; i++ {
		if mk := m.ring[(m.next-i+maxMarks)%maxMarks]; mk.seq <= seq {
			return mk, true
		}
	}
	return recordMark{}, false
}

// RecentChecksum is ChecksumAt for an input among the journal's recent
// records: it reads from the mark before seq (recordMarks), at most
// markBytes and the record. Found false: seq is not after a mark — older
// than the marks kept, in a segment finished before Open, or past the
// journal's end —
// or its segment has been retired since: ChecksumAt reads it the long
// way. seq must be durable (Durable: its bytes are written). Safe beside
// the journaller.
func (j *Journal) RecentChecksum(seq int64) (crc uint32, found bool, err error) {
	j.mu.Lock()
	mark, ok := j.marks.before(seq)
	ok = ok && seq <= j.durable.Load()
	j.mu.Unlock()
	if !ok {
		return 0, false, nil
	}
	name := SegmentName(mark.segFirst)
	f, br, err := readFrom(j.opts.FS, filepath.Join(j.dir, name), mark.off, recentReadBuffer)
	if errors.Is(err, iofs.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("journal: %w", err)
	}
	defer f.Close()
	return checksumFrom(br, name, mark.off, mark.seq, seq)
}

// readFrom opens the segment file at path and reads it from offset off
// through a buffer of size bytes. The caller closes f.
func readFrom(fs vfs.FS, path string, off int64, size int) (f vfs.File, br *bufio.Reader, err error) {
	if f, err = fs.Open(path); err != nil {
		return nil, nil, err
	}
	n, err := f.Size()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, bufio.NewReaderSize(io.NewSectionReader(f, off, n-off), size), nil
}

// recentReadBuffer is RecentChecksum's buffer: a record at most beside
// what it skips, read in 64 KiB pieces.
const recentReadBuffer = recordHeader + bodyFixed + MaxPayload + recordAlign
