package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ringex/ringex/internal/testkit"
)

// FuzzTokenFile: whatever a token file holds, its reader never panics;
// a token it takes is one a client can send (TokenUnsendable), is the
// file's content less at most one line end, and read from a file of the
// token and a newline (echo's) is the same token.
func FuzzTokenFile(f *testing.F) {
	f.Add([]byte("f1le-t0ken-0123456789abcdef\n"))
	f.Add([]byte("s3cret\r\n"))
	f.Add([]byte("s3cret\r"))
	f.Add([]byte(" s3cret\n"))
	f.Add([]byte("s3cret\n\n"))
	f.Add([]byte("\n"))
	f.Add([]byte{})
	f.Add([]byte(strings.Repeat("x", maxTokenFileBytes+1)))
	path := filepath.Join(testkit.FuzzDir(f), "admin_token")
	read := func(t *testing.T, b []byte) (string, error) {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		token, _, err := checkedTokenFromFile(path, false)
		return token, err
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		token, err := read(t, b)
		if err != nil {
			return
		}
		if why := TokenUnsendable(token); token == "" || why != "" {
			t.Fatalf("%q: took token %q, which %s", b, token, why)
		}
		if !slices.Contains([]string{token, token + "\n", token + "\r\n", token + "\r"}, string(b)) {
			t.Fatalf("%q: took token %q, not the file less a line end", b, token)
		}
		if again, err := read(t, []byte(token+"\n")); err != nil || again != token {
			t.Fatalf("%q: took token %q, written with a newline it reads as %q, %v", b, token, again, err)
		}
	})
}
