package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ringex.yaml")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDefaultsValidate(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("embedded defaults do not validate:\n%v", err)
	}
	want := []struct {
		key, value string
	}{
		{"node.data_dir", "./data"},
		{"gateway.listen", ":7400"},
		{"marketdata.listen", ":7401"},
		{"admin.listen", "127.0.0.1:7480"},
		{"rings.input_slots", "16777216"},
		{"rings.output_slots", "4194304"},
		{"rings.wait", "adaptive"},
		{"journal.sync", "batch"},
		{"snapshot.schedule", "00:00"},
		{"snapshot.keep", "2"},
	}
	for _, w := range want {
		if got, _ := c.Get(w.key); got != w.value {
			t.Errorf("default %s = %q, want %q", w.key, got, w.value)
		}
	}
	if len(c.Instruments) < 3 || len(c.Accounts) < 4 {
		t.Errorf("defaults have %d instruments and %d accounts", len(c.Instruments), len(c.Accounts))
	}
	if c.JournalDir() != filepath.Join("data", "journal") || c.SnapshotDir() != filepath.Join("data", "snapshots") {
		t.Errorf("derived dirs %q %q", c.JournalDir(), c.SnapshotDir())
	}
	// A configured directory is the directory itself, trailing slash or
	// not: ".staged" and ".replaced" siblings are made from its name.
	d := c.Clone()
	for key, set := range map[string]string{"journal.dir": "/fast/journal/", "snapshot.dir": "/fast/snaps//", "snapshot.archive_dir": "/slow/archive/"} {
		if err := d.Set(key, set); err != nil {
			t.Fatal(err)
		}
	}
	if d.JournalDir() != "/fast/journal" || d.SnapshotDir() != "/fast/snaps" || d.ArchiveDir() != "/slow/archive" {
		t.Errorf("configured dirs %q %q %q, want them cleaned", d.JournalDir(), d.SnapshotDir(), d.ArchiveDir())
	}
	// Load with nothing is the defaults.
	l, err := Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(l, c) {
		t.Error(`Load("", nil) differs from Default()`)
	}
}

func TestDefaultIsFresh(t *testing.T) {
	a := Default()
	a.Accounts[0].Secret = "changed"
	a.Gateway.Listen = ":1"
	if b := Default(); b.Accounts[0].Secret == "changed" || b.Gateway.Listen == ":1" {
		t.Fatal("Default returns shared state")
	}
}

// default < file < env < Set, key by key.
func TestPrecedence(t *testing.T) {
	path := writeFile(t, `
gateway:
  listen: ":9001"          # file, overridden by env and flag
  max_connections: 7       # file, overridden by env
  max_frame_bytes: 2048    # file only
journal:
  sync: none
`)
	env := []string{
		"HOME=/root",                         // not ours: ignored
		"RINGEX_CONFIG=/ignored.yaml",        // the CLI's, not a key
		"RINGEX_GATEWAY_LISTEN=:9002",        // env, overridden by flag
		"RINGEX_GATEWAY_MAX_CONNECTIONS=8",   // env over file
		"RINGEX_GATEWAY_READ_TIMEOUT=20s",    // env over default
		"RINGEX_ADMIN_TOKEN=from-env-secret", // secrets from env
	}
	c, err := Load(path, env)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Set("gateway.listen", ":9003"); err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name string
		got  any
		want any
	}{
		{"flag > env > file", c.Gateway.Listen, ":9003"},
		{"env > file", c.Gateway.MaxConnections, 8},
		{"file > default", c.Gateway.MaxFrameBytes, 2048},
		{"file > default", c.Journal.Sync, SyncNone},
		{"env > default", c.Gateway.ReadTimeout, 20 * time.Second},
		{"env", c.Admin.Token, "from-env-secret"},
		{"default", c.Rings.Wait, WaitAdaptive},
		{"default", c.Gateway.HeartbeatInterval, 5 * time.Second},
		{"default", c.Cluster.ElectionTimeout, 150 * time.Millisecond},
		{"default lists kept", len(c.Instruments), len(Default().Instruments)},
	}
	for _, ch := range checks {
		if !reflect.DeepEqual(ch.got, ch.want) {
			t.Errorf("%s: got %v, want %v", ch.name, ch.got, ch.want)
		}
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

// An admin token given empty over one a lower layer set is refused,
// naming both layers and neither token: RINGEX_ADMIN_TOKEN left empty —
// a compose file's ${RINGEX_ADMIN_TOKEN} unset on the host, a unit's
// Environment=RINGEX_ADMIN_TOKEN= — took the file's token away, and an
// admin port on loopback then asked for none, silently. Empty where no
// token was set, it changes nothing and is taken.
func TestEmptyTokenOverATokenIsRefused(t *testing.T) {
	const token = "file-token-0123456789"
	path := writeFile(t, "admin:\n  token: "+token+"\n")
	_, err := Load(path, []string{"RINGEX_ADMIN_TOKEN="})
	if !errors.Is(err, ErrBadValue) || !strings.Contains(err.Error(), "RINGEX_ADMIN_TOKEN") || !strings.Contains(err.Error(), path) ||
		strings.Contains(err.Error(), token) {
		t.Errorf("an empty variable over the file's token: %v", err)
	}
	c, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Set("admin.token", ""); !errors.Is(err, ErrBadValue) || !strings.Contains(err.Error(), "--set") || c.Admin.Token != token {
		t.Errorf("--set admin.token= over the file's token: %v, token kept: %v", err, c.Admin.Token == token)
	}
	if _, err := Load("", []string{"RINGEX_ADMIN_TOKEN="}); err != nil {
		t.Errorf("an empty variable over no token: %v", err)
	}
	// So is admin.token_file given empty over the file's: the token it
	// names was not read, and the port asked for none.
	path = writeFile(t, "admin:\n  token_file: /run/secrets/admin_token\n")
	_, err = Load(path, []string{"RINGEX_ADMIN_TOKEN_FILE="})
	if !errors.Is(err, ErrBadValue) || !strings.Contains(err.Error(), "admin.token_file") || !strings.Contains(err.Error(), "RINGEX_ADMIN_TOKEN_FILE") ||
		!strings.Contains(err.Error(), path) {
		t.Errorf("an empty variable over the file's admin.token_file: %v", err)
	}
	if _, err := Load("", []string{"RINGEX_ADMIN_TOKEN_FILE="}); err != nil {
		t.Errorf("an empty variable over no token file: %v", err)
	}
}

func TestFileListsReplaceDefaults(t *testing.T) {
	path := writeFile(t, `
instruments:
  - {id: 7, symbol: XYZ, tick_size: 5, lot_size: 10}
cluster:
  raft_listen: ":7500"
  allow_plaintext: true
  peers: ["1=a:7500=a:7400", "2=b:7500=b:7400", "3=c:7500=c:7400"]
`)
	c, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Instruments) != 1 || c.Instruments[0] != (Instrument{ID: 7, Symbol: "XYZ", TickSize: 5, LotSize: 10}) {
		t.Fatalf("instruments = %+v", c.Instruments)
	}
	if !reflect.DeepEqual(c.Accounts, Default().Accounts) {
		t.Fatal("accounts absent from the file lost their defaults")
	}
	if len(c.Cluster.Peers) != 3 || c.Cluster.Peers[1] != (Peer{ID: 2, Raft: "b:7500", Gateway: "b:7400"}) {
		t.Fatalf("peers = %+v", c.Cluster.Peers)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestEmptyFileIsDefaults(t *testing.T) {
	c, err := Load(writeFile(t, "# nothing here\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Fatal("an empty file changed the config")
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name    string
		file    string // "" for no file
		env     []string
		is      error
		mention []string
	}{
		{"unknown file key", "gateway:\n  lisen: \":1\"\n", nil, ErrUnknownKey, []string{"lisen"}},
		{"unknown section", "gatway:\n  listen: \":1\"\n", nil, ErrUnknownKey, []string{"gatway"}},
		{"unknown instrument key", "instruments:\n  - {id: 1, symbol: X, tick: 1}\n", nil, ErrUnknownKey, []string{"tick"}},
		{"bad file value", "rings:\n  input_slots: many\n", nil, ErrBadValue, []string{"many"}},
		{"duration as number", "gateway:\n  read_timeout: 5\n", nil, ErrBadValue, []string{"line 2", "Duration"}},
		{"bad peer", "cluster:\n  peers: [\"1=a:1\"]\n", nil, ErrBadValue, []string{"1=a:1"}},
		// A fraction for an integer key was truncated by the YAML
		// decoder: max_order_qty 0.5 loaded as 0, no limit at all (the
		// same value from the environment or --set was refused).
		{"fraction for an integer", "accounts:\n  - id: 1\n    secret: s3cret-one\n    max_order_qty: 0.5\n", nil, ErrBadValue,
			[]string{"line 4", "accounts[0].max_order_qty", "0.5 is not a whole number"}},
		{"fraction for a rate", "gateway:\n  rate_limit: 2.9\n", nil, ErrBadValue, []string{"gateway.rate_limit", "2.9"}},
		{"fraction for a price", "instruments:\n  - {id: 1, symbol: X, tick_size: 1, lot_size: 1, reference_price: 100.75}\n", nil, ErrBadValue,
			[]string{"instruments[0].reference_price", "100.75"}},
		{"two documents", "log:\n  level: info\n---\nlog:\n  level: debug\n", nil, ErrBadValue, []string{"more than one"}},
		{"unknown env", "", []string{"RINGEX_GATEWAY_LISEN=:1"}, ErrUnknownKey, []string{"RINGEX_GATEWAY_LISEN"}},
		{"list env", "", []string{"RINGEX_ACCOUNTS=x"}, ErrUnknownKey, []string{"RINGEX_ACCOUNTS"}},
		{"bad env int", "", []string{"RINGEX_RINGS_INPUT_SLOTS=lots"}, ErrBadValue, []string{"rings.input_slots", "RINGEX_RINGS_INPUT_SLOTS"}},
		{"bad env duration", "", []string{"RINGEX_GATEWAY_HEARTBEAT_INTERVAL=5"}, ErrBadValue, []string{"gateway.heartbeat_interval"}},
		{"bad env uint", "", []string{"RINGEX_NODE_ID=-1"}, ErrBadValue, []string{"node.id"}},
		{"account env", "", []string{"RINGEX_ACCOUNTS_0_SECRET=x"}, ErrUnknownKey, []string{"RINGEX_ACCOUNTS_0_SECRET"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.file != "" {
				path = writeFile(t, tt.file)
			}
			_, err := Load(path, tt.env)
			if !errors.Is(err, tt.is) {
				t.Fatalf("err = %v, want %v", err, tt.is)
			}
			for _, m := range tt.mention {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("%q does not mention %q", err, m)
				}
			}
		})
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml"), nil); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// A whole number written as a float (1e6, 2.0) is taken for an integer
// key: only a fraction is refused.
func TestWholeFloatForAnInteger(t *testing.T) {
	c, err := Load(writeFile(t, "gateway:\n  rate_limit: 1e6\naccounts:\n  - id: 1\n    secret: s3cret-one\n    max_order_qty: 2.0\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Gateway.RateLimit != 1_000_000 || c.Accounts[0].MaxOrderQty != 2 {
		t.Fatalf("rate_limit %d, max_order_qty %d", c.Gateway.RateLimit, c.Accounts[0].MaxOrderQty)
	}
}

// The accounts with the embedded demo config's (public) secrets: every
// demo account of the embedded config; none once a file lists accounts
// of its own, or gives a demo account another secret.
func TestDemoSecretAccounts(t *testing.T) {
	if got := Default().DemoSecretAccounts(); len(got) != len(Default().Accounts) {
		t.Fatalf("the embedded config: %v, want every account", got)
	}
	c := Default()
	c.Accounts[0].Secret = "a-secret-of-its-own"
	if got := c.DemoSecretAccounts(); slices.Contains(got, c.Accounts[0].ID) || len(got) != len(c.Accounts)-1 {
		t.Fatalf("account %d given its own secret: %v", c.Accounts[0].ID, got)
	}
	c.Accounts = []Account{{ID: 1, Secret: "its-own"}, {ID: 77, Secret: "demo-secret-1"}}
	if got := c.DemoSecretAccounts(); len(got) != 0 {
		t.Fatalf("accounts of its own: %v", got)
	}
}

// A member of a cluster of more than one runs under the default cluster
// id, which every other cluster left without one shares, when cluster.id
// is empty or set to it; a standalone node or a cluster of one is not
// told of it, nor a cluster named.
func TestClusterUsesDefaultID(t *testing.T) {
	peers := func(n int) []Peer { return make([]Peer, n) } // only their number counts
	for _, tc := range []struct {
		name string
		c    Cluster
		want bool
	}{
		{"standalone", Cluster{}, false},
		{"a cluster of one", Cluster{Peers: peers(1)}, false},
		{"three, no id", Cluster{Peers: peers(3)}, true},
		{"three, the default id set", Cluster{ID: DefaultClusterID, Peers: peers(3)}, true},
		{"three, named", Cluster{ID: "prod-eu", Peers: peers(3)}, false},
	} {
		if got := tc.c.UsesDefaultID(); got != tc.want {
			t.Errorf("%s: UsesDefaultID %v, want %v", tc.name, got, tc.want)
		}
	}
}

// The accounts whose secrets are short enough to guess from many
// addresses (serve warns of them): under MinSecretBytes, none at or over.
func TestShortSecretAccounts(t *testing.T) {
	c := Default()
	c.Accounts = []Account{
		{ID: 1, Secret: strings.Repeat("x", MinSecretBytes-1)},
		{ID: 2, Secret: strings.Repeat("x", MinSecretBytes)},
		{ID: 3, Secret: "0123456789abcdef0123456789abcdef"},
	}
	if got := c.ShortSecretAccounts(); !slices.Equal(got, []uint32{1}) {
		t.Fatalf("short secrets: %v, want [1]", got)
	}
}
