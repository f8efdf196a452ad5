package output

import "sync"

// frames are bytes queued in an outbox (staged or pending): whole chunks
// first, in order, then tail, which frames are appended to.
//
// A burst — one session's mass cancel, ~15 MB of reports in one batch —
// was appended to one buffer grown ~1.25× at a time: ~5× its size in
// fresh allocations, which the kernel zeroes and faults in, ~350 ms for
// 15 MB on the dev VM against under a millisecond into memory already in
// use, while every other session's reports waited behind the execution
// sender. Now a tail that reaches chunkSize is sealed into chunks and the
// next one comes from chunkPool: a burst takes its size once, in chunks
// the writer gives back once written, and Commit links chunks instead of
// copying them. A session that keeps up still holds one small tail.
//
// Invariant: n == the sum of len(chunks[i]) plus len(tail).
type frames struct {
	chunks [][]byte
	tail   []byte
	n      int
}

// chunkSize is the size of a sealed chunk: a tail is sealed once a frame
// would take it past chunkSize. As large as stallChunk, so the writer
// writes a chunk with one Write under a stall bound too.
const chunkSize = stallChunk

// chunkPool holds chunks (of capacity chunkSize) that writers have
// written, for the next burst of any outbox. A sync.Pool: what a burst
// left there goes back to the heap within two collections.
var chunkPool sync.Pool

func newChunk() []byte {
	if c, ok := chunkPool.Get().(*[]byte); ok {
		return (*c)[:0]
	}
	return make([]byte, 0, chunkSize)
}

// freeChunk gives c back to the pool if it is one of its chunks (a tail
// grown elsewhere, or by one large frame, is left to the collector).
func freeChunk(c []byte) {
	if cap(c) == chunkSize {
		c = c[:0]
		chunkPool.Put(&c)
	}
}

// sealFor seals the tail into chunks, giving it a fresh chunk to append
// to, when adding more bytes would take it past chunkSize, or grow a
// tail of sealMin or more: a tail is grown by append only while it is
// small, never copied into ever larger fresh buffers.
func (f *frames) sealFor(more int) {
	if n := len(f.tail) + more; len(f.tail) > 0 && (n > chunkSize || n > cap(f.tail) && cap(f.tail) >= sealMin) {
		f.chunks = append(f.chunks, f.tail)
		f.tail = newChunk()
	}
}

// sealMin is the smallest tail sealed rather than grown.
const sealMin = 32 << 10

// add appends b.
func (f *frames) add(b []byte) {
	f.sealFor(len(b))
	f.tail = append(f.tail, b...)
	f.n += len(b)
}

// take moves s's frames after f's, leaving s empty: by swapping the two
// when f is empty, by copying s into f's tail when it holds no more
// than a chunk, else (a burst) by linking s's chunks and tail after
// f's. s keeps no buffer larger than keepBytes.
func (f *frames) take(s *frames) {
	switch {
	case f.n == 0 && len(f.chunks) == 0 && cap(f.tail) <= keepBytes:
		// Not a large buffer: staged is out of the writer's reach, and
		// the writer lets go of those.
		*f, *s = *s, *f
	case len(s.chunks) == 0 && len(s.tail) <= chunkSize:
		f.sealFor(len(s.tail))
		f.tail = append(f.tail, s.tail...)
		f.n += s.n
	default:
		old := f.tail
		if len(old) > 0 {
			f.chunks = append(f.chunks, old)
			old = nil
		}
		f.chunks = append(f.chunks, s.chunks...)
		clear(s.chunks)
		s.chunks = s.chunks[:0]
		f.tail, s.tail = s.tail, old
		f.n += s.n
	}
	s.n = 0
	s.tail = s.tail[:0]
	if cap(s.tail) > keepBytes {
		s.tail = nil
	}
}

// prepend puts b ahead of every frame.
func (f *frames) prepend(b []byte) {
	if len(f.chunks) == 0 {
		f.tail = append(append(make([]byte, 0, len(b)+len(f.tail)), b...), f.tail...)
	} else {
		f.chunks = append([][]byte{append([]byte(nil), b...)}, f.chunks...)
	}
	f.n += len(b)
}

// reset empties f, giving its chunks back to the pool, keeping its tail
// for reuse.
func (f *frames) reset() {
	for _, c := range f.chunks {
		freeChunk(c)
	}
	clear(f.chunks)
	f.chunks = f.chunks[:0]
	f.tail = f.tail[:0]
	f.n = 0
}
