package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/internal/testnode"
	"github.com/ringex/ringex/node"
	"github.com/ringex/ringex/replicator"
)

// ringex status prints a running node's line — its sequence and hash as
// GET /state gives them, what a restart would replay, its disks — and,
// for an address that does not answer, a "down" line and a failure.
func TestStatusOfANode(t *testing.T) {
	a := testnode.Start(t, map[string]string{"journal.sync": "none"})
	mustRingex(t, clientArgs(a, 4, "order", "--side", "buy", "--instrument", "BTC-USD", "--qty", "0.0005", "--price", "60000")...)
	resp, err := http.Get("http://" + a.Admin + "/state")
	if err != nil {
		t.Fatal(err)
	}
	var st node.NodeState
	json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()

	out := mustRingex(t, "status", "--admin", a.Admin)
	line := regexp.MustCompile(`(?m)^1 +` + regexp.QuoteMeta(a.Admin) + ` +standalone +- +\d+s +(\d+) +([0-9a-f]{16}) +(\d+) +0/0 +(.*)$`).FindStringSubmatch(out)
	if line == nil || line[1] != strconv.FormatInt(st.Seq, 10) || line[2] != st.Hash || line[3] != line[1] {
		t.Fatalf("status:\n%s\nwant node 1 at input %d, hash %s, every input since the empty state's snapshot", out, st.Seq, st.Hash)
	}
	if !regexp.MustCompile(`journal(, snapshots)? \d+ % \(\d+(\.\d)? [MG]iB\)`).MatchString(line[4]) {
		t.Fatalf("disk free %q", line[4])
	}

	dead := testkit.ReserveAddrs(t, 1)[0]
	out, err = ringex(t, nil, "status", "--admin", a.Admin+","+dead)
	if err == nil || !strings.Contains(out, dead+" ") || !regexp.MustCompile(`(?m)^- +`+regexp.QuoteMeta(dead)+` +down: `).MatchString(out) {
		t.Fatalf("with a dead address: %v\n%s", err, out)
	}
}

// fakeNode serves /state with st and /metrics with metrics, as a node's
// admin port would; it returns its address.
func fakeNode(t *testing.T, st node.NodeState, metrics string) string {
	t.Helper()
	state := stateJSON(t, st)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /state", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(state)) })
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(metrics)) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// stateJSON is st as a node's GET /state answers it: the one type
// `ringex status` decodes, so a field a fake leaves out reads as the
// zero value, as one the answer does not hold.
func stateJSON(t testing.TB, st node.NodeState) string {
	t.Helper()
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// fakeState is the state most fake nodes answer: node id at input 10,
// its hash 00000000000000aa, a member of a cluster in cluster (nil:
// standalone).
func fakeState(id int, cluster *replicator.Status) node.NodeState {
	return node.NodeState{Node: uint32(id), Seq: 10, Hash: "00000000000000aa", Cluster: cluster}
}

// fakeMemberOf is fakeNode answering fakeState as member id of a
// cluster in term 3, its raft status cluster otherwise.
func fakeMemberOf(t *testing.T, id int, cluster replicator.Status) string {
	t.Helper()
	cluster.Term = "3"
	return fakeNode(t, fakeState(id, &cluster), "")
}

// leadsIfFirst is the role of member id in the tests' clusters whose
// member 1 leads: "Leader" for 1, "Follower" for the others.
func leadsIfFirst(id int) string {
	if id == 1 {
		return "Leader"
	}
	return "Follower"
}

// Free bytes are shown in a unit that shows them: a small disk's last
// tens of MiB read "(0.0 GiB)", as full as an empty disk.
func TestFreeBytes(t *testing.T) {
	for _, c := range []struct {
		n    float64
		want string
	}{
		{0, "0.0 MiB"},
		{512 << 10, "0.5 MiB"},
		{40 << 20, "40 MiB"},
		{300 << 20, "300 MiB"},
		{1023 << 20, "1023 MiB"},
		{1 << 30, "1.0 GiB"},
		{52.3 * (1 << 30), "52.3 GiB"},
	} {
		if got := freeBytes(c.n); got != c.want {
			t.Errorf("freeBytes(%.0f) = %q, want %q", c.n, got, c.want)
		}
	}
}

// memberMetrics is a node's GET /metrics answer, in part: 9 inputs
// since its snapshot, its journal's disk a quarter free (1 GiB of 4),
// its raft directory's disk not read.
const memberMetrics = `# TYPE ringex_inputs_since_snapshot gauge
ringex_inputs_since_snapshot 9
# TYPE ringex_disk_free_bytes gauge
ringex_disk_free_bytes{dir="journal"} 1.073741824e+09
ringex_disk_free_bytes{dir="raft"} NaN
# TYPE ringex_disk_size_bytes gauge
ringex_disk_size_bytes{dir="journal"} 4.294967296e+09
ringex_disk_size_bytes{dir="raft"} NaN
`

// A cluster member's role and term come from its raft status; a disk
// the node cannot read shows as unknown; inputs the operator dropped are
// counted at the end. A member left isolated (a fault
// drill) fails the command: it exited 0 and the cluster ran without that
// member's fault tolerance.
func TestStatusOfAClusterMember(t *testing.T) {
	addr := fakeNode(t, node.NodeState{Node: 2, Seq: 41, Hash: "00000000000000ab", Cluster: &replicator.Status{State: "Follower", Term: "7", Isolated: true},
		Halted: []uint32{3}, Suspended: []uint32{}},
		memberMetrics+`# TYPE ringex_start_time_seconds gauge
ringex_start_time_seconds `+fmt.Sprint(time.Now().Add(-2*time.Hour-5*time.Minute-30*time.Second).Unix())+`
# TYPE ringex_dropped_inputs gauge
ringex_dropped_inputs 2
`)
	out, err := ringex(t, nil, "status", "--admin", addr)
	want := regexp.MustCompile(`(?m)^2 +` + regexp.QuoteMeta(addr) + ` +follower \(isolated\) +7 +2h0[56]m +41 +00000000000000ab +9 +1/0 +journal 25 % \(1\.0 GiB\); raft \?; 2 dropped input\(s\)$`)
	if !want.MatchString(out) {
		t.Fatalf("status:\n%s", out)
	}
	if err == nil || !strings.Contains(err.Error(), addr+" is isolated") {
		t.Fatalf("an isolated member: %v", err)
	}
}

// Members whose rules fingerprints differ (another config or build: they
// stop rather than diverge at the first input decided otherwise) or
// whose cluster.election_timeout differs (a follower with a shorter one
// deposes a healthy leader; one with a longer one slows every failover)
// fail the command, naming both; so do members holding different raft
// memberships (one has not caught up with a cluster replace). The
// membership the members agree on is printed.
func TestStatusSeesMembersThatDisagree(t *testing.T) {
	const membership = "1=10.0.0.1:7500,2=10.0.0.2:7500"
	memberIn := func(id int, rules, timeout, membership string) string {
		st := fakeState(id, &replicator.Status{State: leadsIfFirst(id), Ready: true, Term: "3", ElectionTimeout: timeout, Membership: membership})
		st.Rules = rules
		return fakeNode(t, st, "")
	}
	member := func(id int, rules, timeout string) string { return memberIn(id, rules, timeout, membership) }
	a, b := member(1, "00000000000000r1", "1s"), member(2, "00000000000000r1", "1s")
	if out := mustRingex(t, "status", "--admin", a+","+b); !strings.Contains(out, "\nmembership: "+membership+"\n") {
		t.Fatalf("the membership not printed:\n%s", out)
	}
	moved := memberIn(2, "00000000000000r1", "1s", "1=10.0.0.1:7500,2=10.0.0.9:7500")
	if out, err := ringex(t, nil, "status", "--admin", a+","+moved); err == nil ||
		!strings.Contains(err.Error(), a+" holds "+membership+"; "+moved+" holds 1=10.0.0.1:7500,2=10.0.0.9:7500") ||
		!strings.Contains(out, "membership: "+membership+" (held by "+a+")") {
		t.Fatalf("members holding different memberships: %v\n%s", err, out)
	}
	c := member(3, "00000000000000r2", "1s")
	if out, err := ringex(t, nil, "status", "--admin", a+","+b+","+c); err == nil || !strings.Contains(err.Error(), c+" matches under rules 00000000000000r2, "+a+" under 00000000000000r1") {
		t.Fatalf("a member under other rules: %v\n%s", err, out)
	}
	d := member(4, "00000000000000r1", "3s")
	if out, err := ringex(t, nil, "status", "--admin", a+","+b+","+d); err == nil || !strings.Contains(err.Error(), d+" has cluster.election_timeout 3s, "+a+" has 1s") {
		t.Fatalf("a member with another election timeout: %v\n%s", err, out)
	}
}

// Two members at the same input with different state hashes have
// diverged: the command says so and fails. At different inputs, or with
// equal hashes, nothing is wrong.
func TestStatusSeesDivergence(t *testing.T) {
	member := func(id int, seq int64, hash string) string {
		return fakeNode(t, node.NodeState{Node: uint32(id), Seq: seq, Hash: hash, Cluster: &replicator.Status{State: leadsIfFirst(id), Ready: true, Term: "3"}}, "")
	}
	a, b, c := member(1, 100, "00000000000000aa"), member(2, 100, "00000000000000aa"), member(3, 90, "00000000000000cc")
	mustRingex(t, "status", "--admin", a+","+b+","+c)
	d := member(4, 100, "00000000000000dd")
	out, err := ringex(t, nil, "status", "--admin", a+","+b+","+c+","+d)
	if err == nil || !strings.Contains(err.Error(), d+" has state hash 00000000000000dd at input 100 where another node has 00000000000000aa: diverged") {
		t.Fatalf("a diverged member: %v\n%s", err, out)
	}
}

// A node that answers but refuses the token is reported as refused, not
// as down: during an incident an operator without RINGEX_ADMIN_TOKEN
// otherwise saw every member dead.
func TestStatusTellsARefusedTokenFromADownNode(t *testing.T) {
	t.Setenv("RINGEX_ADMIN_TOKEN", "")
	a := testnode.Start(t, map[string]string{"journal.sync": "none", "admin.token": "right-token"})
	out, err := ringex(t, nil, "status", "--admin", a.Admin)
	if err == nil || !strings.Contains(err.Error(), "refused the request") || strings.Contains(err.Error(), "did not answer") {
		t.Fatalf("status without the token: %v", err)
	}
	wantLine(t, out, `^- +`+regexp.QuoteMeta(a.Admin)+` +refused: 401 Unauthorized: .*\(wrong or missing --token / \$RINGEX_ADMIN_TOKEN / the file \$RINGEX_ADMIN_TOKEN_FILE names\)$`)
}

// Several cluster members, none of which leads (a new cluster whose
// members all joined and wait, or an election that does not end), fail
// the command: it exited 0 and a monitoring script read a healthy
// cluster. One member asked about alone is not judged.
func TestStatusSeesNoLeader(t *testing.T) {
	member := func(id int, role string) string {
		return fakeMemberOf(t, id, replicator.Status{State: role, Ready: true})
	}
	a, b, c := member(1, "Candidate"), member(2, "Follower"), member(3, "Follower")
	out, err := ringex(t, nil, "status", "--admin", a+","+b+","+c)
	if err == nil || !strings.Contains(err.Error(), "none of the 3 cluster members that answered leads") {
		t.Fatalf("three members, no leader: %v\n%s", err, out)
	}
	mustRingex(t, "status", "--admin", b)
	mustRingex(t, "status", "--admin", member(4, "Leader")+","+b)
}

// An elected leader that is not ready (it applies earlier terms' entries
// first and takes no session until then) and a member still joining (no
// vote: the cluster tolerates one failure fewer) fail the command; both
// exited 0, and a leader that never became ready, or a new member that
// never caught up, looked healthy to a monitoring script.
func TestStatusSeesALeaderNotReadyAndAMemberJoining(t *testing.T) {
	ready := fakeMemberOf(t, 1, replicator.Status{State: "Leader", Ready: true})
	unready := fakeMemberOf(t, 2, replicator.Status{State: "Leader"})
	follower := fakeMemberOf(t, 3, replicator.Status{State: "Follower"})
	joining := fakeMemberOf(t, 4, replicator.Status{State: "Follower", Joining: true})
	mustRingex(t, "status", "--admin", ready+","+follower)

	out, err := ringex(t, nil, "status", "--admin", unready+","+follower)
	wantLine(t, out, `^2 +`+regexp.QuoteMeta(unready)+` +leader \(not ready\) `)
	if err == nil || !strings.Contains(err.Error(), unready+" leads but is not ready") || !strings.Contains(err.Error(), "none of the 2 cluster members that answered leads") {
		t.Fatalf("a leader not ready: %v\n%s", err, out)
	}
	if _, err := ringex(t, nil, "status", "--admin", unready); err == nil {
		t.Fatal("a leader not ready, asked about alone: no error")
	}
	out, err = ringex(t, nil, "status", "--admin", ready+","+follower+","+joining)
	wantLine(t, out, `^4 +`+regexp.QuoteMeta(joining)+` +follower \(joining\) `)
	if err == nil || !strings.Contains(err.Error(), joining+" is joining") {
		t.Fatalf("a member joining: %v\n%s", err, out)
	}
}

// A member whose own raft address (its cluster.peers entry) is not where
// the membership holds its id fails the command, naming both addresses
// and the entry to start it with: a replacement started with its entry
// mistyped was shown "joining" and nothing more, and waited for good —
// the leader sends member 3's entries to the membership's address
// (helper 271's walk of "A member's machine is lost"). So does a member
// whose id the membership does not hold.
func TestStatusSeesAMemberNotWhereTheMembershipHoldsIt(t *testing.T) {
	const membership = "1=127.0.0.1:7501,2=127.0.0.1:7502,3=127.0.0.1:7503"
	member := func(id int, raft string, cluster replicator.Status) string {
		cluster.RaftAddr = raft
		return fakeMemberOf(t, id, cluster)
	}
	leader := member(1, "127.0.0.1:7501", replicator.Status{State: "Leader", Ready: true, Membership: membership})
	follower := member(2, "127.0.0.1:7502", replicator.Status{State: "Follower", Membership: membership})
	joining := member(3, "127.0.0.1:7503", replicator.Status{State: "Follower", Joining: true})
	mistyped := member(3, "127.0.0.1:7505", replicator.Status{State: "Follower", Joining: true})
	mustRingex(t, "status", "--admin", leader+","+follower+","+member(3, "127.0.0.1:7503", replicator.Status{State: "Follower", Membership: membership}))

	_, err := ringex(t, nil, "status", "--admin", leader+","+follower+","+joining)
	if err == nil || !strings.Contains(err.Error(), joining+" is joining") || strings.Contains(err.Error(), "takes raft RPCs") {
		t.Fatalf("a member joining at its address: %v", err)
	}
	_, err = ringex(t, nil, "status", "--admin", leader+","+follower+","+mistyped)
	if err == nil || !strings.Contains(err.Error(), mistyped+" (member 3) takes raft RPCs at 127.0.0.1:7505, its cluster.peers entry, but the membership holds member 3 at 127.0.0.1:7503") ||
		!strings.Contains(err.Error(), "start it with 3=127.0.0.1:7503=GATEWAY in cluster.peers") {
		t.Fatalf("a member joining at another address than the membership's: %v", err)
	}
	stranger := member(4, "127.0.0.1:7504", replicator.Status{State: "Follower", Joining: true})
	if _, err := ringex(t, nil, "status", "--admin", leader+","+stranger); err == nil || !strings.Contains(err.Error(), stranger+" is member 4, which the membership "+membership+" does not hold") {
		t.Fatalf("a member whose id the membership does not hold: %v", err)
	}
}

// fakeMember is fakeNode answering as cluster member id in role
// ("Leader", "Follower"), ready, taking raft RPCs at raft and holding
// membership.
func fakeMember(t *testing.T, id int, role, raft, membership string) string {
	t.Helper()
	return fakeMemberUnder(t, id, role, raft, membership, "")
}

// fakeMemberUnder is fakeMember running under cluster id clusterID ("":
// it gives none, as an older build; raft "": nor a raft address).
func fakeMemberUnder(t *testing.T, id int, role, raft, membership, clusterID string) string {
	t.Helper()
	return fakeMemberOf(t, id, replicator.Status{State: role, Ready: true, RaftAddr: raft, Membership: membership, ClusterID: clusterID})
}

// When the members hold different memberships (mid-change, or a deposed
// leader's stale one), each member is checked against each membership
// that holds its id, and the problem says which: a member moved, held
// at its old address by a membership not caught up; a member held by
// none where it takes raft RPCs (its cluster.peers entry mistyped); a
// member none holds. None of them was said once the memberships
// disagreed: only the disagreement was.
func TestStatusSeesAMemberNotWhereEachMembershipHoldsIt(t *testing.T) {
	const (
		before = "1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003"
		after  = "1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7006" // member 3 moved to 7006
	)
	stale := fakeMember(t, 1, "Leader", "127.0.0.1:7001", before)
	current := fakeMember(t, 2, "Leader", "127.0.0.1:7002", after)
	for _, c := range []struct {
		name, third string
		want        string
	}{
		{"moved", fakeMember(t, 3, "Follower", "127.0.0.1:7006", after),
			" (member 3) takes raft RPCs at 127.0.0.1:7006, where the membership held by %[2]s holds it, but the membership held by %[1]s holds member 3 at 127.0.0.1:7003: " +
				"its holders send the member's entries there until they catch up with its move"},
		{"mistyped", fakeMember(t, 3, "Follower", "127.0.0.1:7005", after),
			" (member 3) takes raft RPCs at 127.0.0.1:7005, its cluster.peers entry, but the membership held by %[1]s holds member 3 at 127.0.0.1:7003; " +
				"the membership held by %[2]s holds member 3 at 127.0.0.1:7006: the leader sends there, never to it — " +
				"start it with 3=ADDR=GATEWAY in cluster.peers, ADDR the one of 127.0.0.1:7003 and 127.0.0.1:7006 the leader's membership holds"},
		{"held by none", fakeMember(t, 4, "Follower", "127.0.0.1:7004", after),
			" is member 4, which none of the memberships held holds (the membership held by %[1]s; the membership held by %[2]s): the leader sends it nothing"},
	} {
		_, err := ringex(t, nil, "status", "--admin", stale+","+current+","+c.third)
		want := c.third + fmt.Sprintf(c.want, stale, current+", "+c.third)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v\nwant %q", c.name, err, want)
		}
	}
	// Mistyped while it joins: the membership that holds it says where,
	// the other does not hold it.
	without := fakeMember(t, 1, "Leader", "127.0.0.1:7001", "1=127.0.0.1:7001,2=127.0.0.1:7002")
	with := fakeMember(t, 2, "Follower", "127.0.0.1:7002", before)
	joining := fakeMember(t, 3, "Follower", "127.0.0.1:7005", before)
	_, err := ringex(t, nil, "status", "--admin", without+","+with+","+joining)
	if want := joining + " (member 3) takes raft RPCs at 127.0.0.1:7005, its cluster.peers entry, but the membership held by " + with + ", " + joining +
		" holds member 3 at 127.0.0.1:7003; the membership held by " + without + " does not hold it: the leader sends there, never to it — start it with 3=127.0.0.1:7003=GATEWAY in cluster.peers"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("mistyped, joining: %v\nwant %q", err, want)
	}
	// A member one membership holds where it is and the other does not
	// hold (a join not caught up with): the disagreement alone.
	joined := fakeMember(t, 3, "Follower", "127.0.0.1:7003", before)
	_, err = ringex(t, nil, "status", "--admin", without+","+with+","+joined)
	if err == nil || !strings.Contains(err.Error(), "members hold different memberships") || strings.Contains(err.Error(), "member 3") {
		t.Errorf("a join not caught up with: %v", err)
	}
}

// Every member the membership holds must be asked: one left out of
// --admin is named with its raft address and fails the command, and two
// addresses answering for one member (two spellings of its admin
// address) count it once, said on the second's line. Both exited 0 —
// the member left out, perhaps down, unseen; a follower asked twice
// counted as two members.
func TestStatusNamesMembersNotAsked(t *testing.T) {
	const membership = "1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003"
	member := func(id int, role string) string {
		return fakeMember(t, id, role, fmt.Sprintf("127.0.0.1:700%d", id), membership)
	}
	leader, follower, third := member(1, "Leader"), member(2, "Follower"), member(3, "Follower")
	mustRingex(t, "status", "--admin", leader+","+follower+","+third)

	out, err := ringex(t, nil, "status", "--admin", leader+","+follower)
	wantLine(t, out, `^member 3 \(raft 127\.0\.0\.1:7003\) not asked: add its admin address$`)
	if err == nil || !strings.Contains(err.Error(), "member 3 (raft 127.0.0.1:7003) not asked: add its admin address") || strings.Contains(err.Error(), "member 2") {
		t.Fatalf("a member left out of --admin: %v\n%s", err, out)
	}

	// The same follower under a second spelling: one member, counted
	// once; member 3 is still not asked.
	again := "localhost:" + follower[strings.LastIndex(follower, ":")+1:]
	out, err = ringex(t, nil, "status", "--admin", leader+","+follower+","+again)
	wantLine(t, out, `^2 +`+regexp.QuoteMeta(again)+` +the same member as `+regexp.QuoteMeta(follower)+`: counted once$`)
	if err == nil || !strings.Contains(err.Error(), "member 3 (raft 127.0.0.1:7003) not asked") {
		t.Fatalf("a member asked twice, another not at all: %v\n%s", err, out)
	}
	// Twice a follower, counted once: one member asked, not two of
	// which none leads.
	out, err = ringex(t, nil, "status", "--admin", follower+","+again)
	if err == nil || strings.Contains(err.Error(), "none of the 2") || !strings.Contains(err.Error(), "member 1 (raft 127.0.0.1:7001) not asked") {
		t.Fatalf("one follower under two spellings: %v\n%s", err, out)
	}
	mustRingex(t, "status", "--admin", leader+","+follower+","+again+","+third)

	// A member whose address gave no state may be the one missing.
	dead := testkit.ReserveAddrs(t, 1)[0]
	out, err = ringex(t, nil, "status", "--admin", leader+","+follower+","+dead)
	if err == nil || !strings.Contains(err.Error(), "member 3 (raft 127.0.0.1:7003) gave no state: it may be at "+dead+" (down), or was not asked (add its admin address)") {
		t.Fatalf("a member not answering: %v\n%s", err, out)
	}
	// One answering that it is starting was asked, and answered: its
	// line says what it answered. It said "not asked (add its admin
	// address)", "did not answer".
	starting := answering(t, http.StatusServiceUnavailable, node.StartMappingRings, nil)
	out, err = ringex(t, nil, "status", "--admin", leader+","+follower+","+starting+","+dead)
	want := "member 3 (raft 127.0.0.1:7003) gave no state: it may be at " + starting + " (not ready: starting: mapping rings) or " + dead + " (down), or was not asked (add its admin address)"
	wantLine(t, out, "^"+regexp.QuoteMeta(want)+"$")
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("a member starting: %v\n%s", err, out)
	}
}

// Members holding different memberships (mid-change, or a deposed
// leader's stale one) still have each member left out of --admin named,
// with the addresses whose membership holds it and those whose does
// not; one every membership holds is named as with one membership.
// None was named once the memberships disagreed.
func TestStatusNamesMembersMissingFromEachView(t *testing.T) {
	stale := fakeMember(t, 1, "Leader", "127.0.0.1:7001", "1=127.0.0.1:7001,2=127.0.0.1:7002,4=127.0.0.1:7004,5=127.0.0.1:7005")
	current := fakeMember(t, 2, "Follower", "127.0.0.1:7002", "1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003,5=127.0.0.1:7005")
	out, err := ringex(t, nil, "status", "--admin", stale+","+current)
	for _, want := range []string{
		"member 4 (raft 127.0.0.1:7004) not asked: add its admin address — in the membership held by " + stale + "; not in " + current + "'s",
		"member 5 (raft 127.0.0.1:7005) not asked: add its admin address",
		"member 3 (raft 127.0.0.1:7003) not asked: add its admin address — in the membership held by " + current + "; not in " + stale + "'s",
	} {
		wantLine(t, out, "^"+regexp.QuoteMeta(want)+"$")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("no %q in the error: %v", want, err)
		}
	}
	if err == nil || !strings.Contains(err.Error(), "members hold different memberships") {
		t.Errorf("the memberships' disagreement not said: %v", err)
	}
}

// Two processes answering as one member (one node.id: a copied data
// directory, a stale process left running) fail the command, each shown
// on its line: they differ in their start time, or in their raft
// address. status merged them into one row, "the same member": counted
// once. Two spellings of one process's address are still counted once.
func TestStatusSeesTwoProcessesForOneMember(t *testing.T) {
	const membership = "1=127.0.0.1:7001,2=127.0.0.1:7002"
	now := time.Now()
	member := func(id int, role, raft string, started time.Time) string {
		return fakeNode(t, fakeState(id, &replicator.Status{State: role, Ready: true, Term: "3", RaftAddr: raft, Membership: membership}), fmt.Sprintf("# TYPE ringex_start_time_seconds gauge\nringex_start_time_seconds %.6f\n", float64(started.UnixMicro())/1e6))
	}
	leader := member(1, "Leader", "127.0.0.1:7001", now.Add(-time.Hour))
	follower := member(2, "Follower", "127.0.0.1:7002", now.Add(-time.Hour))
	again := "localhost:" + follower[strings.LastIndex(follower, ":")+1:]
	out := mustRingex(t, "status", "--admin", leader+","+follower+","+again)
	wantLine(t, out, `^2 +`+regexp.QuoteMeta(again)+` +the same member as `+regexp.QuoteMeta(follower)+`: counted once$`)

	for _, c := range []struct {
		name, how string
		other     string
	}{
		{"a second process started later", `started at \S+ \S+ UTC and \S+ \S+ UTC`, member(2, "Follower", "127.0.0.1:7002", now.Add(-time.Minute))},
		{"a second process at another raft address", `taking raft RPCs at 127\.0\.0\.1:7002 and 127\.0\.0\.1:7009`, member(2, "Follower", "127.0.0.1:7009", now.Add(-time.Hour))},
	} {
		out, err := ringex(t, nil, "status", "--admin", leader+","+follower+","+c.other)
		wantLine(t, out, `^2 +`+regexp.QuoteMeta(follower)+` +follower `)
		wantLine(t, out, `^2 +`+regexp.QuoteMeta(c.other)+` +follower `)
		want := regexp.MustCompile(regexp.QuoteMeta(follower+" and "+c.other+" both answer as member 2, from two processes (") + c.how +
			regexp.QuoteMeta("): a copied data directory, or a stale process left running — stop the one that is not member 2"))
		if err == nil || !want.MatchString(err.Error()) {
			t.Errorf("%s: %v\n%s", c.name, err, out)
		}
	}
}

// Every member's line keeps its columns under the headings, whatever its
// role: an isolated candidate (a fault drill), a member joining, a leader
// not ready. A role longer than the ROLE column pushed the rest of its
// line right, the term under UP and the sequence under HASH.
func TestStatusColumnsLineUpForEveryRole(t *testing.T) {
	addrs := strings.Join([]string{
		fakeMemberOf(t, 1, replicator.Status{State: "Leader", Ready: true}),
		fakeMemberOf(t, 2, replicator.Status{State: "Candidate", Isolated: true}),
		fakeMemberOf(t, 3, replicator.Status{State: "Follower", Joining: true}),
		fakeMemberOf(t, 4, replicator.Status{State: "Leader"}),
	}, ",")
	out, _ := ringex(t, nil, "status", "--admin", addrs)
	lines := strings.Split(out, "\n")
	termEnd := strings.Index(lines[0], "TERM") + len("TERM")
	for _, line := range lines[1:5] {
		if len(line) <= termEnd || line[termEnd-1] != '3' || line[termEnd] != ' ' {
			t.Errorf("the term is not under TERM:\n%s\n%s", lines[0], line)
		}
	}
}

// A node one of whose writes (raft_log: or reads) has waited over a second for its disk
// (ringex_disk_waiting_seconds) is reported, and fails the command: its
// line alone looked healthy while it took no order (standalone) or was
// about to stop (a cluster member, at cluster.disk_stall_timeout). A
// write under way for less is not.
func TestStatusSeesAStalledDisk(t *testing.T) {
	node := func(journal, raftLog string) string {
		return fakeNode(t, fakeState(1, nil), `# TYPE ringex_disk_waiting_seconds gauge
ringex_disk_waiting_seconds{files="journal"} `+journal+`
ringex_disk_waiting_seconds{files="raft_log"} `+raftLog+`
`)
	}
	mustRingex(t, "status", "--admin", node("0", "0.4"))
	stalled := node("12.34", "0")
	out, err := ringex(t, nil, "status", "--admin", stalled)
	if err == nil || !strings.Contains(err.Error(), stalled+": a journal write has waited 12.3 s for the disk") {
		t.Fatalf("a node whose journal write has waited 12 s: %v\n%s", err, out)
	}
	// raft_log counts the raft log's reads of entries too (GetLog): the
	// line said "a raft_log write" of a read hung on the disk.
	stalled = node("0", "7.5")
	out, err = ringex(t, nil, "status", "--admin", stalled)
	if err == nil || !strings.Contains(err.Error(), stalled+": a raft_log write or read has waited 7.5 s for the disk") {
		t.Fatalf("a node whose raft log write or read has waited 7.5 s: %v\n%s", err, out)
	}
}

// How long a node has served reads at a glance: to the second under a
// minute, in its two largest units above.
func TestUpForReadsAtAGlance(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-time.Second:                  "0s",
		42 * time.Second:              "42s",
		3*time.Minute + 7*time.Second: "3m07s",
		5*time.Hour + 12*time.Minute + 59*time.Second: "5h12m",
		12*24*time.Hour + 3*time.Hour + time.Minute:   "12d03h",
	} {
		if got := upFor(d); got != want {
			t.Errorf("upFor(%v) = %q, want %q", d, got, want)
		}
	}
}

// Members of a cluster of more than one that run under the default
// cluster id are named in a line saying cluster.id is not set, and the
// command does not fail for it; members under a name of their own, or a
// cluster of one, are not.
func TestStatusNamesMembersUnderTheDefaultClusterID(t *testing.T) {
	const membership = "1=10.0.0.1:7500,2=10.0.0.2:7500"
	a, b := fakeMemberUnder(t, 1, "Leader", "", membership, config.DefaultClusterID), fakeMemberUnder(t, 2, "Follower", "", membership, config.DefaultClusterID)
	out := mustRingex(t, "status", "--admin", a+","+b)
	if want := "\ncluster id: " + config.DefaultClusterID + ", the default (cluster.id not set on " + a + ", " + b + "): "; !strings.Contains(out, want) ||
		!strings.Contains(out, "set cluster.id, the same on every member\n") {
		t.Fatalf("members under the default cluster id not named:\n%s", out)
	}
	for name, addrs := range map[string]string{
		"named":            fakeMemberUnder(t, 1, "Leader", "", membership, "prod-eu") + "," + fakeMemberUnder(t, 2, "Follower", "", membership, "prod-eu"),
		"a cluster of one": fakeMemberUnder(t, 1, "Leader", "", "1=10.0.0.1:7500", config.DefaultClusterID),
	} {
		if out := mustRingex(t, "status", "--admin", addrs); strings.Contains(out, "cluster id:") {
			t.Errorf("%s: a cluster id line:\n%s", name, out)
		}
	}
}

// Members that run under different cluster ids fail the command, each
// named with the id it runs under — one was started with another
// cluster's config, or its cluster.id set apart; status said nothing of
// it. A member that gives no id (an older build) is not judged by it.
func TestStatusFailsForMembersUnderDifferentClusterIDs(t *testing.T) {
	const membership = "1=10.0.0.1:7500,2=10.0.0.2:7500,3=10.0.0.3:7500"
	a := fakeMemberUnder(t, 1, "Leader", "", membership, "prod-eu")
	b := fakeMemberUnder(t, 2, "Follower", "", membership, "prod-us")
	c := fakeMemberUnder(t, 3, "Follower", "", membership, "prod-eu")
	out, err := ringex(t, nil, "status", "--admin", a+","+b+","+c)
	if want := "members run under different cluster ids (" + a + ", " + c + " under prod-eu; " + b + " under prod-us)"; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("members under different cluster ids: %v, want a failure with %q\n%s", err, want, out)
	}
	older := fakeMemberUnder(t, 2, "Follower", "", membership, "")
	if out, err := ringex(t, nil, "status", "--admin", a+","+older+","+c); err != nil {
		t.Fatalf("a member giving no cluster id judged by it: %v\n%s", err, out)
	}
}
