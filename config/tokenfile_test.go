package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
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

// A token file that is missing, empty, not a token, or whose token no
// client can send (white space around it, a second newline) is refused,
// naming the key and the file — never what it holds.
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

// admin.token may be set beside admin.token_file (here as the variables
// a container sets) when it is the file's token, as the admin commands
// take sources that agree (AgreedToken); a different one is refused,
// naming both settings, the variable that set admin.token and the file,
// neither token. The node refused the
// two together even when they agreed.
func TestTokenBesideItsFile(t *testing.T) {
	const token, other = "same-t0ken-0123456789abcdef", "other-t0ken-0123456789abcdef"
	path := filepath.Join(t.TempDir(), "admin_token")
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, direct := range []string{token, other} {
		c, err := Load("", []string{"RINGEX_ADMIN_TOKEN=" + direct, "RINGEX_ADMIN_TOKEN_FILE=" + path})
		if err == nil {
			err = c.ReadTokenFile()
		}
		if direct == token {
			if err != nil || c.Admin.Token != token {
				t.Errorf("admin.token the file's token: %v (token taken: %v); want it taken", err, c.Admin.Token == token)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), "admin.token (from RINGEX_ADMIN_TOKEN) and admin.token_file ("+path+") give different admin tokens") ||
			strings.Contains(err.Error(), "t0ken") {
			t.Errorf("admin.token another than the file's: %v; want refused naming both and the file, neither token", err)
		}
	}
}

// A token file replaced by a removal and a new link — a tool's write, a
// swap in two steps — can be missing for longer than reads one after
// another take (microseconds): the node and the CLI pause between reads
// of a file not found, 1 ms and then twice the pause before, and take the
// file back within those 15 ms. A file missing at every read is reported
// after pauses of 1, 2, 4 and 8 ms. The time is the pause seam's
// (pauseTokenFileRead), which keeps the pauses and puts the file back
// once 10 ms of them have passed: without the pauses, the node read it
// five times missing and did not start.
func TestTokenFileMissingForAWhileIsReadBack(t *testing.T) {
	const token = "back-t0ken-0123456789abcdef"
	dir := t.TempDir()
	path, aside := filepath.Join(dir, "admin_token"), filepath.Join(dir, "aside")
	var paused []time.Duration
	var waited, back time.Duration // back: the pauses after which the file is back; 0 never
	sysPause := pauseTokenFileRead
	pauseTokenFileRead = func(d time.Duration) {
		paused, waited = append(paused, d), waited+d
		if back > 0 && waited >= back {
			back = 0
			if err := os.Rename(aside, path); err != nil {
				t.Error(err)
			}
		}
	}
	t.Cleanup(func() { pauseTokenFileRead = sysPause })

	for _, reader := range []struct {
		name string
		read func() (string, error)
	}{
		{"the node", func() (string, error) {
			c := Default()
			c.Admin.TokenFile = path
			err := c.ReadTokenFile()
			return c.Admin.Token, err
		}},
		{"the CLI", func() (string, error) { return AdminTokenFromFile(path) }},
	} {
		if err := os.WriteFile(aside, []byte(token+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		paused, waited, back = nil, 0, 10*time.Millisecond
		if got, err := reader.read(); err != nil || got != token {
			t.Errorf("%s, the file back after 10 ms: %v (token read: %v) after pauses %v; want it read", reader.name, err, got == token, paused)
		}
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
	}

	paused, waited = nil, 0
	_, err := AdminTokenFromFile(path)
	if want := []time.Duration{time.Millisecond, 2 * time.Millisecond, 4 * time.Millisecond, 8 * time.Millisecond}; !errors.Is(err, fs.ErrNotExist) || !slices.Equal(paused, want) {
		t.Errorf("a file never back: %v after pauses %v; want not found after %v", err, paused, want)
	}
}

// A message about admin.token names the layer that set it — the config
// file, RINGEX_ADMIN_TOKEN, --set, admin.token_file — the last one when
// several did, never the token: an operator told the token is too short
// (here for an admin port off loopback) knew no more than its length and
// had the file, the environment and the flags to search. A token the
// program assigns itself after a layer set it (assign) is named from no
// layer: the note named the layer that had set the token replaced. A
// second ReadTokenFile (reads) names the file once: it named it as the
// layer of admin.token too, "admin.token_file P and admin.token_file P".
func TestAdminTokenMessagesNameItsLayer(t *testing.T) {
	const token, assigned = "sh0rt-t0k", "sh0rt-t0k-2"
	offLoopback := "RINGEX_ADMIN_LISTEN=0.0.0.0:7480"
	file, tokenFile := writeFile(t, "admin:\n  token: "+token+"\n"), writeFile(t, token+"\n")
	for _, tc := range []struct {
		name, path, set, from string
		env                   []string
	}{
		{"the config file", file, "", file, nil},
		{"the environment", "", "", "RINGEX_ADMIN_TOKEN", []string{"RINGEX_ADMIN_TOKEN=" + token}},
		{"a flag", "", token, "--set", nil},
		{"the environment over the file", file, "", "RINGEX_ADMIN_TOKEN", []string{"RINGEX_ADMIN_TOKEN=" + token}},
		{"a flag over the environment", "", token, "--set", []string{"RINGEX_ADMIN_TOKEN=" + token}},
		{"admin.token_file", "", "", "admin.token_file " + tokenFile, []string{"RINGEX_ADMIN_TOKEN_FILE=" + tokenFile}},
		{"the environment and admin.token_file", "", "", "RINGEX_ADMIN_TOKEN and admin.token_file " + tokenFile,
			[]string{"RINGEX_ADMIN_TOKEN=" + token, "RINGEX_ADMIN_TOKEN_FILE=" + tokenFile}},
	} {
		for _, assign := range []bool{false, true} {
			for reads := 1; reads <= 2; reads++ {
				c, err := Load(tc.path, append(tc.env, offLoopback))
				if err == nil && tc.set != "" {
					err = c.Set("admin.token", tc.set)
				}
				for range reads {
					if err == nil {
						err = c.ReadTokenFile()
					}
				}
				want := fmt.Sprintf("config: admin.token: %d bytes (from %s): ", len(token), tc.from)
				if assign {
					c.Admin.Token, c.Admin.TokenFile = assigned, "" // the program's own token, in place of the file's too
					want = fmt.Sprintf("config: admin.token: %d bytes: ", len(assigned))
				}
				if err == nil {
					err = c.Validate()
				}
				if got := keyErrors(t, err)["admin.token"]; !strings.HasPrefix(got, want) || strings.Contains(got, token) {
					t.Errorf("a short token from %s (then the program's own: %v), read %d times: %q; want it refused starting %q, the token unshown",
						tc.name, assign, reads, got, want)
				}
			}
		}
	}
}

// ReadTokenFile again takes the file's token again, the file its one
// source as at the first read: a token rotated in the file since is
// taken, and refused only beside an admin.token a layer set to another,
// the message naming that layer and the file once. The second read took
// the first one's token for admin.token set beside the file, and refused
// the rotated token: "admin.token (from admin.token_file P) and
// admin.token_file (P) give different admin tokens".
func TestTokenFileReadAgain(t *testing.T) {
	const token, rotated = "first-t0ken-0123456789abcdef", "later-t0ken-0123456789abcdef"
	for _, tc := range []struct {
		name, env string
		want      string // the second read's error; "": the rotated token taken
	}{
		{"the file alone", "", ""},
		{"the environment beside the file", "RINGEX_ADMIN_TOKEN=" + token, "config: admin.token (from RINGEX_ADMIN_TOKEN) and admin.token_file (%s) give different admin tokens"},
	} {
		path := writeFile(t, token+"\n")
		env := []string{"RINGEX_ADMIN_TOKEN_FILE=" + path}
		if tc.env != "" {
			env = append(env, tc.env)
		}
		c, err := Load("", env)
		if err == nil {
			err = c.ReadTokenFile()
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if err := os.WriteFile(path, []byte(rotated+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		err = c.ReadTokenFile()
		if tc.want == "" {
			if err != nil || c.Admin.Token != rotated {
				t.Errorf("%s: read again after a rotation: %v (the rotated token taken: %v); want it taken", tc.name, err, c.Admin.Token == rotated)
			}
			continue
		}
		want := fmt.Sprintf(tc.want, path)
		if err == nil || !strings.HasPrefix(err.Error(), want) || strings.Count(err.Error(), path) != 1 || strings.Contains(err.Error(), "t0ken") {
			t.Errorf("%s: read again after a rotation: %v; want refused starting %q, the file named once, no token", tc.name, err, want)
		}
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

// Validate refuses admin.token_file unless the token the config holds is
// the one ReadTokenFile read from that file: the file never read while
// admin.token is set too (config.Load, node.New — the node took
// admin.token and never looked at the file, which may hold another token
// or be missing), admin.token assigned or Set after the read, or
// admin.token_file pointed at another file after it. Each message names
// admin.token, its layer where one is known, and admin.token_file with
// its path — never a token.
func TestTokenFileUnreadOrOverriddenIsRefused(t *testing.T) {
	const token, other = "file-t0ken-0123456789abcdef", "else-t0ken-0123456789abcdef"
	path, second := writeFile(t, token+"\n"), writeFile(t, other+"\n")
	missing := filepath.Join(t.TempDir(), "none")
	for _, tc := range []struct {
		name  string
		env   []string
		after func(c *Config) error // after the read, or instead of it when read is false
		read  bool
		want  string // the start of admin.token_file's message
	}{
		{"unread, the same token beside it", []string{"RINGEX_ADMIN_TOKEN=" + token, "RINGEX_ADMIN_TOKEN_FILE=" + path}, nil, false,
			"config: admin.token_file: (" + path + ") has not been read, and admin.token (from RINGEX_ADMIN_TOKEN) is set beside it"},
		{"unread, another token beside it", []string{"RINGEX_ADMIN_TOKEN=" + other, "RINGEX_ADMIN_TOKEN_FILE=" + path}, nil, false,
			"config: admin.token_file: (" + path + ") has not been read, and admin.token (from RINGEX_ADMIN_TOKEN) is set beside it"},
		{"unread and missing, a token beside it", []string{"RINGEX_ADMIN_TOKEN=" + other, "RINGEX_ADMIN_TOKEN_FILE=" + missing}, nil, false,
			"config: admin.token_file: (" + missing + ") has not been read, and admin.token (from RINGEX_ADMIN_TOKEN) is set beside it"},
		{"another token Set after the read", []string{"RINGEX_ADMIN_TOKEN_FILE=" + path},
			func(c *Config) error { return c.Set("admin.token", other) }, true,
			"config: admin.token_file: (" + path + ") holds another admin token than admin.token (from --set)"},
		{"another token assigned after the read", []string{"RINGEX_ADMIN_TOKEN_FILE=" + path},
			func(c *Config) error { c.Admin.Token = other; return nil }, true,
			"config: admin.token_file: (" + path + ") holds another admin token than admin.token,"},
		{"another file named after the read", []string{"RINGEX_ADMIN_TOKEN_FILE=" + path},
			func(c *Config) error { c.Admin.TokenFile = second; return nil }, true,
			"config: admin.token_file: (" + second + ") has not been read, and admin.token (from admin.token_file " + path + ") is set beside it"},
	} {
		c, err := Load("", tc.env)
		if err == nil && tc.read {
			err = c.ReadTokenFile()
		}
		if err == nil && tc.after != nil {
			err = tc.after(c)
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		err = c.Validate()
		got := keyErrors(t, err)["admin.token_file"]
		if !strings.HasPrefix(got, tc.want) || strings.Contains(err.Error(), "t0ken") {
			t.Errorf("%s: %v; want admin.token_file refused starting %q, no token shown", tc.name, err, tc.want)
		}
	}
}
