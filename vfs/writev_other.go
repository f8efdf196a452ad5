//go:build !linux

package vfs

import "os"

// maxVec bounds the buffers of one writeVec call.
const maxVec = 1024

// writeVec writes bufs at off with a WriteAt each: no pwritev here.
func writeVec(f *os.File, bufs [][]byte, off int64) (int64, error) {
	var total int64
	for _, b := range bufs {
		n, err := f.WriteAt(b, off+total)
		total += int64(n)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}
