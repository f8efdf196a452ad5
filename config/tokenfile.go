package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/ringex/ringex/vfs"
)

// maxTokenFileBytes bounds the token TokenFromFile reads: a token is a
// line, and its line end is not counted.
const maxTokenFileBytes = 4096

// ReadTokenFile sets admin.token from the file admin.token_file names,
// when it names one (TokenFromFile). Call it after every override and
// before Validate, which then checks the token as if it had been set
// directly. admin.token may be set too when it is the file's token; a
// different one is refused, naming both and neither token (AgreedToken). A file that its group or others may write is refused, as ssh
// refuses such a key: whoever can write it sets the node's admin token
// at its next start; so is one in a directory they may write
// (AdminTokenFromFile), and one owned, or in a directory owned, by
// another user than the process's or root: the node's rule (`ringex
// serve`; ReadTokenFileNotServing for the other commands). One others may
// read is read (a container secret is mounted 0444); TokenFileWarning
// says so, for the log. Modes and owners are those of a system that has
// them (unsafeTokenFile, tokenfile_unix.go); on Windows, which has
// neither, tokenfile_other.go says what is checked instead.
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
	token, st, err := adminTokenFromFile(path, owners)
	if err != nil {
		return fmt.Errorf("config: admin.token_file: %w", err)
	}
	// Read again, the file is the source it was: admin.token beside it is
	// what the layers left before the first read, not that read's token,
	// taken for one set beside the file — the file named twice, and a
	// token rotated in it since refused.
	a := c.Admin // a copy: c changes only once the token is taken
	before := tokenBefore{a.Token, a.tokenFrom, a.tokenSet}
	if r := a.tokenFileRead; r.path == path && a.Token == r.token && a.tokenFrom == r.from {
		before = r.before
		a.Token, a.tokenFrom, a.tokenSet = before.token, before.from, before.set
	}
	// admin.token set too is taken when it is the file's token
	// (AgreedToken), as the admin commands take their sources.
	from := "admin.token_file " + path
	if a.Token != "" {
		direct := a.tokenLayer()
		if direct == "" {
			direct = "admin.token"
		}
		from = direct + " and " + from
	}
	token, err = AgreedToken(TokenSource{"admin.token" + a.tokenNote(), a.Token}, TokenSource{"admin.token_file (" + path + ")", token})
	if err != nil {
		return fmt.Errorf("config: %w: set one of them, or both to the same token", err)
	}
	c.Admin.Token = token
	c.Admin.setTokenFrom(from)
	c.Admin.tokenFileRead = tokenFileRead{path, st.Mode(), token, from, before}
	return nil
}

// tokenFileRead is the token file ReadTokenFile read: the path it was
// named by then, and its mode at the read, from the stat of the file
// opened (readTokenFile) — not of whatever the path leads to when the
// warning is made, which a swap since (a secret volume's ..data, a
// rename) may have replaced — and the token taken, which Validate
// requires admin.token still to be (checkTokenFile), with the layers it
// named as admin.token's (from) and admin.token as it was before the read
// (before), which a read of the same file again starts from. Zero when no
// file was read.
type tokenFileRead struct {
	path   string
	mode   fs.FileMode
	token  string
	from   string
	before tokenBefore
}

// tokenBefore is admin.token and the layer that set it (Admin.tokenFrom,
// tokenSet) as ReadTokenFile found them.
type tokenBefore struct{ token, from, set string }

// checkTokenFile refuses an admin.token_file whose token is not the one
// the config holds: the file not read (ReadTokenFile), or read under
// another path, or admin.token assigned or Set to another token after
// the read. Unread beside admin.token, the node took admin.token and
// never looked at the file — which might hold another token, or be
// missing — with no word of it. The messages name admin.token's layer
// and the file, never a token.
func (v *validator) checkTokenFile(a *Admin) {
	path, read := a.TokenFile, a.tokenFileRead
	switch {
	case path == "":
	case read.path != path && a.Token == "":
		// Unread, the node ran with no token at all (on loopback, where
		// none is required).
		v.bad("admin.token_file", "(%s) has not been read: ReadTokenFile sets admin.token from it before Validate", path)
	case read.path != path:
		v.bad("admin.token_file", "(%s) has not been read, and admin.token%s is set beside it: ReadTokenFile reads the file before Validate, "+
			"and takes admin.token too only when it is the file's token (none is shown)", path, a.tokenNote())
	case a.Token != read.token:
		v.bad("admin.token_file", "(%s) holds another admin token than admin.token%s, set after ReadTokenFile read the file (none is shown): "+
			"set one of them, or both to the same token", path, a.tokenNote())
	}
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
func AdminTokenFromFile(path string) (string, error) {
	token, _, err := adminTokenFromFile(path, false)
	return token, err
}

// maxTokenFileReads bounds how many times adminTokenFromFile reads a
// token file that was replaced as it was read (changedAsRead), or not
// found at its open.
const maxTokenFileReads = 5

// firstNotFoundPause is adminTokenFromFile's pause after the first read
// of a token file not found at its open; each next pause is twice the one
// before. Between maxTokenFileReads reads that is 1, 2, 4 and 8 ms: a
// file missing at every read is reported after 15 ms of pauses at most.
const firstNotFoundPause = time.Millisecond

// pauseTokenFileRead is the pause between two reads of a token file not
// found at its open (time.Sleep). A variable for tests: a file that
// reappears only after some time, whatever the machine's load, cannot be
// made otherwise.
var pauseTokenFileRead = time.Sleep

// changedAsRead is unsafeDir's refusal of a path that changed between
// the read of its file and the checks: looked up again, it leads to
// another file or to none, or a directory it led through is gone. A
// Kubernetes secret volume makes one in the moment it updates a secret
// (the new files in a new directory, a link ..data renamed over the one
// to the old directory, which is then removed), and a node refused so did
// not start, until the next restart: adminTokenFromFile reads the file
// again, up to maxTokenFileReads times — a swap is quick. A path that
// never leads to the file read (a descriptor's link to a file with
// another name left, a file of another mount namespace) is refused after
// as many reads, at once.
type changedAsRead struct{ error }

// Unwrap is the refusal.
func (e changedAsRead) Unwrap() error { return e.error }

// adminTokenFromFile is AdminTokenFromFile, checking owners when owners,
// reading a file replaced as it was read again (changedAsRead), with the
// stat of the file whose token it returns.
//
// A file not found at its open is read again too, as many times: a swap
// leaves the path leading nowhere for an instant — the lookup followed
// ..data to the old directory just before it was removed, or a file was
// replaced by a removal and a new link rather than one rename — and a
// node that met that instant did not start. Those reads are paused
// (firstNotFoundPause, doubling: 15 ms in all at most), as a removal and
// a new link by another process can take longer than reads one after
// another, which take microseconds. A file replaced as it was read is read
// again at once: the swap is done, its new file there. Not found at the
// last read, it is missing: the open's own error, as for a file never
// there.
func adminTokenFromFile(path string, owners bool) (string, fs.FileInfo, error) {
	pause := firstNotFoundPause
	for read := 1; ; read++ {
		token, st, err := checkedTokenFromFile(path, owners)
		var replaced changedAsRead
		switch {
		case read < maxTokenFileReads && errors.As(err, &replaced):
			continue
		case read < maxTokenFileReads && errors.Is(err, fs.ErrNotExist):
			pauseTokenFileRead(pause)
			pause *= 2
			continue
		case errors.As(err, &replaced):
			return "", nil, fmt.Errorf("%w (read %d times, refused each time)", err, read)
		}
		return token, st, err
	}
}

// checkedTokenFromFile reads the token file at path once, for
// adminTokenFromFile: the token it holds and the stat of the file read,
// and the checks it must pass.
func checkedTokenFromFile(path string, owners bool) (string, fs.FileInfo, error) {
	token, st, err := readTokenFile(path)
	if why := TokenUnsendable(token); err == nil && why != "" {
		// The file named, not admin.token, which was not set.
		err = fmt.Errorf("%s: the token in it %s", path, why)
	}
	if err == nil {
		err = unsafeTokenFile(path, st, owners)
	}
	if err != nil {
		return "", nil, err
	}
	return token, st, nil
}

// TokenFileWarning says, when the file ReadTokenFile took the token from
// could be read by users other than its owner and group when it was read
// — the token with it — what to do about it; "" when it could not, or
// when admin.token_file names no file, or not the one read, or it was not
// read (ReadTokenFile reported why, or was not called). It judges the
// file read, by the mode its open saw (tokenFileRead): the path looked
// up again after a swap warned of the new file, or stayed silent, whatever
// the one read was. Not refused: a container secret is mounted 0444, and
// there only the node's user reads it.
func (c *Config) TokenFileWarning() string {
	read := c.Admin.tokenFileRead
	if read.path == "" || read.path != c.Admin.TokenFile || !othersMayRead(read.mode) {
		return ""
	}
	return fmt.Sprintf("admin.token_file %s is readable by every user of this machine (mode %04o): any of them can read the admin token; "+
		"chmod o-r it (a container's secret file is fine where only the node runs)", read.path, read.mode.Perm())
}

// TokenFromFile is the token in the file at path: its content less one
// trailing line end — "\n" or "\r\n", as `echo` and editors leave, or a
// lone "\r" (an old Mac editor's line end, or "\r\n" whose "\n" was
// lost). A "\r" is never part of a token (TokenUnsendable refuses control
// characters), so taking it off yields the one token the file can mean,
// for the node and the CLI alike. Errors name the file, never the
// content.
func TokenFromFile(path string) (string, error) {
	token, _, err := readTokenFile(path)
	return token, err
}

// openTokenFile opens the token file for readTokenFile (vfs.OpenRegular).
// A variable for tests: a swap's instant, in which the path leads
// nowhere, cannot be met otherwise but by chance.
var openTokenFile = vfs.OpenRegular

// readTokenFile is TokenFromFile, with the stat of the file it read (the
// one opened: not another put in its place since).
func readTokenFile(path string) (string, fs.FileInfo, error) {
	// A regular file only: opening a FIFO no one writes to blocked for
	// good — `ringex serve` hung at its start, before its signal handlers
	// (a review helper's finding). Container secrets and systemd
	// credentials are regular files.
	f, err := openTokenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return "", nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", path, err)
	}
	// The bound is the token's, its line end not counted: a token of
	// maxTokenFileBytes was taken from a file without a newline and
	// refused from the file echo writes for it.
	b, err := io.ReadAll(io.LimitReader(f, maxTokenFileBytes+int64(len("\r\n"))+1))
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", path, err)
	}
	token := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if len(token) > maxTokenFileBytes {
		return "", nil, fmt.Errorf("%s holds over %d bytes: not a token", path, maxTokenFileBytes)
	}
	if token == "" {
		return "", nil, fmt.Errorf("%s is empty", path)
	}
	return token, st, nil
}
