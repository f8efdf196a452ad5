package proto

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// PrefixSize is the size of a frame's length prefix.
const PrefixSize = 4

// Framing errors.
var (
	ErrFrameTooLarge = errors.New("proto: frame too large")
	ErrEmptyFrame    = errors.New("proto: empty frame")
	ErrTruncated     = errors.New("proto: truncated frame")
)

// FrameReader reads frames from a stream, reusing one buffer.
// Not safe for concurrent use.
type FrameReader struct {
	r   *bufio.Reader
	max int
	buf []byte
	hdr [PrefixSize]byte
	// A frame a read error (a deadline) interrupted: nh bytes of its
	// prefix and np of its payload are in hdr and buf. The next call
	// carries on with it, so the stream keeps its framing.
	nh, np int
}

// NewFrameReader reads frames of at most maxFrame payload bytes from r,
// through a 64 KiB read buffer: an order-entry session's bursts of
// frames are read a buffer at a time and returned in place.
func NewFrameReader(r io.Reader, maxFrame int) *FrameReader {
	return NewFrameReaderSize(r, maxFrame, 64<<10)
}

// NewFrameReaderSize reads frames of at most maxFrame payload bytes from
// r through a read buffer of bufSize bytes (at least 16), what each
// reader holds for its life: a port with many connections sending few,
// small frames (the market-data port) sizes it to its frame limit plus
// the prefix, not 64 KiB each. A frame larger than the buffer is read
// past it, into a buffer of its own the reader keeps and reuses.
func NewFrameReaderSize(r io.Reader, maxFrame, bufSize int) *FrameReader {
	return &FrameReader{r: bufio.NewReaderSize(r, bufSize), max: maxFrame}
}

// FrameBuffered reports whether a whole frame is already in the reader's
// buffer, so that Next will return without reading the stream.
func (f *FrameReader) FrameBuffered() bool {
	n := f.r.Buffered()
	if n < PrefixSize {
		return false
	}
	hdr, err := f.r.Peek(PrefixSize) // within the buffer: reads nothing
	if err != nil {
		return false
	}
	return uint64(n) >= PrefixSize+uint64(binary.LittleEndian.Uint32(hdr))
}

// Next returns the next frame's payload, valid until the next call. At a
// clean end of stream it returns io.EOF; a stream that ends inside a frame
// gives ErrTruncated. After ErrFrameTooLarge or ErrEmptyFrame the stream
// cannot be resynchronized: the caller closes it.
//
// A frame already whole in the read buffer is returned in place, not
// copied out: the buffer holds it until the reader next reads the stream,
// which only Next does. Either way its capacity is its length, so an
// append cannot write over what follows it.
func (f *FrameReader) Next() ([]byte, error) {
	if buffered := f.r.Buffered(); f.nh == 0 && buffered >= PrefixSize {
		b, _ := f.r.Peek(buffered) // within the buffer: reads nothing
		n := uint64(binary.LittleEndian.Uint32(b))
		if n != 0 && n <= uint64(f.max) && uint64(buffered) >= PrefixSize+n {
			end := PrefixSize + int(n)
			_, _ = f.r.Discard(end) // within the buffer: reads nothing, moves no byte
			return b[PrefixSize:end:end], nil
		}
	}
	if f.nh < PrefixSize {
		k, err := io.ReadFull(f.r, f.hdr[f.nh:])
		f.nh += k
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) || (f.nh > 0 && errors.Is(err, io.EOF)) {
				return nil, ErrTruncated
			}
			return nil, err
		}
		f.np = 0
	}
	n := binary.LittleEndian.Uint32(f.hdr[:])
	switch {
	case n == 0:
		return nil, ErrEmptyFrame
	case uint64(n) > uint64(f.max):
		return nil, fmt.Errorf("%w: %d bytes, maximum %d", ErrFrameTooLarge, n, f.max)
	}
	if f.np == 0 {
		if cap(f.buf) < int(n) {
			f.buf = make([]byte, n, max(int(n), min(f.max, 4096)))
		}
		f.buf = f.buf[:n]
	}
	k, err := io.ReadFull(f.r, f.buf[f.np:n])
	f.np += k
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, ErrTruncated
		}
		return nil, err
	}
	f.nh, f.np = 0, 0
	return f.buf[:n:n], nil
}

// MidFrame reports whether the last Next was interrupted (a deadline)
// in the middle of a frame: part of it was read, the rest did not come.
func (f *FrameReader) MidFrame() bool { return f.nh > 0 }

// Buffered reports whether bytes are waiting in the reader's buffer (so a
// reader can batch frames before flushing work).
func (f *FrameReader) Buffered() int { return f.r.Buffered() }

// AppendFrame appends payload as one frame to dst.
func AppendFrame(dst, payload []byte) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(payload)))
	return append(dst, payload...)
}
