package node

import (
	"net/http"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/internal/testkit"
)

// Secrets never reach the log: not the account's, not a wrong one a
// client tried, not the admin token.
func TestSecretsNeverLogged(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Set("admin.token", "admin-token-xyzzy")
	var logs testkit.SyncBuffer
	n, _, err := New(cfg, zerolog.New(&logs).Level(zerolog.DebugLevel))
	if err != nil {
		t.Fatal(err)
	}
	addrs, err := n.Start()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Dial(addrs.Gateway, 1, "wrong-secret-plugh", client.Options{}); err == nil {
		t.Fatal("logon with a wrong secret accepted")
	}
	c := dial(t, addrs.Gateway, 1)
	c.Close()
	// Operator actions are audited (without the token they carried).
	for _, path := range []string{"/halt?instrument=1", "/accounts/4/suspend"} {
		req, _ := http.NewRequest("POST", "http://"+addrs.Admin+path, nil)
		req.Header.Set("Authorization", "Bearer admin-token-xyzzy")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("POST %s: %s", path, resp.Status)
		}
	}
	n.Stop()
	out := logs.String()
	if !strings.Contains(out, "logon") {
		t.Fatalf("no logon lines logged: %q", out)
	}
	for _, line := range []string{`"instrument":1,"action":"halt","remote":"127.0.0.1:`, `"account":4,"action":"suspend","remote":"127.0.0.1:`} {
		if !strings.Contains(out, line) {
			t.Fatalf("no audit line %s in the log", line)
		}
	}
	for _, secret := range []string{cfg.Accounts[0].Secret, "wrong-secret-plugh", "admin-token-xyzzy"} {
		if strings.Contains(out, secret) {
			t.Fatalf("the log contains the secret %q", secret)
		}
	}
}
