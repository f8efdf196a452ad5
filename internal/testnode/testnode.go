package testnode

import (
	"testing"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/node"
)

// Start runs a node of the embedded demo config on loopback ports with
// 1024-slot rings in a temporary directory, with the given settings on
// top; it stops when the test ends.
func Start(t testing.TB, settings map[string]string) node.Addrs {
	t.Helper()
	_, _, addrs := Open(t, Config(t, t.TempDir(), settings))
	return addrs
}

// Config is the config Start runs, on dataDir: the embedded demo config on
// loopback ports with 1024-slot rings, with the given settings on top. A
// test that restarts a node on the same directory opens each run with it.
func Config(t testing.TB, dataDir string, settings map[string]string) *config.Config {
	t.Helper()
	cfg, err := Small(dataDir, settings)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// Small is Config for code without a testing.TB (an Example): the
// embedded demo config on loopback ports with 1024-slot rings, on
// dataDir, with the given settings on top.
func Small(dataDir string, settings map[string]string) (*config.Config, error) {
	cfg := config.Default()
	base := map[string]string{
		"node.data_dir": dataDir, "gateway.listen": "127.0.0.1:0", "marketdata.listen": "127.0.0.1:0",
		"admin.listen": "127.0.0.1:0", "rings.input_slots": "1024", "rings.output_slots": "1024", "gateway.recent_reports": "1024",
		"snapshot.schedule": "", "journal.segment_bytes": "1048576",
	}
	for k, v := range settings {
		base[k] = v
	}
	for k, v := range base {
		if err := cfg.Set(k, v); err != nil {
			return nil, err
		}
	}
	return cfg, nil
}

// Open recovers a node of cfg (New) and starts it; it stops when the test
// ends, unless the test stopped it first (Stop may be called again: it
// returns the first call's result).
func Open(t testing.TB, cfg *config.Config) (*node.Node, node.Recovered, node.Addrs) {
	t.Helper()
	n, rec, addrs, err := Run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return n, rec, addrs
}

// Run is Open for code without a testing.TB (an Example): the caller
// stops the node.
func Run(cfg *config.Config) (*node.Node, node.Recovered, node.Addrs, error) {
	n, rec, err := node.New(cfg, zerolog.Nop())
	if err != nil {
		return nil, rec, node.Addrs{}, err
	}
	addrs, err := n.Start()
	return n, rec, addrs, err
}
