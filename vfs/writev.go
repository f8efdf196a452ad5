package vfs

import (
	"io"
	"os"
)

// WriteVecAt writes bufs, in order, as one run of bytes at off — what
// WriteAt of their concatenation writes — and returns the bytes written:
// all of them, or fewer with the error that stopped it (an
// *os.PathError naming the file, as WriteAt's). It may reslice bufs'
// elements: the caller's scratch. Where the system has pwritev (Linux)
// it writes them with one call per maxVec buffers and copies nothing;
// elsewhere it calls WriteAt for each.
//
// Why: the raft log's StoreLogs copied every entry's data into one
// buffer for one WriteAt — a second pass over every input byte on every
// member, a tenth of the log's CPU in BenchmarkLogStoreLargeWrites'
// profile (2026-12-07); the kernel copies from the entries as they are.
func WriteVecAt(f *os.File, bufs [][]byte, off int64) (int64, error) {
	var total int64
	for len(bufs) > 0 {
		if len(bufs[0]) == 0 {
			bufs = bufs[1:]
			continue
		}
		n, err := writeVec(f, bufs[:min(len(bufs), maxVec)], off+total)
		total += n
		if err != nil {
			return total, err
		}
		if n == 0 {
			return total, &os.PathError{Op: "write", Path: f.Name(), Err: io.ErrShortWrite}
		}
		// Past what was written: a short write resumes inside a buffer.
		for n > 0 && len(bufs) > 0 {
			k := min(int64(len(bufs[0])), n)
			bufs[0], n = bufs[0][k:], n-k
			if len(bufs[0]) == 0 {
				bufs = bufs[1:]
			}
		}
	}
	return total, nil
}
