package config

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDefaultsValidate(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Rings.InputSlots != 1<<24 || c.Gateway.Listen != ":7400" || c.Admin.Listen != "127.0.0.1:7480" || len(c.Accounts) == 0 {
		t.Fatalf("defaults: %+v", c)
	}
}

// default < file < env < Set.
func TestPrecedence(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ringex.yaml")
	os.WriteFile(path, []byte("gateway:\n  listen: \":9000\"\n  max_connections: 7\njournal:\n  sync: none\n"), 0o644)
	c, err := Load(path, []string{"RINGEX_GATEWAY_MAX_CONNECTIONS=8", "RINGEX_GATEWAY_HEARTBEAT_TIMEOUT=2s", "HOME=/x"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Set("gateway.listen", ":9100"); err != nil {
		t.Fatal(err)
	}
	if c.Gateway.Listen != ":9100" || c.Gateway.MaxConnections != 8 || c.Journal.Sync != "none" ||
		c.Gateway.HeartbeatTimeout != 2*time.Second || c.Rings.Wait != "adaptive" {
		t.Fatalf("effective %+v", c.Gateway)
	}
	if len(c.Instruments) == 0 {
		t.Fatal("a file without instruments lost the default instruments")
	}
}

func TestLoadErrorsNameTheKey(t *testing.T) {
	dir := t.TempDir()
	unknown := filepath.Join(dir, "u.yaml")
	os.WriteFile(unknown, []byte("gateway:\n  lisen: \":1\"\n"), 0o644)
	if _, err := Load(unknown, nil); err == nil || !strings.Contains(err.Error(), "lisen") {
		t.Fatalf("unknown key: %v", err)
	}
	if _, err := Load("", []string{"RINGEX_GATEWAY_NOPE=1"}); err == nil || !strings.Contains(err.Error(), "RINGEX_GATEWAY_NOPE") {
		t.Fatalf("unknown env: %v", err)
	}
	if _, err := Load("", []string{"RINGEX_RINGS_INPUT_SLOTS=lots"}); err == nil || !strings.Contains(err.Error(), "rings.input_slots") {
		t.Fatalf("bad env value: %v", err)
	}
}

func TestValidateNamesEveryBadKey(t *testing.T) {
	tests := []struct {
		key, value, wantKey string
	}{
		{"rings.input_slots", "1000", "rings.input_slots"},
		{"rings.output_slots", "0", "rings.output_slots"},
		{"rings.wait", "spin", "rings.wait"},
		{"journal.sync", "sometimes", "journal.sync"},
		{"gateway.listen", "nope", "gateway.listen"},
		{"gateway.max_frame_bytes", "10", "gateway.max_frame_bytes"},
		{"gateway.heartbeat_timeout", "1ms", "gateway.heartbeat_timeout"},
		{"gateway.disconnect_rate", "1", "gateway.disconnect_rate"},
		{"admin.listen", "0.0.0.0:7480", "admin.token"},
		{"snapshot.schedule", "25:99", "snapshot.schedule"},
		{"snapshot.keep", "0", "snapshot.keep"},
		{"log.format", "xml", "log.format"},
		{"node.data_dir", "", "node.data_dir"},
	}
	for _, tt := range tests {
		c := Default()
		if err := c.Set(tt.key, tt.value); err != nil {
			t.Fatal(err)
		}
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tt.wantKey) {
			t.Errorf("%s=%q: %v (want a complaint about %s)", tt.key, tt.value, err, tt.wantKey)
		}
	}
	c := Default()
	c.Accounts = append(c.Accounts, Account{ID: 1, Secret: "x"})
	c.Instruments = append(c.Instruments, Instrument{ID: 9, Symbol: "BTC-USD", TickSize: 1, LotSize: 1})
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "accounts[4].id") || !strings.Contains(err.Error(), "instruments[3].symbol") {
		t.Fatalf("duplicates: %v", err)
	}
	c = Default()
	c.Set("admin.listen", "0.0.0.0:7480")
	c.Set("admin.token", "t0k")
	if err := c.Validate(); err != nil {
		t.Fatalf("token given: %v", err)
	}
}

// Print masks every secret and round-trips otherwise.
func TestPrintMasksSecrets(t *testing.T) {
	c := Default()
	c.Set("admin.token", "super-secret-token")
	var buf bytes.Buffer
	if err := c.Print(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, secret := range []string{"super-secret-token", "demo-secret-1", "demo-secret-4"} {
		if strings.Contains(out, secret) {
			t.Fatalf("printed config contains %q", secret)
		}
	}
	path := filepath.Join(t.TempDir(), "printed.yaml")
	os.WriteFile(path, buf.Bytes(), 0o644)
	back, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if back.Gateway != c.Gateway || back.Rings != c.Rings || len(back.Accounts) != len(c.Accounts) {
		t.Fatal("printed config does not load back to the same settings")
	}
	if c.Accounts[0].Secret != "demo-secret-1" {
		t.Fatal("Print changed the config")
	}
}
