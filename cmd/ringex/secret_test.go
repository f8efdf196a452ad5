package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/internal/testnode"
	"github.com/ringex/ringex/node"
)

// nodeWithSecrets starts a node whose accounts 1, 2 and 4 have secrets
// that are not the demo config's (nor of its demo-secret-N pattern), as
// a real exchange's are.
func nodeWithSecrets(t *testing.T) node.Addrs {
	t.Helper()
	cfg := testnode.Config(t, t.TempDir(), map[string]string{"journal.sync": "none"})
	for i := range cfg.Accounts {
		cfg.Accounts[i].Secret = "kept-" + strings.Repeat("x", i+1) + "-secret"
	}
	_, _, a := testnode.Open(t, cfg)
	return a
}

// ringex client takes the account's secret from a file (--secret-file):
// --secret was the one way to give a secret the config does not hold, and
// a flag's value is in the command line every local user reads with ps.
func TestClientSecretFromAFile(t *testing.T) {
	a := nodeWithSecrets(t)
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good"), filepath.Join(dir, "bad")
	if err := os.WriteFile(good, []byte("kept-xxxx-secret\n"), 0o600); err != nil { // account 4: the fourth
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("demo-secret-4\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := mustRingex(t, clientArgs(a, 4, "orders", "--secret-file", good)...)
	wantLine(t, out, `^statusdone .* 0 live order\(s\)`)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{clientArgs(a, 4, "orders", "--secret-file", bad), "logon rejected"},
		{clientArgs(a, 4, "orders", "--secret-file", filepath.Join(dir, "none")), "no such file"},
		{clientArgs(a, 4, "orders", "--secret-file", good, "--secret", "kept-xxxx-secret"), "[secret secret-file] were all set"},
		{clientArgs(a, 9, "orders"), "account 9 is not in the config (--config): give its secret with --secret-file or --secret"},
	} {
		if out, err := ringex(t, nil, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ringex %s: error %v, want %q\n%s", strings.Join(tc.args[1:], " "), err, tc.want, out)
		}
	}
}

// ringex bench logs on with the secrets of the config it reads the
// instruments from (--config), as ringex client does: it used
// --secret-format's demo-secret-%d whatever the config said, so against a
// real exchange every connection was refused unless the secrets followed
// one pattern, given on the command line. A --secret-format without its
// %d made secrets ending in "%!(EXTRA uint32=1)"; it is refused, without
// showing it.
func TestBenchSecretsFromTheConfig(t *testing.T) {
	a := nodeWithSecrets(t)
	file := filepath.Join(t.TempDir(), "ringex.yaml")
	yaml := "accounts:\n"
	for i, id := range []string{"1", "2"} {
		yaml += "  - id: " + id + "\n    secret: kept-" + strings.Repeat("x", i+1) + "-secret\n    max_open_orders: 1000\n"
	}
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	out := mustRingex(t, "bench", "--addr", a.Gateway, "--config", file, "--rate", "200", "--duration", "200ms", "--connections", "2", "--json")
	var res struct{ Sent, Acked int64 }
	if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &res); err != nil || res.Sent == 0 || res.Acked != res.Sent {
		t.Fatalf("%+v %v:\n%s", res, err, out)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--secret-format", "kept-x-secret"}, "--secret-format: want a pattern with one %d"},
		{[]string{"--secret-format", "kept-%s-secret"}, "--secret-format: want a pattern with one %d"},
		{[]string{"--secret-format", "kept-%d-%d"}, "--secret-format: want a pattern with one %d"},
		{[]string{"--accounts", "1,9"}, "account 9 is not in the config"},
	} {
		args := append([]string{"bench", "--addr", a.Gateway, "--config", file, "--rate", "200", "--duration", "200ms"}, tc.args...)
		out, err := ringex(t, nil, args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error()+out, "kept-x-secret") {
			t.Errorf("ringex %s: error %v, want %q (the secret not shown)\n%s", strings.Join(args[1:], " "), err, tc.want, out)
		}
	}
}

// --secret-format takes any one verb for the account id: %d, %05d, %x.
func TestBenchSecretFormat(t *testing.T) {
	cfg := config.Default()
	for f, want := range map[string]string{"demo-secret-%d": "demo-secret-7", "s-%05d": "s-00007", "s-%x-%%": "s-1f-%"} {
		id := uint(7)
		if strings.Contains(f, "%x") {
			id = 31
		}
		got, err := benchSecrets(cfg, &benchOptions{secretFmt: f, accounts: []uint{id}})
		if err != nil || got[uint32(id)] != want {
			t.Errorf("--secret-format %s: %q %v, want %q", f, got[uint32(id)], err, want)
		}
	}
}

// resend and reports refuse a negative --after, as the shell's resend
// does: it was sent, and the node resent everything, as from 0.
func TestClientResendRefusesANegativeAfter(t *testing.T) {
	for _, sub := range []string{"resend", "reports"} {
		args := []string{"client", sub, "--addr", "127.0.0.1:1", "--after", "-5"}
		if out, err := ringex(t, nil, args...); err == nil || !strings.Contains(err.Error(), "--after -5: an input sequence") {
			t.Errorf("ringex %s: %v, want --after -5 refused\n%s", strings.Join(args[1:], " "), err, out)
		}
	}
}
