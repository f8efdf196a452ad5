package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestKeysAndEnvNames(t *testing.T) {
	keys := Keys()
	seen := map[string]bool{}
	for _, k := range keys {
		if seen[EnvName(k)] {
			t.Errorf("two keys share the variable %s", EnvName(k))
		}
		seen[EnvName(k)] = true
		if strings.HasPrefix(k, "instruments") || strings.HasPrefix(k, "accounts") {
			t.Errorf("list key %s is settable", k)
		}
	}
	for _, want := range []string{"gateway.listen", "gateway.tls.key_file", "rings.input_slots", "admin.token", "cluster.peers", "snapshot.journal_retention"} {
		if !seen[EnvName(want)] {
			t.Errorf("key %s missing from Keys", want)
		}
	}
	for key, env := range map[string]string{
		"gateway.listen":        "RINGEX_GATEWAY_LISTEN",
		"journal.sync":          "RINGEX_JOURNAL_SYNC",
		"admin.token":           "RINGEX_ADMIN_TOKEN",
		"gateway.tls.cert_file": "RINGEX_GATEWAY_TLS_CERT_FILE",
	} {
		if got := EnvName(key); got != env {
			t.Errorf("EnvName(%s) = %s, want %s", key, got, env)
		}
	}
}

// Get returns what Set accepts, for every key.
func TestGetSetEveryKey(t *testing.T) {
	c := Default()
	c.Cluster.Peers = []Peer{{1, "a:1", "a:2"}, {2, "b:1", "b:2"}}
	d := Default()
	for _, k := range Keys() {
		v, err := c.Get(k)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Set(k, v); err != nil {
			t.Errorf("Set(%s, Get(%s)=%q): %v", k, k, v, err)
		}
	}
	if got, _ := d.Get("cluster.peers"); got != "1=a:1=a:2,2=b:1=b:2" {
		t.Errorf("peers %q", got)
	}
	if _, err := c.Get("nope"); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("Get(nope) = %v", err)
	}
}

// An unknown key — from --set, a RINGEX_ variable or Get — tells the
// operator where the keys are listed: it named config.Keys, a Go
// function an operator at `ringex serve --set` cannot look up.
func TestUnknownKeySaysWhereKeysAreListed(t *testing.T) {
	c := Default()
	_, getErr := c.Get("gateway.bogus")
	_, envErr := Load("", []string{"RINGEX_GATEWAY_BOGUS=1"})
	for what, err := range map[string]error{"Set": c.Set("gateway.bogus", "1"), "Get": getErr, "env": envErr} {
		if !errors.Is(err, ErrUnknownKey) || !strings.Contains(err.Error(), "ringex config print") || strings.Contains(err.Error(), "config.Keys") {
			t.Errorf("%s of an unknown key: %v", what, err)
		}
	}
}

func TestSet(t *testing.T) {
	c := Default()
	if err := c.Set("gateway.read_timeout", "2m"); err != nil || c.Gateway.ReadTimeout != 2*time.Minute {
		t.Errorf("duration: %v %v", err, c.Gateway.ReadTimeout)
	}
	if err := c.Set("node.id", "4294967295"); err != nil || c.Node.ID != 1<<32-1 {
		t.Errorf("uint32: %v %v", err, c.Node.ID)
	}
	if err := c.Set("cluster.peers", " 1=a:1=a:2 , 2=b:1=b:2 "); err != nil || len(c.Cluster.Peers) != 2 || c.Cluster.Peers[1].Raft != "b:1" {
		t.Errorf("peers: %v %+v", err, c.Cluster.Peers)
	}
	if err := c.Set("cluster.peers", ""); err != nil || c.Cluster.Peers == nil || len(c.Cluster.Peers) != 0 {
		t.Errorf("empty peers: %v %#v", err, c.Cluster.Peers)
	}
	bad := []struct {
		key, value string
		is         error
	}{
		{"node.id", "4294967296", ErrBadValue},
		{"rings.input_slots", "1e6", ErrBadValue},
		{"gateway.read_timeout", "10", ErrBadValue},
		{"cluster.peers", "x=a:1=a:2", ErrBadValue},
		{"gateway", ":1", ErrUnknownKey},
		{"gateway.tls", "x", ErrUnknownKey},
		{"instruments", "x", ErrUnknownKey},
		{"accounts.secret", "x", ErrUnknownKey},
	}
	for _, b := range bad {
		before := *c
		err := c.Set(b.key, b.value)
		if !errors.Is(err, b.is) || !strings.Contains(err.Error(), b.key) {
			t.Errorf("Set(%s, %q) = %v, want %v naming the key", b.key, b.value, err, b.is)
		}
		if c.Node != before.Node || c.Rings != before.Rings || c.Gateway != before.Gateway {
			t.Errorf("failed Set(%s) changed the config", b.key)
		}
	}
}
