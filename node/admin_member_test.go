package node

import (
	"net/url"
	"testing"

	"github.com/ringex/ringex/replicator"
)

// POST /cluster/replace takes id, raft and gateway, each once, both
// addresses dialable host:port; anything else is refused before the
// leader is asked (a misspelt parameter would move the member elsewhere
// than meant).
func TestReplaceRequest(t *testing.T) {
	for _, tt := range []struct {
		query string
		want  replicator.Peer
		ok    bool
	}{
		{"id=3&raft=10.0.0.13:7500&gateway=10.0.0.13:7400", replicator.Peer{ID: 3, Raft: "10.0.0.13:7500", Gateway: "10.0.0.13:7400"}, true},
		{"id=3&raft=n3.example:7500&gateway=n3.example:7400", replicator.Peer{ID: 3, Raft: "n3.example:7500", Gateway: "n3.example:7400"}, true},
		{"id=0&raft=10.0.0.13:7500&gateway=10.0.0.13:7400", replicator.Peer{}, false},
		{"id=x&raft=10.0.0.13:7500&gateway=10.0.0.13:7400", replicator.Peer{}, false},
		{"id=3&raft=10.0.0.13&gateway=10.0.0.13:7400", replicator.Peer{}, false},
		{"id=3&raft=:7500&gateway=10.0.0.13:7400", replicator.Peer{}, false},
		{"id=3&raft=0.0.0.0:7500&gateway=10.0.0.13:7400", replicator.Peer{}, false},
		{"id=3&raft=10.0.0.13:0&gateway=10.0.0.13:7400", replicator.Peer{}, false},
		{"id=3&raft=10.0.0.13:7500", replicator.Peer{}, false},
		{"id=3&raft=10.0.0.13:7500&gateway=10.0.0.13:7400&gw=x", replicator.Peer{}, false},
		{"id=3&id=4&raft=10.0.0.13:7500&gateway=10.0.0.13:7400", replicator.Peer{}, false},
	} {
		q, err := url.ParseQuery(tt.query)
		if err != nil {
			t.Fatal(err)
		}
		p, err := replaceRequest(q)
		if (err == nil) != tt.ok || p != tt.want {
			t.Errorf("%s: %+v, %v; want %+v, ok %v", tt.query, p, err, tt.want, tt.ok)
		}
	}
}

// POST /cluster/isolate takes on=true or on=false, once, and nothing
// else: ?on=true&on=false isolated the member (the first was taken).
func TestIsolateRequest(t *testing.T) {
	for _, tt := range []struct {
		query  string
		on, ok bool
	}{
		{"on=true", true, true},
		{"on=false", false, true},
		{"", false, false},
		{"on=maybe", false, false},
		{"on=true&on=false", false, false},
		{"on=false&on=true", false, false},
		{"on=true&member=2", false, false},
		{"on=true&%zz", false, false},
	} {
		on, err := isolateRequest(tt.query)
		if (err == nil) != tt.ok || on != tt.on {
			t.Errorf("%q: %v, %v; want %v, ok %v", tt.query, on, err, tt.on, tt.ok)
		}
	}
}
