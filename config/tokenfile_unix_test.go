//go:build unix

package config

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A token file its group or others may write is refused, naming the key,
// the file and its mode, not the token: whoever can write it sets the
// node's admin token. One others may read is read — a container secret
// is mounted 0444 — and TokenFileWarning says so; an owner's or group's
// file raises nothing.
func TestTokenFilePermissions(t *testing.T) {
	const token = "perm-t0ken-0123456789abcdef"
	for _, tc := range []struct {
		mode    os.FileMode
		refused bool
		warned  bool
	}{
		{0o600, false, false},
		{0o400, false, false},
		{0o640, false, false},
		{0o644, false, true},
		{0o444, false, true}, // a compose secret
		{0o620, true, false},
		{0o602, true, false},
		{0o660, true, false},
		{0o666, true, false}, // not read: its refusal is what the node says
	} {
		path := filepath.Join(t.TempDir(), "admin_token")
		if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, tc.mode); err != nil { // past the umask
			t.Fatal(err)
		}
		c := Default()
		c.Admin.TokenFile = path
		err := c.ReadTokenFile()
		switch {
		case tc.refused && (err == nil || !strings.Contains(err.Error(), "admin.token_file") || !strings.Contains(err.Error(), path) ||
			!strings.Contains(err.Error(), fmt.Sprintf("%04o", tc.mode)) || !strings.Contains(err.Error(), "writable") || strings.Contains(err.Error(), token)):
			t.Errorf("mode %04o: %v; want refused as writable, naming admin.token_file, the file and its mode, not the token", tc.mode, err)
		case !tc.refused && (err != nil || c.Admin.Token != token):
			t.Errorf("mode %04o: %v, token %q; want it read", tc.mode, err, c.Admin.Token)
		}
		w := c.TokenFileWarning()
		if got := w != ""; got != tc.warned || strings.Contains(w, token) || tc.warned && !strings.Contains(w, path) {
			t.Errorf("mode %04o: warning %q; want one naming the file: %v", tc.mode, w, tc.warned)
		}
	}
}

// TokenFileWarning judges the file the token was read from, by the mode
// its open saw, not the file its path leads to when the warning is made:
// a secret volume's version read 0644 and swapped for a 0600 one before
// the warning raises it (the token taken was in a file every user could
// read), and one read 0600 and swapped for a 0644 one raises none. The
// warning looked the path up again, and judged the file swapped in.
func TestTokenFileWarningIsOfTheFileRead(t *testing.T) {
	secret := newSecretVolume(t)
	for _, tc := range []struct {
		read, next os.FileMode
		warned     bool
	}{{0o644, 0o600, true}, {0o600, 0o644, false}} {
		secret.mode = tc.read
		secret.swap()
		c := Default()
		c.Admin.TokenFile = secret.path()
		if err := c.ReadTokenFile(); err != nil || c.Admin.Token != secret.token() {
			t.Fatalf("a %04o version: %v (its token taken: %v); want it read", tc.read, err, c.Admin.Token == secret.token())
		}
		secret.mode = tc.next
		secret.swap()
		w := c.TokenFileWarning()
		if got := w != ""; got != tc.warned || tc.warned && !strings.Contains(w, fmt.Sprintf("%s is readable by every user of this machine (mode %04o)", secret.path(), tc.read)) {
			t.Errorf("a %04o version read, a %04o one swapped in before the warning: %q; want a warning of the file read (mode %04o): %v",
				tc.read, tc.next, w, tc.read, tc.warned)
		}
	}
}

// A token file named through a symlink is judged by the file read, not
// the link (a link's own mode is 0777, and chmod cannot change it): a
// link to a file others may write is refused, one to an owner's file read.
func TestTokenFileThroughASymlink(t *testing.T) {
	const token = "link-t0ken-0123456789abcdef"
	for _, tc := range []struct {
		mode    os.FileMode
		refused bool
	}{{0o600, false}, {0o666, true}} {
		dir := t.TempDir()
		target, link := filepath.Join(dir, "target"), filepath.Join(dir, "admin_token")
		if err := os.WriteFile(target, []byte(token), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(target, tc.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, link); err != nil {
			t.Skip("symlink:", err)
		}
		c := Default()
		c.Admin.TokenFile = link
		err := c.ReadTokenFile()
		if tc.refused != (err != nil) || !tc.refused && c.Admin.Token != token {
			t.Errorf("a link to a %04o file: %v (token read: %v), want refused %v", tc.mode, err, c.Admin.Token == token, tc.refused)
		}
	}
}

// A token file 0600 in a directory its group or others may write is
// refused, naming the directory: whoever can write the directory renames
// a file of their own (0644: the file check passes) over the token file
// and sets the admin token. So is a link to a safe file from such a
// directory (the link is replaced), and a link from a safe directory to
// a file in such a directory. A sticky directory (/tmp) lets only a
// file's owner replace it: read.
func TestTokenFileInAWritableDirectory(t *testing.T) {
	const token = "dir-t0ken-0123456789abcdef"
	base := t.TempDir()
	mkdir := func(name string, mode os.FileMode) string {
		d := filepath.Join(base, name)
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d, mode); err != nil { // not the umask's
			t.Fatal(err)
		}
		return d
	}
	safe, shared, groupShared, sticky := mkdir("safe", 0o755), mkdir("shared", 0o777), mkdir("group", 0o770), mkdir("sticky", 0o777|os.ModeSticky)
	write := func(dir string) string {
		p := filepath.Join(dir, "admin_token")
		if err := os.WriteFile(p, []byte(token+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	link := func(from, to string) string {
		p := filepath.Join(from, "link_"+filepath.Base(filepath.Dir(to)))
		if err := os.Symlink(to, p); err != nil {
			t.Skip("symlink:", err)
		}
		return p
	}
	inSafe, inShared, inGroup, inSticky := write(safe), write(shared), write(groupShared), write(sticky)
	sharedToSafe, chain := link(shared, inSafe), filepath.Join(safe, "link_to_link")
	if err := os.Symlink(sharedToSafe, chain); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		what, path, refusedFor string // refusedFor: the directory named; "" read
	}{
		{"a file in a 0755 directory", inSafe, ""},
		{"a file in a 0777 directory", inShared, shared},
		{"a file in a 0770 directory", inGroup, groupShared},
		{"a file in a sticky 1777 directory", inSticky, ""},
		{"a link in a 0777 directory to a file in a 0755 one", sharedToSafe, shared},
		{"a link in a 0755 directory to a file in a 0777 one", link(safe, inShared), shared},
		{"a link in a 0755 directory to a file in a sticky 1777 one", link(safe, inSticky), ""},
		// The link in between is replaced in its own directory: to one
		// to any file the node may read whose words are known.
		{"a link in a 0755 directory to a link in a 0777 one to a file in a 0755 one", chain, shared},
	} {
		got, err, cliErr := readAsNodeAndCLI(tc.path)
		if tc.refusedFor == "" {
			if err != nil || got != token || cliErr != nil {
				t.Errorf("%s: %v (CLI: %v), want read", tc.what, err, cliErr)
			}
			continue
		}
		if err == nil || cliErr == nil || !strings.Contains(err.Error(), "admin.token_file") || !strings.Contains(err.Error(), "directory "+tc.refusedFor+",") ||
			!strings.Contains(err.Error(), "chmod go-w "+tc.refusedFor) || strings.Contains(err.Error(), token) || !strings.Contains(err.Error(), cliErr.Error()) {
			t.Errorf("%s: %v (CLI: %v); want refused naming directory %s and chmod go-w, not the token, the CLI in the same words", tc.what, err, cliErr, tc.refusedFor)
		}
	}
}

// A Kubernetes secret volume updates a mounted secret by an atomic swap:
// the new files in a new directory, then a link ..data renamed over the
// one leading to the old directory, which is removed. A token file read
// just before a swap is found, when its path is looked up again for the
// checks, to lead to another file (or to none): refused as "replaced as
// it was read", it stayed refused — the node did not start — until the
// next restart. The node and the CLI read it again, a bounded number of
// times, and take the new token; a file replaced at every read is
// refused, saying so and how many times it was read. The swap is done by the
// owner seam (fileOwner), called between the read and the lookups' end.
// The swap is over when it is seen: the file is read again at once, with
// no pause (pauseTokenFileRead, a file not found's).
func TestTokenFileSwappedAsItIsRead(t *testing.T) {
	secret := newSecretVolume(t)
	path := secret.path()
	swaps := 0 // swaps left to make, one at each call of fileOwner
	sysOwner, sysPause := fileOwner, pauseTokenFileRead
	fileOwner = func(st fs.FileInfo) (uint32, bool) {
		if swaps > 0 {
			swaps--
			secret.swap()
		}
		return sysOwner(st)
	}
	pauseTokenFileRead = func(d time.Duration) { t.Errorf("paused %v before reading again a file replaced as it was read", d) }
	t.Cleanup(func() { fileOwner, pauseTokenFileRead = sysOwner, sysPause })

	secret.readAfterOneSwap(&swaps, "swapped once as it was read")
	swaps = 1 << 20
	c := Default()
	c.Admin.TokenFile = path
	err := c.ReadTokenFile()
	want := fmt.Sprintf("(read %d times, refused each time)", maxTokenFileReads)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.HasSuffix(err.Error(), want) || strings.Contains(err.Error(), "swap-t0ken") {
		t.Errorf("the node, the secret swapped at every read: %v; want refused naming the file, ending %q, not the token", err, want)
	}
}

// A swap can leave the token file's path leading nowhere for an instant:
// the open followed ..data to the old directory just as it was removed,
// or the link was removed before the new one was made. A node whose open
// met that instant — "no such file or directory" — did not start; the
// node and the CLI read the file again, as for a file replaced as it was
// read, and take the new token. A file missing at every read is refused
// after maxTokenFileReads opens with the open's own error, as a file
// never there. The instant is made by the open seam (openTokenFile):
// ..data removed, the file opened, then the swap done.
func TestTokenFileMissingAtItsOpenInASwap(t *testing.T) {
	secret := newSecretVolume(t)
	path := secret.path()
	swaps, opens := 0, 0 // swaps left to make, one at each open; opens made
	sysOpen := openTokenFile
	openTokenFile = func(name string, flag int, perm os.FileMode) (*os.File, error) {
		opens++
		if swaps == 0 {
			return sysOpen(name, flag, perm)
		}
		swaps--
		if err := os.Remove(filepath.Join(filepath.Dir(path), "..data")); err != nil {
			t.Fatal(err)
		}
		f, err := sysOpen(name, flag, perm)
		secret.swap()
		return f, err
	}
	t.Cleanup(func() { openTokenFile = sysOpen })

	secret.readAfterOneSwap(&swaps, "missing at its open in a swap")

	opens = 0
	missing := filepath.Join(t.TempDir(), "admin_token")
	c := Default()
	c.Admin.TokenFile = missing
	err := c.ReadTokenFile()
	if err == nil || !strings.HasSuffix(err.Error(), "open "+missing+": no such file or directory") || opens != maxTokenFileReads {
		t.Errorf("a file never there: %v after %d opens; want the open's error, after %d", err, opens, maxTokenFileReads)
	}
}

// secretVolume is a Kubernetes secret volume holding one file,
// admin_token, laid out as the kubelet's atomic writer lays it out: the
// file a link to ..data/admin_token, ..data a link to the directory of
// the current version (..vN), which holds the file.
type secretVolume struct {
	t       *testing.T
	dir     string
	version int         // the current version, ..data's
	mode    os.FileMode // the mode swap gives the next version's file
}

// newSecretVolume makes a secret volume in a test's directory, at
// version 1.
func newSecretVolume(t *testing.T) *secretVolume {
	v := &secretVolume{t: t, dir: filepath.Join(t.TempDir(), "secret"), mode: 0o644}
	if err := os.Mkdir(v.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	v.swap()
	if err := os.Symlink(filepath.Join("..data", "admin_token"), v.path()); err != nil {
		t.Fatal(err)
	}
	return v
}

// path is the token file's path, as a pod names it.
func (v *secretVolume) path() string { return filepath.Join(v.dir, "admin_token") }

// token is the token of the current version.
func (v *secretVolume) token() string {
	return fmt.Sprintf("swap-t0ken-%d-0123456789abcdef", v.version)
}

// readAfterOneSwap checks that the node (ReadTokenFile) and the CLI
// (AdminTokenFromFile) each take the token of the version after one swap
// made as they read (*swaps set to 1 before each read, the swaps left to
// make, which the test's seam counts down); how says what the swap did.
func (v *secretVolume) readAfterOneSwap(swaps *int, how string) {
	v.t.Helper()
	*swaps = 1
	c := Default()
	c.Admin.TokenFile = v.path()
	if err := c.ReadTokenFile(); err != nil || c.Admin.Token != v.token() || *swaps != 0 {
		v.t.Errorf("the node, the secret %s: %v (token of the version after the swap: %v, swaps left %d); want the new token",
			how, err, c.Admin.Token == v.token(), *swaps)
	}
	*swaps = 1
	if token, err := AdminTokenFromFile(v.path()); err != nil || token != v.token() || *swaps != 0 {
		v.t.Errorf("the CLI, the secret %s: %v (token of the version after the swap: %v, swaps left %d); want the new token",
			how, err, token == v.token(), *swaps)
	}
}

// swap makes the next version, its file of mode v.mode, and points
// ..data at it, renaming a new link over the old, as the kubelet's atomic
// writer does; the version before is removed.
func (v *secretVolume) swap() {
	v.version++
	data := fmt.Sprintf("..v%d", v.version)
	if err := os.Mkdir(filepath.Join(v.dir, data), 0o755); err != nil {
		v.t.Fatal(err)
	}
	file := filepath.Join(v.dir, data, "admin_token")
	if err := os.WriteFile(file, []byte(v.token()+"\n"), v.mode); err != nil {
		v.t.Fatal(err)
	}
	if err := os.Chmod(file, v.mode); err != nil { // past the umask
		v.t.Fatal(err)
	}
	if err := os.Symlink(data, filepath.Join(v.dir, "..data_tmp")); err != nil {
		v.t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(v.dir, "..data_tmp"), filepath.Join(v.dir, "..data")); err != nil {
		v.t.Fatal(err)
	}
	if v.version > 1 {
		if err := os.RemoveAll(filepath.Join(v.dir, fmt.Sprintf("..v%d", v.version-1))); err != nil {
			v.t.Fatal(err)
		}
	}
}
