package vfs

import (
	"errors"
	"sync"
	"syscall"
)

// Op names a file operation for fault injection.
type Op uint8

const (
	OpWrite Op = iota + 1
	OpSync
	OpSyncDir
	OpCreate
	OpRename
	OpPreallocate
	OpWriteOut
	// Crash points of a CrashFS that an ErrorFS does not fail.
	OpRemove
	OpMkdirAll
	OpTruncate
)

// ErrInjected is the error an ErrorFS injects (unless told to inject
// another, like syscall.ENOSPC).
var ErrInjected = errors.New("vfs: injected fault")

// ErrorFS wraps an FS and fails chosen operations: after skip successful
// calls of Op, the next call fails with Err (and every later one too when
// Sticky). A failing write can be made short: it writes ShortBytes of its
// data first.
type ErrorFS struct {
	FS
	mu         sync.Mutex
	Op         Op
	Skip       int
	Err        error
	Sticky     bool
	ShortBytes int
	fired      bool
}

// Fired reports whether a fault was injected.
func (e *ErrorFS) Fired() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.fired
}

func (e *ErrorFS) fail(op Op) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if op != e.Op || (e.fired && !e.Sticky) {
		return nil
	}
	if e.Skip > 0 {
		e.Skip--
		return nil
	}
	e.fired = true
	if e.Err != nil {
		return e.Err
	}
	return ErrInjected
}

// DiskFull returns an ErrorFS whose writes fail with ENOSPC after skip
// successful writes.
func DiskFull(fs FS, skip int) *ErrorFS {
	return &ErrorFS{FS: fs, Op: OpWrite, Skip: skip, Err: syscall.ENOSPC, Sticky: true}
}

func (e *ErrorFS) Create(name string) (File, error) {
	if err := e.fail(OpCreate); err != nil {
		return nil, err
	}
	f, err := e.FS.Create(name)
	if err != nil {
		return nil, err
	}
	return errFile{File: f, fs: e}, nil
}

func (e *ErrorFS) OpenReadWrite(name string) (File, error) {
	f, err := e.FS.OpenReadWrite(name)
	if err != nil {
		return nil, err
	}
	return errFile{File: f, fs: e}, nil
}

func (e *ErrorFS) Rename(oldname, newname string) error {
	if err := e.fail(OpRename); err != nil {
		return err
	}
	return e.FS.Rename(oldname, newname)
}

func (e *ErrorFS) SyncDir(dir string) error {
	if err := e.fail(OpSyncDir); err != nil {
		return err
	}
	return e.FS.SyncDir(dir)
}

type errFile struct {
	File
	fs *ErrorFS
}

func (f errFile) WriteAt(p []byte, off int64) (int, error) {
	if err := f.fs.fail(OpWrite); err != nil {
		n := min(f.fs.ShortBytes, len(p))
		if n > 0 {
			n, _ = f.File.WriteAt(p[:n], off)
		}
		return n, err
	}
	return f.File.WriteAt(p, off)
}

func (f errFile) Sync() error {
	if err := f.fs.fail(OpSync); err != nil {
		return err
	}
	return f.File.Sync()
}

func (f errFile) WriteOut(off, n int64) error {
	if err := f.fs.fail(OpWriteOut); err != nil {
		return err
	}
	return f.File.WriteOut(off, n)
}

func (f errFile) Preallocate(size int64) error {
	if err := f.fs.fail(OpPreallocate); err != nil {
		return err
	}
	return f.File.Preallocate(size)
}

// FailOpen wraps an FS whose read-only opens (Open) of the file at Path
// fail with Err: a file that cannot be read — a read error, too many open
// files, another owner's — beside files that can.
type FailOpen struct {
	FS
	Path string
	Err  error
}

func (f *FailOpen) Open(name string) (File, error) {
	if name == f.Path {
		return nil, f.Err
	}
	return f.FS.Open(name)
}
