//go:build unix

package config

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A token file, or a directory on the way to it, owned by another user
// than the process's effective one and root is refused by the node
// (ReadTokenFile), naming the file or directory and its owner, as ssh
// refuses such a key: its owner may chmod it and write a token of their
// own, whatever its mode says. A root-owned one (a container secret, a
// systemd credential) is read. The CLI (AdminTokenFromFile) reads them
// all, and so do the other commands that load the config
// (ReadTokenFileNotServing): an operator reads the node's file through a
// shared group.
// Owners are given by name (fileOwner): a test that is not root cannot
// chown; TestTokenFileOwnerChowned does it for real as root.
func TestTokenFileOwner(t *testing.T) {
	const token = "owner-t0ken-0123456789abcdef"
	other := uint32(processEUID() + 1) // neither this process's user nor root
	ownedBy(t, map[string]uint32{"their_token": other, "root_token": 0, "theirs": other})
	base := t.TempDir()
	mine, theirs := filepath.Join(base, "mine"), filepath.Join(base, "theirs")
	for _, d := range []string{mine, theirs} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(dir, name string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(token+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	theirFile, rootFile, myFile, myFileInTheirs := write(mine, "their_token"), write(mine, "root_token"), write(mine, "my_token"), write(theirs, "my_token")
	link := filepath.Join(mine, "link")
	if err := os.Symlink(myFileInTheirs, link); err != nil {
		t.Fatal(err)
	}
	ownerWords := fmt.Sprintf("uid %d", other)
	for _, tc := range []struct {
		what, path, refusedFor string // refusedFor: what the message names as owned by another; "" read
	}{
		{"a file of another user's", theirFile, theirFile + " is owned by "},
		{"a file of root's", rootFile, ""},
		{"a file of this user's", myFile, ""},
		{"a file of this user's in a directory of another user's", myFileInTheirs, "directory " + theirs + ", owned by "},
		{"a link to a file in a directory of another user's", link, "directory " + theirs + ", owned by "},
	} {
		c := Default()
		c.Admin.TokenFile = tc.path
		err := c.ReadTokenFile()
		_, cliErr := AdminTokenFromFile(tc.path)
		if cliErr != nil {
			t.Errorf("%s: the CLI refused it (%v), want read", tc.what, cliErr)
		}
		notServing := Default()
		notServing.Admin.TokenFile = tc.path
		if err := notServing.ReadTokenFileNotServing(); err != nil || notServing.Admin.Token != token {
			t.Errorf("%s: a command not serving refused it (%v), want read", tc.what, err)
		}
		if tc.refusedFor == "" {
			if err != nil || c.Admin.Token != token {
				t.Errorf("%s: %v, want read", tc.what, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), "admin.token_file") || !strings.Contains(err.Error(), tc.refusedFor) ||
			!strings.Contains(err.Error(), ownerWords) || !strings.Contains(err.Error(), "chown") || strings.Contains(err.Error(), token) {
			t.Errorf("%s: %v; want refused naming %q and its owner (%s), chown, not the token",
				tc.what, err, tc.refusedFor, ownerWords)
		}
	}
}

// As root, a token file really owned by another user (chown) is refused
// naming its owner: fileOwner reads the owner the system gives.
func TestTokenFileOwnerChowned(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only root can give a file another owner; TestTokenFileOwner covers the refusal")
	}
	const uid = 4242
	path := filepath.Join(t.TempDir(), "admin_token")
	if err := os.WriteFile(path, []byte("chown-t0ken-0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, uid, -1); err != nil {
		t.Fatal(err)
	}
	readAsNode := func(path string) error {
		c := Default()
		c.Admin.TokenFile = path
		return c.ReadTokenFile()
	}
	if err := readAsNode(path); err == nil || !strings.Contains(err.Error(), path+" is owned by ") ||
		!strings.Contains(err.Error(), fmt.Sprintf("uid %d", uid)) {
		t.Fatalf("a token file owned by uid %d, read as root: %v; want refused naming its owner", uid, err)
	}
	dir := filepath.Dir(path)
	if err := os.Chown(path, 0, -1); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, uid, -1); err != nil {
		t.Fatal(err)
	}
	if err := readAsNode(path); err == nil || !strings.Contains(err.Error(), "directory "+dir+", owned by ") {
		t.Fatalf("a token file in a directory owned by uid %d, read as root: %v; want refused naming the directory's owner", uid, err)
	}
}

// A node run as root refuses a file of another user's saying to chown it
// to root — not "to uid 0 or root", as if they were two — and names the
// user it runs as by name where the user database has one.
func TestTokenFileOwnerMessageOfARootNode(t *testing.T) {
	const other = 4242
	ownedBy(t, map[string]uint32{"their_token": other})
	sysEUID := processEUID
	processEUID = func() int { return 0 }
	t.Cleanup(func() { processEUID = sysEUID })
	path := filepath.Join(t.TempDir(), "their_token")
	if err := os.WriteFile(path, []byte("root-node-t0ken-0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := Default()
	c.Admin.TokenFile = path
	err := c.ReadTokenFile()
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("owned by uid %d, not by root, the user this process runs as:", other)) ||
		!strings.Contains(err.Error(), "chown it to root,") || strings.Contains(err.Error(), "uid 0 or root") {
		t.Fatalf("a root node's token file owned by uid %d: %v; want refused saying to chown it to root", other, err)
	}
}

// ownedBy has fileOwner give each file or directory named in owners (by
// its base name) that owner, and every other its own, until t ends: a
// test that is not root cannot chown.
func ownedBy(t *testing.T, owners map[string]uint32) {
	t.Helper()
	sysOwner := fileOwner
	fileOwner = func(st fs.FileInfo) (uint32, bool) {
		if uid, ok := owners[st.Name()]; ok {
			return uid, true
		}
		return sysOwner(st)
	}
	t.Cleanup(func() { fileOwner = sysOwner })
}

// In a user namespace other than the initial one (a rootless
// container's), a file of a host user the namespace does not map — host
// root's, bind-mounted in — shows as owned by the overflow uid, 65534.
// It is refused, as another user's file is: that uid stands for every
// unmapped host user, root or not, and which one owns the file cannot be
// told from inside. The refusal says so, for the file and for a
// directory on the way, and how to give the node a file it reads. Where
// the namespace maps uid 65534 (to a user of its own: nobody in the
// container) or in the initial namespace, it is another user's, refused
// in the usual words. The kernel's files are fakes (procUIDMap,
// procOverflowUID).
func TestTokenFileOwnedByAnUnmappedUser(t *testing.T) {
	const token = "userns-t0ken-0123456789abcdef"
	const overflow = 65534
	ownedBy(t, map[string]uint32{"host_token": overflow, "host_dir": overflow})
	kernel := t.TempDir()
	sysMap, sysOverflow := procUIDMap, procOverflowUID
	procUIDMap, procOverflowUID = filepath.Join(kernel, "uid_map"), filepath.Join(kernel, "overflowuid")
	t.Cleanup(func() { procUIDMap, procOverflowUID = sysMap, sysOverflow })
	if err := os.WriteFile(procOverflowUID, []byte("65534\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := t.TempDir()
	hostDir := filepath.Join(base, "host_dir")
	if err := os.Mkdir(hostDir, 0o755); err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, p := range []string{filepath.Join(base, "host_token"), filepath.Join(hostDir, "my_token")} {
		if err := os.WriteFile(p, []byte(token+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	const note = "uid 65534 is how this user namespace"
	for _, tc := range []struct {
		what, uidMap string
		unmapped     bool // the refusal says why: 65534 is a host user unmapped
	}{
		{"the initial namespace", "         0          0 4294967295\n", false},
		{"a rootless container's, 65534 unmapped", "         0       1000          1\n", true},
		{"a namespace mapping 0–65533", "         0     100000      65534\n", true},
		{"a rootless container's, 65534 mapped to a user of its own", "         0       1000          1\n         1     100000      65536\n", false},
	} {
		if err := os.WriteFile(procUIDMap, []byte(tc.uidMap), 0o600); err != nil {
			t.Fatal(err)
		}
		for i, path := range files {
			c := Default()
			c.Admin.TokenFile = path
			err := c.ReadTokenFile()
			owned := path + " is owned by "
			if i == 1 {
				owned = "directory " + hostDir + ", owned by "
			}
			if err == nil || !strings.Contains(err.Error(), owned) || !strings.Contains(err.Error(), "uid 65534") ||
				strings.Contains(err.Error(), note) != tc.unmapped || strings.Contains(err.Error(), token) {
				t.Errorf("%s, %s: %v; want refused naming %q and its owner, saying %q: %v", tc.what, path, err, owned, note, tc.unmapped)
			}
			if tc.unmapped && !strings.Contains(err.Error(), "root or another") {
				t.Errorf("%s, %s: %v; want it saying the uid may be host root or another user", tc.what, path, err)
			}
		}
	}
}
