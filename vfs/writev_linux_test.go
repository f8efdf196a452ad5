package vfs

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// shortPwritev has pwritev, until the test ends, answer each call as
// answer(call) says, call counting from 0: an error fails the call with
// nothing written (as the system call does), else it writes at most
// limit bytes of what it was handed, with the real pwritev. A call
// handed more than maxVec buffers, or none, fails the test.
func shortPwritev(t *testing.T, answer func(call int) (limit int, err error)) {
	real := pwritev
	t.Cleanup(func() { pwritev = real })
	call := 0
	pwritev = func(fd int, bufs [][]byte, off int64) (int, error) {
		if len(bufs) == 0 || len(bufs) > maxVec {
			t.Errorf("pwritev handed %d buffers, want 1…%d", len(bufs), maxVec)
		}
		limit, err := answer(call)
		call++
		if err != nil {
			return -1, err
		}
		var part [][]byte
		for _, b := range bufs {
			if limit == 0 {
				break
			}
			k := min(len(b), limit)
			part, limit = append(part, b[:k]), limit-k
		}
		return real(fd, part, off)
	}
}

// vecFile makes a file holding "head" and buffers of 0 to 6 bytes, more
// than one pwritev takes (maxVec), every seventh empty, each byte
// numbering its place; want is the file once they are written after
// "head".
func vecFile(t *testing.T) (f *os.File, bufs [][]byte, want []byte) {
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	must(t, err)
	t.Cleanup(func() { f.Close() })
	_, err = f.Write([]byte("head"))
	must(t, err)
	want = []byte("head")
	for i := range maxVec + 37 {
		var b []byte
		for range i % 7 {
			b = append(b, byte(len(want)))
			want = append(want, byte(len(want)))
		}
		bufs = append(bufs, b)
	}
	return f, bufs, want
}

// WriteVecAt resumes a short pwritev where it stopped — past the
// buffers written whole, inside the one cut — and retries one
// interrupted (EINTR), until every byte is in the file, in order, at
// the offset: a byte a call, 5 bytes a call (a cut inside most
// buffers), 1 000 bytes a call (a cut inside a call of maxVec buffers),
// and every other call interrupted.
func TestWriteVecAtResumesShortWrites(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer func(call int) (int, error)
	}{
		{"a byte a call", func(int) (int, error) { return 1, nil }},
		{"5 bytes a call", func(int) (int, error) { return 5, nil }},
		{"1000 bytes a call", func(int) (int, error) { return 1000, nil }},
		{"every other call interrupted", func(call int) (int, error) {
			if call%2 == 0 {
				return 0, syscall.EINTR
			}
			return 5, nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, bufs, want := vecFile(t)
			shortPwritev(t, tc.answer)
			n, err := WriteVecAt(f, bufs, 4)
			if err != nil || n != int64(len(want)-4) {
				t.Fatalf("WriteVecAt: %d bytes, %v; want %d, nil", n, err, len(want)-4)
			}
			got, err := os.ReadFile(f.Name())
			must(t, err)
			if !bytes.Equal(got, want) {
				t.Fatalf("the file holds %d bytes, not the %d written in order (first difference at byte %d)", len(got), len(want), firstDifference(got, want))
			}
		})
	}
}

// A write that fails after short ones returns the bytes written before
// it, which the file holds, with the error naming the file: the
// system's (ENOSPC), or io.ErrShortWrite for a call that wrote nothing
// and said nothing — WriteVecAt does not ask it again for ever.
func TestWriteVecAtFailingAfterShortWrites(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cause error // of the third call; the first two write 5 bytes each
	}{
		{"no space", syscall.ENOSPC},
		{"nothing written", io.ErrShortWrite},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, bufs, want := vecFile(t)
			shortPwritev(t, func(call int) (int, error) {
				switch {
				case call < 2:
					return 5, nil
				case tc.cause == io.ErrShortWrite:
					return 0, nil
				}
				return 0, tc.cause
			})
			n, err := WriteVecAt(f, bufs, 4)
			var pe *os.PathError
			if n != 10 || !errors.Is(err, tc.cause) || !errors.As(err, &pe) || pe.Path != f.Name() {
				t.Fatalf("WriteVecAt: %d bytes, %v; want 10 and an *os.PathError naming %s for %v", n, err, f.Name(), tc.cause)
			}
			got, err := os.ReadFile(f.Name())
			must(t, err)
			if !bytes.Equal(got, want[:14]) {
				t.Fatalf("the file holds %q, want %q", got, want[:14])
			}
		})
	}
}

// firstDifference is the first index where a and b differ, or the
// shorter one's length.
func firstDifference(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
