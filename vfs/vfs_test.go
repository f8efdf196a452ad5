package vfs

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
)

// The OS filesystem keeps the contract the journal and snapshot code rely
// on: Create never opens an existing file, Open is read-only, List is
// sorted, Preallocate reads back as zeros and renames are visible.
func TestOSFileSystem(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	must(t, Default.MkdirAll(dir))
	name := filepath.Join(dir, "seg-2")

	f, err := Default.Create(name)
	must(t, err)
	if _, err := Default.Create(name); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("Create of an existing file: %v, want ErrExist", err)
	}
	must(t, f.Preallocate(8192))
	if n, err := f.WriteAt([]byte("hello"), 100); n != 5 || err != nil {
		t.Fatalf("WriteAt: %d, %v", n, err)
	}
	must(t, f.WriteOut(0, 8192))
	must(t, f.Sync())
	f.DropCache(0, 8192) // a hint: the data reads back the same
	if size, err := f.Size(); size != 8192 || err != nil {
		t.Fatalf("Size after Preallocate(8192): %d, %v", size, err)
	}
	got := make([]byte, 8192)
	if _, err := f.ReadAt(got, 0); err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 8192)
	copy(want[100:], "hello")
	if !bytes.Equal(got, want) {
		t.Fatal("a preallocated file does not read back as zeros around what was written")
	}
	must(t, f.Truncate(105))
	must(t, f.Close())

	must(t, Default.Rename(name, filepath.Join(dir, "seg-1")))
	must(t, Default.SyncDir(dir))
	other, err := Default.Create(filepath.Join(dir, "seg-3"))
	must(t, err)
	must(t, other.Close())
	names, err := Default.List(dir)
	must(t, err)
	if !slices.Equal(names, []string{"seg-1", "seg-3"}) {
		t.Fatalf("List: %q", names)
	}

	ro, err := Default.Open(filepath.Join(dir, "seg-1"))
	must(t, err)
	if _, err := ro.WriteAt([]byte("x"), 0); err == nil {
		t.Fatal("a file from Open took a write")
	}
	// A refused preallocation names the file, as the os package's errors
	// do: the journal's ENOSPC on a full disk said no file.
	var pe *fs.PathError
	if err := ro.Preallocate(1 << 20); !errors.As(err, &pe) || pe.Path != filepath.Join(dir, "seg-1") {
		t.Fatalf("Preallocate of a read-only file: %v, want an error naming it", err)
	}
	if size, _ := ro.Size(); size != 105 {
		t.Fatalf("size after Truncate(105): %d", size)
	}
	must(t, ro.Close())
	rw, err := Default.OpenReadWrite(filepath.Join(dir, "seg-1"))
	must(t, err)
	if _, err := rw.WriteAt([]byte("y"), 0); err != nil {
		t.Fatal(err)
	}
	must(t, rw.Close())

	must(t, Default.Remove(filepath.Join(dir, "seg-1")))
	if _, err := Default.OpenReadWrite(filepath.Join(dir, "seg-1")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("OpenReadWrite of a removed file: %v", err)
	}
	if _, err := Default.List(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("List of a missing directory succeeded")
	}
	if err := Default.SyncDir(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("SyncDir of a missing directory succeeded")
	}
}

// An ErrorFS passes Skip calls of its Op through, then fails the next —
// once, or every later one too when Sticky — and leaves other operations
// alone.
func TestErrorFSInjects(t *testing.T) {
	calls := []struct {
		op   Op
		call func(FS, File, string) error
	}{
		{OpWrite, func(_ FS, f File, _ string) error { _, err := f.WriteAt([]byte("ab"), 0); return err }},
		{OpSync, func(_ FS, f File, _ string) error { return f.Sync() }},
		{OpWriteOut, func(_ FS, f File, _ string) error { return f.WriteOut(0, 4096) }},
		{OpPreallocate, func(_ FS, f File, _ string) error { return f.Preallocate(4096) }},
		{OpSyncDir, func(fsys FS, _ File, dir string) error { return fsys.SyncDir(dir) }},
		{OpRename, func(fsys FS, _ File, dir string) error {
			return fsys.Rename(filepath.Join(dir, "f"), filepath.Join(dir, "f"))
		}},
		{OpCreate, func(fsys FS, _ File, dir string) error {
			f, err := fsys.Create(filepath.Join(dir, "new"))
			if err != nil {
				return err
			}
			f.Close()
			return fsys.Remove(filepath.Join(dir, "new"))
		}},
	}
	for i, tc := range calls {
		for _, sticky := range []bool{false, true} {
			dir := t.TempDir()
			f, err := Default.Create(filepath.Join(dir, "f"))
			must(t, err)
			e := &ErrorFS{FS: Default, Op: tc.op, Skip: 2, Sticky: sticky}
			ef := errFile{File: f, fs: e}
			want := []error{nil, nil, ErrInjected, nil}
			if sticky {
				want[3] = ErrInjected
			}
			for n, w := range want {
				if err := tc.call(e, ef, dir); err != w {
					t.Fatalf("op %d sticky %v: call %d returned %v, want %v", tc.op, sticky, n+1, err, w)
				}
			}
			if !e.Fired() {
				t.Fatalf("op %d: Fired false after a fault", tc.op)
			}
			other := calls[(i+1)%len(calls)]
			if err := other.call(e, ef, dir); err != nil {
				t.Fatalf("op %d failed after op %d was injected: %v", other.op, tc.op, err)
			}
			must(t, f.Close())
		}
	}
}

// A failing write can be short, and DiskFull fails every write after the
// first skip with ENOSPC.
func TestErrorFSShortWriteAndDiskFull(t *testing.T) {
	dir := t.TempDir()
	e := &ErrorFS{FS: Default, Op: OpWrite, ShortBytes: 3}
	f, err := e.Create(filepath.Join(dir, "short"))
	must(t, err)
	n, err := f.WriteAt([]byte("abcdef"), 0)
	if n != 3 || !errors.Is(err, ErrInjected) {
		t.Fatalf("short write: %d, %v; want 3 bytes and ErrInjected", n, err)
	}
	if size, _ := f.Size(); size != 3 {
		t.Fatalf("a short write of 3 bytes left %d bytes", size)
	}
	must(t, f.Close())

	full := DiskFull(Default, 1)
	g, err := full.Create(filepath.Join(dir, "full"))
	must(t, err)
	if _, err := g.WriteAt([]byte("ok"), 0); err != nil {
		t.Fatalf("first write on a disk with room: %v", err)
	}
	for i := range 3 {
		if _, err := g.WriteAt([]byte("no"), 2); !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("write %d on a full disk: %v, want ENOSPC", i+2, err)
		}
	}
	if err := g.Sync(); err != nil {
		t.Fatalf("Sync on a full disk (only writes fail): %v", err)
	}
	must(t, g.Close())
	h, err := full.OpenReadWrite(filepath.Join(dir, "full"))
	must(t, err)
	if _, err := h.WriteAt([]byte("no"), 0); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("write through a reopened file on a full disk: %v", err)
	}
	must(t, h.Close())
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestSyncTracker(t *testing.T) {
	dir := t.TempDir()
	s := NewSyncTracker(Default)
	f, err := s.Create(filepath.Join(dir, "a"))
	must(t, err)
	defer f.Close()
	if _, err := f.WriteAt([]byte("x"), 0); err != nil {
		t.Fatal(err)
	}
	g, err := s.Create(filepath.Join(dir, "b"))
	must(t, err)
	g.WriteAt([]byte("y"), 0)
	g.Close()
	if got := s.Unsynced(); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("unsynced %v, want [a b]", got)
	}
	must(t, f.Sync())
	must(t, s.Remove(filepath.Join(dir, "b")))
	if got := s.Unsynced(); len(got) != 0 {
		t.Fatalf("unsynced %v after syncing a and removing b", got)
	}
	// A failed sync leaves the file unsynced.
	e := &ErrorFS{FS: Default, Op: OpSync}
	s = NewSyncTracker(e)
	h, err := s.Create(filepath.Join(dir, "c"))
	must(t, err)
	defer h.Close()
	h.WriteAt([]byte("z"), 0)
	if err := h.Sync(); err == nil {
		t.Fatal("injected sync failure not returned")
	}
	if got := s.Unsynced(); !slices.Equal(got, []string{"c"}) {
		t.Fatalf("unsynced %v after a failed sync, want [c]", got)
	}
}

// MkdirAll makes every missing level (each made durable in its parent),
// leaves an existing directory alone and refuses a file in the way.
func TestMkdirAllDurable(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "a", "b", "c")
	must(t, Default.MkdirAll(dir))
	must(t, Default.MkdirAll(dir))
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		t.Fatalf("%s: %v", dir, err)
	}
	file := filepath.Join(base, "a", "file")
	must(t, os.WriteFile(file, nil, 0o644))
	if err := Default.MkdirAll(filepath.Join(file, "d")); err == nil {
		t.Fatal("made a directory under a file")
	}
	if err := Default.MkdirAll(file); err == nil {
		t.Fatal("a file passed for a directory")
	}
}

// Every level's entry in its parent is fsynced, the levels that existed
// too: one made by a run a crash stopped before that fsync would
// otherwise stay at the mercy of a power cut.
func TestMkdirAllDurableSyncsExistingLevels(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "a", "b")
	must(t, os.MkdirAll(dir, 0o700)) // made, its parents never fsynced
	var synced []string
	record := func(d string) error { synced = append(synced, d); return nil }
	must(t, mkdirAllDurable(filepath.Join(dir, "c"), record))
	for _, d := range []string{base, filepath.Join(base, "a"), dir} {
		if !slices.Contains(synced, d) {
			t.Errorf("%s not fsynced (fsynced: %v)", d, synced)
		}
	}
	synced = nil
	must(t, mkdirAllDurable(dir, record))
	if !slices.Contains(synced, filepath.Join(base, "a")) {
		t.Errorf("an existing directory's parent not fsynced (fsynced: %v)", synced)
	}
	// A parent that cannot be fsynced (this user may not read it, say):
	// left alone where the level was there before, an error where this
	// call made it.
	unreadable := func(d string) error {
		if d == dir {
			return fs.ErrPermission
		}
		return nil
	}
	must(t, mkdirAllDurable(filepath.Join(dir, "c"), unreadable))
	if err := mkdirAllDurable(filepath.Join(dir, "d"), unreadable); !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("a level made in a directory that cannot be fsynced: %v", err)
	}
}

// WriteFileAtomic replaces a file's content whole and leaves no
// temporary file behind.
func TestWriteFileAtomic(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mark")
	for _, want := range []string{"first\n", "second, longer\n", "3\n"} {
		if err := WriteFileAtomic(path, []byte(want)); err != nil {
			t.Fatal(err)
		}
		if got, err := os.ReadFile(path); err != nil || string(got) != want {
			t.Fatalf("read %q %v, want %q", got, err, want)
		}
	}
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Fatalf("temporary file left: %v", err)
	}
	if err := WriteFileAtomic(filepath.Join(t.TempDir(), "no", "dir"), nil); err == nil {
		t.Fatal("wrote into a directory that does not exist")
	}
}

// ReplaceFile leaves the old content or the new, never a part: a
// failure of any step keeps the old file and removes the temporary one,
// and a crash's leftover temporary file does not stop it.
func TestReplaceFile(t *testing.T) {
	dir := t.TempDir()
	path, tmp := filepath.Join(dir, "f"), filepath.Join(dir, "f.tmp")
	if err := ReplaceFile(Default, path, tmp, []byte("old")); err != nil {
		t.Fatal(err)
	}
	for _, op := range []Op{OpCreate, OpWrite, OpSync, OpRename} {
		if err := ReplaceFile(&ErrorFS{FS: Default, Op: op}, path, tmp, []byte("new")); !errors.Is(err, ErrInjected) {
			t.Fatalf("op %d failing: %v, want the injected error", op, err)
		}
		if b, _ := os.ReadFile(path); string(b) != "old" {
			t.Fatalf("op %d failing: the file holds %q", op, b)
		}
		if _, err := os.Stat(tmp); !os.IsNotExist(err) {
			t.Fatalf("op %d failing: the temporary file is left (%v)", op, err)
		}
	}
	if err := os.WriteFile(tmp, []byte("a crash's"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := ReplaceFile(Default, path, tmp, []byte("new")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "new" {
		t.Fatalf("the file holds %q, want new", b)
	}
}

// RemoveAllDurable fsyncs the parent once the path is gone, and when it
// was not there at all; a failed fsync is an error.
func TestRemoveAllDurable(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "marker")
	must(t, os.MkdirAll(filepath.Join(dir, "a"), 0o700))
	must(t, os.WriteFile(filepath.Join(dir, "a", "READY"), nil, 0o600))
	var synced []string
	record := func(d string) error {
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("%s fsynced before %s was removed (%v)", d, dir, err)
		}
		synced = append(synced, d)
		return nil
	}
	for range 2 { // there, then not
		synced = nil
		must(t, removeAllDurable(dir+"/", record))
		if !slices.Equal(synced, []string{base}) {
			t.Fatalf("fsynced %v, want [%s]", synced, base)
		}
	}
	if err := removeAllDurable(dir, func(string) error { return fs.ErrPermission }); !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("a parent that cannot be fsynced: %v", err)
	}
	must(t, RemoveAllDurable(dir))
}

// A ReadCounter counts what is read from the files opened read-only, by
// base name and in all, from its last Reset; a file opened read-write is
// not counted.
func TestReadCounter(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"a", "b"} {
		must(t, WriteFileAtomic(filepath.Join(dir, name), []byte("0123456789")))
	}
	c := NewReadCounter(Default)
	read := func(name string, n int, open func(string) (File, error)) {
		t.Helper()
		f, err := open(filepath.Join(dir, name))
		must(t, err)
		defer f.Close()
		if _, err := f.ReadAt(make([]byte, n), 0); err != nil {
			t.Fatal(err)
		}
	}
	read("a", 4, c.Open)
	read("a", 3, c.Open)
	read("b", 10, c.Open)
	read("b", 5, c.OpenReadWrite)
	if a, b, total := c.Read("a"), c.Read("b"), c.Total(); a != 7 || b != 10 || total != 17 {
		t.Fatalf("read a %d, b %d, in all %d; want 7, 10, 17", a, b, total)
	}
	c.Reset()
	read("b", 2, c.Open)
	if a, b, total := c.Read("a"), c.Read("b"), c.Total(); a != 0 || b != 2 || total != 2 {
		t.Fatalf("after Reset: read a %d, b %d, in all %d; want 0, 2, 2", a, b, total)
	}
}
