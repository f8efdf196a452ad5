package config

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestPrintMasksSecrets(t *testing.T) {
	c := Default()
	c.Admin.Token = "admin-token-s3cret"
	c.Accounts[0].Secret = "alice-s3cret"
	c.Gateway.TLS = TLS{CertFile: "/etc/ringex/cert.pem", KeyFile: "/etc/ringex/key.pem"}
	secrets := []string{c.Admin.Token}
	for _, a := range c.Accounts {
		secrets = append(secrets, a.Secret)
	}
	var buf bytes.Buffer
	if err := c.Print(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("printed config contains the secret %q", s)
		}
	}
	if n := strings.Count(out, "'"+masked+"'"); n != 1+len(c.Accounts) {
		t.Errorf("%d masked values, want %d:\n%s", n, 1+len(c.Accounts), out)
	}
	// Not secrets: file paths stay visible.
	if !strings.Contains(out, "/etc/ringex/key.pem") {
		t.Error("TLS key path was masked; only secrets should be")
	}
	// Print must not change the config it prints.
	if c.Accounts[0].Secret != "alice-s3cret" || c.Admin.Token != "admin-token-s3cret" {
		t.Fatal("Print changed the config")
	}
}

func TestMaskedLeavesUnsetSecretsEmpty(t *testing.T) {
	c := Default()
	c.Accounts[1].Secret = ""
	m := c.Masked()
	if m.Admin.Token != "" || m.Accounts[1].Secret != "" || m.Accounts[0].Secret != "***" {
		t.Fatalf("masked: token %q, secrets %q %q", m.Admin.Token, m.Accounts[0].Secret, m.Accounts[1].Secret)
	}
	m.Instruments[0].Symbol = "CHANGED"
	if c.Instruments[0].Symbol == "CHANGED" {
		t.Fatal("Masked shares lists with the original")
	}
}

// The printed config loads back to the same config, secrets aside.
func TestPrintRoundTrip(t *testing.T) {
	configs := map[string]*Config{"defaults": Default()}
	c := Default()
	for key, value := range map[string]string{
		"node.id":                    "2",
		"node.data_dir":              "/var/lib/ringex",
		"gateway.listen":             "0.0.0.0:9400",
		"gateway.heartbeat_interval": "750ms",
		"gateway.read_timeout":       "1m30s",
		"gateway.tls.cert_file":      "c.pem",
		"gateway.tls.key_file":       "k.pem",
		"admin.listen":               "10.1.2.3:7480",
		"admin.token":                "tok",
		"rings.input_slots":          "1024",
		"journal.dir":                "/fast/journal",
		"snapshot.schedule":          "",
		"cluster.raft_listen":        "127.0.0.1:7500",
		"cluster.peers":              "1=a:7500=a:7400,2=b:7500=b:7400,3=c:7500=c:7400",
		"log.format":                 "console",
	} {
		if err := c.Set(key, value); err != nil {
			t.Fatal(err)
		}
	}
	c.Instruments = append(c.Instruments, Instrument{ID: 99, Symbol: "Q:1", TickSize: 5, LotSize: 100, ReferencePrice: 0})
	c.Accounts[0].Name = "has: colon # and hash"
	configs["edited"] = c
	configs["empty lists"] = &Config{}
	configs["empty lists"].normalize()

	for name, c := range configs {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := c.Print(&buf); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "printed.yaml")
			if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			back, err := Load(path, nil)
			if err != nil {
				t.Fatalf("printed config does not load: %v\n%s", err, buf.String())
			}
			// back.Masked(): its secrets are "***" already, and its
			// token's layer, the printed file, is none of the settings.
			if want := c.Masked(); !reflect.DeepEqual(back.Masked(), want) {
				t.Fatalf("round trip differs:\n got %+v\nwant %+v\n%s", back, want, buf.String())
			}
		})
	}
}
