package vfs

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ResidentPages reports how many pages of the file's first size bytes are
// in the page cache (mincore). For tests and diagnostics.
func ResidentPages(f *os.File, size int64) (int, error) {
	if size <= 0 {
		return 0, nil
	}
	m, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return 0, err
	}
	defer unix.Munmap(m)
	vec := make([]byte, (size+pageSize-1)/pageSize)
	if _, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(size), uintptr(unsafe.Pointer(&vec[0]))); e != 0 {
		return 0, e
	}
	resident := 0
	for _, v := range vec {
		resident += int(v & 1)
	}
	return resident, nil
}

// OnTmpfs reports whether path is on a tmpfs, whose pages are the file's
// only copy: DropCache leaves them.
func OnTmpfs(path string) bool {
	var st unix.Statfs_t
	return unix.Statfs(path, &st) == nil && st.Type == unix.TMPFS_MAGIC
}
