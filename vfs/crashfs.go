package vfs

import (
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
)

var crashOpNames = map[Op]string{
	OpWrite: "write", OpSync: "sync", OpSyncDir: "syncdir", OpCreate: "create", OpRename: "rename",
	OpPreallocate: "preallocate", OpRemove: "remove", OpMkdirAll: "mkdir", OpTruncate: "truncate",
}

// CrashFS is an in-memory FS for crash tests. Besides the files as the
// program sees them, it tracks what a power loss would leave: a file's
// bytes as of its last Sync, a directory's entries as of its last SyncDir
// (MkdirAll is durable at once, as FS promises). Crash returns that image
// as a new CrashFS, for a test to recover from.
//
// Every call that changes the filesystem — Create, Remove, Rename,
// MkdirAll when it makes a directory, SyncDir, and a File's WriteAt, Sync,
// Truncate and Preallocate — is a crash point, numbered from 1 in the
// order the calls take the FS's lock. BeforeOp sees each before it takes
// effect, so one run of a program can yield the image a crash at every
// point would leave. A call that fails (a missing file) is not a point.
//
// It models the calls the journal and snapshot code make, not a whole
// filesystem, and a crash simply: unsynced writes to a file are kept all
// or none (CrashKeep.Data) — never some pages and not others, nor a write
// torn within itself; a rename is one directory change, kept or lost
// whole, but between directories it shows in each as of that directory's
// last SyncDir, so a crash between the two can leave the file under both
// names.
//
// A Sync that FailSync fails behaves as Linux's does (ext4 since 4.13):
// the pages it could not write stay in the cache, marked clean — reads
// still return them, but no later Sync writes them, until they are
// written again — and a power loss finds them as they were on disk.
type CrashFS struct {
	// BeforeOp, when set, is called at every crash point before its
	// operation takes effect, with the FS locked: it may use op, but not
	// call the FS.
	BeforeOp func(op CrashOp)
	// FailSync, when set, is asked before every file Sync, with the FS
	// locked: true fails it with EIO, losing the writeback of every page
	// written since the last Sync that succeeded.
	FailSync func(path string) bool

	mu      sync.Mutex
	dirs    map[string]map[string]*crashInode // entries now, by directory
	durable map[string]map[string]*crashInode // entries as of the directory's last SyncDir
	// unsynced are the directory changes not yet made durable, oldest
	// first. Invariant: made in order on durable, they give dirs.
	unsynced [][]dirEntry
	ops      int // crash points so far
}

// CrashKeep says what a crash keeps beyond what was made durable. The
// zero value is a power loss that keeps nothing more; with Entries and
// Data, it is a process crash (the OS still has every write).
type CrashKeep struct {
	Entries bool // every directory change, synced or not
	Data    bool // every byte written, synced or not
	// DropEntry n > 0, with Entries, keeps every directory change but the
	// n-th of those not synced, oldest first (CrashOp.UnsyncedEntries
	// counts them): a filesystem that made a later change durable before
	// an earlier one, as POSIX allows.
	DropEntry int
}

// CrashOp is a crash point: an operation about to change a CrashFS.
type CrashOp struct {
	N       int // 1 for the FS's first
	Op      Op
	Path    string // the file or directory it changes
	NewPath string // a rename's new name
	// UnsyncedEntries is the number of directory changes not yet synced.
	UnsyncedEntries int
	fs              *CrashFS
}

// Crash returns what a crash just before the operation would leave. Call
// it only from the BeforeOp call that passed op.
func (op CrashOp) Crash(keep CrashKeep) *CrashFS { return op.fs.image(keep) }

// Changes says whether the operation can change what a crash keeping
// keep leaves: if not, a crash just after it leaves the same as one just
// before.
func (op CrashOp) Changes(keep CrashKeep) bool {
	switch op.Op {
	case OpWrite, OpTruncate, OpPreallocate:
		return keep.Data
	case OpSync:
		return !keep.Data
	case OpCreate, OpRemove, OpRename:
		return keep.Entries
	case OpSyncDir:
		return !keep.Entries || keep.DropEntry > 0
	}
	return true // OpMkdirAll: durable at once
}

func (op CrashOp) String() string {
	s := fmt.Sprintf("op %d, %s %s", op.N, crashOpNames[op.Op], op.Path)
	if op.NewPath != "" {
		s += " to " + op.NewPath
	}
	return s
}

// crashInode is a file's content. A byte array may be shared — by data
// and synced after a Sync, by a file and its crash images — and is never
// changed while it is: data is copied first.
type crashInode struct {
	data   []byte // what reads return now
	synced []byte // what a power loss leaves: data as of the last Sync, but lost pages
	shared bool   // data's array is referenced elsewhere too
	// lost are the pages (by index, crashPage bytes each) whose writeback
	// a failed Sync lost and that were not written since: a Sync keeps
	// synced's bytes for them.
	lost map[int64]bool
}

// crashPage is the page size of a failed Sync's lost writeback.
const crashPage = 4096

// markLost notes every page on which data and synced differ as lost:
// what a failed Sync does.
func (ino *crashInode) markLost() {
	for p := int64(0); p*crashPage < int64(max(len(ino.data), len(ino.synced))); p++ {
		lo := p * crashPage
		d, s := pageOf(ino.data, lo), pageOf(ino.synced, lo)
		if !slices.Equal(d, s) {
			if ino.lost == nil {
				ino.lost = map[int64]bool{}
			}
			ino.lost[p] = true
		}
	}
}

// pageOf returns b's bytes of the page starting at lo (short or empty
// at b's end).
func pageOf(b []byte, lo int64) []byte {
	return b[min(lo, int64(len(b))):min(lo+crashPage, int64(len(b)))]
}

// sync makes data durable but for the lost pages, which keep what the
// disk had.
func (ino *crashInode) sync() {
	if len(ino.lost) == 0 {
		ino.synced, ino.shared = ino.data, true
		return
	}
	next := slices.Clone(ino.data)
	for p := range ino.lost {
		lo := p * crashPage
		if lo >= int64(len(next)) {
			continue
		}
		page := next[lo:min(lo+crashPage, int64(len(next)))]
		clear(page)
		copy(page, pageOf(ino.synced, lo))
	}
	ino.synced = next
}

// written notes that [off, off+n) was written again: its pages are dirty,
// not lost.
func (ino *crashInode) written(off, n int64) {
	for p := off / crashPage; p*crashPage < off+n && len(ino.lost) > 0; p++ {
		delete(ino.lost, p)
	}
}

// own makes data's array the inode's alone, before a change.
func (ino *crashInode) own() {
	if ino.shared {
		ino.data, ino.shared = slices.Clone(ino.data), false
	}
}

// resize makes data size bytes long, new bytes zero. Called after own.
func (ino *crashInode) resize(size int64) {
	if n := int64(len(ino.data)); size <= n {
		ino.data = ino.data[:size]
	} else {
		ino.data = append(ino.data, make([]byte, size-n)...)
	}
}

// dirEntry sets name in dir to ino, or removes it (ino nil). A directory
// change is one, or a rename's two.
type dirEntry struct {
	dir, name string
	ino       *crashInode
}

// NewCrashFS returns an empty CrashFS: only the root directory exists.
func NewCrashFS() *CrashFS {
	c := &CrashFS{dirs: map[string]map[string]*crashInode{}, durable: map[string]map[string]*crashInode{}}
	c.dirs["/"], c.durable["/"] = map[string]*crashInode{}, map[string]*crashInode{}
	return c
}

// Crash returns what a crash now would leave.
func (c *CrashFS) Crash(keep CrashKeep) *CrashFS {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.image(keep)
}

// image is Crash with c.mu held.
func (c *CrashFS) image(keep CrashKeep) *CrashFS {
	img := &CrashFS{dirs: map[string]map[string]*crashInode{}, durable: map[string]map[string]*crashInode{}}
	entries := c.durable
	switch {
	case keep.Entries && keep.DropEntry > 0:
		entries = c.entriesBut(keep.DropEntry - 1)
	case keep.Entries:
		entries = c.dirs
	}
	for dir, ents := range entries {
		img.dirs[dir] = make(map[string]*crashInode, len(ents))
		img.durable[dir] = make(map[string]*crashInode, len(ents))
		for name, ino := range ents {
			b := ino.synced
			if keep.Data {
				b, ino.shared = ino.data, true
			}
			kept := &crashInode{data: b, synced: b, shared: true}
			img.dirs[dir][name], img.durable[dir][name] = kept, kept
		}
	}
	return img
}

// entriesBut returns the durable entries with every unsynced change made
// on them but the one at index skip.
func (c *CrashFS) entriesBut(skip int) map[string]map[string]*crashInode {
	entries := make(map[string]map[string]*crashInode, len(c.durable))
	for dir, ents := range c.durable {
		entries[dir] = maps.Clone(ents)
	}
	for i, change := range c.unsynced {
		if i == skip {
			continue
		}
		for _, e := range change {
			if e.ino == nil {
				delete(entries[e.dir], e.name)
			} else {
				entries[e.dir][e.name] = e.ino
			}
		}
	}
	return entries
}

// point counts a crash point and shows it to BeforeOp. Called with c.mu
// held, once the operation is known to succeed.
func (c *CrashFS) point(op Op, path, newPath string) {
	c.ops++
	if c.BeforeOp != nil {
		c.BeforeOp(CrashOp{N: c.ops, Op: op, Path: path, NewPath: newPath, UnsyncedEntries: len(c.unsynced), fs: c})
	}
}

// split returns the directory and the base name of path.
func split(path string) (dir, base string) {
	path = filepath.Clean(path)
	return filepath.Dir(path), filepath.Base(path)
}

func (c *CrashFS) Create(name string) (File, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	dir, base := split(name)
	ents, ok := c.dirs[dir]
	if !ok {
		return nil, &os.PathError{Op: "create", Path: name, Err: syscall.ENOENT}
	}
	if _, ok := ents[base]; ok {
		return nil, &os.PathError{Op: "create", Path: name, Err: syscall.EEXIST}
	}
	c.point(OpCreate, name, "")
	ino := &crashInode{}
	ents[base] = ino
	c.unsynced = append(c.unsynced, []dirEntry{{dir, base, ino}})
	return &crashFile{fs: c, ino: ino, name: name}, nil
}

func (c *CrashFS) OpenReadWrite(name string) (File, error) { return c.open(name, false) }
func (c *CrashFS) Open(name string) (File, error)          { return c.open(name, true) }

func (c *CrashFS) open(name string, readOnly bool) (File, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	dir, base := split(name)
	ino, ok := c.dirs[dir][base]
	if !ok {
		return nil, &os.PathError{Op: "open", Path: name, Err: syscall.ENOENT}
	}
	return &crashFile{fs: c, ino: ino, name: name, readOnly: readOnly}, nil
}

// List returns the files and the subdirectories of dir, sorted.
func (c *CrashFS) List(dir string) ([]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	dir = filepath.Clean(dir)
	ents, ok := c.dirs[dir]
	if !ok {
		return nil, &os.PathError{Op: "open", Path: dir, Err: syscall.ENOENT}
	}
	names := make([]string, 0, len(ents))
	for name := range ents {
		names = append(names, name)
	}
	for d := range c.dirs {
		if d != dir && filepath.Dir(d) == dir {
			names = append(names, filepath.Base(d))
		}
	}
	slices.Sort(names)
	return names, nil
}

// Remove removes a file (directories are never removed).
func (c *CrashFS) Remove(name string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	dir, base := split(name)
	if _, ok := c.dirs[dir][base]; !ok {
		return &os.PathError{Op: "remove", Path: name, Err: syscall.ENOENT}
	}
	c.point(OpRemove, name, "")
	delete(c.dirs[dir], base)
	c.unsynced = append(c.unsynced, []dirEntry{{dir, base, nil}})
	return nil
}

// Rename renames a file, replacing one at newname. Like a Create, it is
// durable only once its directory is synced: a power loss before keeps
// the old name, and what newname held, not the new one (the window a
// roll's spare and ReplaceFile close with SyncDir; the FS has no Link,
// and Default's Rename is rename(2), so no crash between a link and a
// remove is there to model).
func (c *CrashFS) Rename(oldname, newname string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	oldDir, oldBase := split(oldname)
	newDir, newBase := split(newname)
	ino, ok := c.dirs[oldDir][oldBase]
	if !ok {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: syscall.ENOENT}
	}
	if _, ok := c.dirs[newDir]; !ok {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: syscall.ENOENT}
	}
	c.point(OpRename, oldname, newname)
	delete(c.dirs[oldDir], oldBase)
	c.dirs[newDir][newBase] = ino
	c.unsynced = append(c.unsynced, []dirEntry{{oldDir, oldBase, nil}, {newDir, newBase, ino}})
	return nil
}

func (c *CrashFS) MkdirAll(dir string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	dir = filepath.Clean(dir)
	if _, ok := c.dirs[dir]; ok {
		return nil
	}
	c.point(OpMkdirAll, dir, "")
	for d := dir; ; d = filepath.Dir(d) {
		if _, ok := c.dirs[d]; ok {
			return nil
		}
		c.dirs[d], c.durable[d] = map[string]*crashInode{}, map[string]*crashInode{}
	}
}

func (c *CrashFS) SyncDir(dir string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	dir = filepath.Clean(dir)
	ents, ok := c.dirs[dir]
	if !ok {
		return &os.PathError{Op: "open", Path: dir, Err: syscall.ENOENT}
	}
	c.point(OpSyncDir, dir, "")
	c.durable[dir] = maps.Clone(ents)
	for i, change := range c.unsynced {
		c.unsynced[i] = slices.DeleteFunc(change, func(e dirEntry) bool { return e.dir == dir })
	}
	c.unsynced = slices.DeleteFunc(c.unsynced, func(change []dirEntry) bool { return len(change) == 0 })
	return nil
}

// crashFile is an open file of a CrashFS. It reaches its inode whatever
// becomes of its name.
type crashFile struct {
	fs       *CrashFS
	ino      *crashInode
	name     string // the name it was opened by
	readOnly bool
}

// writable returns the error a change to a read-only file gets.
func (f *crashFile) writable(op string) error {
	if f.readOnly {
		return &os.PathError{Op: op, Path: f.name, Err: syscall.EBADF}
	}
	return nil
}

func (f *crashFile) ReadAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if off >= int64(len(f.ino.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.ino.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *crashFile) WriteAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.writable("write"); err != nil {
		return 0, err
	}
	f.fs.point(OpWrite, f.name, "")
	f.ino.own()
	if end := off + int64(len(p)); end > int64(len(f.ino.data)) {
		f.ino.resize(end)
	}
	copy(f.ino.data[off:], p)
	f.ino.written(off, int64(len(p)))
	return len(p), nil
}

func (f *crashFile) Sync() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.fs.FailSync != nil && f.fs.FailSync(f.name) {
		f.ino.markLost()
		return &os.PathError{Op: "sync", Path: f.name, Err: syscall.EIO}
	}
	f.fs.point(OpSync, f.name, "")
	f.ino.sync()
	return nil
}

func (f *crashFile) Truncate(size int64) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.writable("truncate"); err != nil {
		return err
	}
	f.fs.point(OpTruncate, f.name, "")
	f.ino.own()
	f.ino.written(size, max(0, int64(len(f.ino.data))-size)) // cut pages are gone, not lost
	f.ino.resize(size)
	return nil
}

func (f *crashFile) Preallocate(size int64) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.writable("fallocate"); err != nil {
		return err
	}
	f.fs.point(OpPreallocate, f.name, "")
	if size > int64(len(f.ino.data)) {
		f.ino.own()
		f.ino.resize(size)
	}
	return nil
}

func (f *crashFile) Size() (int64, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	return int64(len(f.ino.data)), nil
}

// WriteOut does nothing: it makes nothing durable.
func (f *crashFile) WriteOut(off, n int64) error { return nil }

func (f *crashFile) DropCache(off, n int64) {}

func (f *crashFile) Close() error { return nil }
