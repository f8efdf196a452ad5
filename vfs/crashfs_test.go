package vfs

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// crashScenario makes, on c, one change of every kind a crash can come
// before, leaving each kind of loss something to lose.
func crashScenario(t *testing.T, c *CrashFS) {
	must(t, c.MkdirAll("/d/sub"))
	a, err := c.Create("/d/a")
	must(t, err)
	_, err = a.WriteAt([]byte("one"), 0)
	must(t, err)
	must(t, a.Sync())
	must(t, c.SyncDir("/d"))
	_, err = a.WriteAt([]byte("two"), 0) // never synced
	must(t, err)
	b, err := c.Create("/d/b") // its name never synced
	must(t, err)
	must(t, b.Preallocate(4))
	_, err = b.WriteAt([]byte("bb"), 0)
	must(t, err)
	must(t, b.Truncate(2))
	must(t, b.Sync())
	must(t, c.Rename("/d/a", "/d/sub/a")) // synced in sub, not in d
	must(t, c.SyncDir("/d/sub"))
	gone, err := c.Create("/d/sub/gone") // removed before any sync
	must(t, err)
	must(t, gone.Sync())
	must(t, c.Remove("/d/sub/gone"))
}

// files returns the path and content of every file c holds in the
// directories crashScenario makes.
func files(t *testing.T, c *CrashFS) map[string]string {
	t.Helper()
	got := map[string]string{}
	for _, dir := range []string{"/d", "/d/sub"} {
		names, err := c.List(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue // not made yet
		}
		must(t, err)
		for _, name := range names {
			path := filepath.Join(dir, name)
			f, err := c.Open(path)
			if errors.Is(err, fs.ErrNotExist) {
				continue // a directory
			}
			must(t, err)
			size, err := f.Size()
			must(t, err)
			b := make([]byte, size)
			if _, err := f.ReadAt(b, 0); err != nil && err != io.EOF {
				t.Fatal(err)
			}
			got[path] = string(b)
		}
	}
	return got
}

// A crash keeps what was synced — file bytes by Sync, names by SyncDir —
// and what its CrashKeep says besides; a rename between directories
// shows in each as that directory was last synced.
//
// The scenario leaves four directory changes unsynced: b created, a's
// old name removed (its new one in sub is synced), gone created and
// removed.
func TestCrashFSKeeps(t *testing.T) {
	for _, tc := range []struct {
		keep CrashKeep
		want map[string]string
	}{
		{CrashKeep{}, map[string]string{"/d/a": "one", "/d/sub/a": "one"}},
		{CrashKeep{Entries: true}, map[string]string{"/d/b": "bb", "/d/sub/a": "one"}},
		{CrashKeep{Data: true}, map[string]string{"/d/a": "two", "/d/sub/a": "two"}},
		{CrashKeep{Entries: true, Data: true}, map[string]string{"/d/b": "bb", "/d/sub/a": "two"}},
		{CrashKeep{Entries: true, DropEntry: 1}, map[string]string{"/d/sub/a": "one"}},
		{CrashKeep{Entries: true, DropEntry: 2}, map[string]string{"/d/a": "one", "/d/b": "bb", "/d/sub/a": "one"}},
		{CrashKeep{Entries: true, DropEntry: 4}, map[string]string{"/d/b": "bb", "/d/sub/a": "one", "/d/sub/gone": ""}},
	} {
		c := NewCrashFS()
		crashScenario(t, c)
		img := c.Crash(tc.keep)
		if got := files(t, img); !maps.Equal(got, tc.want) {
			t.Errorf("%+v: a crash leaves %q, want %q", tc.keep, got, tc.want)
		}
		// The image is durable as it is, and apart from c.
		if got := files(t, img.Crash(CrashKeep{})); !maps.Equal(got, tc.want) {
			t.Errorf("%+v: a crash of the image leaves %q, want %q", tc.keep, got, tc.want)
		}
		f, err := img.OpenReadWrite("/d/sub/a")
		must(t, err)
		_, err = f.WriteAt([]byte("xyz"), 0)
		must(t, err)
		if got := files(t, c)["/d/sub/a"]; got != "two" {
			t.Errorf("%+v: a write to the image changed the file it came from to %q", tc.keep, got)
		}
	}
}

// An operation Changes says leaves a crash's image alone does: the image
// just after it is the one just before. And the unsynced directory
// changes, made on the durable entries, give the entries there are.
func TestCrashOpChanges(t *testing.T) {
	keeps := []CrashKeep{{}, {Entries: true}, {Data: true}, {Entries: true, Data: true},
		{Entries: true, DropEntry: 1}, {Entries: true, DropEntry: 2}}
	c := NewCrashFS()
	var ops []CrashOp
	var before []map[CrashKeep]map[string]string
	c.BeforeOp = func(op CrashOp) {
		ops = append(ops, op)
		if all := c.entriesBut(-1); !maps.EqualFunc(all, c.dirs, maps.Equal) {
			t.Errorf("before %v: the durable entries and the unsynced changes give %v, the entries are %v", op, all, c.dirs)
		}
		images := map[CrashKeep]map[string]string{}
		for _, keep := range keeps {
			images[keep] = files(t, op.Crash(keep))
		}
		before = append(before, images)
	}
	crashScenario(t, c)
	c.BeforeOp = nil
	end := map[CrashKeep]map[string]string{}
	for _, keep := range keeps {
		end[keep] = files(t, c.Crash(keep))
	}
	before = append(before, end)
	for i, op := range ops {
		for _, keep := range keeps {
			if !op.Changes(keep) && !maps.Equal(before[i][keep], before[i+1][keep]) {
				t.Errorf("%v changed what a crash keeping %+v leaves, from %q to %q", op, keep, before[i][keep], before[i+1][keep])
			}
		}
	}
}

// A failed Sync loses the writeback of what it was to write: reads still
// see it, but the next Sync does not write it and a power loss finds the
// disk's old bytes there — until those pages are written again. Pages
// written after the failure are written by the next Sync.
func TestCrashFSFailedSyncLosesItsPages(t *testing.T) {
	c := NewCrashFS()
	failing := false
	c.FailSync = func(string) bool { return failing }
	must(t, c.MkdirAll("/d"))
	f, err := c.Create("/d/f")
	must(t, err)
	must(t, c.SyncDir("/d"))
	page := func(b byte) []byte { return bytes.Repeat([]byte{b}, crashPage) }
	_, err = f.WriteAt(slices.Concat(page('a'), page('a'), page('a')), 0)
	must(t, err)
	must(t, f.Sync())
	_, err = f.WriteAt(slices.Concat(page('b'), page('b')), crashPage) // pages 1 and 2
	must(t, err)
	failing = true
	if err := f.Sync(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("failed sync: %v, want EIO", err)
	}
	failing = false
	if got := files(t, c)["/d/f"]; got != string(slices.Concat(page('a'), page('b'), page('b'))) {
		t.Fatal("reads after the failed sync do not see what was written")
	}
	_, err = f.WriteAt(page('c'), 2*crashPage) // page 2 written again, page 1 not
	must(t, err)
	_, err = f.WriteAt(page('d'), 3*crashPage) // a new page
	must(t, err)
	must(t, f.Sync())
	want := slices.Concat(page('a'), page('a'), page('c'), page('d'))
	if got := files(t, c.Crash(CrashKeep{}))["/d/f"]; got != string(want) {
		t.Fatalf("after a power loss page by page %q, want %q", pages(got), pages(string(want)))
	}
	if got := files(t, c.Crash(CrashKeep{Entries: true, Data: true}))["/d/f"]; got != string(slices.Concat(page('a'), page('b'), page('c'), page('d'))) {
		t.Fatalf("after a process crash page by page %q", pages(got))
	}
}

// pages returns each crashPage of s by its first byte.
func pages(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i += crashPage {
		b.WriteByte(s[i])
	}
	return b.String()
}

// A rename within one directory is durable only once that directory is
// fsynced: a power loss before keeps the old name — and, a file renamed
// over another, the other under the name — and loses the new one; after
// it, the new. ReplaceFile, which writes the journal's newest-segment
// record and dropped-inputs file, fsyncs it: a power loss at any of its
// points leaves the old content or the new, whole, the old just before
// the fsync though the rename was made, and the new once it returns.
func TestCrashFSRenameDurableWithItsDirectory(t *testing.T) {
	c := NewCrashFS()
	must(t, c.MkdirAll("/d"))
	for name, s := range map[string]string{"/d/spare": "zeros", "/d/record": "old", "/d/record.tmp": "new"} {
		f, err := c.Create(name)
		must(t, err)
		_, err = f.WriteAt([]byte(s), 0)
		must(t, err)
		must(t, f.Sync())
	}
	must(t, c.SyncDir("/d"))
	must(t, c.Rename("/d/spare", "/d/segment"))
	must(t, c.Rename("/d/record.tmp", "/d/record"))
	if got, want := files(t, c.Crash(CrashKeep{})), map[string]string{"/d/spare": "zeros", "/d/record": "old", "/d/record.tmp": "new"}; !maps.Equal(got, want) {
		t.Fatalf("a power loss before the directory's fsync leaves %q, want %q", got, want)
	}
	must(t, c.SyncDir("/d"))
	if got, want := files(t, c.Crash(CrashKeep{})), map[string]string{"/d/segment": "zeros", "/d/record": "new"}; !maps.Equal(got, want) {
		t.Fatalf("a power loss after the directory's fsync leaves %q, want %q", got, want)
	}

	c = NewCrashFS()
	must(t, c.MkdirAll("/d"))
	must(t, ReplaceFile(c, "/d/record", "/d/record.tmp", []byte("old")))
	var images []map[string]string
	renamed, beforeSync := false, ""
	c.BeforeOp = func(op CrashOp) {
		img := files(t, op.Crash(CrashKeep{}))
		images = append(images, img)
		if op.Op == OpRename {
			renamed = true
		}
		if renamed && op.Op == OpSyncDir && op.Path == "/d" {
			beforeSync = img["/d/record"]
		}
	}
	must(t, ReplaceFile(c, "/d/record", "/d/record.tmp", []byte("new")))
	c.BeforeOp = nil
	for i, img := range images {
		if got := img["/d/record"]; got != "old" && got != "new" {
			t.Fatalf("a power loss at ReplaceFile's point %d leaves the record %q", i+1, got)
		}
	}
	if beforeSync != "old" {
		t.Fatalf("a power loss just before ReplaceFile's directory fsync, the rename made, leaves the record %q, want the old", beforeSync)
	}
	if got := files(t, c.Crash(CrashKeep{}))["/d/record"]; got != "new" {
		t.Fatalf("a power loss once ReplaceFile returned leaves the record %q, want the new", got)
	}
}
