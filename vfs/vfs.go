package vfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"syscall"

	"github.com/rs/zerolog"
)

// File is an open file.
type File interface {
	io.ReaderAt
	io.WriterAt
	io.Closer
	// Sync flushes the file's data to stable storage (fdatasync).
	Sync() error
	// WriteOut writes the dirty cached bytes of [off, off+n) to the disk
	// and waits for them (sync_file_range WAIT_BEFORE|WRITE|WAIT_AFTER).
	// Not durable — the file's metadata and the disk's own cache are not
	// flushed; Sync still must follow — but it keeps what Sync will have
	// to flush small. An error is a write error: the data may be lost, and
	// a later Sync need not report it again.
	WriteOut(off, n int64) error
	Truncate(size int64) error
	// Preallocate reserves size bytes on disk (they read as zeros).
	Preallocate(size int64) error
	Size() (int64, error)
	// DropCache says the bytes in [off, off+n) will not be read soon: the
	// OS drops the cached pages wholly inside the range that are written
	// back — Linux also the partial page at its end when the range ends at
	// the file's size — and starts writing back the dirty ones (fadvise
	// DONTNEED). A hint: the data is unchanged, and nothing fails. See
	// CacheTrimmer.
	DropCache(off, n int64)
}

// FS is a filesystem.
type FS interface {
	Create(name string) (File, error) // read-write, must not exist yet
	OpenReadWrite(name string) (File, error)
	Open(name string) (File, error) // read-only
	// List returns the names in dir, sorted.
	List(dir string) ([]string, error)
	Remove(name string) error
	Rename(oldname, newname string) error
	// MkdirAll makes dir and its missing parents, each made durable in
	// its parent (the parent fsynced) before the next: files synced into
	// a directory whose own entry a crash lost are lost with it.
	MkdirAll(dir string) error
	SyncDir(dir string) error
}

// FileMode and DirMode are the permissions of every file and directory
// the node creates: its owner's only.
const (
	FileMode fs.FileMode = 0o600
	DirMode  fs.FileMode = 0o700
)

// Default is the operating system's filesystem.
var Default FS = osFS{}

// Weaker says, in words for an operator, what Default does less well on
// this operating system than on Linux, whose calls the contract names;
// empty on Linux. Nothing in it loses data: Sync and SyncDir still make
// durable what they say they do, or fail.
const Weaker = weaker

// Unsafe is nil where Default keeps the contract, else the error saying
// what it cannot keep (ErrNoDirSync on Windows). A node refuses to start
// on such a system: it would acknowledge inputs a crash could lose.
var Unsafe = dirSyncErr

type osFS struct{}

type osFile struct{ *os.File }

// FromOS is f as a File, for code that opens its files with package os.
func FromOS(f *os.File) File { return osFile{f} }

func (osFS) Create(name string) (File, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, FileMode)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

func (osFS) OpenReadWrite(name string) (File, error) {
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

func (osFS) Open(name string) (File, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

func (osFS) List(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names, nil
}

func (osFS) Remove(name string) error             { return os.Remove(name) }
func (osFS) Rename(oldname, newname string) error { return os.Rename(oldname, newname) }
func (fs osFS) MkdirAll(dir string) error         { return MkdirAllDurable(dir) }

// OpenRegular opens path with flag (package os's) for a file that must
// be a regular one: opened without blocking (O_NONBLOCK: a FIFO with no
// writer would block for good) and checked on the open file, not by a
// Stat before it that a rename could outdate. Anything else is closed
// and refused. Add syscall.O_NOFOLLOW to flag to refuse a link too.
func OpenRegular(path string, flag int, perm os.FileMode) (*os.File, error) {
	f, err := os.OpenFile(path, flag|syscall.O_NONBLOCK, perm)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err == nil && !st.Mode().IsRegular() {
		err = fmt.Errorf("%s is not a regular file (%s)", path, st.Mode().Type())
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// WriteFileAtomic replaces path with a file holding b, durably, so a
// crash leaves the old content or the new, never a part (for small files
// written with package os: marks, the raft stable store): ReplaceFile on
// the OS, through path.tmp. A .tmp an older build left (0644) is removed,
// not reused: the new one is made FileMode.
func WriteFileAtomic(path string, b []byte) error {
	return ReplaceFile(Default, path, path+".tmp", b)
}

// ReplaceFile replaces path with a file holding b through fs, durably:
// tmp (beside path) written, fsynced, renamed over path, the directory
// fsynced. A leftover of a crash at tmp is removed first (Create makes
// only a new file), and a failure removes tmp again and leaves path as
// it was.
func ReplaceFile(fs FS, path, tmp string, b []byte) error {
	fs.Remove(tmp)
	f, err := fs.Create(tmp)
	if err != nil {
		return err
	}
	_, err = f.WriteAt(b, 0)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = fs.Rename(tmp, path)
	}
	if err == nil {
		err = fs.SyncDir(filepath.Dir(path))
	}
	if err != nil {
		fs.Remove(tmp)
	}
	return err
}

// MkdirAllDurable is MkdirAll for code that works with package os.
func MkdirAllDurable(dir string) error { return mkdirAllDurable(dir, osFS{}.SyncDir) }

// RemoveAllDurable is os.RemoveAll made durable: path's removal from its
// parent is fsynced, so a power cut cannot bring back what was removed —
// a commit marker, say, beside files written after it was removed.
func RemoveAllDurable(path string) error { return removeAllDurable(path, osFS{}.SyncDir) }

// removeAllDurable removes path, and everything below it, then fsyncs its
// parent (syncDir), whether or not path was there: a removal a crash cut
// short of that fsync may have been seen by the run before.
func removeAllDurable(path string, syncDir func(string) error) error {
	path = filepath.Clean(path)
	if err := os.RemoveAll(path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// mkdirAllDurable makes every missing level of dir and, each time,
// fsyncs every level's parent, those that existed too (syncDir): a level
// made by a run that a crash stopped between its mkdir and that fsync
// (or by another process not done yet) is there, and a power cut could
// still take it away, with every file fsynced below it. On return every
// level it made is durable in its parent, and every other one too as far
// as the parent can be fsynced. (A few fsyncs of unchanged directories,
// at a start.)
func mkdirAllDurable(dir string, syncDir func(string) error) error {
	dir = filepath.Clean(dir)
	parent := filepath.Dir(dir)
	if parent == dir {
		return nil // the root
	}
	if err := mkdirAllDurable(parent, syncDir); err != nil {
		return err
	}
	st, err := os.Stat(dir)
	switch {
	case err == nil && !st.IsDir():
		return &os.PathError{Op: "mkdir", Path: dir, Err: syscall.ENOTDIR}
	case err == nil:
		// There before: best effort, never worse than taking it as
		// durable — a parent this user may not read (a home directory
		// others may only pass through), a read-only root, are left
		// as they are.
		_ = syncDir(parent)
		return nil
	}
	if err := os.Mkdir(dir, DirMode); err != nil && !os.IsExist(err) {
		return err
	}
	return syncDir(parent)
}

// TightenDir takes every permission of other users (group and others)
// off dir, which then closes everything below it to them, whatever its
// own mode (files an older build made 0644 in a directory it made 0755).
// It returns dir's mode before, and whether it changed it.
func TightenDir(dir string) (was fs.FileMode, changed bool, err error) {
	st, err := os.Stat(dir)
	if err != nil {
		return 0, false, err
	}
	was = st.Mode().Perm()
	if was&^DirMode == 0 {
		return was, false, nil
	}
	if err := os.Chmod(dir, was&DirMode); err != nil {
		return was, false, err
	}
	return was, true, nil
}

// CloseToOthers closes dir to other local users (TightenDir) and warns on
// log, naming it what ("node: a data directory"), when it found it open:
// closed now, or, failing that, to be closed by hand. The warning says
// what was so and not why: an older build made its directories 0755, and
// so does an operator's mkdir under the usual umask. A dir that does not
// exist is left to whoever makes it.
func CloseToOthers(dir, what string, log zerolog.Logger) {
	was, changed, err := TightenDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		log.Warn().Err(err).Str("dir", dir).Str("mode", was.String()).
			Msg(what + " is open to other local users (they may read the orders in it) and could not be closed: chmod 0700 it")
	case changed:
		log.Warn().Str("dir", dir).Str("was", was.String()).Str("now", (was & DirMode).String()).
			Msg(what + " was open to other local users (they could read the orders in it): closed to them now")
	}
}

func (f osFile) Size() (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}
