package node

import (
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/internal/testkit"
)

// A node whose market-data port asks for a Logon while order entry is
// on TLS warns at start that the port's Logons carry the accounts'
// secrets in clear — never a secret — unless the port listens on
// loopback. Before, nothing said so: an operator turning
// marketdata.require_logon on sent the secrets gateway.tls protects over
// the network in clear.
func TestMarketDataLogonInClearWarning(t *testing.T) {
	for _, c := range []struct {
		requireLogon, tls, mdTLS bool
		listen                   string
		warn                     bool
	}{
		{true, true, false, ":7401", true},
		{true, true, false, "0.0.0.0:7401", true},
		{true, true, false, "10.1.2.3:7401", true},
		{true, true, false, "127.0.0.1:7401", false},
		{true, true, false, "localhost:7401", false},
		{true, false, false, ":7401", false}, // order entry in clear too
		{false, true, false, ":7401", false}, // no logon asked
		{true, true, true, ":7401", false},   // the port on TLS: the secrets are not in clear
		{true, true, true, "10.1.2.3:7401", false},
	} {
		cfg := config.Default()
		cfg.MarketData.RequireLogon, cfg.MarketData.Listen = c.requireLogon, c.listen
		if c.tls {
			cfg.Gateway.TLS = config.TLS{CertFile: "cert.pem", KeyFile: "key.pem"}
		}
		if c.mdTLS {
			cfg.MarketData.TLS = config.TLS{CertFile: "cert.pem", KeyFile: "key.pem"}
		}
		got := marketDataSecretsExposure(cfg)
		if (got != "") != c.warn || c.warn && !strings.Contains(got, "in clear") {
			t.Errorf("require_logon %v, gateway.tls %v, marketdata.tls %v, marketdata.listen %s: %q, want a warning: %v",
				c.requireLogon, c.tls, c.mdTLS, c.listen, got, c.warn)
		}
		for _, a := range cfg.Accounts {
			if strings.Contains(got, a.Secret) {
				t.Errorf("the warning names account %d's secret: %q", a.ID, got)
			}
		}
	}

	// In the node's log at start.
	cfg := testConfig(t, t.TempDir())
	setConfig(t, cfg, map[string]string{"marketdata.require_logon": "true", "marketdata.listen": "0.0.0.0:0",
		"gateway.tls.cert_file": "cert.pem", "gateway.tls.key_file": "key.pem"})
	logs := new(testkit.SyncBuffer)
	n, _, err := New(cfg, zerolog.New(logs))
	if err != nil {
		t.Fatal(err)
	}
	n.Stop()
	if out := logs.String(); !strings.Contains(out, "marketdata.require_logon with gateway.tls") {
		t.Errorf("the node's log: want the market-data logon warning:\n%s", out)
	}
}
