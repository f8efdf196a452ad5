package node

import (
	"bytes"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/config"
)

// A member of a cluster of more than one run under the default cluster
// id is warned at its start, naming cluster.id and what to set it to;
// a named cluster's member, a cluster of one and a standalone node are
// not. Before, nothing said so: two clusters left at the default took
// each other's data directories unnoticed.
func TestAMemberUnderTheDefaultClusterIDIsWarned(t *testing.T) {
	three := make([]config.Peer, 3) // only their number counts
	for _, tc := range []struct {
		name   string
		c      config.Cluster
		warned bool
	}{
		{"three, no id", config.Cluster{Peers: three}, true},
		{"three, named", config.Cluster{ID: "prod-eu", Peers: three}, false},
		{"a cluster of one", config.Cluster{Peers: three[:1]}, false},
		{"standalone", config.Cluster{}, false},
	} {
		var log bytes.Buffer
		warnDefaultClusterID(tc.c, zerolog.New(&log))
		got := log.String()
		if warned := strings.Contains(got, `"level":"warn"`) && strings.Contains(got, "cluster.id is not set") &&
			strings.Contains(got, "Set cluster.id to a name of this cluster's own"); warned != tc.warned {
			t.Errorf("%s: warned %v, want %v: %q", tc.name, warned, tc.warned, got)
		}
		if !tc.warned && got != "" {
			t.Errorf("%s: logged %q", tc.name, got)
		}
	}
}
