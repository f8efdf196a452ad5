package replicator

import (
	"errors"
	"io"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/ringex/ringex/internal/testkit"
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
			if got := stalePeers(have, tc.want, tc.self, formerAt, lookedUp(slices.Concat(have, tc.want))); !slices.Equal(got, tc.out) {
				t.Fatalf("stalePeers = %q, want %q", got, tc.out)
			}
		})
	}
}

// A member restarted with peers spelled otherwise than its raft state's
// membership — here the peers of before a committed move, host names —
// has every address of both looked up once, together: a resolver that
// does not answer holds Open fenceResolveWithin once. (Before, the
// moved member's pair was looked up one name after the other in
// sameMembership, and again in stalePeers, with the moved address once
// more: five lookups in turn, 10 s.) The names not resolved, the former
// address as written is still the fenced one, and the peers are stale.
// Peers spelled as the membership has them look nothing up.
func TestCheckPeersLooksUpNamesTogether(t *testing.T) {
	have := membership("n1.test:7000", "n2.test:7000", "n9.test:7000") // member 3 moved from n3.test:7000
	formerAt := func(id raft.ServerID, addr string) bool { return id == "3" && addr == "n3.test:7000" }
	h := newHungLookups(t, 4)
	moved, err := checkPeers(have, membership("n1.test:7000", "n2.test:7000", "n3.test:7000"), "1", formerAt, "/data/raft")
	if want := []string{"3: n3.test:7000 -> n9.test:7000"}; err != nil || !slices.Equal(moved, want) {
		t.Fatalf("checkPeers = %q, %v; want %q", moved, err, want)
	}
	of, late := h.counts()
	if want := map[string]int{"n1.test": 1, "n2.test": 1, "n3.test": 1, "n9.test": 1}; !maps.Equal(of, want) || late > 0 {
		t.Fatalf("looked up %v, %d after another was waited out; want each of %v once, together", of, late, want)
	}
	h = newHungLookups(t, 1)
	if moved, err := checkPeers(have, slices.Clone(have), "1", formerAt, "/data/raft"); moved != nil || err != nil {
		t.Fatalf("the same peers: checkPeers = %q, %v", moved, err)
	}
	if of, _ := h.counts(); len(of) > 0 {
		t.Fatalf("peers spelled as the membership looked up %v", of)
	}
}

// Peers that name none of the raft state's addresses are refused as a
// data directory that may be another cluster's; peers that share some
// keep the refusal about editing them. Both name both memberships. The
// refusal told an operator who started a member on another cluster's
// data directory to run a replace (helper 271's walk).
func TestPeersWithNoAddressInCommonRefusedAsAnotherClustersData(t *testing.T) {
	have := membership("10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1")
	for _, tc := range []struct {
		name    string
		want    []raft.Server
		another bool
	}{
		{"another cluster's addresses", membership("10.1.0.1:1", "10.1.0.2:1", "10.1.0.3:1"), true},
		{"the same hosts, other ports", membership("10.0.0.1:2", "10.0.0.2:2", "10.0.0.3:2"), true},
		{"one address edited", membership("10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:9"), false},
		{"a member fewer", membership("10.0.0.1:1", "10.0.0.2:1"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := peersRefused(have, tc.want, "/data/raft", lookedUp(slices.Concat(have, tc.want)))
			msg := err.Error()
			if !strings.Contains(msg, "cluster.peers names members "+membershipString(tc.want)) || !strings.Contains(msg, "the raft state holds the membership "+membershipString(have)) {
				t.Fatalf("the refusal does not name both memberships: %v", err)
			}
			if got := strings.Contains(msg, "/data/raft may hold another cluster's raft state"); got != tc.another {
				t.Fatalf("named as another cluster's data: %v, want %v: %v", got, tc.another, err)
			}
		})
	}
}

// A member down while another was moved (cluster replace), and sent the
// leader's raft snapshot when it came back — the log entry of the move
// compacted away — learns of the move only from that snapshot. Its node
// stops to load the state (ErrInstalled) and is restarted in place, with
// the peers it ran with: it starts on its raft state's membership and
// replicates, and fences the moved member's former address as a member
// that applied the entry does. Peers with an address edited without a
// replace are still refused.
func TestAMoveLearnedFromARaftSnapshotLeavesTheOldPeersStale(t *testing.T) {
	tune := func(c *Config) { stateOfApplied(c); c.TrailingEntries = 1 }
	var (
		behindIdx, leaderIdx int
		dir, oldAddr         string
		peers                []Peer
		rest                 []*member // the members up after the move: a majority, three of five
		movedID              uint32
		last                 int64
	)
	_, l := startCommitted(t, 5, tune, 10, func(ms []*member, l *member) (err error) {
		waitSame(t, ms, 10)
		fs := followersOf(ms, l)
		behind, lost := fs[0], fs[1]
		behindIdx, leaderIdx, dir, peers = int(behind.r.cfg.NodeID-1), int(l.r.cfg.NodeID-1), behind.r.cfg.Dir, behind.r.cfg.Peers
		movedID, oldAddr = lost.r.cfg.NodeID, peers[lost.r.cfg.NodeID-1].Raft
		behind.r.Close() // down while the move commits
		lost.r.Close()   // the machine is lost
		rest = slices.DeleteFunc(slices.Clone(ms), func(m *member) bool { return m == behind || m == lost })
		replaceWhileLeading(t, rest, l, Peer{ID: movedID, Raft: testkit.ReserveAddrs(t, 1)[0], Gateway: "gw-new"})
		if last, err = commitManyOrLost(t, l, 11, 5); err != nil { // one entry each: the compaction keeps only the last
			return err
		}
		// Each holds the move and the inputs after it (the leader's FSM
		// counts its own, applied before commitManyOrLost returns).
		waitSame(t, followersOf(rest, l), last)
		compactEach(t, rest) // whichever leads sends behind its raft snapshot
		return nil
	})

	// Back with the peers it ran with, which its raft state's membership
	// matches: it is sent the leader's state, the move folded into it.
	m, err := openMemberWith(t, peers, behindIdx, dir, nil, false, func(c *Config) { tune(c); c.Applied = 10 })
	if err != nil {
		t.Fatal(err)
	}
	if err := waitFatal(t, m, func() string { return "the member behind was not sent the leader's state in 10 s" }); !errors.Is(err, ErrInstalled) {
		t.Fatalf("the member behind stopped for %v, want ErrInstalled", err)
	}
	m.r.Close()

	// Restarted in place on the state it staged, with the same peers.
	again, err := openMemberWith(t, peers, behindIdx, dir, nil, false, func(c *Config) { tune(c); c.Applied = last })
	if err != nil {
		t.Fatalf("restarted in place with the peers it ran with, after it learned of the move from the leader's raft snapshot: %v", err)
	}
	if err := again.r.trans.fence.check(voteFrom(movedID, oldAddr)); !isFenceRefusal(err) {
		t.Fatalf("the moved member's former address %s is not fenced: %v", oldAddr, err)
	}
	commitWhileLeading(t, leading(t, append(rest, again), l), last+1, 1)
	waitDelivered(t, again, 1) // its ring is new: the input after the state it loaded
	if got := again.delivered(); got[0] != last+1 {
		t.Fatalf("delivered %v, want input %d", got, last+1)
	}
	again.r.Close()

	edited := slices.Clone(peers)
	edited[leaderIdx].Raft = testkit.ReserveAddrs(t, 1)[0]
	if m, err := openMemberWith(t, edited, behindIdx, dir, nil, false, func(c *Config) { tune(c); c.Applied = last + 1 }); err == nil {
		m.r.Close()
		t.Fatal("started with a member's address edited without a replace")
	} else if !strings.Contains(err.Error(), "cluster.peers names members") {
		t.Fatalf("refused the edited peers, but not naming the memberships: %v", err)
	}
}

// A joining member's raft state is no check of its peers, and Open does
// not hold it to them (checkMembership): it is what the leader has sent
// so far, which may end before a replace the peers already hold. Here
// the replacement a replace started — the runbook's step 4, the edited
// peers placing it at its new address — is sent the leader's raft
// snapshot, taken before the replace, whose membership has it at its
// former one. It stages the state and is restarted in place, joining
// still: it starts and catches up. Held to its peers it was refused
// ("cluster.peers names members"), at every start, and the lost member
// was never replaced.
func TestAReplacementSentAStateOfBeforeItsMoveStartsAgain(t *testing.T) {
	tune := func(c *Config) { stateOfApplied(c); c.TrailingEntries = 1 }
	var (
		lostIdx  int
		newPeers []Peer
		last     int64
		other    *member
	)
	_, l := startCommitted(t, 3, tune, 10, func(ms []*member, l *member) (err error) {
		waitSame(t, ms, 10)
		// Every member compacts before the replace, so whichever leads
		// sends the replacement a state whose membership is of before it.
		compactEach(t, ms)
		fs := followersOf(ms, l)
		lost := fs[0]
		other = fs[1]
		lostIdx = int(lost.r.cfg.NodeID - 1)
		lost.r.Close() // the machine is lost
		moved := Peer{ID: lost.r.cfg.NodeID, Raft: testkit.ReserveAddrs(t, 1)[0], Gateway: "gw-new"}
		replaceWhileLeading(t, []*member{l, other}, l, moved)
		newPeers = slices.Clone(l.r.cfg.Peers)
		newPeers[lostIdx] = moved
		last, err = commitManyOrLost(t, l, 11, 5)
		return err
	})

	// Cut off as it stages the state, it stores no entry after the
	// snapshot — the replace — before it stops: so it goes when the node
	// is slower to stop than the leader to send on, or the entries
	// after the snapshot are many.
	var staging atomic.Pointer[Replicator]
	cutAtInstall := func(c *Config) {
		tune(c)
		stage := c.Install
		c.Install = func(rd io.Reader) (int64, error) {
			v, err := stage(rd)
			for deadline := time.Now().Add(10 * time.Second); staging.Load() == nil; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					return 0, errors.New("Open did not return in 10 s")
				}
			}
			staging.Load().Isolate(true)
			return v, err
		}
	}
	dir := t.TempDir()
	repl, err := openMemberWith(t, newPeers, lostIdx, dir, nil, false, cutAtInstall)
	if err != nil {
		t.Fatal(err)
	}
	staging.Store(repl.r)
	if err := waitFatal(t, repl, func() string { return "the replacement was not sent the leader's state in 10 s" }); !errors.Is(err, ErrInstalled) {
		t.Fatalf("the replacement stopped for %v, want ErrInstalled", err)
	}
	repl.r.Close()

	// Restarted in place on the state it staged, with the same peers.
	again, err := openMemberWith(t, newPeers, lostIdx, dir, nil, false, func(c *Config) { tune(c); c.Applied = 10 })
	if err != nil {
		t.Fatalf("the replacement, restarted in place on a leader's state of before its move: %v", err)
	}
	if st := again.r.Status(); !st.Joining {
		t.Fatalf("restarted before it had joined: %+v, want joining", st)
	}
	waitDelivered(t, again, last-10) // its ring is new: the inputs after the state it loaded
	commitWhileLeading(t, leading(t, []*member{l, other, again}, l), last+1, 1)
	for deadline := time.Now().Add(10 * time.Second); again.r.Status().Joining; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the replacement still joining 10 s after it held every input: %+v", again.r.Status())
		}
	}
	noneFailed(t, []*member{l, other, again})
}
