package node

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/config"
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

// The node warns at start of what leaves its admin token open: a port
// off loopback without admin.tls (the token crosses the network in
// clear), a token file every local user may read. Never the token.
func TestAdminExposureWarnings(t *testing.T) {
	const token = "tok-0123456789abcdef"
	readable := filepath.Join(t.TempDir(), "admin_token")
	if err := os.WriteFile(readable, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(readable, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		listen, tokenFile string
		tls               bool
		want              []string // in the warnings, in order
	}{
		{"127.0.0.1:7480", "", false, nil},
		{"localhost:7480", "", false, nil},
		{"[::1]:7480", "", false, nil},
		{"0.0.0.0:7480", "", false, []string{"travels in clear"}},
		{":7480", "", false, []string{"travels in clear"}},
		{"10.1.2.3:7480", "", false, []string{"travels in clear"}},
		{"0.0.0.0:7480", "", true, nil},
		{"127.0.0.1:7480", readable, false, []string{"readable by every user"}},
		{":7480", readable, false, []string{"travels in clear", "readable by every user"}},
	} {
		cfg := config.Default()
		cfg.Admin.Listen, cfg.Admin.TokenFile, cfg.Admin.Token = c.listen, c.tokenFile, token
		if c.tls {
			cfg.Admin.TLS = config.TLS{CertFile: "cert.pem", KeyFile: "key.pem"}
		}
		if err := cfg.ReadTokenFile(); err != nil { // the warning is of the file read
			t.Fatal(err)
		}
		got := adminExposure(cfg)
		ok := len(got) == len(c.want)
		for i := 0; ok && i < len(got); i++ {
			ok = strings.Contains(got[i], c.want[i]) && !strings.Contains(got[i], token)
		}
		if !ok {
			t.Errorf("admin.listen %s, token file %q, tls %v: %q; want %q", c.listen, c.tokenFile, c.tls, got, c.want)
		}
	}

	// A token given with --set is in the node's command line, which
	// every local user reads (ps, /proc/<pid>/cmdline): warned of, also
	// when admin.token_file gives the same token beside it. One from
	// the environment is not (/proc/<pid>/environ is the user's alone).
	for _, c := range []struct {
		name, from, tokenFile string
		want                  bool
	}{
		{"--set", "--set", "", true},
		{"--set beside the file", "--set", readable, true},
		{"the environment", "RINGEX_ADMIN_TOKEN", "", false},
		{"the file alone", "", readable, false},
	} {
		cfg, err := config.Load("", nil)
		if c.from == "RINGEX_ADMIN_TOKEN" {
			cfg, err = config.Load("", []string{"RINGEX_ADMIN_TOKEN=" + token})
		}
		if err != nil {
			t.Fatal(err)
		}
		if c.from == "--set" {
			if err := cfg.Set("admin.token", token); err != nil {
				t.Fatal(err)
			}
		}
		cfg.Admin.TokenFile = c.tokenFile
		if err := cfg.ReadTokenFile(); err != nil {
			t.Fatal(err)
		}
		got := strings.Join(adminExposure(cfg), "\n")
		if strings.Contains(got, "command line") != c.want || strings.Contains(got, token) {
			t.Errorf("admin.token from %s: warnings %q; want one of the command line: %v", c.name, got, c.want)
		}
	}

	// In the node's log at start.
	cfg := testConfig(t, t.TempDir())
	cfg.Admin.TokenFile = readable
	if err := cfg.ReadTokenFile(); err != nil {
		t.Fatal(err)
	}
	n, _, logs := startNodeLogging(t, cfg, Options{})
	n.Stop()
	if out := logs.String(); !strings.Contains(out, "readable by every user") || strings.Contains(out, token) {
		t.Errorf("the node's log: want the token file's warning, never the token:\n%s", out)
	}
}
