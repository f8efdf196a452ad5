package replicator

import (
	"crypto/tls"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/rs/zerolog"

	"github.com/ringex/ringex/internal/testkit"
)

// member is one in-process raft member whose "input ring" is a slice.
type member struct {
	r     *Replicator
	mu    sync.Mutex
	got   []int64      // input sequences delivered, in order
	fail  error        // the first error OnFatal was told
	syncs atomic.Int64 // durable writes of its raft log
	// beforeDeliver, when set, runs first in each Deliver, on raft's FSM
	// goroutine (m.mu not held); an error is Deliver's.
	beforeDeliver atomic.Pointer[func() error]
	// closeHung: a Close that never returned; the cleanup's would wait
	// for it (sync.Once).
	closeHung atomic.Bool
}

func (m *member) delivered() []int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]int64(nil), m.got...)
}

// startMembers runs n members; tlsFor, when not nil, gives member i's
// transport TLS config.
// testHeartbeatTimeout is the members' raft heartbeat, election and
// lease timeout: long enough that a leader keeps the lead through the
// pauses of a loaded 2-core machine under -race (at the default 150 ms it
// sometimes lost it mid-test, "leadership lost while committing log"),
// short enough that a failover takes well under a second.
const testHeartbeatTimeout = 500 * time.Millisecond

func startMembers(t *testing.T, n int, tlsFor func(i int) *tls.Config) []*member {
	t.Helper()
	return startMembersWith(t, n, tlsFor, nil)
}

// startMembersWith is startMembers with tune, when not nil, changing each
// member's Config before it opens.
func startMembersWith(t *testing.T, n int, tlsFor func(i int) *tls.Config, tune func(*Config)) []*member {
	t.Helper()
	peers := testPeers(t, n)
	ms := make([]*member, n)
	for i := range ms {
		var tc *tls.Config
		if tlsFor != nil {
			tc = tlsFor(i)
		}
		m, err := openMemberWith(t, peers, i, t.TempDir(), tc, true, tune)
		if err != nil {
			t.Fatal(err)
		}
		ms[i] = m
	}
	return ms
}

// testPeers is n peers at reserved loopback addresses, ids from 1.
func testPeers(t *testing.T, n int) []Peer {
	t.Helper()
	var peers []Peer
	for i, addr := range testkit.ReserveAddrs(t, n) {
		peers = append(peers, Peer{ID: uint32(i + 1), Raft: addr, Gateway: fmt.Sprintf("gw-%d", i+1)})
	}
	return peers
}

// openMember opens member i of peers (id i+1) on dir, closed at the
// test's end.
func openMember(t *testing.T, peers []Peer, i int, dir string, tc *tls.Config, bootstrap bool) (*member, error) {
	t.Helper()
	return openMemberWith(t, peers, i, dir, tc, bootstrap, nil)
}

// openMemberWith is openMember with tune, when not nil, changing the
// member's Config before it opens.
func openMemberWith(t *testing.T, peers []Peer, i int, dir string, tc *tls.Config, bootstrap bool, tune func(*Config)) (*member, error) {
	t.Helper()
	m := &member{}
	cfg := Config{NodeID: uint32(i + 1), Listen: peers[i].Raft, Peers: peers, Dir: dir, TLS: tc, Bootstrap: bootstrap,
		Incarnation: uint64(i + 1), Logger: zerolog.Nop(), HeartbeatTimeout: testHeartbeatTimeout,
		Deliver: func(b *Batch) error {
			if hook := m.beforeDeliver.Load(); hook != nil {
				if err := (*hook)(); err != nil {
					return err
				}
			}
			var in Input
			m.mu.Lock()
			defer m.mu.Unlock()
			for s := b.First; ; s++ {
				ok, err := b.Next(&in)
				if err != nil {
					return err
				}
				if !ok {
					return nil
				}
				if in.Session != uint64(s) {
					return fmt.Errorf("input %d carries session %d", s, in.Session)
				}
				m.got = append(m.got, s)
			}
		},
		// The first error is kept, as the node keeps it (Node.fail): the
		// cause that stopped the member, not what followed from it.
		OnFatal: func(err error) {
			m.mu.Lock()
			if m.fail == nil {
				m.fail = err
			}
			m.mu.Unlock()
		},
		OnLogSync: func(time.Duration) { m.syncs.Add(1) },
	}
	if tune != nil {
		tune(&cfg)
	}
	r, err := Open(cfg)
	if err != nil {
		return nil, err
	}
	m.r = r
	t.Cleanup(func() {
		if !m.closeHung.Load() {
			r.Close()
		}
	})
	return m, nil
}

// followersOf returns the members of ms but l, in ms's order.
func followersOf(ms []*member, l *member) []*member {
	var fs []*member
	for _, m := range ms {
		if m != l {
			fs = append(fs, m)
		}
	}
	return fs
}

func waitLeader(t *testing.T, ms []*member, skip *member) *member {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, m := range ms {
			if m != skip && m.r.Ready() {
				return m
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("no leader within 10s")
	return nil
}

func batch(first int64, count int) []byte {
	e := AppendHeader(nil, Header{First: first, Count: uint32(count)})
	for s := first; s < first+int64(count); s++ {
		e = AppendInput(e, &Input{Session: uint64(s), Kind: 1, Payload: []byte("x")})
	}
	return e
}

// propose commits inputs first… as leader l (origin and incarnation are
// l's, so l's FSM does not deliver them: they are in its "ring").
func propose(l *member, first int64, count int) error {
	e := batch(first, count)
	copy(e[4:8], []byte{byte(l.r.cfg.NodeID), 0, 0, 0})
	copy(e[8:16], []byte{byte(l.r.cfg.Incarnation), 0, 0, 0, 0, 0, 0, 0})
	return l.r.Propose(e)
}

// The lead may move under a step of this test (heartbeats late on a
// loaded machine): the step runs again on the member it needs leading,
// the lead handed back to it (whileLeading), and the assertions hold of
// that member.
func TestReplicateAndFailOver(t *testing.T) {
	ms := startMembers(t, 3, nil)
	l := waitLeader(t, ms, nil)
	next := int64(1)
	for i := 0; i < 20; i++ {
		commitWhileLeading(t, leading(t, ms, l), next, 1+i%5) // the leader's own ring holds them already
		next += int64(1 + i%5)
	}
	if l.r.Applied() != next-1 {
		t.Fatalf("leader applied %d, want %d", l.r.Applied(), next-1)
	}
	waitSame(t, ms, next-1)

	// Isolate the leader: it steps down, its proposals fail, and the
	// others elect a leader that continues the sequence.
	handLeadTo(t, ms, l) // it may have lost the lead since its last commit
	l.r.Isolate(true)
	if err := propose(l, next, 3); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("isolated leader's proposal: %v", err)
	}
	// Ready follows raft's leadership signal, which comes a moment later.
	for deadline := time.Now().Add(2 * time.Second); l.r.Ready(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("isolated leader still ready 2s after its proposal failed")
		}
	}
	// Stepped down, raft appends nothing more: an entry is refused
	// unappended, and the node knows it can never be committed.
	if err := propose(l, next, 3); !errors.Is(err, ErrNotProposed) || !errors.Is(err, ErrNotLeader) {
		t.Fatalf("proposal after stepping down: %v, want ErrNotProposed", err)
	}
	others := followersOf(ms, l)
	l2, err := whileLeading(t, anyLeader(t, others), func(l2 *member) error {
		return namesLeader(l2, l2, l2.r.cfg.NodeID, fmt.Sprintf("gw-%d", l2.r.cfg.NodeID))
	})
	if err != nil {
		t.Fatalf("the new leader: %v", err)
	}
	commitWhileLeading(t, leading(t, others, l2), next, 4)
	next += 4
	// Healed, the old leader learns the new leader's batches; the batch
	// it proposed while isolated was never committed.
	l.r.Isolate(false)
	waitSame(t, ms, next-1)
	noneFailed(t, ms)
	if _, err := whileLeading(t, leading(t, ms, l2), func(l2 *member) error {
		return namesLeader(l2, l, l2.r.cfg.NodeID, fmt.Sprintf("gw-%d", l2.r.cfg.NodeID))
	}); err != nil {
		t.Fatalf("the old leader: %v", err)
	}
}

// Entries started together (the node's window of chunks of one ring
// batch) share the leader's log writes: raft takes every one waiting in
// its apply channel into one fsync (BatchApplyCh). Without it each
// Start waited for the previous entry's fsync to hand its own over, one
// fsync each.
func TestStartedEntriesShareAnFsync(t *testing.T) {
	ms, l := startCommitted(t, 3, nil, 1, nil)
	const window = 32
	before := l.syncs.Load()
	var started []Proposal
	for k := range window {
		e := batch(int64(2+k), 1)
		copy(e[4:8], []byte{byte(l.r.cfg.NodeID), 0, 0, 0})
		copy(e[8:16], []byte{byte(l.r.cfg.Incarnation), 0, 0, 0, 0, 0, 0, 0})
		started = append(started, l.r.Start(e))
	}
	for _, p := range started {
		if err := p.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	if syncs := l.syncs.Load() - before; syncs > window/4 {
		t.Fatalf("%d entries started together took %d log fsyncs on the leader", window, syncs)
	}
	waitSame(t, followersOf(ms, l), 1+window) // the leader's own ring holds them already
}

// compactEach has every member of ms take a raft snapshot and drop its
// log before it (Compact): whichever of them leads next sends a member
// behind that snapshot. Compacted on the leader alone, a lead moved to
// another member (a loaded machine's pause) sends the log from that
// member's first entry.
func compactEach(t *testing.T, ms []*member) {
	t.Helper()
	for _, m := range ms {
		if err := m.r.Compact(); err != nil {
			t.Fatalf("member %d: %v", m.r.cfg.NodeID, err)
		}
	}
}

func waitSame(t *testing.T, ms []*member, last int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok := true
		for _, m := range ms {
			got := m.delivered()
			if int64(len(got)) != last {
				ok = false
				continue
			}
			for i, s := range got {
				if s != int64(i+1) {
					t.Fatalf("member %d: input %d at position %d", m.r.cfg.NodeID, s, i)
				}
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			for _, m := range ms {
				t.Logf("member %d: %d inputs, applied %d", m.r.cfg.NodeID, len(m.delivered()), m.r.Applied())
			}
			t.Fatalf("members did not all reach input %d", last)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A member whose raft log cannot be written stops (OnFatal) instead of
// staying on as a follower that stores nothing; the others go on.
func TestLogFailureIsFatal(t *testing.T) {
	ms, l := startCommitted(t, 3, nil, 2, nil)
	// The disk goes away under the leader's log: its next write fails.
	l.r.logs.mu.Lock()
	l.r.logs.active().f.Close()
	l.r.logs.mu.Unlock()
	if err := propose(l, 3, 1); err == nil {
		t.Fatal("a proposal was committed by a leader whose log cannot be written")
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		l.mu.Lock()
		err := l.fail
		l.mu.Unlock()
		if err != nil {
			if !strings.Contains(err.Error(), "raft log failed") {
				t.Fatalf("OnFatal got %v", err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the member with a failed log was not stopped")
		}
	}
	noneFailed(t, followersOf(ms, l))
}

// holdLog holds m's raft log as a disk that hangs under a write holding
// the log's lock does (a segment roll, a compaction): m's next write or
// read of its log waits until release (which may be called again).
// Release it before m is closed: Close waits for raft's loop.
func holdLog(m *member) (release func()) {
	m.r.logs.mu.Lock()
	return sync.OnceFunc(m.r.logs.mu.Unlock)
}

// A leader whose disk stops answering — its log write never returns —
// cuts itself off and stops (ErrDiskStalled), and the others elect a
// leader that commits. Without the watch, raft keeps it leading: its
// heartbeats go on while its main loop waits in the write, so nothing is
// committed by anyone for as long as the disk hangs.
func TestAStalledLeaderDiskHandsTheLeadOver(t *testing.T) {
	const limit = time.Second
	ms, l := startCommitted(t, 3, func(c *Config) { c.DiskStallTimeout = limit }, 2, nil)
	release := holdLog(l)
	defer release() // before the cleanup's Close, which waits for raft's loop
	proposed := make(chan error, 1)
	// Before the proposal: its write begins after, so the stall's age
	// (the watch's) is at most time.Since(stalledAt). Taken after the go
	// statement, it could follow the write's start (the goroutine run
	// first), and the check below fail a stop on time.
	stalledAt := time.Now()
	go func() { proposed <- propose(l, 3, 1) }()
	fatal := waitFatal(t, l, func() string {
		return fmt.Sprintf("the leader's log write has hung for 10 s and it is not stopped (LogWaiting %v)", l.r.LogWaiting())
	})
	if !errors.Is(fatal, ErrDiskStalled) {
		t.Fatalf("OnFatal got %v, want ErrDiskStalled", fatal)
	}
	if took := time.Since(stalledAt); took < limit {
		t.Fatalf("stopped %v into the stall, before the limit %v", took, limit)
	}
	if !l.r.trans.cut.Load() {
		t.Fatal("the stalled leader is not cut off from its peers: its heartbeats keep the others from electing")
	}
	stopped := time.Since(stalledAt)
	next := waitLeader(t, ms, l)
	commit(t, next, 3, 1)
	t.Logf("disk stalled: the leader stopped %v into the stall (limit %v), member %d committed %v into it",
		stopped.Round(time.Millisecond), limit, next.r.cfg.NodeID, time.Since(stalledAt).Round(time.Millisecond))
	release()
	if err := <-proposed; err == nil {
		t.Fatal("the stalled leader's proposal was committed, cut off")
	}
	noneFailed(t, followersOf(ms, l))
	waitSame(t, followersOf(ms, l), 3)
}

// A node's journal can end inside a raft entry (its tail cut by a crash
// part-way through a write): the entry's inputs it holds are skipped and
// the rest delivered, in order.
func TestApplyEntryPartlyHeld(t *testing.T) {
	var got []int64
	var fatal error
	cfg := &Config{NodeID: 1, Incarnation: 2,
		Deliver: func(b *Batch) error {
			var in Input
			for s := b.First; ; s++ {
				ok, err := b.Next(&in)
				if err != nil || !ok {
					return err
				}
				if in.Session != uint64(s) {
					return fmt.Errorf("input %d carries session %d", s, in.Session)
				}
				got = append(got, s)
			}
		},
		OnFatal: func(err error) { fatal = err },
	}
	f := &fsm{cfg: cfg}
	f.applied.Store(5) // the journal ends at input 5
	for _, e := range []struct{ first, count int64 }{{1, 2}, {3, 6}, {9, 2}} {
		f.Apply(&raft.Log{Type: raft.LogCommand, Data: batch(e.first, int(e.count))})
	}
	if fatal != nil {
		t.Fatal(fatal)
	}
	if want := []int64{6, 7, 8, 9, 10}; !slices.Equal(got, want) || f.applied.Load() != 10 {
		t.Fatalf("delivered %v, applied %d; want %v, 10", got, f.applied.Load(), want)
	}
	// A gap is still a divergence.
	f.Apply(&raft.Log{Type: raft.LogCommand, Data: batch(12, 1)})
	if !errors.Is(fatal, ErrDiverged) {
		t.Fatalf("entry after a gap: %v, want ErrDiverged", fatal)
	}
	b, _ := ParseBatch(batch(1, 2))
	if err := b.Skip(3); !errors.Is(err, ErrEntry) {
		t.Fatalf("skipping 3 inputs of 2: %v, want ErrEntry", err)
	}
}

// A committed batch proposed under other rules (instruments, accounts,
// limits) than this member's stops it before any of its inputs is
// delivered; batches of the same rules, or of unknown ones (version 1
// entries), are applied.
func TestApplyRefusesOtherRules(t *testing.T) {
	var delivered int
	var fatal error
	cfg := &Config{NodeID: 1, Incarnation: 2, Rules: 7,
		Deliver: func(b *Batch) error {
			delivered += int(b.Count)
			return nil
		},
		OnFatal: func(err error) { fatal = err },
	}
	f := &fsm{cfg: cfg}
	withRules := func(first int64, count int, rules uint64) []byte {
		e := batch(first, count)
		binary.LittleEndian.PutUint64(e[28:], rules)
		return e
	}
	f.Apply(&raft.Log{Type: raft.LogCommand, Data: withRules(1, 2, 7)})
	f.Apply(&raft.Log{Type: raft.LogCommand, Data: withRules(3, 1, 0)})
	if fatal != nil || delivered != 3 {
		t.Fatalf("same and unknown rules: delivered %d, %v", delivered, fatal)
	}
	f.Apply(&raft.Log{Type: raft.LogCommand, Data: withRules(4, 2, 8)})
	if !errors.Is(fatal, ErrRulesDiffer) || delivered != 3 || f.applied.Load() != 3 {
		t.Fatalf("other rules: %v, delivered %d, applied %d; want ErrRulesDiffer, 3, 3", fatal, delivered, f.applied.Load())
	}
}

// Members stopped together (Settle, then Close) while one follower lags
// — it was cut off while the others committed, and comes back as the
// others are stopping — all leave having applied every committed input:
// the leader waits for the laggard's acknowledgement, the followers for
// the leader to go. Before, the leader left as soon as its barrier
// committed on a majority, and the laggard met the last entries only at
// its next start (under a changed config, ErrRulesDiffer).
func TestSettleBringsALaggingFollowerAlong(t *testing.T) {
	var lag *member
	var last int64
	ms, _ := startCommitted(t, 3, nil, 5, func(ms []*member, l *member) (err error) {
		lag, last, err = lagAFollower(t, ms, l)
		return err
	})

	// The leader's next retry to the healed follower comes after raft's
	// backoff, which doubles with each failed retry of the cut: about as
	// long again as the cut lasted (1.5 s on a quiet machine; on a loaded
	// one the commits before it stretch it, and a 5 s Settle ended before
	// the retry came: 5 of 65 inputs applied, in a full `make test`
	// beside other work). Each Settle is bounded by this, and ends as
	// soon as the follower holds everything.
	const within = 20 * time.Second
	var wg sync.WaitGroup
	stop := func(m *member) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.r.Settle(within)
			m.r.Close()
		}()
	}
	for _, m := range ms {
		if m != lag {
			stop(m)
		}
	}
	time.Sleep(300 * time.Millisecond) // the barrier has long committed on the other two
	// Healed and stopped at once: raft's retries to it have been backing
	// off since the cut (by over settleGrace after a second cut off on a
	// loaded machine), and it waits for the leader's next one.
	lag.r.Isolate(false)
	stop(lag)
	wg.Wait()
	if got := lag.delivered(); int64(len(got)) != last {
		t.Fatalf("the lagging follower stopped with %d of %d inputs applied", len(got), last)
	}
}

// lagAFollower, on members ms just started with inputs 1…5 committed
// through their leader l (startCommitted), cuts the follower lag off
// (Isolate) and commits inputs 6 to last without it, and waits until it
// has been cut off long enough that the leader's retries to it back off
// past settleGrace. It fails as commitOrLost does when l loses the lead
// before that: a commit that fails with ErrNotLeader, or l no longer
// ready once the cut has lasted.
func lagAFollower(t *testing.T, ms []*member, l *member) (lag *member, last int64, err error) {
	t.Helper()
	lag = followersOf(ms, l)[1]
	waitSame(t, ms, 5)
	lag.r.Isolate(true)
	next := int64(6)
	for range 20 {
		if err := commitOrLost(t, l, next, 3); err != nil {
			return nil, 0, err
		}
		next += 3
	}
	// Cut off long enough that the leader's retries to it back off past
	// settleGrace (raft doubles the wait after each failure, from 10 ms).
	time.Sleep(1500 * time.Millisecond)
	if !l.r.Ready() {
		return nil, 0, fmt.Errorf("member %d no longer leads after the cut", l.r.cfg.NodeID)
	}
	return lag, next - 1, nil
}

// setUpAgainIfLeadLost runs setup, which starts a cluster and brings it
// to where a test begins, at most 3 times. The subject of such a test
// is not raft's leadership: a setup whose leader lost the lead under it
// (heartbeats late on a loaded machine; setup's error, as commitOrLost's)
// voids the setup, not the test. Its members are closed, the error
// logged, and it starts again on a new cluster; the third in a row fails
// the test. It returns the members of the setup that succeeded.
func setUpAgainIfLeadLost(t *testing.T, setup func() ([]*member, error)) []*member {
	t.Helper()
	for try := 1; ; try++ {
		ms, err := setup()
		if err == nil {
			return ms
		}
		for _, m := range ms {
			m.r.Close()
		}
		if try == 3 {
			t.Fatalf("the setup lost its leader %d times in a row, the last: %v", try, err)
		}
		t.Logf("setup %d of at most 3: %v; starting it again on a new cluster", try, err)
	}
}

// commitOrLost is commit for a setup under setUpAgainIfLeadLost: it
// returns the ErrNotLeader of a leader l that lost the lead, wrapped,
// and fails the test on any other error.
func commitOrLost(t *testing.T, l *member, first int64, count int) error {
	t.Helper()
	return leadLostOrFatal(t, l, first, count, tryCommit(l, first, count))
}

// leadLostOrFatal takes err, the answer of leader l committing inputs
// first…: nil for nil, wrapped for an ErrNotLeader (l lost the lead), and
// any other error fails the test.
func leadLostOrFatal(t *testing.T, l *member, first int64, count int, err error) error {
	t.Helper()
	if err == nil {
		return nil
	}
	if !errors.Is(err, ErrNotLeader) {
		t.Fatal(err)
	}
	return fmt.Errorf("member %d committing inputs %d…%d: %w", l.r.cfg.NodeID, first, first+int64(count)-1, err)
}

// startCommitted starts n members, tune as startMembersWith's, commits
// inputs 1…count through the leader it finds, l, and runs then, unless
// nil: the rest of the test's setup, its error as commitOrLost's. All of
// it starts again on a new cluster when l loses the lead before its end
// (setUpAgainIfLeadLost).
func startCommitted(t *testing.T, n int, tune func(*Config), count int, then func(ms []*member, l *member) error) (ms []*member, l *member) {
	t.Helper()
	ms = setUpAgainIfLeadLost(t, func() ([]*member, error) {
		ms := startMembersWith(t, n, nil, tune)
		l = waitLeader(t, ms, nil)
		err := commitOrLost(t, l, 1, count)
		if err == nil && then != nil {
			err = then(ms, l)
		}
		return ms, err
	})
	return ms, l
}

// handLeadTo waits until member to leads and is ready, asking raft's
// leader meanwhile, any other of ms, to hand it the lead: for a test
// that needs to act on to, which may have lost the lead (heartbeats late
// on a loaded machine).
func handLeadTo(t *testing.T, ms []*member, to *member) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !to.r.Ready(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the lead not handed to member %d in 20 s: %+v", to.r.cfg.NodeID, to.r.Status())
		}
		if m := raftLeader(ms); m != nil && m != to {
			m.r.raft.LeadershipTransferToServer(serverID(to.r.cfg.NodeID), raft.ServerAddress(to.r.cfg.Listen)).Error()
		}
	}
}

// leading is whileLeading's lead for a test that needs member l
// leading: it hands the lead to l (handLeadTo).
func leading(t *testing.T, ms []*member, l *member) func() *member {
	return func() *member { handLeadTo(t, ms, l); return l }
}

// anyLeader is whileLeading's lead for a test that needs a leader, any
// member of ms (waitLeader).
func anyLeader(t *testing.T, ms []*member) func() *member {
	return func() *member { return waitLeader(t, ms, nil) }
}

// whileLeading runs step, an act of a test after its setup that needs a
// leader (a commit, a barrier, a leadership transfer), on the member
// lead returns once it leads and is ready (leading, anyLeader). A step whose error says that member lost the lead
// (leadLostAnswering: heartbeats late on a loaded machine) is logged and
// run again on lead's next, at most 3 times in all; the third fails the
// test. It returns the member of the last try and step's answer there,
// for the test to judge: nil, or an error while that member still leads.
func whileLeading(t *testing.T, lead func() *member, step func(l *member) error) (*member, error) {
	t.Helper()
	for try := 1; ; try++ {
		l := lead()
		err := step(l)
		if err == nil {
			return l, nil
		}
		lost := leadLostAnswering(l, err)
		if lost == nil {
			return l, err
		}
		if try == 3 {
			t.Fatalf("the leader lost the lead %d times in a row, the last: %v", try, lost)
		}
		t.Logf("try %d of at most 3: %v; again once a leader is ready", try, lost)
	}
}

// commitWhileLeading is commit after a test's setup, through the leader
// lead returns (whileLeading); it returns that member. A proposal
// answered ErrNotLeader may still have been committed by the leader
// after it: ready, a leader has applied every entry of the terms before,
// and the inputs are proposed again only if the next try's leader did
// not apply them (it delivered them, or counted them as its own).
func commitWhileLeading(t *testing.T, lead func() *member, first int64, count int) *member {
	t.Helper()
	var proposer *member
	l, err := whileLeading(t, lead, func(l *member) error {
		if proposer != nil && l.r.Applied() >= first+int64(count)-1 { // committed under the next leader
			if l == proposer {
				l.inRing(first, count)
			}
			return nil
		}
		proposer = l
		return tryCommit(l, first, count)
	})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// namesLeader is a check for a step of whileLeading run on leader l:
// it waits up to 10 s for member on to name leader id at gateway gw, and
// answers an error once l no longer leads (whileLeading tries again) or
// the wait ends (the test's to judge).
func namesLeader(l, on *member, id uint32, gw string) error {
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		gotID, gotGW := on.r.Leader()
		if gotID == id && gotGW == gw {
			return nil
		}
		if !l.r.Ready() || time.Now().After(deadline) {
			return fmt.Errorf("member %d names leader %d gateway %q, want %d %q", on.r.cfg.NodeID, gotID, gotGW, id, gw)
		}
	}
}

// A new leader's barrier that raft did not take in time is tried again
// while the node leads: given up on, the leader would never take an
// input. Any other failure, losing the lead, or a stop ends the tries.
func TestBarrierTriedAgainWhileLeading(t *testing.T) {
	stop := make(chan struct{})
	fails := func(errs ...error) func() error {
		return func() error {
			if len(errs) == 0 {
				return nil
			}
			err := errs[0]
			errs = errs[1:]
			return err
		}
	}
	leading := func() bool { return true }
	if !barrierWhileLeading(fails(raft.ErrEnqueueTimeout, raft.ErrEnqueueTimeout), leading, stop, zerolog.Nop()) {
		t.Fatal("two enqueue timeouts, then success: gave up")
	}
	if barrierWhileLeading(fails(raft.ErrLeadershipLost), leading, stop, zerolog.Nop()) {
		t.Fatal("leadership lost: went on")
	}
	if barrierWhileLeading(fails(raft.ErrEnqueueTimeout), func() bool { return false }, stop, zerolog.Nop()) {
		t.Fatal("no longer leading: went on")
	}
	close(stop)
	tries := 0
	always := func() error { tries++; return raft.ErrEnqueueTimeout }
	if barrierWhileLeading(always, leading, stop, zerolog.Nop()) || tries != 1 {
		t.Fatalf("stopped: result true or %d tries", tries)
	}
}

// A joining member (no raft state, no Bootstrap) refuses every vote and
// pre-vote and any leadership transfer until it applied the commit index
// of the first leader it heard; then it takes part again.
func TestJoiningMemberRefusesVotesUntilCaughtUp(t *testing.T) {
	tr := &cutTransport{}
	tr.joining.Store(true)
	applied := uint64(0)
	read := func() uint64 { return applied }
	tr.appliedIndex.Store(&read)
	joined := uint64(0)
	tr.onJoined = func(target uint64) { joined = target }
	ask := func(cmd any) (refused bool, resp raft.RPCResponse) {
		ch := make(chan raft.RPCResponse, 1)
		refused = tr.refuseWhileJoining(raft.RPC{Command: cmd, RespChan: ch})
		if refused {
			resp = <-ch
		}
		return refused, resp
	}
	for _, cmd := range []any{&raft.RequestVoteRequest{Term: 3, LastLogIndex: 1, LastLogTerm: 1},
		&raft.RequestVoteRequest{Term: 3, LastLogIndex: 40}, &raft.RequestPreVoteRequest{Term: 3, LastLogIndex: 1}} {
		refused, resp := ask(cmd)
		if !refused || resp.Error != nil {
			t.Fatalf("%T %+v while joining: refused %v, %+v", cmd, cmd, refused, resp)
		}
		switch r := resp.Response.(type) {
		case *raft.RequestVoteResponse:
			if r.Granted || r.Term != 3 {
				t.Fatalf("vote answer %+v", r)
			}
		case *raft.RequestPreVoteResponse:
			if r.Granted || r.Term != 3 {
				t.Fatalf("pre-vote answer %+v", r)
			}
		}
	}
	if refused, resp := ask(&raft.TimeoutNowRequest{}); !refused || resp.Error == nil {
		t.Fatal("leadership transfer to a joining member taken")
	}
	if refused, _ := ask(&raft.AppendEntriesRequest{Term: 3, LeaderCommitIndex: 50}); refused {
		t.Fatal("the leader's entries refused")
	}
	applied = 49
	ask(&raft.AppendEntriesRequest{Term: 3, LeaderCommitIndex: 60}) // the target stays the first leader's
	if !tr.joining.Load() {
		t.Fatal("joined before applying the leader's commit index")
	}
	applied = 50
	ask(&raft.AppendEntriesRequest{Term: 3, LeaderCommitIndex: 60})
	if tr.joining.Load() || joined != 50 {
		t.Fatalf("applied the leader's commit index 50: joining %v, joined at %d", tr.joining.Load(), joined)
	}
}

// A raft directory is marked with its member's id: holding raft state,
// opened by another member (volumes or hosts mixed up) it is refused.
// Holding none — a start with a mistyped node id failed before raft
// stored anything — the right member takes it over; it was refused ever
// after.
func TestRaftDirOfAnotherMemberRefused(t *testing.T) {
	dir := t.TempDir()
	if err := claimDir(dir, 2, false); err != nil {
		t.Fatal(err)
	}
	if err := claimDir(dir, 2, true); err != nil {
		t.Fatalf("its own member: %v", err)
	}
	if err := claimDir(dir, 3, true); err == nil || !strings.Contains(err.Error(), "member 2, not of member 3") {
		t.Fatalf("another member: %v", err)
	}
	if err := claimDir(dir, 3, false); err != nil {
		t.Fatalf("another member's mark on a directory with no raft state: %v", err)
	}
	if err := claimDir(dir, 2, true); err == nil {
		t.Fatal("taken over by member 3, the directory is still member 2's")
	}
}

// A member mark that does not read as a member id — emptied, overwritten,
// or a number past uint32 that would truncate to another id — is refused
// naming the file, with raft state or without, and left as it was: read
// as member 0 it was refused as another member's, or taken over (the
// evidence rewritten) on a directory without raft state; read past 32 bits,
// 2^32+2 was member 2's.
func TestDamagedMemberMarkRefused(t *testing.T) {
	for _, damaged := range []string{"", "\n", "garbage\n", "2 3\n", "-2\n", "4294967298\n", "2\x00\n"} {
		for _, existing := range []bool{false, true} {
			dir := t.TempDir()
			path := filepath.Join(dir, memberFile)
			if err := os.WriteFile(path, []byte(damaged), 0o600); err != nil {
				t.Fatal(err)
			}
			err := claimDir(dir, 2, existing)
			if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "is not a member id") {
				t.Errorf("mark %q, raft state %v: %v; want it refused as no member id, naming %s", damaged, existing, err, path)
			}
			if b, _ := os.ReadFile(path); string(b) != damaged {
				t.Errorf("mark %q, raft state %v: the file now holds %q", damaged, existing, b)
			}
		}
	}
}

// openAt opens member i of peers on dir with the given bootstrap flag.
func openAt(t *testing.T, peers []Peer, i int, dir string, bootstrap bool) *Replicator {
	t.Helper()
	r, err := Open(Config{NodeID: uint32(i + 1), Listen: peers[i].Raft, Peers: peers, Dir: dir, Bootstrap: bootstrap,
		Incarnation: uint64(i + 1), Logger: zerolog.Nop(),
		Deliver: func(b *Batch) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// A new cluster is formed by its members' first start with --bootstrap.
// An operator who first started the members without it (no leader:
// every member "joining") stops them and starts them again with it: the
// cluster forms — nothing was ever committed anywhere. It stayed
// leaderless, the joining mark winning over Bootstrap (found by a review
// helper).
func TestNewClusterFirstStartedWithoutBootstrapFormsWithIt(t *testing.T) {
	peers := testPeers(t, 3)
	dirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	var rs []*Replicator
	for i := range 3 {
		rs = append(rs, openAt(t, peers, i, dirs[i], false)) // forgot --bootstrap
	}
	time.Sleep(time.Second)
	for _, r := range rs {
		r.Close()
	}
	rs = rs[:0]
	for i := range 3 {
		r := openAt(t, peers, i, dirs[i], true) // the first start of the cluster that forms
		rs = append(rs, r)
		t.Cleanup(func() { r.Close() })
	}
	deadline := time.Now().Add(8 * time.Second)
	for time.Now().Before(deadline) {
		for _, r := range rs {
			if r.Ready() {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no leader in 8 s after starting every member with Bootstrap: %+v %+v %+v", rs[0].Status(), rs[1].Status(), rs[2].Status())
}

// A member started again before it had joined — restarted in place to
// load the leader's snapshot it staged, or stopped while it caught up —
// has raft state (the leader's term, log or snapshot) and its joining
// mark: it joins again, and its log line says why. It said "a member with
// no raft state", at every start of a replacement after its first (helper
// 271's walk of the runbook's "A member's machine is lost").
func TestJoiningAgainSaysItHasRaftState(t *testing.T) {
	peers := testPeers(t, 3)
	dir := t.TempDir()
	joiningWhy := func() string {
		t.Helper()
		var buf testkit.SyncBuffer
		r, err := Open(Config{NodeID: 1, Listen: peers[0].Raft, Peers: peers, Dir: dir, Incarnation: 1,
			Logger: zerolog.New(&buf), HeartbeatTimeout: testHeartbeatTimeout, Deliver: func(*Batch) error { return nil }})
		if err != nil {
			t.Fatal(err)
		}
		r.Close()
		for _, line := range strings.Split(buf.String(), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) == nil && m["message"] == "replicator: joining" {
				return fmt.Sprint(m["why"])
			}
		}
		t.Fatalf("no joining line logged:\n%s", buf.String())
		return ""
	}
	if why := joiningWhy(); !strings.Contains(why, "no raft state") {
		t.Fatalf("first start on an empty directory without bootstrap: why %q", why)
	}
	// The term a leader's first message makes it write: raft state.
	stable, err := OpenStableStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := stable.SetUint64([]byte("CurrentTerm"), 3); err != nil {
		t.Fatal(err)
	}
	why := joiningWhy()
	if strings.Contains(why, "no raft state") || !strings.Contains(why, "before it had joined") || !strings.Contains(why, filepath.Join(dir, joiningFile)) {
		t.Fatalf("started again with raft state and its joining mark: why %q", why)
	}
}

// A member's status names its own raft address as its peers give it,
// for ringex status to compare with the membership the others hold.
func TestStatusNamesItsOwnRaftAddress(t *testing.T) {
	peers := testPeers(t, 3)
	r := openAt(t, peers, 1, t.TempDir(), false)
	defer r.Close()
	if got := r.Status().RaftAddr; got != peers[1].Raft {
		t.Fatalf("raft_addr %q, want member 2's peers entry %q", got, peers[1].Raft)
	}
}

// A joining member that has applied the first leader's commit index
// holds what it must: it votes again. When the last RPC it had before
// catching up was that leader's last (the leader then lost, its entries
// applied just after), the next thing it hears is a candidate's vote
// request — it was refused, before the catch-up was looked at, and on
// every retry: no AppendEntries comes without a leader, so in a cluster
// of three with the leader lost the two members left never elected one
// (found by a review helper).
func TestCaughtUpJoiningMemberVotes(t *testing.T) {
	tr := &cutTransport{}
	tr.joining.Store(true)
	applied := uint64(0)
	read := func() uint64 { return applied }
	tr.appliedIndex.Store(&read)
	tr.onJoined = func(uint64) {}
	ch := make(chan raft.RPCResponse, 1)
	tr.refuseWhileJoining(raft.RPC{Command: &raft.AppendEntriesRequest{Term: 3, LeaderCommitIndex: 50}, RespChan: ch})
	applied = 50 // raft applies the entries of that last AppendEntries after the transport passed it on
	for range 3 {
		refused := tr.refuseWhileJoining(raft.RPC{Command: &raft.RequestPreVoteRequest{Term: 4, LastLogIndex: 50, LastLogTerm: 3}, RespChan: ch})
		if refused {
			<-ch
		}
		if refused || tr.joining.Load() {
			t.Fatalf("applied %d of the leader's commit index 50, a candidate's pre-vote: refused %v, joining %v", applied, refused, tr.joining.Load())
		}
	}
}

// A member that joined holds the membership as the leader spelled it: the
// same sockets spelled otherwise in its own peers are the same membership
// (it was refused at its next start, told to "restore the old peers" it
// never changed); another port or id is not.
func TestSameMembershipResolvesAddresses(t *testing.T) {
	servers := func(addrs ...string) []raft.Server {
		var ss []raft.Server
		for i, a := range addrs {
			ss = append(ss, raft.Server{ID: serverID(uint32(i + 1)), Address: raft.ServerAddress(a)})
		}
		return ss
	}
	leaders := servers("localhost:7501", "localhost:7502", "localhost:7503")
	for _, tt := range []struct {
		peers []raft.Server
		same  bool
	}{
		{servers("localhost:7501", "localhost:7502", "localhost:7503"), true},
		{servers("127.0.0.1:7501", "127.0.0.1:7502", "127.0.0.1:7503"), true},
		{servers("127.0.0.1:7501", "127.0.0.1:7502", "127.0.0.1:7599"), false},
		{servers("127.0.0.1:7501", "127.0.0.1:7503", "127.0.0.1:7502"), false},
		{servers("127.0.0.1:7501", "127.0.0.1:7502"), false},
	} {
		if got := sameMembership(leaders, tt.peers, lookedUp(slices.Concat(leaders, tt.peers)).sameSocket); got != tt.same {
			t.Errorf("%v against %v: same %v, want %v", membershipString(tt.peers), membershipString(leaders), got, tt.same)
		}
	}
}

// Contact.Heard carries a monotonic clock reading: the node measures its
// market-data grace from it (now.Sub(Heard)), and on the wall clock an
// NTP step back of an hour kept a cut-off member "in touch", serving its
// frozen book, for that hour.
func TestContactHeardIsOnTheMonotonicClock(t *testing.T) {
	ms := startMembers(t, 3, nil)
	l := waitLeader(t, ms, nil)
	f := followersOf(ms, l)[0]
	var c Contact
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if c = f.r.Contact(); !c.Heard.IsZero() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the follower heard no commit index in 10 s")
		}
	}
	if !strings.Contains(c.Heard.String(), " m=") {
		t.Fatalf("Contact.Heard %v has no monotonic reading: the grace would be measured on the wall clock", c.Heard)
	}
}

// ownSnapshotMember runs a single member on a new directory until it has
// committed inputs 1…5 and taken a raft snapshot of them (Compact), and
// stops it. open starts it again on that directory with the node holding
// inputs 1…applied; its raft snapshots are an 8-byte reach and 4 KiB of
// state.
func ownSnapshotMember(t *testing.T) (dir string, open func(applied int64, log zerolog.Logger) (*Replicator, error)) {
	t.Helper()
	dir, config := ownSnapshotMemberConfig(t)
	return dir, func(applied int64, log zerolog.Logger) (*Replicator, error) { return Open(config(applied, log)) }
}

// ownSnapshotMemberConfig is ownSnapshotMember giving the config open
// starts the member with, to change before Open.
func ownSnapshotMemberConfig(t *testing.T) (dir string, config func(applied int64, log zerolog.Logger) Config) {
	t.Helper()
	peers := []Peer{{ID: 1, Raft: testkit.ReserveAddrs(t, 1)[0], Gateway: "gw-1"}}
	dir = t.TempDir()
	enc := func(v int64, w io.Writer) error {
		if err := binary.Write(w, binary.LittleEndian, v); err != nil {
			return err
		}
		_, err := w.Write(make([]byte, 4096)) // the state after the header
		return err
	}
	dec := func(r io.Reader) (int64, error) {
		var v int64
		err := binary.Read(r, binary.LittleEndian, &v)
		return v, err
	}
	config = func(applied int64, log zerolog.Logger) Config {
		return Config{NodeID: 1, Listen: peers[0].Raft, Peers: peers, Dir: dir, Bootstrap: true, Incarnation: 1,
			Logger: log, Applied: applied, HeartbeatTimeout: testHeartbeatTimeout,
			Deliver:  func(*Batch) error { return nil },
			Snapshot: enc, Install: dec, SnapshotApplied: dec}
	}
	r, err := Open(config(0, zerolog.Nop()))
	if err != nil {
		t.Fatal(err)
	}
	snapshotOwnBatch(t, r, 1, 5)
	return dir, config
}

// A member whose last raft log write a crash tore (its fsync never
// returned: nothing of it acknowledged) opens without it, and says so at
// warn level — segment, bytes and the entries dropped. It was silent: an
// operator who found entries missing from a member's log had no trace of
// why.
func TestOpenReportsTornLastWrite(t *testing.T) {
	peers := []Peer{{ID: 1, Raft: testkit.ReserveAddrs(t, 1)[0], Gateway: "gw-1"}}
	dir := t.TempDir()
	open := func(log zerolog.Logger) *Replicator {
		t.Helper()
		r, err := Open(Config{NodeID: 1, Listen: peers[0].Raft, Peers: peers, Dir: dir, Bootstrap: true, Incarnation: 1,
			Logger: log, HeartbeatTimeout: testHeartbeatTimeout, Deliver: func(*Batch) error { return nil }})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	r := open(zerolog.Nop())
	awaitReady(t, r)
	r.Close()
	logs, err := OpenLogStore(filepath.Join(dir, "log"))
	if err != nil {
		t.Fatal(err)
	}
	last, _ := logs.LastIndex()
	logs.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "log", "*.rlog"))
	if len(segs) != 1 {
		t.Fatalf("segments %v", segs)
	}
	seg := segs[len(segs)-1]
	fi, err := os.Stat(seg)
	if err != nil {
		t.Fatal(err)
	}
	// The start of an entry the crash cut short: its length and part of
	// its checksum.
	f, err := os.OpenFile(seg, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte{100, 0, 0, 0, 0xde, 0xad}); err != nil {
		t.Fatal(err)
	}
	f.Close()

	var buf testkit.SyncBuffer
	open(zerolog.New(&buf)).Close()
	var found map[string]any
	for _, line := range strings.Split(buf.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && strings.Contains(fmt.Sprint(m["message"]), "torn last write") {
			found = m
		}
	}
	if found == nil {
		t.Fatalf("nothing logged of the torn write:\n%s", buf.String())
	}
	want := map[string]any{"level": "warn", "segment": seg, "bytes": 6.0, "offset": float64(fi.Size()),
		"first_index": float64(last + 1), "last_index": float64(last + 1)}
	for k, v := range want {
		if found[k] != v {
			t.Errorf("%s = %v, want %v (%v)", k, found[k], v, found)
		}
	}
}

// A member whose raft log is there and whose stable store (current term,
// vote) is not refuses to start, naming the file: raft wrote the term
// before the log, so the file was lost, and started on term 0 with no
// vote the member could grant a second vote in a term it voted in —
// two leaders in one term. It started.
func TestStableStoreLostBesideTheLogRefused(t *testing.T) {
	peers := []Peer{{ID: 1, Raft: testkit.ReserveAddrs(t, 1)[0], Gateway: "gw-1"}}
	dir := t.TempDir()
	open := func() (*Replicator, error) {
		return Open(Config{NodeID: 1, Listen: peers[0].Raft, Peers: peers, Dir: dir, Bootstrap: true, Incarnation: 1,
			Logger: zerolog.Nop(), HeartbeatTimeout: testHeartbeatTimeout, Deliver: func(*Batch) error { return nil }})
	}
	r, err := open() // a new member: nothing on disk, no stable file yet
	if err != nil {
		t.Fatal(err)
	}
	awaitReady(t, r)
	r.Close()
	if r, err = open(); err != nil {
		t.Fatalf("restart with its stable store: %v", err)
	}
	r.Close()
	stable := filepath.Join(dir, stableName)
	if err := os.Remove(stable); err != nil {
		t.Fatal(err)
	}
	r, err = open()
	if err == nil {
		r.Close()
		t.Fatal("started on a raft log without its term and vote")
	}
	if !errors.Is(err, ErrStableLost) || !strings.Contains(err.Error(), stable) {
		t.Fatalf("refused with %v, want ErrStableLost naming %s", err, stable)
	}
}

// awaitReady waits up to 10 s for a single-member r to lead and be ready,
// closing it and failing the test if it does not.
func awaitReady(t *testing.T, r *Replicator) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !r.Ready(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			r.Close()
			t.Fatal("no leader")
		}
	}
}

// A node whose input ring was halted for a stop answers Deliver with
// ErrDeliveryStopped: that entry and every later one are left
// undelivered, and nothing is fatal (a later entry would otherwise fail
// as not following the inputs). Opened again, the member is delivered
// them all from its raft log.
func TestDeliveryStoppedLeavesTheRestForTheNextStart(t *testing.T) {
	var f *member
	ms, _ := startCommitted(t, 3, nil, 5, func(ms []*member, l *member) error {
		waitSame(t, ms, 5)
		f = followersOf(ms, l)[0]
		stopped := func() error { return fmt.Errorf("%w: halted", ErrDeliveryStopped) }
		f.beforeDeliver.Store(&stopped)
		for _, first := range []int64{6, 11} {
			if err := commitOrLost(t, l, first, 5); err != nil {
				return err
			}
		}
		return nil
	})
	waitSame(t, followersOf(ms, f), 15)
	if got := f.delivered(); len(got) != 5 {
		t.Fatalf("delivered %v after the stop, want inputs 1…5 only", got)
	}
	f.mu.Lock()
	fail := f.fail
	f.mu.Unlock()
	if fail != nil {
		t.Fatalf("a delivery after the stop was fatal: %v", fail)
	}

	dir, idx := f.r.cfg.Dir, int(f.r.cfg.NodeID-1)
	f.r.Close()
	again, err := openMember(t, f.r.cfg.Peers, idx, dir, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	waitSame(t, []*member{again}, 15) // its "ring" is new: every input again, in order
}

// waitFatal is the error m's OnFatal was called with, waited for up to
// 10 s; past that the test fails with hung's text.
func waitFatal(t *testing.T, m *member, hung func() string) error {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		m.mu.Lock()
		fatal := m.fail
		m.mu.Unlock()
		if fatal != nil {
			return fatal
		}
		if time.Now().After(deadline) {
			t.Fatal(hung())
		}
	}
}

// noneFailed fails the test if OnFatal was called on any of ms.
func noneFailed(t *testing.T, ms []*member) {
	t.Helper()
	for _, m := range ms {
		m.mu.Lock()
		err := m.fail
		m.mu.Unlock()
		if err != nil {
			t.Fatalf("member %d failed: %v", m.r.cfg.NodeID, err)
		}
	}
}

// snapshotOwnBatch proposes a batch of count inputs from first, of this
// member (origin 1, incarnation 1), at r once it is ready, takes a raft
// snapshot and closes r.
func snapshotOwnBatch(t *testing.T, r *Replicator, first int64, count int) {
	t.Helper()
	defer r.Close()
	awaitReady(t, r)
	e := batch(first, count)
	binary.LittleEndian.PutUint32(e[4:], 1) // origin: this member
	binary.LittleEndian.PutUint64(e[8:], 1) // its incarnation
	if err := r.Propose(e); err != nil {
		t.Fatal(err)
	}
	if err := r.Compact(); err != nil {
		t.Fatal(err)
	}
}
