package config

import (
	"errors"
	"strings"
	"testing"
)

// A value Validate refuses names the layer that set it — the config
// file, the environment variable or --set — as a refused admin.token
// does: an operator told that gateway.read_timeout is wrong looked for it
// in the file while a variable of the service unit had set it. A key of
// each kind: a duration, a size, a list, a nested key (gateway.tls,
// whose missing half names the layer of the half set).
func TestValidateNamesTheLayer(t *testing.T) {
	keys := []struct {
		key, value string
		refused    string // the key Validate's error names
		word       string // a word of the reason
	}{
		{"gateway.read_timeout", "1s", "gateway.read_timeout", "must exceed"},
		{"journal.segment_bytes", "1000", "journal.segment_bytes", "below 1 MiB"},
		{"cluster.peers", "0=a:7500=a:7400", "cluster.peers[0]", "not in"},
		{"gateway.tls.cert_file", "/etc/ringex/cert.pem", "gateway.tls.key_file", "required with gateway.tls.cert_file"},
	}
	for _, k := range keys {
		env := EnvName(k.key)
		path := writeFile(t, yamlOf(k.key, k.value))
		layers := []struct {
			name, from string
			load       func() (*Config, error)
		}{
			{"file", path, func() (*Config, error) { return Load(path, nil) }},
			{"env", env, func() (*Config, error) { return Load(path, []string{env + "=" + k.value}) }},
			{"flag", "--set", func() (*Config, error) {
				c, err := Load(path, []string{env + "=" + k.value})
				if err == nil {
					err = c.Set(k.key, k.value)
				}
				return c, err
			}},
		}
		for _, l := range layers {
			c, err := l.load()
			if err != nil {
				t.Fatalf("%s from the %s: %v", k.key, l.name, err)
			}
			msg := keyErrors(t, c.Validate())[k.refused]
			if !strings.Contains(msg, k.word) || !strings.Contains(msg, "from "+l.from) {
				t.Errorf("%s from the %s: %s refused as %q, want it naming %q", k.key, l.name, k.refused, msg, "from "+l.from)
			}
		}
	}
}

// yamlOf is a config file setting key (dotted) to value, one mapping a
// level; cluster.peers as a list of one entry.
func yamlOf(key, value string) string {
	parts := strings.Split(key, ".")
	var b strings.Builder
	for i, p := range parts {
		b.WriteString(strings.Repeat("  ", i) + p + ":")
		if i < len(parts)-1 {
			b.WriteString("\n")
		}
	}
	if key == "cluster.peers" {
		return b.String() + " [\"" + value + "\"]\n"
	}
	return b.String() + " " + value + "\n"
}

// A layer is named only while the key holds the value it set: a program
// that assigns the field itself after Load (as the node's tests do) is
// not told that the file set it, and a later layer's value is named
// by its own layer.
func TestLayerNamedOnlyForTheValueItSet(t *testing.T) {
	path := writeFile(t, "journal:\n  segment_bytes: 1000\n")
	c, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Journal.SegmentBytes = 2000
	if msg := keyErrors(t, c.Validate())["journal.segment_bytes"]; msg == "" || strings.Contains(msg, "from") {
		t.Errorf("a value the program assigned is refused as %q, want no layer named", msg)
	}
	// A copy keeps its own record: Set on it names --set there alone.
	d := c.Clone()
	if err := d.Set("journal.segment_bytes", "3000"); err != nil {
		t.Fatal(err)
	}
	if msg := keyErrors(t, d.Validate())["journal.segment_bytes"]; !strings.Contains(msg, "(from --set)") {
		t.Errorf("set on the copy: %q", msg)
	}
	if msg := keyErrors(t, c.Validate())["journal.segment_bytes"]; strings.Contains(msg, "from") {
		t.Errorf("the copy's Set reached the original: %q", msg)
	}
}

// A value that does not parse names its key and its layer: the variable
// (as before, once) and --set (the key alone before).
func TestBadValueNamesTheLayer(t *testing.T) {
	c := Default()
	if err := c.Set("gateway.read_timeout", "xx"); !errors.Is(err, ErrBadValue) ||
		!strings.Contains(err.Error(), "gateway.read_timeout") || !strings.Contains(err.Error(), "(from --set)") {
		t.Errorf("--set: %v", err)
	}
	if err := c.Set("cluster.peers", "1=a"); !errors.Is(err, ErrBadValue) || !strings.Contains(err.Error(), "(from --set)") {
		t.Errorf("--set of a list: %v", err)
	}
	// A flag of the CLI's own is named, at Set and at Validate.
	if err := c.SetFlag("--peers", "cluster.peers", "1=a"); !errors.Is(err, ErrBadValue) || !strings.Contains(err.Error(), "(from --peers)") {
		t.Errorf("SetFlag: %v", err)
	}
	d := Default()
	if err := d.SetFlag("--log-level", "log.level", "loud"); err != nil {
		t.Fatal(err)
	}
	if msg := keyErrors(t, d.Validate())["log.level"]; !strings.HasSuffix(msg, "(from --log-level)") {
		t.Errorf("a value SetFlag set, refused: %q", msg)
	}
	_, err := Load("", []string{"RINGEX_GATEWAY_READ_TIMEOUT=xx"})
	if !errors.Is(err, ErrBadValue) || !strings.Contains(err.Error(), "gateway.read_timeout") ||
		strings.Count(err.Error(), "(from RINGEX_GATEWAY_READ_TIMEOUT)") != 1 {
		t.Errorf("env: %v", err)
	}
}

// A value of the config file that does not decode names its key beside
// the file and the line: the decoder named the line and Go's type alone
// ("line 2: cannot unmarshal !!str `xx` into time.Duration"), and an
// operator matched lines to keys by hand. Never a secret's value: the
// key is a field's name, and the decoder shows no text it could not
// put into a text field.
func TestFileBadValueNamesTheKey(t *testing.T) {
	files := []struct{ file, want string }{
		{"gateway:\n  read_timeout: xx\n", "line 2: gateway.read_timeout: cannot unmarshal"},
		{"gateway:\n  tls:\n    cert_file: [a, b]\n", "line 3: gateway.tls.cert_file: cannot unmarshal"},
		{"cluster:\n  peers: 5\n", "line 2: cluster.peers: cannot unmarshal"},
		{"accounts:\n  - id: 1\n    max_order_qty: lots\n", "line 3: accounts[0].max_order_qty: cannot unmarshal"},
		{"accounts:\n  - id: x\n", "line 2: accounts[0].id: cannot unmarshal"},
		{"admin:\n  token: {a: b}\n", "line 2: admin.token: cannot unmarshal"},
		{"gateway:\n  <<: {heartbeat_interval: hb}\n", "line 2: gateway.heartbeat_interval: cannot unmarshal"},
		// Keys side by side on the line: which one failed is not told.
		{"instruments:\n  - {id: 1, symbol: X, tick_size: t}\n", "line 2: cannot unmarshal"},
	}
	for _, f := range files {
		path := writeFile(t, f.file)
		_, err := Load(path, nil)
		if !errors.Is(err, ErrBadValue) || !strings.Contains(err.Error(), f.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%q: %v, want %q", f.file, err, f.want)
		}
	}
}
