package config

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// admin.token_file (here as RINGEX_ADMIN_TOKEN_FILE, as a container sets
// it) gives the token, less the newline `echo` leaves; the token
// validates as one set directly — it satisfies an admin port off
// loopback — and config print shows the file, not the token, and loads
// back to the same config.
func TestTokenFromAFile(t *testing.T) {
	const token = "f1le-t0ken-0123456789abcdef"
	path := filepath.Join(t.TempDir(), "admin_token")
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load("", []string{"RINGEX_ADMIN_TOKEN_FILE=" + path, "RINGEX_ADMIN_LISTEN=0.0.0.0:7480"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "admin.token") {
		t.Fatalf("before the file is read, an admin port off loopback: %v, want admin.token required", err)
	}
	if err := c.ReadTokenFile(); err != nil {
		t.Fatal(err)
	}
	if c.Admin.Token != token {
		t.Fatalf("token %q, want %q", c.Admin.Token, token)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := c.Print(&out); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), token) || !strings.Contains(out.String(), path) {
		t.Fatalf("config print shows the token or not its file:\n%s", out.String())
	}
	printed := filepath.Join(t.TempDir(), "printed.yaml")
	if err := os.WriteFile(printed, out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	back, err := Load(printed, nil)
	if err == nil {
		err = back.ReadTokenFile()
	}
	if err != nil || back.Admin.Token != token {
		t.Fatalf("the printed config loads back with token %q: %v", back.Admin.Token, err)
	}
}

// A token file that is missing, empty, not a token, set beside
// admin.token, or whose token no client can send (white space around
// it, a second newline) is refused, naming the key and the file — never
// what it holds.
func TestTokenFileRefusals(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	secret := "s3cret-" + strings.Repeat("x", 20)
	for _, tc := range []struct {
		name, path, token, want string
	}{
		{"missing", filepath.Join(dir, "none"), "", "no such file"},
		{"empty", write("empty", "\n"), "", "is empty"},
		{"too large", write("large", strings.Repeat(secret, 300)), "", "not a token"},
		{"beside admin.token", write("both", secret), "direct-token", "admin.token is set too"},
		// The file named, not admin.token, which the operator did not set.
		{"a trailing space", write("space", secret+" \n"), "", "leading or trailing white space"},
		{"a second newline", write("newlines", secret+"\n\n"), "", "control character"},
		{"two lines", write("lines", secret+"\nsecond\n"), "", ""},
	} {
		c := Default()
		c.Admin.TokenFile, c.Admin.Token = tc.path, tc.token
		err := c.ReadTokenFile()
		if tc.want == "" {
			// Read whole; Validate refuses the newline inside.
			if err == nil {
				err = c.Validate()
			}
			if err == nil || !strings.Contains(err.Error(), "control character") || strings.Contains(err.Error(), secret) {
				t.Errorf("%s: %v, want the token refused for a control character, unshown", tc.name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "admin.token_file") ||
			!strings.Contains(err.Error(), tc.path) || strings.Contains(err.Error(), secret) {
			t.Errorf("%s: %v, want admin.token_file, %s and %q, without the content", tc.name, err, tc.path, tc.want)
		}
	}
}

// A token file that is a FIFO nobody writes to (a misnamed path, a
// credential helper that has not started) must not block the reader
// forever: `ringex serve` hung at its start, before its signal handlers,
// and so did every admin command reading RINGEX_ADMIN_TOKEN_FILE. Bounded
// without a clock: either TokenFromFile returns, or the test sees the
// thread that runs it asleep in the kernel waiting for the FIFO's writer
// (its wchan is wait_for_partner), releases it and fails.
func TestTokenFileFIFODoesNotBlock(t *testing.T) {
	if b, err := os.ReadFile("/proc/thread-self/wchan"); err != nil || len(b) == 0 {
		t.Skip("no /proc wchan to tell a blocked open by")
	}
	path := filepath.Join(t.TempDir(), "admin_token")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skip("mkfifo:", err)
	}
	type result struct {
		token string
		err   error
	}
	tids, done := make(chan int, 1), make(chan result, 1)
	go func() {
		runtime.LockOSThread() // ends with the goroutine: the thread goes too
		tids <- syscall.Gettid()
		tok, err := TokenFromFile(path)
		done <- result{tok, err}
	}()
	wchan := fmt.Sprintf("/proc/self/task/%d/wchan", <-tids)
	for {
		select {
		case r := <-done:
			if r.err == nil {
				t.Fatalf("a FIFO with no writer gave token %q", r.token)
			}
			return
		default:
		}
		if b, _ := os.ReadFile(wchan); string(b) == "wait_for_partner" {
			// Blocked opening the FIFO until someone writes to it:
			// release it (a writer that closes: EOF) and fail.
			if w, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
				w.Close()
			}
			r := <-done
			t.Fatalf("TokenFromFile blocked opening a FIFO no one writes to (released by the test: %q, %v)", r.token, r.err)
		}
		runtime.Gosched()
	}
}

// A directory named as the token file is refused, naming it.
func TestTokenFileDirectory(t *testing.T) {
	dir := t.TempDir()
	c := Default()
	c.Admin.TokenFile = dir
	err := c.ReadTokenFile()
	if err == nil || !strings.Contains(err.Error(), "admin.token_file") || !strings.Contains(err.Error(), dir) {
		t.Fatalf("a directory: %v", err)
	}

}

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
		{0o666, true, true},
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

// A token file named through a descriptor this process holds
// (/proc/self/fd/N, /dev/fd/N) whose file has no name left — deleted
// while open, or a memfd — is read: no directory holds it, so no one
// can rename a file of their own over it, and it is reached only
// through descriptors (the one its starter hands the process) and the
// /proc links of their holders, which only the holder's user and root
// may follow. Its own mode is still judged. The directory walk failed
// on the link's text ("lstat /memfd:token (deleted): no such file or
// directory"). A descriptor of a file with another name left, which
// the link does not show, is refused saying what the path led to and
// why: the directories on the way to the file read cannot be checked;
// one of a file with its name is judged by that name's directories.
func TestTokenFileThroughADescriptor(t *testing.T) {
	const token = "fd-t0ken-0123456789abcdef"
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		t.Skip("no /proc/self/fd:", err)
	}
	dir := t.TempDir()
	open := func(name string, mode os.FileMode) *os.File {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(token+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	fdPath := func(f *os.File) string { return fmt.Sprintf("/proc/self/fd/%d", f.Fd()) }
	deleted, deletedOpen := open("deleted", 0o600), open("deleted_open", 0o666)
	for _, p := range []string{"deleted", "deleted_open"} {
		if err := os.Remove(filepath.Join(dir, p)); err != nil {
			t.Fatal(err)
		}
	}
	memfd, err := unix.MemfdCreate("admin_token", 0)
	if err != nil {
		t.Skip("memfd_create:", err)
	}
	mem := os.NewFile(uintptr(memfd), "memfd")
	t.Cleanup(func() { mem.Close() })
	if _, err := mem.WriteString(token + "\n"); err != nil {
		t.Fatal(err)
	}
	if err := mem.Chmod(0o600); err != nil { // made 0777
		t.Fatal(err)
	}
	linked := open("linked", 0o600)
	if err := os.Link(filepath.Join(dir, "linked"), filepath.Join(dir, "other_name")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "linked")); err != nil {
		t.Fatal(err)
	}
	shared := filepath.Join(dir, "shared")
	if err := os.Mkdir(shared, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(shared, 0o777); err != nil {
		t.Fatal(err)
	}
	inShared := open("shared/admin_token", 0o600)
	// A link from a safe directory to a descriptor's link that someone
	// who may write the 0777 directory put there in place of the token
	// file: the directory the path leads through is judged.
	planted := filepath.Join(dir, "link_to_shared")
	if err := os.Symlink(fdPath(deleted), filepath.Join(shared, "fd_link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(shared, "fd_link"), planted); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		what, path, refusedFor string // refusedFor: what the refusal says; "" read
	}{
		{"a deleted file", fdPath(deleted), ""},
		{"a deleted file through /dev/fd", fmt.Sprintf("/dev/fd/%d", deleted.Fd()), ""},
		{"a memfd", fdPath(mem), ""},
		{"a deleted file others may write", fdPath(deletedOpen), "writable by its group or others"},
		{"a file whose other name is left", fdPath(linked), " leads, through its links, to " + filepath.Join(dir, "linked") + " (deleted) (no such file or directory), not to the file read"},
		{"a file in a 0777 directory", fdPath(inShared), "directory " + shared + ","},
		{"a link to a descriptor's link in a 0777 directory", planted, " leads, through its links, through directory " + shared + ","},
	} {
		got, err, cliErr := readAsNodeAndCLI(tc.path)
		if tc.refusedFor == "" {
			if err != nil || got != token || cliErr != nil {
				t.Errorf("%s (%s): %v (CLI: %v), want read", tc.what, tc.path, err, cliErr)
			}
			continue
		}
		if err == nil || cliErr == nil || !strings.Contains(err.Error(), tc.path) || !strings.Contains(err.Error(), tc.refusedFor) ||
			strings.Contains(err.Error(), token) || !strings.Contains(err.Error(), cliErr.Error()) {
			t.Errorf("%s (%s): %v (CLI: %v); want refused saying %q, not the token, the CLI in the same words", tc.what, tc.path, err, cliErr, tc.refusedFor)
		}
	}
	// A file whose last name goes between its opening and its stat has a
	// link count of 0 in that stat, as a descriptor's nameless file does:
	// reached by a link from a safe directory into the 0777 one, it is
	// refused all the same — whoever may write that directory put it there.
	raced := open("shared/raced", 0o600)
	link := filepath.Join(dir, "link_to_raced")
	if err := os.Symlink(filepath.Join(shared, "raced"), link); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(shared, "raced")); err != nil {
		t.Fatal(err)
	}
	st, err := raced.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if err := unsafeDir(link, st, true); err == nil {
		t.Errorf("a link to a file in a 0777 directory, its name gone as it was opened: read; want refused")
	}
	// A path that leads, once the file is read, to another file than the
	// one read (replaced as it was read) is refused: the directories
	// judged are not the read file's.
	if st, err = open("replaced", 0o600).Stat(); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "other_name")
	if err := unsafeDir(other, st, true); err == nil || !strings.Contains(err.Error(), other+" leads, through its links, to "+other+", not to the file read") {
		t.Errorf("a path leading to another file than the one read: %v; want refused saying so", err)
	}
}

// readAsNodeAndCLI reads the token file at path as the node does
// (ReadTokenFile: the token it takes and its error) and as the admin
// commands do (AdminTokenFromFile: their error).
func readAsNodeAndCLI(path string) (string, error, error) {
	c := Default()
	c.Admin.TokenFile = path
	err := c.ReadTokenFile()
	_, cliErr := AdminTokenFromFile(path)
	return c.Admin.Token, err, cliErr
}
