package journal

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ringex/ringex/vfs"
)

// SegmentName is the file name of the segment whose first input is first.
func SegmentName(first int64) string { return fmt.Sprintf("%020d%s", first, segmentSuffix) }

// listSegments returns the segment file names of dir in order.
func listSegments(fs vfs.FS, dir string) ([]string, error) {
	names, err := fs.List(dir)
	if err != nil {
		return nil, err
	}
	var segs []string
	for _, n := range names {
		if len(n) == segmentNameLen && strings.HasSuffix(n, segmentSuffix) {
			if _, err := strconv.ParseUint(n[:20], 10, 63); err == nil {
				segs = append(segs, n)
			}
		}
	}
	return segs, nil
}

func segmentFirst(name string) int64 {
	v, _ := strconv.ParseInt(name[:20], 10, 64)
	return v
}

// segmentHeader is the header of a new segment (the current version)
// whose first input is first, of the journal whose cluster id is id.
func segmentHeader(first int64, id string) []byte {
	h := make([]byte, headerSize)
	copy(h, segmentMagic)
	binary.LittleEndian.PutUint32(h[4:], formatVersion)
	binary.LittleEndian.PutUint64(h[8:], uint64(first))
	copy(h[idOffset:idOffset+idSize], id)
	binary.LittleEndian.PutUint32(h[headerCRCAt:], crc32.Checksum(h[:headerCRCAt], castagnoli))
	return h
}

// segHeader is what a segment's header says.
type segHeader struct {
	size int64  // the header's length: where the records start
	id   string // the cluster id; "" in a version 1 header, which has none
}

// journalID is the cluster id of the segments read so far, and the first
// of them that carried it: every segment of one journal carries the same
// (a version 1 segment carries none, and agrees with any).
type journalID struct {
	id, file string
	// passed is why newestID found no header that verifies: why it
	// passed over the first it read (the newest's); nil once one
	// verified, a version 1 one too (it carries no id, file stays "").
	passed error
}

// add checks the id of segment file against the others'.
func (c *journalID) add(file, id string) error {
	switch {
	case id == "":
	case c.id == "":
		c.id, c.file = id, file
	case id != c.id:
		return fmt.Errorf("%w: %s carries cluster id %q, %s carries %q: a segment copied in from another cluster's or node's journal? "+
			"Move the segments that are not this journal's out of its directory (`ringex journal inspect` names a journal's id)",
			ErrOtherJournal, file, id, c.file, c.id)
	}
	return nil
}

// readSegment reads a whole segment file into buf's storage when it is
// large enough (a reader moving through segments reuses one buffer).
func readSegment(fs vfs.FS, path string, buf []byte) ([]byte, error) {
	f, err := fs.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return nil, err
	}
	data := buf[:0]
	if int64(cap(data)) < size {
		data = make([]byte, size)
	}
	data = data[:size]
	if _, err := f.ReadAt(data, 0); err != nil && err != io.EOF {
		return nil, err
	}
	return data, nil
}

// checkHeader checks the header of the segment file at path (see
// verifyHeader) without reading its records.
func checkHeader(fs vfs.FS, path string) (segHeader, error) {
	f, err := fs.Open(path)
	if err != nil {
		return segHeader{}, fmt.Errorf("journal: %w", err)
	}
	defer f.Close()
	h := make([]byte, headerSize)
	n, _ := f.ReadAt(h, 0)
	return verifyHeader(h[:n], filepath.Base(path))
}

// checkHeaders checks the headers of the segments names of dir, and that
// they carry one cluster id, into ids.
func checkHeaders(fs vfs.FS, dir string, names []string, ids *journalID) error {
	for _, name := range names {
		h, err := checkHeader(fs, filepath.Join(dir, name))
		if err != nil {
			return err
		}
		if err := ids.add(name, h.id); err != nil {
			return err
		}
	}
	return nil
}

// addLastID checks the id of the last segment, name with bytes data,
// against the others' into ids, before its records are scanned: a
// segment of another journal is that (ErrOtherJournal) whatever its
// records hold — the Reader, which meets the header first, says so too.
// A header that does not verify is left to scanSegment to judge.
func addLastID(ids *journalID, name string, data []byte) error {
	if h, err := verifyHeader(data, name); err == nil {
		return ids.add(name, h.id)
	}
	return nil
}

// verifyHeader checks a segment's header — magic, version, its checksum
// (version 2), and the first sequence its file name gives — and says
// what is wrong, naming the file and offset.
func verifyHeader(data []byte, name string) (segHeader, error) {
	corrupt := func(off int, why string) (segHeader, error) {
		return segHeader{}, fmt.Errorf("%w: %s at offset %d: %s", ErrCorrupt, name, off, why)
	}
	if len(data) < 8 || string(data[:4]) != segmentMagic {
		return corrupt(0, "bad segment header")
	}
	var h segHeader
	switch v := binary.LittleEndian.Uint32(data[4:]); v {
	case 1:
		if len(data) < headerSizeV1 {
			return corrupt(0, "bad segment header")
		}
		h.size = headerSizeV1
	case formatVersion:
		if len(data) < headerSize {
			return corrupt(0, "bad segment header")
		}
		if crc32.Checksum(data[:headerCRCAt], castagnoli) != binary.LittleEndian.Uint32(data[headerCRCAt:]) || !allZero(data[headerCRCAt+4:headerSize]) {
			return corrupt(headerCRCAt, "segment header fails its check (its cluster id, first sequence or version is damaged)")
		}
		h.size = headerSize
		h.id = strings.TrimRight(string(data[idOffset:idOffset+idSize]), "\x00")
	default:
		return corrupt(4, fmt.Sprintf("unknown format version %d", v))
	}
	if first, want := int64(binary.LittleEndian.Uint64(data[8:])), segmentFirst(name); first != want {
		return corrupt(8, fmt.Sprintf("segment starts at sequence %d, its name says %d", first, want))
	}
	return h, nil
}

// tornHeader says whether data, the bytes of a journal's last segment
// whose first input is first, holding a header that does not verify, is
// a header write a crash cut short: no byte written past the header
// (records are appended only after the header is durable, so none was
// acknowledged), and each byte of the header either still zero or what
// the header of such a segment holds there — its magic, version 2, its
// first sequence, zeros after the checksum; any id text and checksum.
// Open truncates it as the torn tail at offset 0 that an all-zero
// segment is (a header lost whole), and writes the header again. A
// version 1 header is never written now; one whose version byte survived
// is not this, and one with a record after it (from offset 16) fails
// the zeros past the header or the id's text.
func tornHeader(data []byte, first int64) bool {
	if !allZero(data[min(len(data), headerSize):]) {
		return false
	}
	want := segmentHeader(first, "")
	for i, b := range data[:min(len(data), headerSize)] {
		switch {
		case b == 0, i >= headerCRCAt && i < headerCRCAt+4:
		case i >= idOffset && i < headerCRCAt:
			if ValidID(string([]byte{b})) != nil {
				return false
			}
		case b != want[i]:
			return false
		}
	}
	return true
}

// segmentScan is what scanning one segment found.
type segmentScan struct {
	head segHeader // size 0: none, the segment all zeros
	end  int64     // offset just after the last good record
	last int64     // sequence of the last good record (first-1 if none)
	torn bool      // the last segment had a torn tail at end
}

// scanSegment checks every record of a segment. expect is the sequence
// its first record must have. In the last segment a bad record with
// nothing valid after it is a torn tail — unless the file ends inside it
// (cutShort: ErrCutShort) — and so is any bad record when unsynced (a
// journal not fdatasynced per batch: what a machine crash lost of it may
// be any of its pages); anything else bad is ErrCorrupt.
// The end of the last segment's data is a zero length followed by zeros
// only: a zero length with bytes after it is a bad record.
func scanSegment(path string, data []byte, expect int64, lastSegment, unsynced bool) (segmentScan, error) {
	corrupt := func(off int64, why string) (segmentScan, error) {
		return segmentScan{}, fmt.Errorf("%w: %s at offset %d: %s", ErrCorrupt, filepath.Base(path), off, why)
	}
	head, err := verifyHeader(data, filepath.Base(path))
	if err != nil && lastSegment && tornHeader(data, segmentFirst(filepath.Base(path))) {
		// Created but the header never reached the disk (all zeros), or
		// only part of it did.
		return segmentScan{end: 0, last: expect - 1, torn: true}, nil
	}
	if err != nil {
		return segmentScan{}, err
	}
	first := int64(binary.LittleEndian.Uint64(data[8:]))
	if first != expect {
		return corrupt(8, fmt.Sprintf("segment starts at sequence %d, want %d", first, expect))
	}
	s := segmentScan{head: head, end: head.size, last: first - 1}
	var r Record
	for off := head.size; off < int64(len(data)); {
		size, res := decodeRecord(data[off:], &r)
		switch {
		case res == decodedEnd && (!lastSegment || allZero(data[off:])):
			return s, nil
		case res == decodedEnd:
			// Zeros where a record starts, data after them: a batch
			// whose fdatasync never finished, its first page lost and
			// later ones written. A bad record: left in place, the bytes
			// after it would be read as records once appends reach them.
		case res == decodedOK && r.Seq == s.last+1:
			s.last, s.end = r.Seq, off+int64(size)
			off += int64(size)
			continue
		case res == decodedOK:
			return segmentScan{}, outOfSequenceError(path, off, r.Seq, s.last+1)
		}
		// A bad record.
		if !lastSegment {
			return corrupt(off, "record fails its check")
		}
		if !unsynced && cutShort(data[off:]) {
			return segmentScan{}, cutShortError(path, off, int64(len(data)))
		}
		if later := findValidAfter(data, off, s.last); later >= 0 && !unsynced {
			return segmentScan{}, tornBatchError(path, off, later)
		}
		s.torn = true
		return s, nil
	}
	return s, nil
}

// tornBatchError refuses the last segment at path, whose bad record at off
// has well-formed records after it from later on: a torn last batch or
// damage, which only the operator can tell apart. Open, and a Reader
// (`ringex journal inspect`, `ringex replay`), say it in the same words,
// naming the tool that mends the first (the segment's directory is the
// journal's).
func tornBatchError(path string, off, later int64) error {
	return fmt.Errorf("%w: %s at offset %d: record fails its check, valid records follow at offset %d (%w); "+
		"if this node lost power while writing its last batch, `ringex journal cut %s` mends it (see its --help)",
		ErrCorrupt, filepath.Base(path), off, later, ErrTornBatch, filepath.Dir(path))
}

// cutShort reports whether the bad record at the start of b, the rest of
// a segment file, runs past the file's end: a record header with fewer
// than its bytes left that are not all zeros, or a length whose body ends
// beyond the last byte. A crash never leaves one: a segment is
// preallocated to its size before a record is written in it (a roll,
// Open, and CutTornBatch, which keeps the size it read), and every record
// is written within it, so what a crash loses reads as zeros inside the
// file. A record the file's end cuts through is a segment shortened
// afterwards — a copy that did not finish, a truncation — whose later
// records, fdatasynced and acknowledged, are gone. A length past
// MaxPayload is garbage, not a record cut short.
func cutShort(b []byte) bool {
	if len(b) < recordHeader {
		return !allZero(b)
	}
	n := int(binary.LittleEndian.Uint32(b))
	return n >= bodyFixed && n <= bodyFixed+MaxPayload && recordHeader+n > len(b)
}

// cutShortError refuses the last segment at path, whose file (size bytes)
// ends inside the record at off (cutShort). Open and a Reader say it in
// the same words. The inputs after it were acknowledged: a copy of the
// segment is the way to get them back, and the cut, which takes out what
// a torn batch left, is named only as the way to give them up.
func cutShortError(path string, off, size int64) error {
	dir := filepath.Dir(path)
	return fmt.Errorf("%w: %s at offset %d: the file ends inside this record, at %d bytes (%w): "+
		"a crash never shortens a segment, which is preallocated before records are written in it, so it was cut short after it was written "+
		"(a copy that did not finish, a truncation) and the inputs after this record, acknowledged ones too, are missing from it; "+
		"copy the segment again from where it came from (the old disk, a backup) and check it with `ringex journal inspect %s`. "+
		"Only if those inputs are lost for good, `ringex journal cut %s` takes this record out, giving them up: their sequences (order ids) are given out again",
		ErrCorrupt, filepath.Base(path), off, size, ErrCutShort, dir, dir)
}

// findValidAfter looks for a well-formed record with a sequence after last
// anywhere past off (records start at multiples of 8).
func findValidAfter(data []byte, off, last int64) int64 {
	var r Record
	for o := off + recordAlign; o+recordHeader <= int64(len(data)); o += recordAlign {
		if _, res := decodeRecord(data[o:], &r); res == decodedOK && r.Seq > last {
			return o
		}
	}
	return -1
}

// zeroChunk is the most zeros zeroRange writes at a time.
const zeroChunk = 64 << 10

// zeroRange writes zeros over the n bytes of f from off: a torn tail or
// a cut's bytes made the end of the data where they lie, the file
// keeping its size (its blocks: nothing to allocate on a full disk).
func zeroRange(f vfs.File, off, n int64) error {
	zeros := make([]byte, min(max(n, 0), zeroChunk))
	for n > 0 {
		k := min(n, int64(len(zeros)))
		if _, err := f.WriteAt(zeros[:k], off); err != nil {
			return err
		}
		off, n = off+k, n-k
	}
	return nil
}
