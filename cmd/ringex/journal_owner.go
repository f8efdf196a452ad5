//go:build !windows

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/ringex/ringex/journal"
	"github.com/ringex/ringex/vfs"
)

// ownLikeNode gives the files names in dir (those there) the owner of
// the node's files in dir (nodeOwner), durably, when another user
// (root) made them. Each is changed through its open file, never
// through a symbolic link: the journal directory is the node's user's,
// who could make a name in it a link to any file root would give them.
func ownLikeNode(dir string, names ...string) error {
	uid, gid, known, err := nodeOwner(dir)
	if err != nil || !known {
		return err
	}
	for _, name := range names {
		path := filepath.Join(dir, name)
		f, err := vfs.OpenRegular(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		err = chownOpen(f, uid, gid)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	return nil
}

// chownOpen gives f uid and gid, durably.
func chownOpen(f *os.File, uid, gid uint32) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	s, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return errors.New("no owner known")
	}
	if s.Uid == uid && s.Gid == gid {
		return nil
	}
	if err := f.Chown(int(uid), int(gid)); err != nil {
		return err
	}
	return f.Sync()
}

// nodeOwner is the user and group the node's files in journal directory
// dir have: those of its newest segment, which the node wrote — not the
// directory's, which may be another user's the node may write in (a
// mount point root owns, group-writable: the node's files given root,
// 0600, the node could not read them) — or, with no segment yet (a
// member's journal made for its first start), the directory's.
func nodeOwner(dir string) (uid, gid uint32, known bool, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, 0, false, err
	}
	segment := journal.SegmentName(0)
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		if len(e.Name()) != len(segment) || filepath.Ext(e.Name()) != filepath.Ext(segment) || !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		if s, ok := info.Sys().(*syscall.Stat_t); ok {
			return s.Uid, s.Gid, true, nil
		}
	}
	ds, err := os.Stat(dir)
	if err != nil {
		return 0, 0, false, err
	}
	s, ok := ds.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, false, nil
	}
	return s.Uid, s.Gid, true, nil
}
