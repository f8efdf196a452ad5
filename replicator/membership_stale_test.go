package replicator

import (
	"slices"
	"testing"

	"github.com/hashicorp/raft"
)

// Peers that differ from the raft state's membership only by members a
// committed replace this member applied moved away (the fence keeps
// their former addresses) are stale, not wrong: the member starts on
// its membership (a restart in place executes the command line it ran
// with). Any other difference is refused as before: a member's address
// edited without a replace, its own former address, a member more or
// fewer.
func TestStalePeersAreOnlyCommittedMoves(t *testing.T) {
	have := membership("10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:2") // member 3 moved from 10.0.0.3:1 to 10.0.0.3:2
	formerAt := func(id raft.ServerID, addr string) bool { return id == "3" && addr == "10.0.0.3:1" }
	for _, tc := range []struct {
		name string
		self raft.ServerID
		want []raft.Server
		out  []string
	}{
		{"the peers of before the move", "1", membership("10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1"), []string{"3: 10.0.0.3:1 -> 10.0.0.3:2"}},
		{"an address edited without a replace", "1", membership("10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:9"), nil},
		{"an address edited, another member moved", "1", membership("10.0.0.1:9", "10.0.0.2:1", "10.0.0.3:1"), nil},
		{"its own former address", "3", membership("10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1"), nil},
		{"a member fewer", "1", membership("10.0.0.1:1", "10.0.0.2:1"), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := stalePeers(have, tc.want, tc.self, formerAt); !slices.Equal(got, tc.out) {
				t.Fatalf("stalePeers = %q, want %q", got, tc.out)
			}
		})
	}
}
