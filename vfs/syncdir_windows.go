package vfs

import (
	"errors"
	"os"
)

// ErrNoDirSync is SyncDir's error on Windows, which has no fsync of a
// directory: os.Open gives a directory handle FlushFileBuffers refuses,
// and os.Rename does not ask MoveFileEx to write through, so a file
// created, renamed or removed may come back or go after a power cut,
// however it was synced.
var ErrNoDirSync = errors.New("vfs: a directory cannot be fsynced on windows")

// A snapshot renamed into place, a journal segment created, could be
// lost with everything fsynced into them: see Unsafe.
var dirSyncErr error = ErrNoDirSync

func (osFS) SyncDir(dir string) error {
	return &os.PathError{Op: "syncdir", Path: dir, Err: ErrNoDirSync}
}
