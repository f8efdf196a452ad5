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
	cfg, err := loadServeConfig("", clusterSets(cmd)) // as serve does
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
