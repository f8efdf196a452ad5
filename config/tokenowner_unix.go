//go:build unix

package config

import (
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"strconv"
	"strings"
	"syscall"
)

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
