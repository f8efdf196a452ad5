package node

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/replicator"
)

// memberAdmin adds POST /cluster/replace?id=N&raft=HOST:PORT&gateway=HOST:PORT:
// the leader moves member N, whose machine is lost, to a new raft and
// gateway address (replicator.Replace). 200 once raft committed the
// change (or the member is at that raft address already); 400 a
// malformed request; 404 no such member; 409 refused (the leader
// itself, a member that still answers, too few members live, another
// change under way, an address taken — its raft address or gateway
// another member's raft address or gateway, or its gateway its own raft
// address); 503 not the leader (named, as for
// control inputs), or the change's fate unknown.
func (n *Node) memberAdmin(mux *http.ServeMux) {
	mux.Handle("POST /cluster/replace", n.auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := replaceRequest(r.URL.RawQuery)
		if err != nil {
			n.audit(r, "cluster-replace", "", 0, fmt.Errorf("refused %d: %w", http.StatusBadRequest, err))
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		// The clash is checked inside the replace, against the membership
		// it changes, with the names looked up in its one round.
		var clash error
		moved, err := n.cl.r.ReplaceIf(p, func(members []replicator.Peer) error {
			clash = addressesClash(members, p)
			return clash
		})
		if clash != nil {
			n.audit(r, "cluster-replace", "member", uint64(p.ID), fmt.Errorf("refused %d: %w", http.StatusConflict, clash))
			http.Error(w, clash.Error(), http.StatusConflict)
			return
		}
		n.audit(r, "cluster-replace", "member", uint64(p.ID), err)
		if err != nil {
			status, msg := replaceRefusal(err)
			if status == http.StatusServiceUnavailable && errors.Is(err, replicator.ErrNotLeader) {
				msg = n.refusal(ErrNotLeader) // names the leader; the CLI goes on to the next member
			}
			http.Error(w, msg, status)
			return
		}
		entry := fmt.Sprintf("%d=%s=%s", p.ID, p.Raft, p.Gateway)
		if !moved {
			fmt.Fprintf(w, "member %d is at raft address %s in the membership already: nothing changed; its peers entry is %s\n", p.ID, p.Raft, entry)
			return
		}
		n.log.Warn().Uint32("member", p.ID).Str("raft", p.Raft).Str("gateway", p.Gateway).Msg("cluster: member moved by operator")
		fmt.Fprintf(w, "member %d moved to raft address %s: committed. Put %s in cluster.peers on every member; "+
			"start the replacement there with an empty data directory, without --bootstrap; "+
			"restart the other members one at a time with the edited peers for their redirects to name its gateway\n", p.ID, p.Raft, entry)
	})))
}

// replaceRequest reads POST /cluster/replace's raw query: id, raft and
// gateway, each once, and no other (checkQuery, as every admin endpoint
// words it: a misspelt one would move the member elsewhere than meant);
// the addresses dialable and ones a cluster.peers entry can hold.
func replaceRequest(raw string) (replicator.Peer, error) {
	if err := checkQuery(raw, "/cluster/replace", []string{"id", "raft", "gateway"}); err != nil {
		return replicator.Peer{}, err
	}
	q, _ := url.ParseQuery(raw) // it parses: checkQuery
	id, err := strconv.ParseUint(q.Get("id"), 10, 32)
	if err != nil || id == 0 {
		return replicator.Peer{}, fmt.Errorf("id=%q: want a member id", q.Get("id"))
	}
	p := replicator.Peer{ID: uint32(id), Raft: q.Get("raft"), Gateway: q.Get("gateway")}
	for key, addr := range map[string]string{"raft": p.Raft, "gateway": p.Gateway} {
		if err := dialable(addr); err != nil {
			return replicator.Peer{}, fmt.Errorf("%s=%q: %w", key, addr, err)
		}
		// The answer tells the operator to put id=raft=gateway in
		// cluster.peers, whose entries are split at '=' and, given as
		// RINGEX_CLUSTER_PEERS or --set, at ',': with either in an
		// address, no config names the member the cluster then holds.
		if strings.ContainsAny(addr, "=,") {
			return replicator.Peer{}, fmt.Errorf("%s=%q: a cluster.peers address holds no '=' or ',' (its entries are id=raft_addr=gateway_addr, comma-separated)", key, addr)
		}
	}
	return p, nil
}

// addressesClash refuses to move member p.ID to p's addresses when the
// membership members would then have a socket at two of its addresses:
// p's raft address or gateway at another member's raft address or
// gateway, or p's gateway at its own raft address — the rule
// cluster.peers is held to (config.PeerAddressClashes), so that the
// peers the answer tells the operator to write are ones every member
// starts with. Addresses are compared as written (and localhost and an
// IP's other forms one way); a raft address another member's resolves
// to as well is Replace's refusal (replicator.ErrAddressTaken). A
// member whose gateway is not known here (members) is not compared.
func addressesClash(members []replicator.Peer, p replicator.Peer) error {
	peers := make([]config.Peer, 0, len(members)+1)
	for _, m := range members {
		if m.ID != p.ID {
			peers = append(peers, config.Peer(m))
		}
	}
	peers = append(peers, config.Peer(p)) // last: its clashes are its own (I)
	for _, c := range config.PeerAddressClashes(peers) {
		if c.I == len(peers)-1 {
			return fmt.Errorf("%s=%s", c.Field, c.Reason(peers, func(j int) string { return fmt.Sprintf("member %d", peers[j].ID) }))
		}
	}
	return nil
}

// dialable checks that addr is host:port with a host other members and
// clients can dial (config.DialableHost) and a port.
func dialable(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("want host:port: %w", err)
	}
	if pn, err := strconv.ParseUint(port, 10, 16); err != nil || pn == 0 {
		return fmt.Errorf("port %q: want 1–65535", port)
	}
	return config.DialableHost(host)
}

// replaceRefusal is the status and message answering a refused Replace.
func replaceRefusal(err error) (int, string) {
	switch {
	case errors.Is(err, replicator.ErrUnknownMember):
		return http.StatusNotFound, err.Error()
	case errors.Is(err, replicator.ErrReplaceLeader), errors.Is(err, replicator.ErrMemberLive),
		errors.Is(err, replicator.ErrTooFewLive), errors.Is(err, replicator.ErrChangePending),
		errors.Is(err, replicator.ErrAddressTaken):
		return http.StatusConflict, err.Error()
	case errors.Is(err, replicator.ErrChangeUnknown):
		return http.StatusServiceUnavailable, err.Error() +
			"; ask again: it answers nothing changed once the change is committed, not known committed while it is not (the leader that appended the change shows it in GET /state's cluster.membership before it commits)"
	}
	return http.StatusServiceUnavailable, err.Error()
}
