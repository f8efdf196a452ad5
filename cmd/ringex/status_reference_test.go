package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/internal/testnode"
	"github.com/ringex/ringex/replicator"
)

// Two running members of one cluster that serve another symbol and other
// decimals for one instrument id fail ringex status, which names the
// instrument and what each member serves: their rules agree (symbols
// and decimals decide no input), so raft runs them together, and a
// client failing over from one to the other read its prices with the
// other's decimals, its instrument under the other's symbol, and
// nothing noticed. Members serving the same do not fail it for that.
func TestStatusSeesMembersServingOtherReferenceData(t *testing.T) {
	addrs := testkit.ReserveAddrs(t, 4)
	peers := fmt.Sprintf("1=%s=%s,2=%s=%s", addrs[0], addrs[1], addrs[2], addrs[3])
	var admins []string
	for i := range 2 {
		cfg := testnode.Config(t, t.TempDir(), map[string]string{"node.id": fmt.Sprint(i + 1), "cluster.peers": peers,
			"cluster.bootstrap": "true", "cluster.raft_listen": addrs[2*i], "gateway.listen": addrs[2*i+1], "cluster.election_timeout": "500ms"})
		if i == 1 {
			cfg.Instruments[0].Symbol, cfg.Instruments[0].QtyDecimals = "XBT-USD", 8
		}
		_, _, a := testnode.Open(t, cfg)
		admins = append(admins, a.Admin)
	}
	out, err := ringex(t, nil, "status", "--admin", strings.Join(admins, ","))
	want := fmt.Sprintf("%s serves other reference data than %s: instrument 1 is XBT-USD (price decimals 2, qty decimals 8) there, BTC-USD (price decimals 2, qty decimals 4) on %s",
		admins[1], admins[0], admins[0])
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("members serving another symbol for instrument 1: %v, want it saying %q\n%s", err, want, out)
	}
	if strings.Contains(err.Error(), "matches under rules") {
		t.Fatalf("told as other rules: %v", err)
	}
}

// Members whose references differ where one does not list its
// instruments are named with both fingerprints; a member of a build
// that gives no reference is not judged by it, and members giving the
// same one pass.
func TestStatusComparesReferencesWithoutTheirInstruments(t *testing.T) {
	member := func(id int, reference string) string {
		st := fakeState(id, &replicator.Status{State: leadsIfFirst(id), Ready: true, Term: "3"})
		st.Rules, st.Reference = "00000000000000r1", reference
		return fakeNode(t, st, "")
	}
	a, b, older := member(1, "00000000000000f1"), member(2, "00000000000000f1"), member(3, "")
	mustRingex(t, "status", "--admin", a+","+b+","+older)
	c := member(4, "00000000000000f2")
	out, err := ringex(t, nil, "status", "--admin", a+","+b+","+c)
	if want := c + " serves other reference data (symbols, decimals) than " + a + ": reference 00000000000000f2 there, 00000000000000f1 on " + a; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("a member serving other reference data: %v, want it saying %q\n%s", err, want, out)
	}
}
