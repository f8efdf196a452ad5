package config

import (
	"fmt"
	"net"
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

// AddressClash is two addresses of a membership at one socket:
// peers[I]'s Field ("raft" or "gateway") is also peers[J]'s OtherField.
// J < I, or J == I for a member whose gateway is its own raft address.
type AddressClash struct {
	I, J              int
	Field, OtherField string
}

// Reason is the refusal of peers[I]'s address, naming peers[J] by
// name(J): `"host:port" is also the raft address of <name(J)>: …`.
func (c AddressClash) Reason(peers []Peer, name func(j int) string) string {
	addr, what := peers[c.I].Raft, "its own raft address"
	if c.Field == "gateway" {
		addr = peers[c.I].Gateway
	}
	if c.J != c.I {
		what = "the raft address of " + name(c.J)
		if c.OtherField == "gateway" {
			what = "the gateway of " + name(c.J)
		}
	}
	return fmt.Sprintf("%q is also %s: each member's raft address and gateway need sockets of their own", addr, what)
}

// PeerAddressClashes lists where the addresses of peers name one socket
// (spelt alike, or alike once localhost and an IP's other forms are
// written one way; names are not looked up). Every raft address and
// every gateway needs a socket of its own: two members at one raft
// address get each other's raft messages; a gateway at a raft address
// sends the clients redirected there to a consensus port; and two
// members at one gateway send a client redirected to the leader to a
// member that may not lead, which redirects it back. An address checked
// otherwise — not host:port, port 0, or no host to dial — is skipped:
// its own check names it. At most one clash is listed for each address,
// the first it meets: peers[I]'s raft address against the earlier
// members' raft addresses and gateways, its gateway against theirs and
// its own raft address. cluster.peers (Validate) and a replace (the
// admin port, the membership with the member at its new addresses)
// both refuse what it lists.
func PeerAddressClashes(peers []Peer) []AddressClash {
	type at struct {
		j     int
		field string
	}
	seen := map[string]at{}
	var clashes []AddressClash
	for i, p := range peers {
		for _, a := range []struct{ field, addr string }{{"raft", p.Raft}, {"gateway", p.Gateway}} {
			s, ok := peerSocket(a.addr)
			if !ok {
				continue
			}
			if prev, dup := seen[s]; dup {
				clashes = append(clashes, AddressClash{I: i, J: prev.j, Field: a.field, OtherField: prev.field})
				continue
			}
			seen[s] = at{i, a.field}
		}
	}
	return clashes
}

// peerSocket is a peer's address in socketOf's spelling; ok false for
// one PeerAddressClashes skips.
func peerSocket(addr string) (string, bool) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", false
	}
	port, err := strconv.ParseUint(p, 10, 16)
	if err != nil || port == 0 || DialableHost(host) != nil {
		return "", false
	}
	return socketOf(host, int(port)), true
}
