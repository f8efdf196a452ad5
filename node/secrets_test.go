package node

import (
	"bytes"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// Secrets never reach the log, nor the admin port's answers: not the
// account's, not a wrong one a client tried, not the admin token.
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
	// Nor what the admin port serves, with a session logged on: metrics,
	// state, sessions, ports.
	for _, path := range []string{"/metrics", "/state", "/sessions", "/ports"} {
		body := adminBody(t, addrs.Admin, path, "admin-token-xyzzy")
		for _, secret := range []string{cfg.Accounts[0].Secret, "wrong-secret-plugh", "admin-token-xyzzy"} {
			if bytes.Contains(body, []byte(secret)) {
				t.Errorf("GET %s serves the secret %q", path, secret)
			}
		}
	}
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

// Refused admin requests — someone guessing the token, a page in the
// operator's browser — are counted by reason and logged, at most one
// line per refusedLogEvery, never with the token they carried. Before,
// they left no trace at all.
func TestAdminRefusalsCountedAndLogged(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Set("admin.token", "admin-token-xyzzy")
	n, addrs, logs := startNodeLogging(t, cfg, Options{})
	defer n.Stop()
	do := func(method, path, token string, header map[string]string, body string) int {
		h := map[string]string{"Authorization": "Bearer " + token}
		for k, v := range header {
			h[k] = v
		}
		if token == "" {
			delete(h, "Authorization")
		}
		return adminStatus(t, addrs.Admin, method, path, "", h, body)
	}
	// Near misses too: the token's digest is compared, not the token.
	wrong := []string{"guess-0-plugh", "admin-token-xyzz", "admin-token-xyzzyy", "ADMIN-TOKEN-XYZZY", "xadmin-token-xyzzy"}
	const guesses = 5
	for _, guess := range wrong[:guesses] {
		if code := do("POST", "/halt?instrument=1", guess, nil, ""); code != http.StatusUnauthorized {
			t.Fatalf("the wrong token %q: %d, want 401", guess, code)
		}
	}
	if code := do("GET", "/metrics", "", nil, ""); code != http.StatusUnauthorized {
		t.Fatalf("no token: %d, want 401", code)
	}
	if code := do("POST", "/snapshot", "admin-token-xyzzy", map[string]string{"Sec-Fetch-Site": "cross-site"}, ""); code != http.StatusForbidden {
		t.Fatalf("from another site's page: %d, want 403", code)
	}
	if code := do("POST", "/snapshot", "admin-token-xyzzy", map[string]string{"Origin": "http://attacker.example"}, ""); code != http.StatusForbidden {
		t.Fatalf("cross-origin: %d, want 403", code)
	}
	if code := do("POST", "/snapshot", "admin-token-xyzzy", nil, "x"); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("with a body: %d, want 413", code)
	}
	body := adminBody(t, addrs.Admin, "/metrics", "admin-token-xyzzy")
	for reason, want := range map[string]float64{"token": guesses + 1, "other_site": 2, "body": 1, "host": 0} {
		if got, _ := metricValue(body, `ringex_admin_refused_total{reason="`+reason+`"}`); got != want {
			t.Errorf("ringex_admin_refused_total{reason=%q} = %v, want %v", reason, got, want)
		}
	}
	var lines int
	for line := range strings.Lines(logs.String()) {
		if strings.Contains(line, "admin: refused a request") {
			lines++
			if !strings.Contains(line, `"reason":"token"`) || !strings.Contains(line, `"path":"/halt"`) || !strings.Contains(line, `"remote":"127.0.0.1:`) {
				t.Errorf("the refusal's line says neither why, what nor who: %s", line)
			}
		}
	}
	if lines != 1 {
		t.Errorf("%d refusal lines logged within %v, want 1:\n%s", lines, refusedLogEvery, logs.String())
	}
	if strings.Contains(logs.String(), "plugh") || strings.Contains(logs.String(), "xyzzy") {
		t.Errorf("a token reached the log:\n%s", logs.String())
	}
}

// A Logon sent on a connection already logged on is refused by the
// gateway (unknown-command), never journaled: through the ring, the
// secret it carries was written to the journal in clear (and to every
// replica), though the gateway keeps only hashes of secrets.
func TestSecondLogonSecretNotInJournal(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	n, addrs, _ := startNode(t, cfg)
	c := dial(t, addrs.Gateway, 1)
	secret := config.Default().Accounts[1].Secret // account 2's
	c.SendRaw(proto.NewEncoder().Logon(7, 2, secret))
	r := next(t, c, report(wire.ExecKindRejected)).Report
	if r.Reason != uint8(engine.ReasonUnknownCommand) {
		t.Fatalf("a second Logon answered with reason %d, want unknown-command", r.Reason)
	}
	n.Stop()
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		b, _ := os.ReadFile(p)
		if bytes.Contains(b, []byte(secret)) {
			t.Errorf("%s holds account 2's secret %q in clear", p, secret)
		}
		return nil
	})
}

// adminBody GETs path from the admin port at addr with the admin token
// and returns the body, failing the test unless it answered 200.
func adminBody(t *testing.T, addr, path, token string) []byte {
	t.Helper()
	code, body := adminGetAs(t, addr, path, token)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, code, body)
	}
	return []byte(body)
}

// No secret reaches the log at any level, trace included, on any path an
// attacker or a careless operator takes: every account's secret in the
// config; logons right and wrong on both ports — another account's
// secret, an unknown account's, a drop copy's, a second Logon on a
// session, a secret too large for a frame, and failures past the
// failed-logon guard (its debug lines); and the admin token in the
// header (right and wrong), in the query as a value, as a bare
// parameter and as a parameter's value on an authorized request (the
// audit line says what was wrong with the query), and in the path.
func TestSecretsNeverLoggedOnAnyPath(t *testing.T) {
	const tok = "admin-token-xyzzy-0123456789"
	cfg := testConfig(t, t.TempDir())
	cfg.Set("admin.token", tok)
	cfg.Set("marketdata.require_logon", "true")
	n, addrs, logs := startNodeLogging(t, cfg, Options{}) // zerolog.New's level: trace
	defer n.Stop()
	secret := func(account uint32) string { return cfg.Accounts[account-1].Secret }
	tooLarge := "plugh-too-large-" + strings.Repeat("x", cfg.Gateway.MaxFrameBytes)
	// Logged on first: the guard lets an account that logged on from an
	// address through after its failures.
	c := dial(t, addrs.Gateway, 1)
	dialDropCopy(t, addrs.Gateway, 1, 0)
	md, err := client.DialMarketDataLogon(addrs.MarketData, 1, secret(1), client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	md.Close()
	c.SendRaw(proto.NewEncoder().Logon(7, 2, secret(2)))
	next(t, c, report(wire.ExecKindRejected))
	for _, try := range []struct {
		account uint32
		secret  string
	}{{1, "wrong-secret-plugh"}, {1, secret(2)}, {99, "unknown-account-plugh"}, {1, tooLarge},
		{1, "guard-0-plugh"}, {1, "guard-1-plugh"}, {1, "guard-2-plugh"}, {1, "guard-3-plugh"}, {1, "guard-4-plugh"},
		{1, "guard-5-plugh"}, {1, "guard-6-plugh"}, {1, "guard-7-plugh"}, {1, "guard-8-plugh"}} {
		for _, dropCopy := range []bool{false, true} {
			if c, err := client.Dial(addrs.Gateway, try.account, try.secret, client.Options{DropCopy: dropCopy}); err == nil {
				c.Close()
				t.Fatalf("logon of account %d with a wrong secret accepted", try.account)
			}
		}
		if c, err := client.DialMarketDataLogon(addrs.MarketData, try.account, try.secret, client.Options{}); err == nil {
			c.Close()
			t.Fatalf("market-data logon of account %d with a wrong secret accepted", try.account)
		}
	}
	bearer := map[string]string{"Authorization": "Bearer " + tok}
	for _, req := range []struct {
		method, target string
		header         map[string]string
	}{
		// First: the one refusal logged within refusedLogEvery.
		{"POST", "/sessions/" + tok + "/close", nil},
		{"GET", "/metrics", map[string]string{"Authorization": "Bearer wrong-token-plugh"}},
		{"GET", "/metrics?token=" + tok, nil},
		{"GET", "/metrics?" + tok, nil},
		{"POST", "/snapshot?" + tok, nil},
		{"POST", "/snapshot?token=" + tok, bearer},
		{"POST", "/snapshot?" + tok, bearer},
		{"POST", "/halt?instrument=1&cancel_orders=" + tok, bearer},
		{"POST", "/halt?instrument=" + tok, bearer},
		{"POST", "/accounts/" + tok + "/suspend", bearer},
		{"POST", "/sessions/" + tok + "/close", bearer},
		{"GET", "/debug/pprof/" + tok, nil},
		{"GET", "/debug/pprof/profile?seconds=" + tok, bearer},
	} {
		if code, _ := adminRaw(t, addrs.Admin, req.method, req.target, req.header); code/100 == 2 {
			t.Fatalf("%s %s: %d", req.method, req.target, code)
		}
	}
	n.Stop()
	out := logs.String()
	for _, want := range []string{`"action":"snapshot"`, "admin: refused a request", `"message":"logon rejected"`, "too many failed logons", "market data: logon"} {
		if !strings.Contains(out, want) {
			t.Fatalf("no %s in the log: the paths it checks were not taken\n%s", want, out)
		}
	}
	secrets := []string{tok, "plugh", "xyzzy"}
	for _, a := range cfg.Accounts {
		secrets = append(secrets, a.Secret)
	}
	for _, s := range secrets {
		if i := strings.Index(out, s); i >= 0 {
			t.Errorf("the log holds the secret %q: …%s…", s, out[max(0, i-200):min(len(out), i+len(s)+50)])
		}
	}
}
