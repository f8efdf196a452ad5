package vfs

import (
	"errors"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// On Linux, Default does what the contract names: nothing is weaker.
const weaker = ""

func (f osFile) Sync() error { return syscall.Fdatasync(int(f.Fd())) }

func (f osFile) WriteOut(off, n int64) error {
	const all = unix.SYNC_FILE_RANGE_WAIT_BEFORE | unix.SYNC_FILE_RANGE_WRITE | unix.SYNC_FILE_RANGE_WAIT_AFTER
	err := unix.SyncFileRange(int(f.Fd()), off, n, all)
	if errors.Is(err, syscall.ENOSYS) || errors.Is(err, syscall.EINVAL) {
		return nil // not this system's or file's: Sync flushes it all
	}
	return err
}

// Preallocate's error names the file, as the os package's do (an
// *os.PathError): a full disk's ENOSPC says which file it was refused.
func (f osFile) Preallocate(size int64) error {
	err := syscall.Fallocate(int(f.Fd()), 0, 0, size)
	if errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ENOSYS) {
		return f.File.Truncate(size) // sparse, still reads as zeros
	}
	if err != nil {
		return &os.PathError{Op: "fallocate", Path: f.Name(), Err: err}
	}
	return nil
}

func (f osFile) DropCache(off, n int64) {
	_ = unix.Fadvise(int(f.Fd()), off, n, unix.FADV_DONTNEED) // a hint; an error changes nothing
}
