package node

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
	"github.com/ringex/ringex/replicator"
	"github.com/rs/zerolog"
)

// The market data of a cluster member is not current at its start, is
// once a leader is in touch and the member's books reflect what that
// leader had committed, or once it is the ready leader and its books
// reflect what it applied, stops being so mdLeaderGrace after the last
// contact, and is again as at its start (mdcurrent.go). A zero
// mdProgress is books through input 0: caught up with a contact naming
// no input.
func TestLeaderContact(t *testing.T) {
	// Times are in thousandths of mdLeaderGrace after start ("ms" of a
	// one-second grace).
	start := time.Unix(1000, 0)
	at := func(ms int) time.Time { return start.Add(time.Duration(ms) * mdLeaderGrace / 1000) }
	type step struct {
		ms      int // now, after start
		c       replicator.Contact
		p       mdProgress
		current bool
	}
	heard := func(ms int, commit, applied uint64) replicator.Contact {
		return replicator.Contact{Heard: at(ms), LeaderCommit: commit, Applied: applied}
	}
	heardInputs := func(ms int, commit, applied uint64, inputs int64) replicator.Contact {
		c := heard(ms, commit, applied)
		c.Inputs = inputs
		return c
	}
	for _, tt := range []struct {
		name  string
		steps []step
	}{
		{"a follower in touch stays current", []step{
			{400, heard(300, 10, 10), mdProgress{}, true}, {1200, heard(1100, 12, 11), mdProgress{}, true}, {5000, heard(4900, 50, 20), mdProgress{}, true}}},
		{"no leader since the start", []step{
			{500, replicator.Contact{}, mdProgress{}, false}, {1000, replicator.Contact{Applied: 10}, mdProgress{}, false}, {5000, replicator.Contact{Applied: 10}, mdProgress{}, false}}},
		{"restarted: not current until caught up", []step{
			{100, replicator.Contact{Applied: 10}, mdProgress{}, false}, // its restored book
			{1500, heard(1450, 40, 10), mdProgress{}, false},            // a leader: catching up to 40
			{1600, heard(1550, 45, 39), mdProgress{}, false},            // the target stays 40
			{1700, heard(1650, 50, 40), mdProgress{}, true},             // applied what was committed before it came back
			{2600, heard(1650, 50, 50), mdProgress{}, true},             // within the grace of the last contact
			{2700, heard(1650, 50, 50), mdProgress{}, false},            // cut off: as in the run before
			{2800, heard(2750, 60, 50), mdProgress{}, false},            // back: catching up to 60
			{2900, heard(2850, 60, 60), mdProgress{}, true}}},
		{"a follower cut off, then back and caught up", []step{
			{100, heard(100, 10, 10), mdProgress{}, true},
			{1050, heard(100, 10, 10), mdProgress{}, true},               // within the grace
			{1100, heard(100, 10, 10), mdProgress{}, false},              // lost
			{3000, heard(100, 10, 10), mdProgress{}, false},              // nothing heard since
			{3100, heard(3050, 40, 10), mdProgress{}, false},             // a leader again: catching up to 40
			{3200, heard(3150, 45, 39), mdProgress{}, false},             // the target stays 40, not each later commit
			{3300, heard(3250, 50, 40), mdProgress{}, true},              // applied what was committed while away
			{4200, heard(3250, 50, 50), mdProgress{}, true},              // within the grace of the last contact
			{4300, heard(3250, 50, 50), mdProgress{}, false},             // cut off again
			{4400, replicator.Contact{Applied: 50}, mdProgress{}, false}, // no leader known
		}},
		{"a leader heard before the cut does not count", []step{
			{0, heard(0, 5, 5), mdProgress{}, true}, {1000, heard(0, 5, 5), mdProgress{}, false}, {1100, heard(0, 5, 5), mdProgress{}, false}}},
		{"a contact older than the grace does not bring it back", []step{
			{0, heard(0, 5, 5), mdProgress{}, true}, {1000, heard(0, 5, 5), mdProgress{}, false},
			{1100, heard(1050, 5, 5), mdProgress{}, true}, {2100, heard(1050, 5, 5), mdProgress{}, false},
			{3300, heard(2200, 5, 5), mdProgress{}, false}}}, // heard after the loss, but too long ago
		{"the ready leader is current", []step{
			{1500, replicator.Contact{Leading: true, Applied: 3}, mdProgress{}, true},
			{2400, replicator.Contact{Applied: 9}, mdProgress{}, true},                                  // deposed: still within the grace
			{2600, replicator.Contact{Applied: 9}, mdProgress{}, false},                                 // no leader for longer
			{4000, replicator.Contact{Leading: true, LeaderCommit: 99, Applied: 9}, mdProgress{}, true}, // leading again: its barrier applied everything
		}},
		{"a follower's books behind the inputs it took", []step{
			{100, replicator.Contact{Applied: 10, Inputs: 50}, mdProgress{engine: 50}, false},
			{1500, heardInputs(1450, 40, 40, 120), mdProgress{engine: 50, published: 7, fanout: 7}, false},    // took the target's entries, and inputs through 120
			{1600, heardInputs(1550, 45, 45, 130), mdProgress{engine: 119, published: 9, fanout: 9}, false},   // the inputs awaited stay 120
			{1700, heardInputs(1650, 50, 50, 140), mdProgress{engine: 125, published: 12, fanout: 10}, false}, // the engine through 120 with the ring at 12: the fan-out at 10
			{1800, heardInputs(1750, 55, 55, 150), mdProgress{engine: 150, published: 20, fanout: 12}, true},  // the fan-out through 12, not 20
		}},
		{"a port closed: the engine's books are the next image", []step{
			{1500, heardInputs(1450, 40, 40, 120), mdProgress{engine: 119, closed: true}, false},
			{1600, heardInputs(1550, 40, 40, 120), mdProgress{engine: 120, published: 30, closed: true}, true},
		}},
		{"the ready leader's books behind what it applied", []step{
			{1500, replicator.Contact{Leading: true, Applied: 9, Inputs: 80}, mdProgress{engine: 79, closed: true}, false},
			{1600, replicator.Contact{Leading: true, Applied: 9, Inputs: 90}, mdProgress{engine: 80, published: 5, fanout: 4}, false}, // awaits input 80, the events through 5
			{1700, replicator.Contact{Leading: true, Applied: 9, Inputs: 95}, mdProgress{engine: 95, published: 9, fanout: 5}, true},
		}},
		{"a leader deposed while waiting for its books waits for a leader again", []step{
			{1500, replicator.Contact{Leading: true, Applied: 9, Inputs: 80}, mdProgress{engine: 79, closed: true}, false}, // awaits input 80
			{1600, replicator.Contact{Applied: 9, Inputs: 80}, mdProgress{engine: 80, closed: true}, false},                // deposed: books through 80, but no leader heard
			{1700, heardInputs(1650, 20, 9, 80), mdProgress{engine: 80, closed: true}, false},                              // the new leader's: catching up to 20
			{1800, heardInputs(1750, 25, 20, 100), mdProgress{engine: 99, closed: true}, false},                            // awaits input 100, its target's, not 80
			{1900, heardInputs(1850, 30, 30, 110), mdProgress{engine: 100, closed: true}, true},
		}},
		{"a leader deposed keeps the larger of its targets", []step{
			{100, heard(100, 40, 10), mdProgress{engine: 50, closed: true}, false},                                           // a follower catching up to 40
			{200, replicator.Contact{Leading: true, Applied: 45, Inputs: 120}, mdProgress{engine: 100, closed: true}, false}, // the ready leader: awaits input 120
			{300, heardInputs(100, 40, 45, 120), mdProgress{engine: 119, closed: true}, false},                               // deposed: 40 applied, input 120 still awaited
			{400, heardInputs(100, 40, 45, 120), mdProgress{engine: 120, closed: true}, true},                                // in touch by the contact at 100, within the grace
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var l leaderContact
			l.start(start, mdLeaderGrace)
			for i, s := range tt.steps {
				changed := l.update(at(s.ms), s.c, s.p)
				if l.current != s.current {
					t.Fatalf("step %d (%d ms, %+v): current %v, want %v", i, s.ms, s.c, l.current, s.current)
				}
				if was := i > 0 && tt.steps[i-1].current; changed != (was != s.current) {
					t.Fatalf("step %d: changed %v", i, changed)
				}
			}
		})
	}
}

// A member whose books are not current (a cluster member out of touch
// with the leader) tells each subscriber so for each of its instruments,
// closes it, and refuses Subscribe with the same reason until its books
// are current again; a connection that was subscribed to nothing stays.
func TestMarketDataNotCurrentClosesAndRefuses(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	sub := subscribeMD(t, addrs.MarketData, 1)
	sub.Subscribe(2)
	next(t, sub, func(m client.Message) bool { return m.Type == wire.MessageBookSnapshot && m.Instrument == 2 })
	idle := dialMD(t, addrs.MarketData)

	n.mdHub.setCurrent(false)
	refused := map[uint32]bool{}
	sub.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		m, err := sub.Next()
		if err != nil {
			wantToldWhy(t, err, "not_current") // after the SubscribeRejects
			break
		}
		if m.Type == wire.MessageSubscribeReject && m.SubscribeReject == wire.SubscribeRejectReasonNotCurrent {
			refused[m.Instrument] = true
		}
	}
	if !refused[1] || !refused[2] {
		t.Fatalf("subscriber closed having been told NotCurrent for %v, want instruments 1 and 2", refused)
	}
	wantClosed(t, n, mdNotCurrent, 1)
	refuse := func(c *client.Client) {
		t.Helper()
		c.Subscribe(1)
		m := next(t, c, func(m client.Message) bool { return m.Type != wire.MessageHeartbeat })
		if m.Type != wire.MessageSubscribeReject || m.Instrument != 1 || m.SubscribeReject != wire.SubscribeRejectReasonNotCurrent {
			t.Fatalf("Subscribe while not current answered %+v, want SubscribeReject{1, NotCurrent}", m)
		}
	}
	refuse(idle)
	refuse(dialMD(t, addrs.MarketData))

	n.mdHub.setCurrent(true)
	idle.Subscribe(1)
	next(t, idle, func(m client.Message) bool { return m.Type == wire.MessageBookSnapshot && m.Instrument == 1 })
}

// A member is not current at its start — a follower restarted after a
// while waits out the leader's backed-off retries, then catches up —
// and says so once, at info (startLeaderContact); becoming current is
// said at info too. The warning is for a member that was current and
// lost it, and, once, for one not yet current mdStartWait after its
// start: no leader, or what it committed still not applied
// (mdcurrent.go, 5).
func TestLeaderContactCatchingUpAfterTheStartIsNoWarning(t *testing.T) {
	start := time.Unix(1000, 0)
	type step struct {
		after time.Duration // now, after start
		c     replicator.Contact
		level string // of the line logged, "" for none
	}
	heard := func(after time.Duration, commit, applied uint64) replicator.Contact {
		return replicator.Contact{Heard: start.Add(after), LeaderCommit: commit, Applied: applied}
	}
	g := mdLeaderGrace
	for _, tt := range []struct {
		name  string
		steps []step
	}{
		{"restarted, the leader in touch after the grace", []step{
			{g / 2, replicator.Contact{Applied: 10}, ""},
			{g, replicator.Contact{Applied: 10}, ""}, // no leader yet: catching up, said at the start
			{2 * g, replicator.Contact{Applied: 10}, ""},
			{2*g + 100*time.Millisecond, heard(2*g, 40, 10), ""},     // a leader: catching up to 40
			{2*g + 200*time.Millisecond, heard(2*g, 40, 40), "info"}, // current
			{3*g + 300*time.Millisecond, heard(2*g, 40, 40), "warn"}, // in touch, then lost: cut off
		}},
		{"in touch, then lost", []step{
			{100 * time.Millisecond, heard(100*time.Millisecond, 5, 5), "info"},
			{g + 100*time.Millisecond, heard(100*time.Millisecond, 5, 5), "warn"},
			{mdStartWait, replicator.Contact{}, ""}, // current once: not a start that never was
		}},
		{"leading, then no leader", []step{
			{g / 2, replicator.Contact{Leading: true}, "info"},
			{g/2 + g, replicator.Contact{}, "warn"},
		}},
		{"no leader long after the start", []step{
			{g, replicator.Contact{}, ""},
			{mdStartWait - time.Millisecond, replicator.Contact{}, ""},
			{mdStartWait, replicator.Contact{}, "warn"}, // once
			{2 * mdStartWait, replicator.Contact{}, ""},
		}},
		{"a leader in touch, still catching up long after the start", []step{
			{g, heard(g/2, 1000, 10), ""},
			{mdStartWait, heard(mdStartWait-100*time.Millisecond, 1000, 500), "warn"},
			{mdStartWait + g/2, heard(mdStartWait+g/4, 1200, 1000), "info"},
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			var l leaderContact
			l.start(start, mdLeaderGrace)
			for i, s := range tt.steps {
				logs.Reset()
				l.look(start.Add(s.after), s.c, mdProgress{}, zerolog.New(&logs))
				level := ""
				if lines := strings.Split(strings.TrimSpace(logs.String()), "\n"); len(lines) > 1 {
					t.Fatalf("step %d (%v): logged %d lines, want at most one:\n%s", i, s.after, len(lines), logs.String())
				} else if lines[0] != "" {
					var e struct{ Level string }
					if err := json.Unmarshal([]byte(lines[0]), &e); err != nil {
						t.Fatalf("step %d: %v: %s", i, err, lines[0])
					}
					level = e.Level
				}
				if level != s.level {
					t.Fatalf("step %d (%v after the start, %+v): logged %q at %q, want level %q", i, s.after, s.c, logs.String(), level, s.level)
				}
			}
		})
	}
}

// currentSnapshot subscribes to instrument on the market-data port at
// addr until it is answered the book snapshot (testkit.SubscribeCurrent),
// which it returns with the number of Subscribes refused NotCurrent
// before — a member not yet current — waiting up to within.
func currentSnapshot(t *testing.T, addr string, instrument uint32, within time.Duration, members ...*Node) (client.Message, int) {
	t.Helper()
	c := dialMD(t, addr)
	defer c.Close()
	m, refused, err := testkit.SubscribeCurrent(c, instrument, time.Now().Add(within))
	if err != nil {
		t.Fatalf("market data at %s: %v%s", addr, err, fates(members))
	}
	return m, refused
}

// wantBidsFrom fails t unless the book snapshot m holds a bid at the
// price of each of publishBids' bids from..to.
func wantBidsFrom(t *testing.T, m client.Message, in config.Instrument, from, to uint64) {
	t.Helper()
	for i := from; i <= to; i++ {
		price := in.ReferencePrice - int64(1+i%40)*in.TickSize
		if !slices.ContainsFunc(m.Bids, func(l proto.Level) bool { return l.Price == price }) {
			t.Fatalf("book snapshot at input %d has no bid at %d (bid %d of %d..%d): %d bid levels — a book older than the inputs committed", m.InputSeq, price, i, from, to, len(m.Bids))
		}
	}
}

// A follower restarted while the leader commits more inputs restores
// the book of its stop, older than what the cluster committed while it
// was down. It does not serve that book as current: a Subscribe there
// is refused NotCurrent until it has applied what its leader had
// committed, and the first snapshot it gives holds every bid committed
// before it came back. It served its restored book at once before (a
// member started current, mdcurrent.go).
func TestARestartedFollowerServesNoBookOlderThanItsStart(t *testing.T) {
	ns := startTestCluster(t)
	l := publishBids(t, ns, nil, 1, 5)
	fi := slices.IndexFunc(ns, func(n *Node) bool { return n != l })
	f := ns[fi]
	if err := f.Stop(); err != nil {
		t.Fatal(err)
	}
	l = publishBids(t, ns, f, 6, 30)
	committed := appliedAll(t, l)

	f2, addrs, _ := startNodeWith(t, f.cfg, Options{})
	ns[fi] = f2
	in := f2.cfg.Instruments[0]
	snap, refused := currentSnapshot(t, addrs.MarketData, in.ID, 20*time.Second, ns...)
	t.Logf("restarted follower %d: %d Subscribes refused NotCurrent, then a snapshot at input %d (the leader's last input %d)",
		f2.cfg.Node.ID, refused, snap.InputSeq, committed.Seq)
	wantBidsFrom(t, snap, in, 1, 30)
}

// After the whole cluster restarts, no member is current until a
// leader is elected and ready, or has sent it its commit index and the
// member applied it: Subscribes are refused NotCurrent until then, and
// then every member serves the book of every input committed. The time
// each member took from the restart's beginning is logged: the figure
// mdcurrent.go's comment gives.
func TestAfterAWholeClusterRestartEveryMemberServesOnceCurrent(t *testing.T) {
	ns := startTestCluster(t)
	publishBids(t, ns, nil, 1, 10)
	var wg sync.WaitGroup
	for _, n := range ns {
		wg.Go(func() {
			if err := n.Stop(); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	addrs := make([]Addrs, len(ns))
	for i, n := range ns {
		ns[i], addrs[i], _ = startNodeWith(t, n.cfg, Options{})
	}
	started := time.Now() // the last member's Start returned
	served := make([]time.Duration, len(ns))
	waitWithin(t, 20*time.Second, func() bool {
		all := true
		for i, n := range ns {
			if served[i] == 0 {
				n.checkLeaderContact() // as a Subscribe refused does
				if n.mdHub.notCurrent.Load() {
					all = false
				} else {
					served[i] = time.Since(started)
				}
			}
		}
		return all
	}, ns...)
	in := ns[0].cfg.Instruments[0]
	for i, n := range ns {
		t.Logf("member %d (election timeout %v): current %v after the last member started",
			n.cfg.Node.ID, n.cfg.Cluster.ElectionTimeout, served[i].Round(time.Millisecond))
		snap, _ := currentSnapshot(t, addrs[i].MarketData, in.ID, 5*time.Second, ns...)
		wantBidsFrom(t, snap, in, 1, 10)
	}
}

// A member whose state machine took what its leader had committed, its
// engine not yet having applied those inputs, is not current: its books
// are older than what was committed. It is once its engine applied them,
// and serves their book. Judged on raft's applied index, it was current
// at once and served the older book — under load, helper 346's run of
// TestAfterAWholeClusterRestartEveryMemberServesOnceCurrent: a book at
// input 0. Here the follower's engine is held while the leader commits,
// and its contact is then as at its start (4).
func TestAMemberIsNotCurrentBeforeItsEngineAppliedWhatWasCommitted(t *testing.T) {
	ns := startTestCluster(t)
	l := publishBids(t, ns, nil, 1, 5)
	before := appliedAll(t, l)
	f := ns[slices.IndexFunc(ns, func(n *Node) bool { return n != l })]
	waitUntil(t, func() bool { return f.stateNow().Seq >= before.Seq }, ns...)
	release := holdEngine(t, f)
	defer release()
	committed := appliedAll(t, publishBids(t, ns, f, 6, 30))
	took := func() bool {
		c := f.cl.r.Contact()
		return f.cl.r.Applied() >= committed.Seq && c.Applied >= c.LeaderCommit
	}
	waitUntil(t, took, ns...)

	lc := &f.cl.contact
	lc.mu.Lock()
	lc.start(time.Now(), lc.grace)
	lc.mu.Unlock()
	f.mdHub.setCurrent(false)
	f.checkLeaderContact() // the leader's commit index was heard within the grace, and taken
	if !f.mdHub.notCurrent.Load() {
		t.Fatalf("member %d current with its engine held at input %d, its state machine through input %d: its books are older than what was committed",
			f.cfg.Node.ID, f.base+f.stats.engine.Sequence().Load(), f.cl.r.Applied())
	}
	release()
	waitUntil(t, func() bool { f.checkLeaderContact(); return !f.mdHub.notCurrent.Load() }, ns...)
	in := f.cfg.Instruments[0]
	snap, _ := currentSnapshot(t, f.mdLn.Addr().String(), in.ID, 5*time.Second, ns...)
	wantBidsFrom(t, snap, in, 1, 30)
}
