package journal

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"path/filepath"

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
// through a small buffer, never the whole file at once: a node calls it
// for each snapshot it writes, beside the engine. A bad record before
// seq, or at it, is an error wrapping ErrCorrupt.
func ChecksumAt(dirs []string, fs vfs.FS, seq int64) (crc uint32, found bool, err error) {
	if fs == nil {
		fs = vfs.Default
	}
	var path string
	var first int64
	for _, dir := range dirs {
		names, err := listSegments(fs, dir)
		if err != nil && !errors.Is(err, iofs.ErrNotExist) {
			return 0, false, fmt.Errorf("journal: %w", err)
		}
		for _, n := range names {
			if f := segmentFirst(n); f <= seq && f >= first {
				path, first = filepath.Join(dir, n), f
			}
		}
	}
	if path == "" {
		return 0, false, nil
	}
	f, err := fs.Open(path)
	if err != nil {
		return 0, false, fmt.Errorf("journal: %w", err)
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return 0, false, fmt.Errorf("journal: %w", err)
	}
	br := bufio.NewReaderSize(io.NewSectionReader(f, 0, size), checksumReadBuffer)
	name := filepath.Base(path)
	head, err := br.Peek(headerSize)
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, false, fmt.Errorf("journal: %s: %w", name, err)
	}
	if err := verifyHeader(head, name); err != nil {
		return 0, false, err
	}
	off := int64(headerSize)
	br.Discard(headerSize)
	for at := first; ; at++ {
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
		b, _ = br.Peek(min(size, checksumReadBuffer))
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
