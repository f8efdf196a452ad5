package replicator

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// followerNamingPeers starts three members and returns a follower whose
// peers spell every raft address as a name, "n<id>.test:<port>", where
// raft's membership holds the address 127.0.0.1:<port>: naming the
// leader's gateway takes a name lookup there (placedAsPeers). It returns
// once the follower knows a leader.
func followerNamingPeers(t *testing.T) *member {
	t.Helper()
	ms := startMembers(t, 3, nil)
	f := followersOf(ms, waitLeader(t, ms, nil))[0]
	namePeers(t, f)
	for deadline := time.Now().Add(10 * time.Second); !knowsLeader(f); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the follower knew no leader in 10 s")
		}
	}
	return f
}

// namePeers has m's peers spell every raft address as a name,
// "n<id>.test:<port>", where raft's membership holds 127.0.0.1:<port>.
func namePeers(t *testing.T, m *member) {
	t.Helper()
	named := map[raft.ServerID]Peer{}
	for id, p := range *m.r.peers.Load() {
		_, port, err := net.SplitHostPort(p.Raft)
		if err != nil {
			t.Fatal(err)
		}
		p.Raft = fmt.Sprintf("n%d.test:%s", p.ID, port)
		named[id] = p
	}
	m.r.peers.Store(&named)
}

// knowsLeader reports whether raft on m knows a leader, read without
// Leader or LeaderID, which the tests judge.
func knowsLeader(m *member) bool {
	_, id := m.r.raft.LeaderWithID()
	return id != ""
}

// LeaderID looks nothing up: the node names the leader with it as it
// stops leading, on the goroutine that follows leadership, where a
// resolver that does not answer held Leader fenceResolveWithin a name —
// the next leadership signal waiting, the old leader's sessions not yet
// dropped. Status (/state) reads it too. Leader, for the gateway, still
// looks the name up.
func TestLeaderIDLooksNothingUp(t *testing.T) {
	f := followerNamingPeers(t)
	h := newHungLookups(t, 1)
	id := f.r.LeaderID()
	if of, _ := h.counts(); len(of) > 0 || id == 0 {
		t.Fatalf("LeaderID %d looked up %v; want a leader and no lookup", id, of)
	}
	// Status (/state, ringex status) reports the leader's id alone.
	if st := f.r.Status(); st.Leader != id {
		t.Fatalf("Status names leader %d, want %d", st.Leader, id)
	}
	if of, _ := h.counts(); len(of) > 0 {
		t.Fatalf("Status looked up %v; want no lookup", of)
	}
	id, gw := f.r.Leader()
	if of, _ := h.counts(); of[fmt.Sprintf("n%d.test", id)] != 1 || gw != "" {
		t.Fatalf("Leader %d at %q looked up %v; want its name looked up once and no gateway", id, gw, of)
	}
}

// A lookup that failed is not kept as the leader "not placed": once the
// resolver answers, the leader's gateway is named (a standby redirects
// its logons). It was kept for the life of the process, and one DNS
// outage at the first logon told every later one NotLeader until a
// restart. An answer is kept, "not placed" as much as "placed": the pair
// is not looked up again.
func TestLeaderNamedOnceALookupAnswers(t *testing.T) {
	f := followerNamingPeers(t)
	newHungLookups(t, 1)
	if id, gw := f.r.Leader(); id == 0 || gw != "" {
		t.Fatalf("the lookup failing: leader %d at %q, want a leader and no gateway", id, gw)
	}
	lookups := 0
	answer := func(ips []string, err error) {
		setLookup(t, func(context.Context, string) ([]string, error) { lookups++; return ips, err })
	}
	answer([]string{"127.0.0.1"}, nil)
	id, gw := f.r.Leader()
	if want := fmt.Sprintf("gw-%d", id); id == 0 || gw != want || lookups != 1 {
		t.Fatalf("the resolver answering: leader %d at %q after %d lookups, want %q after 1", id, gw, lookups, want)
	}
	f.r.Leader()
	if lookups != 1 {
		t.Fatalf("an answer not kept: %d lookups", lookups)
	}
	f.r.placed.Clear()
	answer(nil, &net.DNSError{Err: "no such host", IsNotFound: true})
	f.r.Leader()
	if id, gw := f.r.Leader(); gw != "" || lookups != 2 {
		t.Fatalf("no such host: leader %d at %q after %d lookups in all, want no gateway after 2", id, gw, lookups)
	}
}

// Leader's check of the leader's placement (placedAsPeers: a standby's
// logon check) looks up the peers' address and the membership's
// together when both are names: a resolver that does not answer holds
// the logon fenceResolveWithin once. (Before, sameSocketAs looked one up
// after the other: two waits of 2 s.) Not answered, the leader is not
// placed — no gateway — and that is not kept.
func TestLeaderLooksUpBothNamesTogether(t *testing.T) {
	r := &Replicator{}
	servers := membership("n1.test:7000", "n2.test:7000", "n3.test:7000")
	h := newHungLookups(t, 2)
	if placed := r.placedAsPeers(servers, newNames(), Peer{ID: 2, Raft: "m2.test:7000", Gateway: "gw-2"}); placed[0] {
		t.Fatal("placed with no lookup answered")
	}
	of, late := h.counts()
	if want := map[string]int{"m2.test": 1, "n2.test": 1}; !maps.Equal(of, want) || late > 0 {
		t.Fatalf("looked up %v, %d after another was waited out; want each of %v once, together", of, late, want)
	}
	if _, kept := r.placed.Load([2]string{"m2.test:7000", "n2.test:7000"}); kept {
		t.Fatal("a placement with no lookup answered was kept")
	}
}

// Members (the admin handler's cluster replace) looks up the names of
// every member it places in one round: a resolver that does not answer
// holds it fenceResolveWithin once, not once a member in turn. Not
// answered, no member's gateway is named; answered, each is.
func TestMembersLookUpNamesTogether(t *testing.T) {
	f := followerNamingPeers(t)
	h := newHungLookups(t, 3)
	members := f.r.Members()
	of, late := h.counts()
	if want := map[string]int{"n1.test": 1, "n2.test": 1, "n3.test": 1}; !maps.Equal(of, want) || late > 0 {
		t.Fatalf("looked up %v, %d after another was waited out; want each of %v once, together", of, late, want)
	}
	for _, m := range members {
		if m.Gateway != "" {
			t.Fatalf("no lookup answered, member %d named at %q", m.ID, m.Gateway)
		}
	}
	setLookup(t, func(context.Context, string) ([]string, error) { return []string{"127.0.0.1"}, nil })
	members = f.r.Members()
	if len(members) != 3 {
		t.Fatalf("members %+v, want 3", members)
	}
	for _, m := range members {
		if want := fmt.Sprintf("gw-%d", m.ID); m.Gateway != want {
			t.Fatalf("the resolver answering, member %d at %q, want %q", m.ID, m.Gateway, want)
		}
	}
}

// LookUpAddresses (ringex status comparing each member's own raft
// address with the memberships') looks every name up in one round: a
// resolver that does not answer holds it one lookup's timeout, not one
// a name in turn. (Before, SameAddress looked its two names up one
// after the other: two waits of 2 s a comparison.) Not answered, names
// spelled otherwise are not the same socket; answered, a name and its
// address are, and an address not looked up is taken as spelled.
func TestLookUpAddressesTogether(t *testing.T) {
	h := newHungLookups(t, 3)
	looked := LookUpAddresses("m2.test:7000", "n2.test:7000", "n3.test:7000")
	of, late := h.counts()
	if want := map[string]int{"m2.test": 1, "n2.test": 1, "n3.test": 1}; !maps.Equal(of, want) || late > 0 {
		t.Fatalf("looked up %v, %d after another was waited out; want each of %v once, together", of, late, want)
	}
	if looked.Same("m2.test:7000", "n2.test:7000") || !looked.Same("n3.test:7000", "n3.test:7000") {
		t.Fatal("no lookup answered: want names the same only as spelled")
	}
	if of, _ := h.counts(); len(of) != 3 {
		t.Fatalf("Same looked up again: %v", of)
	}
	lookupHost = func(_ context.Context, host string) ([]string, error) {
		if host != "n1.test" {
			t.Errorf("looked up %s, passed nothing but n1.test", host)
		}
		return []string{"127.0.0.1"}, nil
	}
	looked = LookUpAddresses("n1.test:7000")
	alone, _ := resolve("n1.test:7000")
	if got := looked.n.of["n1.test:7000"]; !slices.Equal(got, alone) {
		t.Fatalf("looked up together: %v; alone: %v", got, alone)
	}
	if !looked.Same("n1.test:7000", "127.0.0.1:7000") || looked.Same("n1.test:7000", "127.0.0.1:7001") {
		t.Fatal("a name and its address on one port: want the same socket, and not on another port")
	}
	if looked.Same("n9.test:7000", "127.0.0.1:7000") {
		t.Fatal("an address not looked up: want it taken as spelled")
	}
}

// ReplaceIf (the admin handler's cluster replace, its gateway check
// handed the members) looks up the names of the members it places and
// of the new address in one round: a resolver that does not answer holds
// it fenceResolveWithin once. (Before, the handler placed the members
// with Members, then Replace looked up the membership's addresses and
// the new one: two waits of 2 s.) Here the check passes and the move is
// refused after the lookups, the member still answering; a check that
// refuses has its error returned as it is, nothing changed.
func TestReplaceIfLooksUpNamesTogether(t *testing.T) {
	ms := startMembers(t, 3, nil)
	var handed []Peer
	// replace moves a follower of the ready leader to m9.test, asking
	// allow, which answers err; it returns that leader and the answer.
	replace := func(err error) (*member, error) {
		return whileLeading(t, anyLeader(t, ms), func(l *member) error {
			namePeers(t, l)
			p := Peer{ID: followersOf(ms, l)[0].r.cfg.NodeID, Raft: "m9.test:7000", Gateway: "gw-9"}
			_, e := l.r.ReplaceIf(p, func(members []Peer) error { handed = members; return err })
			return e
		})
	}
	h := newHungLookups(t, 4)
	if _, err := replace(nil); !errors.Is(err, ErrMemberLive) {
		t.Fatalf("%v; want ErrMemberLive (the member answers)", err)
	}
	of, late := h.counts()
	if want := map[string]int{"n1.test": 1, "n2.test": 1, "n3.test": 1, "m9.test": 1}; !maps.Equal(of, want) || late > 0 {
		t.Fatalf("looked up %v, %d after another was waited out; want each of %v once, together", of, late, want)
	}
	if len(handed) != 3 {
		t.Fatalf("the check was handed %+v, want the 3 members", handed)
	}

	lookupHost = func(context.Context, string) ([]string, error) {
		return nil, &net.DNSError{Err: "no such host", IsNotFound: true}
	}
	refused := errors.New("refused by the check")
	l, err := replace(refused)
	if err != refused {
		t.Fatalf("%v; want the check's refusal as it is", err)
	}
	if st := l.r.Status(); strings.Contains(st.Membership, "m9.test") {
		t.Fatalf("refused by the check, the membership changed: %s", st.Membership)
	}
}
