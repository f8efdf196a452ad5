//go:build !linux

package vfs

import (
	"errors"
	"os"
)

// ResidentPages is errors.ErrUnsupported: mincore is not on every
// system, and DropCache drops nothing here (osfile_other.go) for a test
// to see.
func ResidentPages(f *os.File, size int64) (int, error) { return 0, errors.ErrUnsupported }

// OnTmpfs is false: only Linux's tmpfs is known to keep its pages.
func OnTmpfs(path string) bool { return false }

// ReserveAhead does nothing: fallocate is Linux's, and appends allocate
// as they go.
func ReserveAhead(f *os.File, size int64) {}
