package main

import "testing"

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
	cfg, err := loadConfig("", clusterSets(cmd)) // as serve does
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Cluster.RaftListen; got != "127.0.0.1:27502" {
		t.Fatalf("cluster.raft_listen = %q, want node 2's raft address 127.0.0.1:27502", got)
	}
}
