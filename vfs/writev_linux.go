package vfs

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// maxVec is the most buffers one pwritev takes (IOV_MAX on Linux).
const maxVec = 1024

// pwritev is the system call writeVec makes; a variable so that a test
// can have it write short or fail (writev_linux_test.go), which a
// regular file's pwritev does not do on demand.
var pwritev = unix.Pwritev

// writeVec is one pwritev of bufs at off, retried on EINTR, through the
// file's raw descriptor (held open for the call).
func writeVec(f *os.File, bufs [][]byte, off int64) (int64, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, &os.PathError{Op: "write", Path: f.Name(), Err: err}
	}
	var n int
	var werr error
	if err := rc.Write(func(fd uintptr) bool {
		for {
			n, werr = pwritev(int(fd), bufs, off)
			if werr != syscall.EINTR {
				return true
			}
		}
	}); err != nil {
		return 0, &os.PathError{Op: "write", Path: f.Name(), Err: err}
	}
	if werr != nil {
		return int64(max(n, 0)), &os.PathError{Op: "write", Path: f.Name(), Err: werr}
	}
	return int64(n), nil
}
