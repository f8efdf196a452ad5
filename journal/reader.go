package journal

import (
	"fmt"
	"io"
	"path/filepath"

	"github.com/ringex/ringex/vfs"
)

// Reader iterates a journal's records in sequence order from a given
// sequence, checking every CRC. It reads segments whole, one at a time.
type Reader struct {
	fs         vfs.FS
	dir        string
	segs       []string
	idx        int
	data       []byte
	off        int64
	next       int64 // sequence expected next
	first      int64 // first sequence wanted
	lastSegIdx int
	prefetched int // the last segment asked for ahead (willNeed)
}

// readAhead is how many segments a Reader has the OS fetch ahead of the
// one it reads.
const readAhead = 4

// NewReader opens dir for reading from sequence from (0: the start).
func NewReader(dir string, fs vfs.FS, from int64) (*Reader, error) {
	if fs == nil {
		fs = vfs.Default
	}
	segs, err := listSegments(fs, dir)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	r := &Reader{fs: fs, dir: dir, segs: segs, idx: -1, first: from}
	// Start at the last segment whose first sequence is <= from.
	start := 0
	for i, s := range segs {
		if segmentFirst(s) <= from {
			start = i
		}
	}
	r.idx, r.prefetched = start-1, start-1
	r.lastSegIdx = len(segs) - 1
	return r, nil
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
					return fmt.Errorf("%w: %s at offset %d: sequence %d, want %d", ErrCorrupt, r.segs[r.idx], r.off, rec.Seq, r.next)
				}
				r.off += int64(size)
				r.next = rec.Seq + 1
				if rec.Seq < r.first {
					continue
				}
				return nil
			case decodedBad:
				if r.idx == r.lastSegIdx && findValidAfter(r.data, r.off, r.next-1) < 0 {
					return io.EOF // torn tail, as Open would truncate it
				}
				return fmt.Errorf("%w: %s at offset %d", ErrCorrupt, r.segs[r.idx], r.off)
			}
			// decodedEnd: on to the next segment.
		}
		r.idx++
		if r.idx >= len(r.segs) {
			return io.EOF
		}
		// Have the OS fetch the segments ahead while this one is read
		// and used: a restart after a crash finds the journal on disk,
		// not in the cache.
		for i := max(r.idx+1, r.prefetched+1); i < min(r.idx+1+readAhead, len(r.segs)); i++ {
			willNeed(r.fs, filepath.Join(r.dir, r.segs[i]))
			r.prefetched = i
		}
		path := filepath.Join(r.dir, r.segs[r.idx])
		data, err := readSegment(r.fs, path, r.data)
		if err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		if r.idx == r.lastSegIdx && allZero(data) {
			return io.EOF // a roll the header never reached the disk for
		}
		if err := verifyHeader(data, r.segs[r.idx]); err != nil {
			return err
		}
		first := segmentFirst(r.segs[r.idx])
		if r.next != 0 && first != r.next {
			return fmt.Errorf("%w: %s: starts at sequence %d, want %d", ErrCorrupt, r.segs[r.idx], first, r.next)
		}
		r.data, r.off = data, headerSize
	}
}

// Stats summarizes a journal for `ringex journal inspect`.
type Stats struct {
	Segments     int
	Records      int64
	FirstSeq     int64
	LastSeq      int64
	PayloadBytes int64
}

// Inspect reads every record of the journal in dir, verifying every CRC
// and sequence. With each non-nil it is called with every record (valid
// until it returns).
func Inspect(dir string, fs vfs.FS, each func(*Record)) (Stats, error) {
	r, err := NewReader(dir, fs, 0)
	if err != nil {
		return Stats{}, err
	}
	st := Stats{Segments: len(r.segs)}
	var rec Record
	for {
		err := r.Next(&rec)
		if err == io.EOF {
			return st, nil
		}
		if err != nil {
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
