package replicator

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// testFSMBacklogBytes is the members' Config.FSMBacklogBytes here: a few
// hundred of the tests' entries.
const testFSMBacklogBytes = 16 << 10

// backlogBound is the most single-input entries raft may hold queued for
// a member's FSM under testFSMBacklogBytes: each is stored in more bytes
// than its data.
var backlogBound = uint64(testFSMBacklogBytes / len(batch(1, 1)))

// startBacklogMembers runs three members under testFSMBacklogBytes and,
// once input 1 is committed on all, runs then on the leader and the
// followers: the rest of the test's setup, as startCommitted's then. It
// returns the members, the leader and the followers.
func startBacklogMembers(t *testing.T, then func(l *member, fs []*member) error) (ms []*member, l *member, fs []*member) {
	t.Helper()
	ms, l = startCommitted(t, 3, func(c *Config) { c.FSMBacklogBytes = testFSMBacklogBytes }, 1, func(ms []*member, l *member) error {
		waitSame(t, ms, 1)
		return then(l, followersOf(ms, l))
	})
	return ms, l, followersOf(ms, l)
}

// isolateAndCommit cuts lag off and commits count single-input entries
// on leader l without it, from input next: a setup's step, its error as
// commitOrLost's. It returns the last input.
func isolateAndCommit(t *testing.T, l, lag *member, next int64, count int) (last int64, err error) {
	t.Helper()
	lag.r.Isolate(true)
	return commitManyOrLost(t, l, next, count)
}

// commitManyOrLost commits count single-input entries on leader l, from
// input next, in a setup under setUpAgainIfLeadLost, its error as
// commitOrLost's; it returns the last input.
func commitManyOrLost(t *testing.T, l *member, next int64, count int) (last int64, err error) {
	t.Helper()
	last, err = tryCommitMany(l, next, count)
	return last, leadLostOrFatal(t, l, next, count, err)
}

// tryCommitMany is commitManyOrLost returning the first proposal's
// error as it is.
func tryCommitMany(l *member, next int64, count int) (last int64, err error) {
	const window = 32
	for done := 0; done < count; done += window {
		var started []Proposal
		for range window {
			e := batch(next, 1)
			copy(e[4:8], []byte{byte(l.r.cfg.NodeID), 0, 0, 0})
			copy(e[8:16], []byte{byte(l.r.cfg.Incarnation), 0, 0, 0, 0, 0, 0, 0})
			started = append(started, l.r.Start(e))
			next++
		}
		for _, p := range started {
			if err := p.Wait(); err != nil {
				return 0, err
			}
		}
	}
	return next - 1, nil
}

// waitDelivered waits until m delivered every input to last.
func waitDelivered(t *testing.T, m *member, last int64) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); int64(len(m.delivered())) != last; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the member delivered %d of %d inputs", len(m.delivered()), last)
		}
	}
}

// fsmBacklog is how many entries raft has queued for m's FSM and the FSM
// not yet taken. Raft raises its applied index only after it queued a
// batch, so the FSM can have taken entries past it: none queued then.
func fsmBacklog(m *member) uint64 {
	taken := m.r.fsm.taken.Load()
	return max(m.r.raft.AppliedIndex(), taken) - taken
}

// A member catching up whose node takes inputs slower than raft stores
// them (its input ring full: Deliver waits) has raft queue a bounded
// backlog for its FSM, not the whole log it is behind by — every queued
// entry's data stays on the heap, up to ~200 KB each in production (raft
// queues up to 128 batches of MaxAppendEntries: ~6 GB). The backlog is
// read at each delivery, on the FSM goroutine.
func TestCatchingUpQueuesABoundedBacklogForTheFSM(t *testing.T) {
	var last int64
	_, _, fs := startBacklogMembers(t, func(l *member, fs []*member) (err error) {
		last, err = isolateAndCommit(t, l, fs[1], 2, int(4*backlogBound))
		return err
	})
	lag := fs[1]

	var peak atomic.Uint64
	slow := func() error {
		if b := fsmBacklog(lag); b > peak.Load() {
			peak.Store(b)
		}
		time.Sleep(200 * time.Microsecond) // the node takes inputs slowly
		return nil
	}
	lag.beforeDeliver.Store(&slow)
	lag.r.Isolate(false)
	waitDelivered(t, lag, last)
	t.Logf("catching up on %d entries, at most %d were queued for the FSM", last-1, peak.Load())
	if peak.Load() > backlogBound {
		t.Fatalf("%d entries queued for the FSM of a member catching up (bound %d)", peak.Load(), backlogBound)
	}
}

// stall stalls m's FSM until release.
func stall(t *testing.T, m *member) (release func()) {
	stalled := make(chan struct{})
	var once atomic.Bool
	release = func() {
		if once.CompareAndSwap(false, true) {
			close(stalled)
		}
	}
	t.Cleanup(release)
	hook := func() error { <-stalled; return nil }
	m.beforeDeliver.Store(&hook)
	return release
}

// stallThrough stalls m's FSM (stall) and runs step, a setup's under
// setUpAgainIfLeadLost. A step that fails voids the setup: the stall is
// released then, or closing m would wait for its stalled FSM.
func stallThrough(t *testing.T, m *member, step func() error) (release func(), err error) {
	release = stall(t, m)
	if err = step(); err != nil {
		release()
	}
	return release, err
}

// waitStored waits until m's raft log holds every entry l's does.
func waitStored(t *testing.T, m, l *member) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); m.r.raft.LastIndex() < l.r.raft.LastIndex(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the member's log reached index %d of the leader's %d", m.r.raft.LastIndex(), l.r.raft.LastIndex())
		}
	}
}

// stalledBehind starts three members (startBacklogMembers) and, as the
// rest of the setup, cuts the second follower (the lag, fs[1]) off
// while the leader l commits four times what its FSM may be handed at
// once, stalls its FSM, lets it hear l again and waits until it stored
// l's whole log. A setup whose l no longer leads then is voided, as one
// whose commit lost the lead (setUpAgainIfLeadLost): the tests go on
// from a leader l. It returns what startBacklogMembers does, the last
// input and what ends the stall.
func stalledBehind(t *testing.T) (ms []*member, l *member, fs []*member, last int64, release func()) {
	t.Helper()
	ms, l, fs = startBacklogMembers(t, func(l *member, fs []*member) (err error) {
		lag := fs[1]
		if last, err = isolateAndCommit(t, l, lag, 2, int(4*backlogBound)); err != nil {
			return err
		}
		release, err = stallThrough(t, lag, func() error {
			lag.r.Isolate(false)
			waitStored(t, lag, l)
			if !l.r.Ready() {
				return fmt.Errorf("member %d no longer leads once the lag stored its log", l.r.cfg.NodeID)
			}
			return nil
		})
		return err
	})
	return ms, l, fs, last, release
}

// A member whose node takes no input for a while stores and acknowledges
// the leader's log as before, its FSM's backlog bounded, and delivers the
// rest once its node takes inputs again.
func TestAStalledNodeStoresTheLogAndResumes(t *testing.T) {
	_, _, fs, last, release := stalledBehind(t)
	lag := fs[1]
	if b := fsmBacklog(lag); b > backlogBound {
		t.Fatalf("%d entries queued for a stalled FSM (bound %d)", b, backlogBound)
	}
	release()
	waitDelivered(t, lag, last)
}

// A member whose FSM is stalled behind still counts in a majority: the
// other follower lost, the leader commits with its acknowledgements
// (and, should it lose the lead meanwhile, wins it again with them).
func TestAStalledMemberStillMakesAMajority(t *testing.T) {
	ms, l, fs, last, release := stalledBehind(t)
	other, lag := fs[0], fs[1]
	other.r.Close()
	commitWhileLeading(t, leading(t, ms, l), last+1, 1)
	release()
	waitDelivered(t, lag, last+1)
}

// A member far behind in applying what the leader committed, its log
// whole, does not lead while another member may: it would be ready only
// once it had applied its log. It refuses a leadership transfer, asks
// for no vote, and when the leader is lost the other member leads (its
// election timer is the slower here). Past the grace it campaigns.
func TestAMemberBehindInApplyingLetsAnotherLead(t *testing.T) {
	ms, l, fs, last, release := stalledBehind(t)
	other, lag := fs[0], fs[1]
	if !lag.r.fsmBehind() {
		t.Fatal("the stalled member is not behind")
	}
	addr := func(m *member) (raft.ServerID, raft.ServerAddress) {
		return serverID(m.r.cfg.NodeID), raft.ServerAddress(m.r.cfg.Listen)
	}
	// Raft answers a transfer nil also when l lost the lead during it for
	// another reason (heartbeats late on a loaded machine): only the
	// member behind leading after it is the failure. A transfer l could
	// not make, leading no more, is asked again once it leads.
	if _, err := whileLeading(t, leading(t, ms, l), func(l *member) error {
		err := l.r.raft.LeadershipTransferToServer(addr(lag)).Error()
		if err != nil {
			return err
		}
		next := waitRaftLeader(t, ms, 10*time.Second)
		if next != lag {
			return fmt.Errorf("member %d leads after the transfer to member %d: %w", next.r.cfg.NodeID, lag.r.cfg.NodeID, raft.ErrLeadershipLost)
		}
		return nil
	}); err == nil {
		t.Fatal("the member behind took the lead handed to it")
	}
	id, to := addr(other)
	if err := lag.r.trans.RequestPreVote(id, to, &raft.RequestPreVoteRequest{}, &raft.RequestPreVoteResponse{}); !errors.Is(err, errBehind) {
		t.Fatalf("the member behind asked for a pre-vote: %v", err)
	}
	if err := lag.r.trans.RequestVote(id, to, &raft.RequestVoteRequest{}, &raft.RequestVoteResponse{}); !errors.Is(err, errBehind) {
		t.Fatalf("the member behind asked for a vote: %v", err)
	}

	slower := raft.ReloadableConfig{TrailingLogs: other.r.cfg.TrailingEntries, SnapshotInterval: 24 * time.Hour, SnapshotThreshold: 1 << 62,
		HeartbeatTimeout: 3 * testHeartbeatTimeout, ElectionTimeout: 3 * testHeartbeatTimeout}
	if err := other.r.raft.ReloadConfig(slower); err != nil {
		t.Fatal(err)
	}
	handLeadTo(t, ms, l) // the leader lost is l, which other has heard from
	l.r.Close()
	if next := waitLeader(t, ms, l); next != other {
		t.Fatalf("member %d leads, not member %d", next.r.cfg.NodeID, other.r.cfg.NodeID)
	}
	if lag.r.raft.State() == raft.Leader {
		t.Fatal("the member behind leads too")
	}
	lag.r.trans.behindGrace.Store(1) // as if it last heard from a leader long ago
	if lag.r.trans.holdsBackLead() {
		t.Fatal("past the grace, the member behind still holds back")
	}
	release()
	waitDelivered(t, lag, last)
}

// A budget smaller than one entry still lets each entry go, alone —
// also past a no-op or barrier, which raft applies without handing it to
// the FSM (fsm.taken does not move over it): commitLimit counted the
// budget from before it, fit only it, and the member applied nothing
// more, ever.
func TestABudgetBelowAnEntryStillApplies(t *testing.T) {
	ms, _ := startCommitted(t, 3, func(c *Config) { c.FSMBacklogBytes = 1 }, 1, nil)
	commitWhileLeading(t, anyLeader(t, ms), 2, 1) // a member behind by the budget may not take the lead back
	waitSame(t, ms, 2)
}

// An entry that comes after entries the budget left out lifts none of
// them: a small entry (a new leader's no-op, a barrier, a membership
// change) after a stored backlog larger than the budget had commitLimit
// take its index, and raft queued the whole backlog for the FSM. The
// barrier here commits only with the lag's answer, which raft sends
// after it took the request's commit index.
func TestASmallEntryAfterTheBudgetQueuesNoMore(t *testing.T) {
	ms, l, fs, _, _ := stalledBehind(t)
	other, lag := fs[0], fs[1]
	if b := fsmBacklog(lag); b > backlogBound {
		t.Fatalf("%d entries queued for a stalled FSM (bound %d)", b, backlogBound)
	}
	other.r.Isolate(true)
	if _, err := whileLeading(t, leading(t, ms, l), func(l *member) error { return l.r.raft.Barrier(10 * time.Second).Error() }); err != nil {
		t.Fatal(err)
	}
	if b := fsmBacklog(lag); b > backlogBound {
		t.Fatalf("after a barrier: %d entries queued for a stalled FSM (bound %d)", b, backlogBound)
	}
}

// commitLimit takes a request's entries only where they continue what
// the budget took from the log.
func TestCommitLimitTakesNoEntryPastAGap(t *testing.T) {
	s, err := OpenLogStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storeRange(t, s, 1, 100)
	start, end := s.segs[0].entry(1)
	size := end - start
	r := &Replicator{cfg: Config{FSMBacklogBytes: 10*size + size/2}, logs: s, fsm: &fsm{}}
	for _, tc := range []struct {
		name    string
		entries []*raft.Log
		want    uint64
	}{
		{"none", nil, 10},
		{"a barrier after the log", []*raft.Log{{Index: 101, Type: raft.LogBarrier}}, 10},
		{"a no-op after the log", []*raft.Log{{Index: 101, Type: raft.LogNoop}}, 10},
		{"a small command after the log", []*raft.Log{{Index: 101, Type: raft.LogCommand, Data: []byte{1}}}, 10},
		{"a small entry replacing the next", []*raft.Log{{Index: 11, Type: raft.LogCommand, Data: []byte{1}}}, 11},
	} {
		got := r.limitAfter(0, &raft.AppendEntriesRequest{LeaderCommitIndex: 100, Entries: tc.entries})
		if got != tc.want {
			t.Errorf("%s: commitLimit = %d, want %d (the budget holds entries 1…10)", tc.name, got, tc.want)
		}
	}
}

// A member behind whose log is longer than the other live member's is
// the one member that can be elected: it refuses the other's (pre-)votes
// for its shorter log, and no one leads until it campaigns. It held back
// the whole grace anyway — ten HeartbeatTimeouts with no leader, for
// nothing — whenever it had stored the leader's last entries and the
// member that is not behind had not. Here the grace outlasts the test:
// the cluster is laggingLeaderAhead's.
//
// The member that is not behind is stopped, not cut off (Isolate), while
// the leader commits what it lacks, and starts again once the leader is
// closed. Cut off, it still had to read the requests the leader had sent
// it before its close — a connection's requests are read one after
// another, and the cut refuses only those read while it is on — and, let
// in again on a loaded machine, it stored the entries it was to lack
// from the closed leader's last requests: its log as long as the member
// behind's, it was elected, as it may be ("the member with the shorter
// log leads", once in three grouped -race runs; its log was not shorter).
func TestAMemberBehindThatAloneCanBeElectedDoesNotHoldBack(t *testing.T) {
	lag, other, _, _ := laggingLeaderAhead(t) // other reopened: it campaigns, its log behind lag's
	if !lag.r.fsmBehind() {
		t.Fatal("the stalled member is not behind")
	}
	if o, g := other.r.raft.LastIndex(), lag.r.raft.LastIndex(); o >= g {
		t.Fatalf("the other member's log ends at index %d, the member behind's at %d: not shorter", o, g)
	}
	for deadline := time.Now().Add(20 * time.Second); lag.r.raft.State() != raft.Leader; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no leader: the member behind holds back (%v) though the other cannot be elected without its vote", lag.r.trans.holdsBackLead())
		}
		if other.r.raft.State() == raft.Leader {
			t.Fatalf("the member with the shorter log leads (its log ends at index %d now, the member behind's at %d)",
				other.r.raft.LastIndex(), lag.r.raft.LastIndex())
		}
	}
}

// reopenMember opens closed member m again on its directory, its node
// holding the inputs it took (Config.Applied).
func reopenMember(t *testing.T, m *member) *member {
	t.Helper()
	held := m.r.Applied()
	again, err := openMemberWith(t, m.r.cfg.Peers, int(m.r.cfg.NodeID)-1, m.r.cfg.Dir, nil, false, func(c *Config) {
		c.FSMBacklogBytes, c.Applied = testFSMBacklogBytes, held
	})
	if err != nil {
		t.Fatal(err)
	}
	return again
}

// A member behind in applying holds back while it hears the leader —
// its heartbeats, every tenth of a HeartbeatTimeout — and not only
// within the grace of the last commit index the leader sent it: an idle
// leader sends one only every CommitTimeout to 2×CommitTimeout (250–500
// ms: the whole grace at an election timeout of 50 ms), and none at all
// while its replication to the member backs off after a partition healed
// (up to ~10 s). Past it, with the leader still in touch, the member
// took itself for one that heard no leader, and campaigned as soon as
// the leader was lost. Here CommitTimeout outlasts the grace.
func TestAMemberBehindHoldsBackWhileItHearsTheLeader(t *testing.T) {
	grace := behindGraceBeats * testHeartbeatTimeout
	tune := func(c *Config) {
		c.FSMBacklogBytes = testFSMBacklogBytes
		c.CommitTimeout = 3 * grace / 2 // idle, a commit index every 1.5 to 3 graces
	}
	var lag *member
	_, l := startCommitted(t, 3, tune, 1, func(ms []*member, l *member) (err error) {
		lag = followersOf(ms, l)[1]
		_, err = stallThrough(t, lag, func() error {
			_, err := commitManyOrLost(t, l, 2, int(4*backlogBound))
			return err
		})
		return err
	})
	waitStored(t, lag, l)
	if !lag.r.fsmBehind() {
		t.Fatal("the stalled member is not behind")
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no moment with the last commit index heard older than the grace")
		}
		heard := lag.r.Contact().Heard
		if time.Since(heard) <= grace {
			continue
		}
		held := lag.r.trans.holdsBackLead()
		if !lag.r.Contact().Heard.Equal(heard) {
			continue // a commit index came meanwhile
		}
		if !l.r.Ready() || time.Since(lag.r.raft.LastContact()) > testHeartbeatTimeout {
			continue // a loaded machine held the leader's heartbeats back: look again
		}
		if !held {
			t.Fatalf("the member behind, hearing the leader %v ago, does not hold back: its last commit index came %v ago",
				time.Since(lag.r.raft.LastContact()).Round(time.Millisecond), time.Since(heard).Round(time.Millisecond))
		}
		return
	}
}

// restartAll closes every member of ms and opens each again on its
// directory, its node holding the inputs it took — delivered, or
// proposed itself (Config.Applied);
// tune, when not nil, changes member i's Config.
func restartAll(t *testing.T, ms []*member, tune func(i int, c *Config)) []*member {
	t.Helper()
	held := make([]int64, len(ms))
	for i, m := range ms {
		m.r.Close()
		held[i] = m.r.Applied()
	}
	again := make([]*member, len(ms))
	for i, m := range ms {
		var err error
		again[i], err = openMemberWith(t, m.r.cfg.Peers, i, m.r.cfg.Dir, nil, false, func(c *Config) {
			c.FSMBacklogBytes, c.Applied = testFSMBacklogBytes, held[i]
			if tune != nil {
				tune(i, c)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return again
}

// stoppedBehind starts three members (startBacklogMembers) whose second
// follower (the lag, fs[1]) stops taking inputs — its FSM stops delivery
// — while the leader l commits four times what an FSM may be handed at
// once; it waits until the lag stored l's whole log and the other
// follower delivered it, then runs then on l and the followers (nil:
// nothing more). It returns what startBacklogMembers does and the last
// input then committed.
func stoppedBehind(t *testing.T, then func(l *member, fs []*member, last int64) (int64, error)) (ms []*member, l *member, fs []*member, last int64) {
	t.Helper()
	ms, l, fs = startBacklogMembers(t, func(l *member, fs []*member) (err error) {
		lag := fs[1]
		// Its node stops before it takes more: once lag stored the log,
		// or when the setup is voided (its Close waits for its FSM).
		stopped := make(chan struct{})
		defer close(stopped)
		hold := func() error { <-stopped; return ErrDeliveryStopped }
		lag.beforeDeliver.Store(&hold)
		if last, err = commitManyOrLost(t, l, 2, int(4*backlogBound)); err != nil {
			return err
		}
		waitStored(t, lag, l)
		waitDelivered(t, fs[0], last)
		if then != nil {
			last, err = then(l, fs, last)
		}
		return err
	})
	return ms, l, fs, last
}

// restartBehind restarts every member of ms (restartAll, tune as its)
// and holds the lag back, as by the grace, for as long as the test runs:
// it returns the members and the lag after the restart, the lag behind
// and the others not.
func restartBehind(t *testing.T, ms []*member, lag *member, tune func(i int, c *Config)) ([]*member, *member) {
	t.Helper()
	ms = restartAll(t, ms, tune)
	lag = ms[lag.r.cfg.NodeID-1]
	lag.r.trans.behindGrace.Store(int64(time.Hour))
	if !lag.r.fsmBehind() {
		t.Fatal("the member behind is not behind after its restart")
	}
	for _, m := range ms {
		if m != lag && m.r.fsmBehind() {
			t.Fatalf("member %d, its node holding its whole log, is behind after its restart", m.r.cfg.NodeID)
		}
	}
	return ms, lag
}

// waitApplied waits until m's node holds every input to last.
func waitApplied(t *testing.T, m *member, last int64) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); m.r.Applied() < last; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("member %d applied %d of %d inputs", m.r.cfg.NodeID, m.r.Applied(), last)
		}
	}
}

// After a whole-cluster restart no member has heard from a leader, and
// one whose node is far behind its log — whole, as long as the others' —
// campaigned as soon as its election timer ran out: elected, it is ready
// only once it applied its log. It holds back for the grace counted from
// its start. The others hold their logs' inputs in their nodes already
// (the FSM skips those at once): they are not behind, though raft has no
// snapshot and hands them the whole log again. Here the member behind
// has the fastest election timer.
//
// The other follower stores and delivers the whole log before the
// restart, as the leader has. Restarted with its log shorter than the
// member behind's (a loaded machine: 964 entries of 1124), it asked the
// member behind for a pre-vote first, and a candidate whose log is
// behind stopped the hold-back (holdsBackLead): the member behind was
// elected ("the member behind leads", under six CPU burners, 1 in 20).
// TestAMemberBehindHoldsBackAfterARestartWithAShortLog has that follower
// ask first.
func TestAMemberBehindHoldsBackAfterAWholeClusterRestart(t *testing.T) {
	ms, _, fs, last := stoppedBehind(t, nil)
	lag := fs[1]
	// The others' election comes 1.5 to 3 s after their start (2.8 s at
	// most in 20 runs under six CPU burners), near the grace of 5 s,
	// which is not under test.
	ms, lag = restartBehind(t, ms, lag, func(i int, c *Config) {
		if c.NodeID != lag.r.cfg.NodeID {
			c.HeartbeatTimeout, c.ElectionTimeout = 3*testHeartbeatTimeout, 3*testHeartbeatTimeout
		}
	})
	if next := waitLeader(t, ms, nil); next == lag {
		t.Fatal("the member behind leads after the whole cluster restarted")
	}
	waitApplied(t, lag, last)
}

// After a whole-cluster restart with every member alive, a follower
// whose log is shorter than the others' asks the member behind for a
// pre-vote first. It cannot be elected (both others refuse it), but the
// member that led, its log whole and its node holding it, can, as soon
// as its election timer runs out: the member behind keeps holding back
// for outrankedWait after it was first outranked. It stopped at once,
// its own election timer ran out before the other's, and it was elected
// ("the member behind leads after a follower with a shorter log asked
// it first", 3 of 3 runs). Here the follower with the shorter log has
// the fastest election timer and the member that led the slowest; the
// wait is not under test (its end is
// TestAMemberBehindThatAloneCanBeElectedDoesNotHoldBack's).
func TestAMemberBehindHoldsBackAfterARestartWithAShortLog(t *testing.T) {
	var short *member
	ms, l, fs, last := stoppedBehind(t, func(l *member, fs []*member, last int64) (int64, error) {
		short = fs[0]
		short.r.Close()
		return commitManyOrLost(t, l, last+1, 1) // the lag stores it, short does not
	})
	lag := fs[1]
	waitStored(t, lag, l)
	ms, lag = restartBehind(t, ms, lag, func(i int, c *Config) {
		if c.NodeID == l.r.cfg.NodeID {
			c.HeartbeatTimeout, c.ElectionTimeout = 6*testHeartbeatTimeout, 6*testHeartbeatTimeout
		}
	})
	short = ms[short.r.cfg.NodeID-1]
	if s, g := short.r.raft.LastIndex(), lag.r.raft.LastIndex(); s >= g {
		t.Fatalf("the short member's log ends at index %d, the member behind's at %d: not shorter", s, g)
	}
	lag.r.trans.outrankedWait.Store(int64(time.Hour))
	if next := waitLeader(t, ms, nil); next == lag {
		t.Fatal("the member behind leads after a follower with a shorter log asked it first")
	}
	if lag.r.trans.outrankedAt.Load() == 0 {
		t.Fatal("the follower with the shorter log did not ask the member behind before a leader was elected")
	}
	waitApplied(t, lag, last)
}

// heldThrough, a binary search, finds what a scan of the log does: the
// last command entry whose inputs end at or before the input held (the
// log's first index less one with none), over the membership entries and
// no-ops among them.
func TestHeldThroughAgainstAScan(t *testing.T) {
	var last int64
	_, l, _ := startBacklogMembers(t, func(l *member, _ []*member) (err error) {
		last, err = commitManyOrLost(t, l, 2, 40)
		return err
	})
	r := l.r
	first, _ := r.logs.FirstIndex()
	end, _ := r.logs.LastIndex()
	for applied := int64(0); applied <= last+1; applied++ {
		want := first - 1
		for i := first; i <= end; i++ {
			var e raft.Log
			if err := r.logs.GetLog(i, &e); err != nil {
				t.Fatal(err)
			}
			if e.Type != raft.LogCommand {
				continue
			}
			if b, err := ParseBatch(e.Data); err == nil && b.Last() <= applied {
				want = i
			}
		}
		if got := r.heldThrough(applied); got != want {
			t.Fatalf("held through input %d: index %d, a scan says %d", applied, got, want)
		}
	}
}

// A leader's own FSM is bounded as a follower's: elected with a log far
// past what its node holds (the member behind that alone can be elected,
// or every member after a whole-cluster restart re-applying its log
// since its newest raft snapshot), its FSM stalled, raft holds at most
// the budget's entries for it — not its whole backlog, which raft read
// and queued for the FSM up to 128 batches of 256 entries (~6 GB of
// proposeChunk entries) before it waited. Once its node takes inputs it
// applies the rest and leads.
func TestALeaderQueuesABoundedBacklogForItsFSM(t *testing.T) {
	lag, other, last, release := laggingLeaderAhead(t)
	for deadline := time.Now().Add(20 * time.Second); lag.r.raft.State() != raft.Leader; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the member behind was not elected")
		}
	}
	// Raft takes the backlog for committed once the leader's no-op is
	// stored by other; it then reads it for the FSM.
	var peak uint64
	held := false
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		peak = max(peak, fsmBacklog(lag))
		held = held || lag.r.reads.waiting.Load() > 0
	}
	if peak > backlogBound+raftBatchEntries { // one batch past the budget: fsmReads.batchSent
		t.Fatalf("%d entries queued for the stalled FSM of the leader (bound %d and a batch; its backlog %d)", peak, backlogBound,
			lag.r.raft.LastIndex()-lag.r.fsm.taken.Load())
	}
	if !held {
		t.Fatal("raft's reads for the leader's FSM were never held: what bounded them?")
	}
	if lag.r.Ready() {
		t.Fatal("the leader is ready with its backlog not applied")
	}
	release()
	waitDelivered(t, lag, last)
	// Its node has taken the backlog: it is ready, and commits. Should
	// it have lost the lead meanwhile (heartbeats late on a loaded
	// machine), the lead is handed back to it.
	handLeadTo(t, []*member{lag, other}, lag)
	commitWhileLeading(t, leading(t, []*member{lag, other}, lag), last+1, 1)
	waitApplied(t, other, last+1)
}

// laggingLeaderAhead leaves a cluster in which only the member whose node
// is behind (its FSM stalled until release) can lead: its log holds four
// FSM budgets of entries (through last) past what its node took, the
// old leader is closed, and the other member reopened without the last
// entry. Raft elects the member behind next.
//
// Its commits are a setup's under setUpAgainIfLeadLost: a leader that
// loses the lead before the last voids it, and stallThrough releases
// the FSM of that try's lag.
func laggingLeaderAhead(t *testing.T) (lag, other *member, last int64, release func()) {
	t.Helper()
	_, l, _ := startBacklogMembers(t, func(l *member, fs []*member) (err error) {
		other, lag = fs[0], fs[1]
		release, err = stallThrough(t, lag, func() (err error) {
			if last, err = commitManyOrLost(t, l, 2, int(4*backlogBound)); err != nil {
				return err
			}
			waitStored(t, lag, l)
			waitDelivered(t, other, last) // not behind when it starts again
			other.r.Close()
			last, err = commitManyOrLost(t, l, last+1, 1) // lag stores it, other does not: only lag can lead
			return err
		})
		return err
	})
	waitStored(t, lag, l)
	lag.r.trans.behindGrace.Store(int64(time.Hour))
	l.r.Close()
	return lag, reopenMember(t, other), last, release
}

// Contact counts applied only the entries whose inputs the node was
// handed: raft raises its applied index when it queues entries for the
// FSM, and a node judging its market data current on that index took
// inputs still queued, behind a stalled FSM, for ones it held (node's
// mdcurrent.go). Inputs covers every entry through Applied; once every
// input is handed over, Applied is raft's applied index — the no-ops and
// barriers after the last input entry, never handed to the FSM, count.
func TestContactCountsNoEntryQueuedForTheFSM(t *testing.T) {
	_, l, fs, last, release := stalledBehind(t)
	lag := fs[1]
	for deadline := time.Now().Add(10 * time.Second); fsmBacklog(lag) == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("raft queued no entry for the stalled FSM")
		}
	}
	c := lag.r.Contact()
	if queued := lag.r.raft.AppliedIndex(); c.Applied >= queued {
		t.Fatalf("Contact says index %d applied, raft's applied index %d, with %d entries queued for the stalled FSM", c.Applied, queued, fsmBacklog(lag))
	}
	if delivered := int64(len(lag.delivered())); c.Inputs != delivered {
		t.Fatalf("Contact says inputs through %d handed to the node, %d were", c.Inputs, delivered)
	}
	release()
	waitDelivered(t, lag, last)
	if err := l.r.raft.Barrier(10 * time.Second).Error(); err != nil {
		t.Fatalf("a barrier after the inputs: %v", err)
	}
	barrier := l.r.raft.AppliedIndex()
	for deadline := time.Now().Add(10 * time.Second); lag.r.raft.AppliedIndex() < barrier; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the member applied index %d, the leader's barrier is %d", lag.r.raft.AppliedIndex(), barrier)
		}
	}
	c = lag.r.Contact()
	if c.Inputs != last {
		t.Fatalf("Contact says inputs through %d handed to the node, all %d were", c.Inputs, last)
	}
	if c.Applied < barrier {
		t.Fatalf("Contact says index %d applied, raft applied the barrier at %d after every input handed over", c.Applied, barrier)
	}
}
