package config

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

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
	mem := memfdHolding(t, token+"\n")
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

// A memfd is made 0777, and a token file in one handed over as made is
// refused as writable by group and others, as any file is (its mode still
// decides who may open it for writing through a /proc link). The advice
// is to fchmod the descriptor before handing it over: "chmod go-w
// /proc/self/fd/N", as it said, is done by an operator's shell on the
// descriptor N of its own chmod — nothing, or another file. So for a file
// deleted while open, which no path names either.
func TestTokenFileInAMemfdMadeWritable(t *testing.T) {
	const token = "memfd-t0ken-0123456789abcdef"
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		t.Skip("no /proc/self/fd:", err)
	}
	path := fmt.Sprintf("/proc/self/fd/%d", memfdHolding(t, token+"\n").Fd())
	got, err, cliErr := readAsNodeAndCLI(path)
	if err == nil || cliErr == nil || got == token || !strings.Contains(err.Error(), "(mode 0777)") ||
		strings.Contains(err.Error(), "chmod go-w") || !strings.Contains(err.Error(), "fchmod") ||
		strings.Contains(err.Error(), token) || !strings.Contains(err.Error(), cliErr.Error()) {
		t.Fatalf("a memfd as made (0777): %v (CLI: %v); want refused, saying to fchmod its descriptor, not chmod go-w %s, "+
			"not the token, the CLI in the same words", err, cliErr, path)
	}
}

// memfdHolding is a memfd holding body, made as memfd_create makes it
// (mode 0777), closed when t ends; the test is skipped where
// memfd_create is refused.
func memfdHolding(t *testing.T, body string) *os.File {
	t.Helper()
	fd, err := unix.MemfdCreate("admin_token", 0)
	if err != nil {
		t.Skip("memfd_create:", err)
	}
	mem := os.NewFile(uintptr(fd), "memfd")
	t.Cleanup(func() { mem.Close() })
	if _, err := mem.WriteString(body); err != nil {
		t.Fatal(err)
	}
	return mem
}
