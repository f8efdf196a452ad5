package node

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// A config naming admin.token_file that reaches the node unread
// (config.Load, Set, node.New: what an embedding program or the test
// harness testnode does — only `ringex`'s loadConfig calls ReadTokenFile)
// must not give an admin port that asks for no token: the node either
// refuses the config or requires the file's token.
func TestNodeWithAnUnreadTokenFile(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	path := filepath.Join(t.TempDir(), "admin_token")
	if err := os.WriteFile(path, []byte("tok-0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Admin.TokenFile = path
	n, _, err := New(cfg, zerolog.Nop())
	if err != nil {
		if !strings.Contains(err.Error(), "admin.token_file") {
			t.Fatalf("refused, not for the token file: %v", err)
		}
		return
	}
	addrs, err := n.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	resp, err := http.Get("http://" + addrs.Admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("admin.token_file %s set, the admin port answers without a token: %s", path, resp.Status)
	}
}
