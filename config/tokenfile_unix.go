//go:build unix

package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// unsafeTokenFile refuses the token file at path, whose stat is st (the
// file read), when its group or others may write it, when owners and its
// owner is another user than the process's or root (foreignOwner), or
// when a directory on the way to it is unsafe (unsafeDir): the checks
// AdminTokenFromFile and ReadTokenFile document, on a system with Unix
// owners and permission bits.
//
// A file with no name left (nameless: a memfd, which memfd_create makes
// 0777, or a file deleted while open) is refused for its mode as any file
// is — whoever holds a descriptor of it may open it again for writing
// through its /proc link when the mode lets them — but no chmod by a path
// reaches it: "chmod go-w /proc/self/fd/N" in an operator's shell changes
// the descriptor N of chmod itself, nothing or another file. Its maker
// must fchmod the descriptor before handing it over, and the refusal
// says so.
func unsafeTokenFile(path string, st fs.FileInfo, owners bool) error {
	if m := st.Mode().Perm(); m&0o022 != 0 {
		fix := "chmod go-w " + path
		if nameless(st) {
			fix = "it has no name left (a memfd, made 0777, or a file deleted while open), which no chmod by a path reaches: " +
				"whoever makes it must fchmod its descriptor go-w (to 0600) before handing it to this process"
		}
		return fmt.Errorf("%s is writable by its group or others (mode %04o): whoever can write it sets the admin token; %s", path, m, fix)
	}
	if owners {
		if uid, foreign := foreignOwner(st); foreign {
			return fmt.Errorf("%s is owned by %s, not by %s: its owner can change it, and so the admin token; "+
				"chown it to %s, or keep the token in a file of your own%s", path, ownerName(uid), allowedOwners(), chownTo(), unmappedNote(uid))
		}
	}
	return unsafeDir(path, st, owners)
}

// othersMayRead reports whether users other than the owner of a file of
// mode m and its group may read it (TokenFileWarning).
func othersMayRead(m fs.FileMode) bool { return m.Perm()&0o004 != 0 }

// unsafeDir refuses path, whose file read is st, when a directory it is
// found through is one where users other than the process's may rename
// a file of their own over the token file, or over a directory or link
// on the way to it: one its group or others may write that has no
// sticky bit, or, when owners, one owned by another user than the
// process's or root (foreignOwner). Those are every directory a name of
// the path is looked up in, links followed as the kernel follows them
// (lookups): the path's own, each link's — a link is replaced in its own
// directory, one between two others too — and the file's. A sticky
// directory (/tmp, a Kubernetes secret volume's) lets only a file's
// owner replace it. The file they lead to must be the one read (st).
//
// A path through a descriptor (/proc/self/fd/N, /dev/fd/N) resolves to
// the text of its link, which names the file read only while the file
// has that name. A file with no name left (st's link count 0: deleted
// while open, a memfd, an O_TMPFILE) is read when a descriptor's link is
// where the lookups end, the directories on the way to that link judged
// — no directory holds the file, so no one can rename a file over it,
// and it is reached only through descriptors, the one its starter hands
// the process at each start, and the /proc links of their holders, which
// only the holder's user and root may follow; its own mode and owner are
// judged as any file's. Any other file the path does not lead to (one
// with another name left, which the link does not show; one in another
// mount namespace, through /proc/PID/root; one replaced as it was read;
// one whose last name went between its opening and its stat, st taken
// after the open) is refused saying what the path led to: the
// directories on the way to it cannot be found, let alone checked. That
// refusal, and a directory on the way gone by the time it is checked,
// are changedAsRead: adminTokenFromFile reads the file again.
func unsafeDir(path string, st fs.FileInfo, owners bool) error {
	named, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	dirs, to, atDescriptor, err := lookups(named, nameless(st))
	for _, dir := range dirs {
		if err := unsafeDirectory(path, named, dir, owners); err != nil {
			return err
		}
	}
	switch {
	case atDescriptor:
		return nil // nameless, reached through a descriptor's link
	case err == nil && sameFile(to, st):
		return nil
	case err != nil:
		var pe *fs.PathError
		if !errors.As(err, &pe) {
			return fmt.Errorf("%s: %w", path, err)
		}
		to = fmt.Sprintf("%s (%v)", pe.Path, pe.Err)
	}
	return changedAsRead{fmt.Errorf("%s leads, through its links, to %s, not to the file read (a descriptor's link to a file with "+
		"another name left, a file of another mount namespace, or one replaced as it was read): the directories on the "+
		"way to it cannot be checked; name the file by a path of its own", path, to)}
}

// unsafeDirectory refuses dir, a directory path (named: path made
// absolute) is found through, for unsafeDir.
func unsafeDirectory(path, named, dir string, owners bool) error {
	st, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		// Gone since the lookups went through it: replaced as it was
		// read, as by a secret volume's swap (changedAsRead).
		return changedAsRead{fmt.Errorf("%s: %w", path, err)}
	}
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	in := "is in" // the path's own directories; a link's elsewhere
	if dir != "/" && !strings.HasPrefix(named, dir+"/") {
		in = "leads, through its links, through"
	}
	if m := st.Mode(); m.Perm()&0o022 != 0 && m&fs.ModeSticky == 0 {
		return fmt.Errorf("%s %s directory %s, writable by its group or others (mode %04o, no sticky bit): whoever can write it "+
			"puts a file of their own in its place and sets the admin token; chmod go-w %s, or keep the file elsewhere",
			path, in, dir, m.Perm(), dir)
	}
	if uid, foreign := foreignOwner(st); foreign && owners {
		return fmt.Errorf("%s %s directory %s, owned by %s, not by %s: its owner "+
			"puts a file of their own in its place and sets the admin token; chown it to %s, or keep the file elsewhere%s",
			path, in, dir, ownerName(uid), allowedOwners(), chownTo(), unmappedNote(uid))
	}
	return nil
}

// maxLinks is how many links lookups follows in a path, as Linux's
// (MAXSYMLINKS): more is a loop.
const maxLinks = 40

// lookups resolves path, absolute, a name at a time as the kernel does,
// following links, and returns every directory it looked a name up in
// (in that order, each once) and the path it led to, every link
// resolved. With atDescriptor, it stops at a descriptor's link
// (descriptorDir) that is the path's last name, returning that link's
// path and true: the file behind it is the descriptor's, whatever the
// link's text says. An error is the lookup's that failed (to: the path
// looked up), with the directories looked in until then.
func lookups(path string, atDescriptor bool) (dirs []string, to string, descriptor bool, err error) {
	dest, rest, links := "/", path, 0
	for {
		rest = strings.TrimLeft(rest, "/")
		if rest == "" {
			return dirs, dest, false, nil
		}
		var name string
		name, rest, _ = strings.Cut(rest, "/")
		switch name {
		case ".":
			continue
		case "..":
			dest = filepath.Dir(dest)
			continue
		}
		if !slices.Contains(dirs, dest) {
			dirs = append(dirs, dest)
		}
		p := filepath.Join(dest, name)
		fi, err := os.Lstat(p)
		if err != nil {
			return dirs, p, false, err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			dest = p
			continue
		}
		if atDescriptor && descriptorDir(dest) && strings.Trim(rest, "/") == "" {
			return dirs, p, true, nil
		}
		if links++; links > maxLinks {
			return dirs, p, false, &fs.PathError{Op: "lookup", Path: p, Err: syscall.ELOOP}
		}
		target, err := os.Readlink(p)
		if err != nil {
			return dirs, p, false, err
		}
		if filepath.IsAbs(target) {
			dest = "/"
		}
		rest = target + "/" + rest
	}
}

// descriptorDir reports whether dir, a path without links, is a
// process's descriptor directory — /proc/PID/fd or /proc/PID/task/TID/fd,
// where /proc/self/fd, /proc/thread-self/fd and /dev/fd lead: only the
// process holding a descriptor sets what its link there leads to.
func descriptorDir(dir string) bool {
	id := func(s string) bool {
		_, err := strconv.ParseUint(s, 10, 32)
		return err == nil
	}
	switch f := strings.Split(dir, "/"); len(f) { // "", "proc", PID, ["task", TID,] "fd"
	case 4:
		return f[0] == "" && f[1] == "proc" && id(f[2]) && f[3] == "fd"
	case 6:
		return f[0] == "" && f[1] == "proc" && id(f[2]) && f[3] == "task" && id(f[4]) && f[5] == "fd"
	}
	return false
}

// sameFile reports whether the file at path is the one st describes.
func sameFile(path string, st fs.FileInfo) bool {
	at, err := os.Stat(path)
	return err == nil && os.SameFile(at, st)
}

// nameless reports whether the file st describes has no name left in any
// directory (its link count is 0); false when the system does not say.
func nameless(st fs.FileInfo) bool {
	s, ok := st.Sys().(*syscall.Stat_t)
	return ok && s.Nlink == 0
}
