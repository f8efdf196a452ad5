package replicator

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/rs/zerolog"
)

// openJoining opens member 1 of peers on dir, without Bootstrap, under
// cluster id cluster, and closes it.
func openJoining(t *testing.T, peers []Peer, dir, cluster string) (Status, error) {
	t.Helper()
	return openJoiningLogged(t, peers, dir, cluster, zerolog.Nop())
}

// openJoiningLogged is openJoining with the member logging to log.
func openJoiningLogged(t *testing.T, peers []Peer, dir, cluster string, log zerolog.Logger) (Status, error) {
	t.Helper()
	r, err := Open(Config{NodeID: 1, Listen: peers[0].Raft, Peers: peers, Dir: dir, Cluster: cluster, Incarnation: 1,
		Logger: log, HeartbeatTimeout: testHeartbeatTimeout, Deliver: func(*Batch) error { return nil }})
	if err != nil {
		return Status{}, err
	}
	defer r.Close()
	return r.Status(), nil
}

// joinedPart gives dir the raft state a joining member holds once a
// leader has sent it part of its log: the leader's term and its first
// entry, the membership servers.
func joinedPart(t *testing.T, dir string, servers []raft.Server) {
	t.Helper()
	raftState(t, dir, 3, &raft.Log{Index: 1, Term: 1, Type: raft.LogConfiguration, Data: raft.EncodeConfiguration(raft.Configuration{Servers: servers})})
}

// raftState gives dir raft state: term in the stable store, and the
// entries in the log, written in one StoreLogs.
func raftState(t *testing.T, dir string, term uint64, entries ...*raft.Log) {
	t.Helper()
	stable, err := OpenStableStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := stable.SetUint64([]byte("CurrentTerm"), term); err != nil {
		t.Fatal(err)
	}
	logs, err := OpenLogStore(filepath.Join(dir, "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	if err := logs.StoreLogs(entries); err != nil {
		t.Fatal(err)
	}
}

// joiningDir is the raft directory of member 1 of peers, first started
// under cluster id cluster without Bootstrap (joining), then sent part
// of the leader's log holding the membership peers.
func joiningDir(t *testing.T, peers []Peer, cluster string) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := openJoining(t, peers, dir, cluster); err != nil {
		t.Fatal(err)
	}
	joinedPart(t, dir, membershipOf(peers))
	return dir
}

// membershipOf is peers as raft's membership holds them.
func membershipOf(peers []Peer) []raft.Server {
	var ss []raft.Server
	for _, p := range peers {
		ss = append(ss, raft.Server{Suffrage: raft.Voter, ID: serverID(p.ID), Address: raft.ServerAddress(p.Raft)})
	}
	return ss
}

// A member's raft directory first started to join cluster "east", and
// started again before it had joined — its joining mark there, the
// leader's term and first entry on disk — as a member of cluster "west"
// (volumes or hosts mixed up: the same node id, peers of the other
// cluster) is refused, naming the directory, both ids and what to do.
// It was taken: the member joined west on east's log and term, west's
// leader's entries grafted onto east's wherever an index and term
// matched. Started as east's, it joins again, and its status names east.
func TestAJoiningMembersRaftStateOfAnotherClusterRefused(t *testing.T) {
	east, west := testPeers(t, 3), testPeers(t, 3)
	dir := joiningDir(t, east, "east")

	_, err := openJoining(t, west, dir, "west")
	if !errors.Is(err, ErrOtherCluster) {
		t.Fatalf("started as a member of another cluster: %v, want ErrOtherCluster", err)
	}
	for _, want := range []string{dir, `cluster "east", not "west"`, "start the member with an empty one, without --bootstrap"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the refusal does not say %q: %v", want, err)
		}
	}
	if st, err := openJoining(t, east, dir, "east"); err != nil || !st.Joining || st.ClusterID != "east" {
		t.Fatalf("started again as east's member: %+v, %v; want it joining, under cluster id east", st, err)
	}
}

// A joining member's raft state is what the leader sent so far: here
// its membership places every member at an address each has been moved
// from since (cluster replace, one at a time), and the peers it is
// started with name none of them. It is the same cluster (its id), and
// the member starts and joins. A check by addresses — none in common,
// as peersRefused names another cluster's data directory — refused it.
func TestAJoiningMemberWhoseClusterAllMovedStarts(t *testing.T) {
	before, peers := testPeers(t, 3), testPeers(t, 3)
	dir := joiningDir(t, before, "east")
	st, err := openJoining(t, peers, dir, "east")
	if err != nil || !st.Joining {
		t.Fatalf("started with the peers every member moved to: %+v, %v; want it joining", st, err)
	}
	if st.Membership != membershipString(membershipOf(before)) {
		t.Fatalf("membership %s: not the raft state's (the test's setup)", st.Membership)
	}
}

// The cluster id is recorded at a first start, and a directory with no
// raft state takes the id it is started with; a joined member's record
// is not checked (cluster.id renamed since: its peers are checked).
func TestClaimClusterRecords(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, clusterFile)
	read := func() string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for _, step := range []struct {
		cluster           string
		existing, joining bool
		refused           bool
		record            string
	}{
		{"east", false, true, false, "east\n"},
		{"west", false, true, false, "west\n"}, // no raft state: taken over
		{"east", true, true, true, "west\n"},
		{"east", true, false, false, "west\n"}, // joined: not checked, kept
		{"west", true, true, false, "west\n"},
		{"", true, true, false, "west\n"}, // no id: nothing checked
	} {
		err := claimCluster(dir, step.cluster, step.existing, step.joining)
		if refused := errors.Is(err, ErrOtherCluster); refused != step.refused || (err != nil && !refused) {
			t.Fatalf("%+v: %v", step, err)
		}
		if got := read(); got != step.record {
			t.Fatalf("%+v: recorded %q, want %q", step, got, step.record)
		}
	}
}
