package config

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/ringex/ringex/vfs"
)

// maxTokenFileBytes bounds what TokenFromFile reads: a token is a line.
const maxTokenFileBytes = 4096

// ReadTokenFile sets admin.token from the file admin.token_file names,
// when it names one (TokenFromFile). Call it after every override and
// before Validate, which then checks the token as if it had been set
// directly. A file that its group or others may write is refused, as ssh
// refuses such a key: whoever can write it sets the node's admin token
// at its next start. One others may read is read (a container secret is
// mounted 0444); TokenFileWarning says so, for the log.
func (c *Config) ReadTokenFile() error {
	path := c.Admin.TokenFile
	if path == "" {
		return nil
	}
	if c.Admin.Token != "" {
		return fmt.Errorf("config: admin.token_file (%s): admin.token is set too; set one of them", path)
	}
	token, err := AdminTokenFromFile(path)
	if err != nil {
		return fmt.Errorf("config: admin.token_file: %w", err)
	}
	c.Admin.Token = token
	return nil
}

// AdminTokenFromFile is the admin token in the file at path
// (TokenFromFile), refused when its group or others may write the file:
// the node's admin.token_file and the CLI's RINGEX_ADMIN_TOKEN_FILE, one
// rule and one message. Whoever can write the file sets the token the
// node takes at its next start, and the one the CLI sends.
func AdminTokenFromFile(path string) (string, error) {
	token, mode, err := readTokenFile(path)
	if err == nil && mode&0o022 != 0 {
		err = fmt.Errorf("%s is writable by its group or others (mode %04o): whoever can write it sets the admin token; chmod go-w %s",
			path, mode, path)
	}
	if err != nil {
		return "", err
	}
	return token, nil
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

// readTokenFile is TokenFromFile, with the permissions of the file it
// read (the one opened: not another put in its place since).
func readTokenFile(path string) (string, fs.FileMode, error) {
	// A regular file only: opening a FIFO no one writes to blocked for
	// good — `ringex serve` hung at its start, before its signal handlers
	// (a review helper's finding). Container secrets and systemd
	// credentials are regular files.
	f, err := vfs.OpenRegular(path, os.O_RDONLY, 0)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", 0, fmt.Errorf("%s: %w", path, err)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxTokenFileBytes+1))
	if err != nil {
		return "", 0, fmt.Errorf("%s: %w", path, err)
	}
	if len(b) > maxTokenFileBytes {
		return "", 0, fmt.Errorf("%s holds over %d bytes: not a token", path, maxTokenFileBytes)
	}
	token := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if token == "" {
		return "", 0, fmt.Errorf("%s is empty", path)
	}
	return token, st.Mode().Perm(), nil
}
