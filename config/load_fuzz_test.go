package config

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzConfigFile loads arbitrary bytes as a config file: no panic, and a
// config that loads prints (secrets masked) to a file that loads back to
// the same masked config.
func FuzzConfigFile(f *testing.F) {
	f.Add(defaultYAML)
	f.Add([]byte("admin:\n  token: !x\n"))
	f.Add([]byte("accounts:\n  - id: 1\n    secret: \"*x\"\n    max_order_qty: 1e3\n"))
	f.Add([]byte("instruments:\n  - &i {id: 1, symbol: A, tick_size: 1, lot_size: 1}\n  - *i\n"))
	f.Add([]byte("node:\n  data_dir: !!binary L2RhdGEv/w==\n"))
	f.Add([]byte("accounts:\n  - <<: &d {max_order_qty: 5}\n    id: 1\n  - {<<: [*d], id: 2}\nadmin: &a {<<: *a}\n"))
	f.Add([]byte("cluster:\n  peers: [{id: 1, raft_addr: 'a:1', gateway_addr: 'a:2'}]\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "in.yaml")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := Load(path, nil)
		if err != nil {
			return
		}
		printsBack(t, dir, c, fmt.Sprintf("input:\n%q", data))
	})
}

// printsBack checks that c prints (secrets masked) to a file in dir that
// loads back to the same masked config; from says where c came from.
func printsBack(t *testing.T, dir string, c *Config, from string) {
	t.Helper()
	var out bytes.Buffer
	if err := c.Print(&out); err != nil {
		t.Fatalf("print: %v", err)
	}
	printed := filepath.Join(dir, "printed.yaml")
	if err := os.WriteFile(printed, out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	back, err := Load(printed, nil)
	if err != nil {
		t.Fatalf("the printed config does not load: %v\n%s\nprinted:\n%s", err, from, out.String())
	}
	if want, got := c.Masked(), back.Masked(); !reflect.DeepEqual(want, got) {
		t.Fatalf("the printed config loads back different:\n%s\nprinted:\n%s\nwant %+v\ngot  %+v", from, out.String(), want, got)
	}
}

// FuzzConfigEnv sets one key from a RINGEX_* variable of any value: no
// panic; a value Set takes reads back through Get as a value Set takes
// to the same config; and the config it loads prints (secrets masked) to
// a file that loads back to the same masked config, as a file's does
// (FuzzConfigFile) — a variable's value need not be one YAML can write.
func FuzzConfigEnv(f *testing.F) {
	keys := Keys()
	seeds := map[string]string{"gateway.listen": "127.0.0.1:7400", "node.data_dir": "/var/lib/ringex",
		"gateway.heartbeat_interval": "250ms", "cluster.peers": "1=a:7000=a:7400, 2=b:7000=b:7400",
		"admin.token": "s3cret", "marketdata.require_logon": "true", "node.id": "3"}
	for i, k := range keys {
		if v, ok := seeds[k]; ok {
			f.Add(uint16(i), v)
		}
	}
	f.Add(uint16(0), "\xff\x00: [")
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, pick uint16, value string) {
		key := keys[int(pick)%len(keys)]
		c, err := Load("", []string{EnvName(key) + "=" + value})
		if err != nil {
			return
		}
		got, err := c.Get(key)
		if err != nil {
			t.Fatal(err)
		}
		again := Default()
		if err := again.set(key, got, EnvName(key)); err != nil { // Set, from the same variable
			t.Fatalf("%s: Get gave %q for %q, which Set refuses: %v", key, got, value, err)
		}
		if again.normalize(); !reflect.DeepEqual(again, c) {
			t.Fatalf("%s: %q set as %q (Get), then Set again, differs", key, value, got)
		}
		printsBack(t, dir, c, fmt.Sprintf("%s=%q", EnvName(key), value))
	})
}
