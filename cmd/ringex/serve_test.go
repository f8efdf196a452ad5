package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// --raft-listen defaults to this node's raft address in --peers by the
// effective node.id, wherever it was set: the --node-id flag alone was
// looked at, so a node id from RINGEX_NODE_ID (or a file, or node.id's
// default) left the listen address empty and start failed saying only
// `cluster.raft_listen: "" is not host:port`.
func TestRaftListenDefaultsFromPeersByTheEffectiveNodeID(t *testing.T) {
	t.Setenv("RINGEX_NODE_ID", "2")
	cmd := newServeCmd()
	peers := "1=127.0.0.1:27501=127.0.0.1:27400,2=127.0.0.1:27502=127.0.0.1:27410,3=127.0.0.1:27503=127.0.0.1:27420"
	if err := cmd.ParseFlags([]string{"--peers", peers}); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadServeConfig("", flagSettings(cmd), nil) // as serve does
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Cluster.RaftListen; got != "127.0.0.1:27502" {
		t.Fatalf("cluster.raft_listen = %q, want node 2's raft address 127.0.0.1:27502", got)
	}
}

// --log-level and --log-format mend a bad log.* value of the config
// file: they were applied after the file's values were validated.
func TestLogFlagsOverrideABadFileValue(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ringex.yaml")
	if err := os.WriteFile(path, []byte("log:\n  level: loud\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := ringex(t, nil, "serve", "--config", path, "--log-level", "info", "--set", "gateway.listen=nope")
	if err == nil || strings.Contains(err.Error(), "log.level") || !strings.Contains(err.Error(), "gateway.listen") {
		t.Fatalf("serve with a bad log.level in the file and --log-level: %v\n%s", err, out)
	}
}

// A --set without '=' is refused without echoing what follows the key:
// "admin.token:s3cr3t" (a ':' typed for the '=') held the token, and the
// error went to stderr — the service manager's log.
func TestMalformedSetDoesNotEchoTheValue(t *testing.T) {
	for _, kv := range []string{"admin.token:s3cr3t-xyzzy", "admin.token s3cr3t-xyzzy", "=s3cr3t-xyzzy"} {
		_, err := loadConfig("", []string{kv})
		if err == nil {
			t.Fatalf("--set %q accepted", kv)
		}
		if strings.Contains(err.Error(), "s3cr3t-xyzzy") {
			t.Errorf("--set %q: the error shows the value: %v", kv, err)
		}
	}
}

// The demo configuration's banner says when order entry listens beyond
// this machine (the embedded default, ":7400"): its accounts' secrets
// are public, so anyone who reaches the port can trade as them. A
// loopback listen gets no such line.
func TestDemoBannerSaysWhenOrderEntryIsOpenToOthers(t *testing.T) {
	for _, c := range []struct {
		listen string
		open   bool
	}{{":7400", true}, {"0.0.0.0:7400", true}, {"[::]:7400", true}, {"10.0.0.5:7400", true},
		{"127.0.0.1:7400", false}, {"localhost:7400", false}, {"[::1]:7400", false}} {
		cfg, err := loadServeConfig("", nil, []string{"gateway.listen=" + c.listen})
		if err != nil {
			t.Fatal(err)
		}
		var out strings.Builder
		demoBanner(&out, cfg)
		if !strings.Contains(out.String(), "demo account 1 secret ") {
			t.Errorf("%s: no demo secrets in the banner:\n%s", c.listen, out.String())
		}
		if said := strings.Contains(out.String(), "anyone who reaches it can log on"); said != c.open {
			t.Errorf("gateway.listen=%s: banner says it is open to others: %v, want %v:\n%s", c.listen, said, c.open, out.String())
		}
	}
}

// A value of one of serve's own flags that the config refuses names the
// flag the operator typed: --log-level loud was refused "(from --set)",
// and the operator looked for a --set there was none of. A --set still
// names --set, and the later of a flag and a --set of one key is the
// one named (it is the value refused).
func TestServeFlagRefusalsNameTheFlag(t *testing.T) {
	const peers = "1=127.0.0.1:1=127.0.0.1:2"
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--log-level", "loud"}, `log.level: "loud" is not one of trace, debug, info, warn, error (from --log-level)`},
		{[]string{"--log-format", "xml"}, `log.format: "xml" is not one of json, console (from --log-format)`},
		{[]string{"--node-id", "0"}, "node.id: 0 is not in 1…1048575 (from --node-id)"},
		{[]string{"--peers", "1=a"}, `cluster.peers: peer "1=a" is not id=raft_addr=gateway_addr (from --peers)`}, // refused as it is set
		{[]string{"--node-id", "9", "--peers", peers}, "cluster.peers: node.id 9 is not among the peers (from --peers)"},
		{[]string{"--node-id", "1", "--peers", peers, "--raft-listen", "nope"}, `cluster.raft_listen: "nope" is not host:port (from --raft-listen)`},
		{[]string{"--set", "log.level=loud"}, "(from --set)"},
		{[]string{"--set", "log.level=loud", "--log-level", "louder"}, `"loud" is not one of trace, debug, info, warn, error (from --set)`},
	} {
		out, err := ringex(t, nil, append([]string{"serve"}, c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("serve %s: %v, want it to say %q\n%s", strings.Join(c.args, " "), err, c.want, out)
		}
	}
}
