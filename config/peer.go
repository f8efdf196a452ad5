package config

import (
	"fmt"
	"strconv"
	"strings"
)

// Peer is one cluster member, written "id=raft_addr=gateway_addr", e.g.
// "2=node2:7500=node2:7400": the node id, the address its consensus
// transport listens on, and the address clients reach its gateway at (for
// redirecting clients to the leader).
type Peer struct {
	ID      uint32
	Raft    string
	Gateway string
}

// String returns the "id=raft_addr=gateway_addr" form.
func (p Peer) String() string {
	return fmt.Sprintf("%d=%s=%s", p.ID, p.Raft, p.Gateway)
}

// MarshalText writes the "id=raft_addr=gateway_addr" form, so a peer is one
// YAML scalar.
func (p Peer) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText parses "id=raft_addr=gateway_addr". The addresses are
// checked by Validate, so an error here is only about the shape.
func (p *Peer) UnmarshalText(b []byte) error {
	parts := strings.Split(string(b), "=")
	if len(parts) != 3 {
		return fmt.Errorf("peer %q is not id=raft_addr=gateway_addr", b)
	}
	id, err := strconv.ParseUint(parts[0], 10, 32)
	if err != nil {
		return fmt.Errorf("peer %q: id %q is not a number", b, parts[0])
	}
	*p = Peer{ID: uint32(id), Raft: parts[1], Gateway: parts[2]}
	return nil
}

// parsePeers parses a comma-separated list of peers (the form used by Set
// and RINGEX_CLUSTER_PEERS). An empty string is an empty list.
func parsePeers(s string) ([]Peer, error) {
	peers := []Peer{}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		var p Peer
		if err := p.UnmarshalText([]byte(f)); err != nil {
			return nil, err
		}
		peers = append(peers, p)
	}
	return peers, nil
}
