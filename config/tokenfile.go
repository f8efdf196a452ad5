package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/ringex/ringex/vfs"
)

// maxTokenFileBytes bounds what TokenFromFile reads: a token is a line.
const maxTokenFileBytes = 4096

// ReadTokenFile sets admin.token from the file admin.token_file names,
// when it names one (TokenFromFile). Call it after every override and
// before Validate, which then checks the token as if it had been set
// directly. A file that its group or others may write is refused, as ssh
// refuses such a key: whoever can write it sets the node's admin token
// at its next start; so is one in a directory they may write
// (AdminTokenFromFile), and one owned, or in a directory owned, by
// another user than the process's or root: the node's rule (`ringex
// serve`; ReadTokenFileNotServing for the other commands). One others may
// read is read (a container secret is mounted 0444); TokenFileWarning
// says so, for the log.
func (c *Config) ReadTokenFile() error { return c.loadTokenFile(true) }

// ReadTokenFileNotServing is ReadTokenFile for a command that loads the
// config but does not serve it (ringex config print, replay, client,
// bench): the owners of the file and of the directories on the way are
// not looked at, as AdminTokenFromFile does not for the admin commands —
// RINGEX_ADMIN_TOKEN_FILE, which an operator exports for those, is
// admin.token_file too.
func (c *Config) ReadTokenFileNotServing() error { return c.loadTokenFile(false) }

// loadTokenFile is ReadTokenFile, checking owners when owners.
func (c *Config) loadTokenFile(owners bool) error {
	path := c.Admin.TokenFile
	if path == "" {
		return nil
	}
	if c.Admin.Token != "" {
		return fmt.Errorf("config: admin.token_file (%s): admin.token is set too; set one of them", path)
	}
	token, err := adminTokenFromFile(path, owners)
	if err != nil {
		return fmt.Errorf("config: admin.token_file: %w", err)
	}
	c.Admin.Token = token
	return nil
}

// AdminTokenFromFile is the admin token in the file at path
// (TokenFromFile), refused when its group or others may write the file,
// or a directory on the way to it (unsafeDir): the node's
// admin.token_file and the CLI's RINGEX_ADMIN_TOKEN_FILE, one rule and
// one message. Whoever can write the file sets the token the node takes
// at its next start, and the one the CLI sends; whoever can write its
// directory puts a file of their own, mode 0644, in its place.
//
// The node (ReadTokenFile) also requires the file, and every directory
// on the way to it, to be owned by its effective user or by root, as ssh
// requires of a key: their owner may chmod them whatever their mode says,
// and so choose the token the node takes. The CLI does not: an
// operator's shell reads the node's file through a group it shares
// (owned by the node's user, mode 0640), and the token it sends gives
// no one else anything.
func AdminTokenFromFile(path string) (string, error) { return adminTokenFromFile(path, false) }

// adminTokenFromFile is AdminTokenFromFile, checking owners when owners.
func adminTokenFromFile(path string, owners bool) (string, error) {
	token, st, err := readTokenFile(path)
	if why := TokenUnsendable(token); err == nil && why != "" {
		// The file named, not admin.token, which was not set.
		err = fmt.Errorf("%s: the token in it %s", path, why)
	}
	if err == nil && st.Mode().Perm()&0o022 != 0 {
		err = fmt.Errorf("%s is writable by its group or others (mode %04o): whoever can write it sets the admin token; chmod go-w %s",
			path, st.Mode().Perm(), path)
	}
	if err == nil && owners {
		if uid, foreign := foreignOwner(st); foreign {
			err = fmt.Errorf("%s is owned by %s, not by %s: its owner can change it, and so the admin token; "+
				"chown it to %s, or keep the token in a file of your own%s", path, ownerName(uid), allowedOwners(), chownTo(), unmappedNote(uid))
		}
	}
	if err == nil {
		err = unsafeDir(path, st, owners)
	}
	if err != nil {
		return "", err
	}
	return token, nil
}

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
// directories on the way to it cannot be found, let alone checked.
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
	return fmt.Errorf("%s leads, through its links, to %s, not to the file read (a descriptor's link to a file with "+
		"another name left, a file of another mount namespace, or one replaced as it was read): the directories on the "+
		"way to it cannot be checked; name the file by a path of its own", path, to)
}

// unsafeDirectory refuses dir, a directory path (named: path made
// absolute) is found through, for unsafeDir.
func unsafeDirectory(path, named, dir string, owners bool) error {
	st, err := os.Stat(dir)
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

// fileOwner is the uid owning the file st describes; false when the
// system does not say. A variable for tests: a test that is not root
// cannot give a file another owner.
var fileOwner = func(st fs.FileInfo) (uint32, bool) {
	s, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return s.Uid, true
}

// processEUID is the process's effective uid, the one a file's owner is
// compared with (os.Geteuid).
var processEUID = os.Geteuid

// foreignOwner reports whether st is owned by a user other than the
// process's effective one and root, and which.
func foreignOwner(st fs.FileInfo) (uint32, bool) {
	uid, ok := fileOwner(st)
	return uid, ok && uid != 0 && int64(uid) != int64(processEUID())
}

// procUIDMap and procOverflowUID are the kernel's files saying which
// users this process's user namespace maps, and which uid it shows for a
// file's owner it does not map (variables for tests).
var procUIDMap, procOverflowUID = "/proc/self/uid_map", "/proc/sys/kernel/overflowuid"

// unmappedOwner reports whether uid, a file's owner, is the overflow uid
// (65534 unless the kernel says otherwise) standing for a user this
// process's user namespace does not map: no line of its uid_map maps uid.
// In the initial namespace the map is the identity, "0 0 4294967295",
// and maps every uid; false too when the map cannot be read.
//
// Such an owner is refused all the same (foreignOwner): the overflow uid
// stands for every user of the host the namespace leaves unmapped — host
// root, whose file a rootless container's bind mount shows so, and every
// other host user — and which one owns the file cannot be told from
// inside. Accepted, a bind-mounted file of another host user's would be
// read in a container where the same file is refused outside it.
// unmappedNote says so in the refusal.
func unmappedOwner(uid uint32) bool {
	overflow := uint64(65534)
	if b, err := os.ReadFile(procOverflowUID); err == nil {
		if v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 32); err == nil {
			overflow = v
		}
	}
	m, err := os.ReadFile(procUIDMap)
	if uint64(uid) != overflow || err != nil {
		return false
	}
	for line := range strings.Lines(string(m)) {
		f := strings.Fields(line) // inside, outside, count
		if len(f) != 3 {
			return false
		}
		inside, err1 := strconv.ParseUint(f[0], 10, 32)
		count, err2 := strconv.ParseUint(f[2], 10, 64)
		if err1 != nil || err2 != nil || uint64(uid) >= inside && uint64(uid)-inside < count {
			return false
		}
	}
	return true
}

// unmappedNote is what a refusal of a file or directory owned by uid
// adds when uid stands for a user of the host the process's user
// namespace does not map (unmappedOwner); "" otherwise.
func unmappedNote(uid uint32) string {
	if !unmappedOwner(uid) {
		return ""
	}
	return fmt.Sprintf(" (uid %d is how this user namespace — a rootless container's — shows every user of the host it does not map, "+
		"root or another: which one owns it cannot be told from here, so it is refused as another user's would be; "+
		"give the node a copy owned by a user the namespace maps, such as a container secret, or a file of the host user "+
		"whom /proc/self/uid_map maps to root here)", uid)
}

// allowedOwners names, for a message, the owners a token file and its
// directories may have: the process's user, or root — one user when the
// process runs as root (a message said "uid 0 or root").
func allowedOwners() string {
	if processEUID() == 0 {
		return "root, the user this process runs as"
	}
	return fmt.Sprintf("this process's user, %s, or root", ownerName(uint32(processEUID())))
}

// chownTo names, for a message, whom to chown a token file or directory
// to (allowedOwners).
func chownTo() string {
	if processEUID() == 0 {
		return "root"
	}
	return fmt.Sprintf("%s or root", ownerName(uint32(processEUID())))
}

// ownerName names uid for a message: "name (uid N)", or "uid N" when
// the user database has no name for it.
func ownerName(uid uint32) string {
	id := strconv.FormatUint(uint64(uid), 10)
	if u, err := user.LookupId(id); err == nil && u.Username != "" {
		return fmt.Sprintf("%s (uid %s)", u.Username, id)
	}
	return "uid " + id
}

// TokenFileWarning says, when the file admin.token_file names may be read
// by users other than its owner and group — the token with it — what to
// do about it; "" when it may not, or when no file is named or it cannot
// be looked at (ReadTokenFile reported that). Not refused: a container
// secret is mounted 0444, and there only the node's user reads it.
func (c *Config) TokenFileWarning() string {
	path := c.Admin.TokenFile
	if path == "" {
		return ""
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm()&0o004 == 0 {
		return ""
	}
	return fmt.Sprintf("admin.token_file %s is readable by every user of this machine (mode %04o): any of them can read the admin token; "+
		"chmod o-r it (a container's secret file is fine where only the node runs)", path, st.Mode().Perm())
}

// TokenFromFile is the token in the file at path: its content less one
// trailing newline ("\n" or "\r\n", as `echo` and editors leave). Errors
// name the file, never the content.
func TokenFromFile(path string) (string, error) {
	token, _, err := readTokenFile(path)
	return token, err
}

// readTokenFile is TokenFromFile, with the stat of the file it read (the
// one opened: not another put in its place since).
func readTokenFile(path string) (string, fs.FileInfo, error) {
	// A regular file only: opening a FIFO no one writes to blocked for
	// good — `ringex serve` hung at its start, before its signal handlers
	// (a review helper's finding). Container secrets and systemd
	// credentials are regular files.
	f, err := vfs.OpenRegular(path, os.O_RDONLY, 0)
	if err != nil {
		return "", nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", path, err)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxTokenFileBytes+1))
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(b) > maxTokenFileBytes {
		return "", nil, fmt.Errorf("%s holds over %d bytes: not a token", path, maxTokenFileBytes)
	}
	token := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if token == "" {
		return "", nil, fmt.Errorf("%s is empty", path)
	}
	return token, st, nil
}
