package node

import (
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/client"
)

type syncBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// Secrets never reach the log: not the account's, not a wrong one a
// client tried, not the admin token.
func TestSecretsNeverLogged(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Set("admin.token", "admin-token-xyzzy")
	var logs syncBuf
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
	n.Stop()
	out := logs.b.String()
	if !strings.Contains(out, "logon") {
		t.Fatalf("no logon lines logged: %q", out)
	}
	for _, secret := range []string{cfg.Accounts[0].Secret, "wrong-secret-plugh", "admin-token-xyzzy"} {
		if strings.Contains(out, secret) {
			t.Fatalf("the log contains the secret %q", secret)
		}
	}
}
