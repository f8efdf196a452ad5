package node

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/proto/wire"
	"github.com/ringex/ringex/replicator"
	"github.com/rs/zerolog"
)

// The market data of a cluster member is current while a leader is in
// touch, stops being so mdLeaderGrace after the last contact, and is
// again once a leader is in touch and the member applied what that
// leader had committed (mdcurrent.go).
func TestLeaderContact(t *testing.T) {
	// Times are in thousandths of mdLeaderGrace after start ("ms" of a
	// one-second grace).
	start := time.Unix(1000, 0)
	at := func(ms int) time.Time { return start.Add(time.Duration(ms) * mdLeaderGrace / 1000) }
	type step struct {
		ms      int // now, after start
		c       replicator.Contact
		current bool
	}
	heard := func(ms int, commit, applied uint64) replicator.Contact {
		return replicator.Contact{Heard: at(ms), LeaderCommit: commit, Applied: applied}
	}
	for _, tt := range []struct {
		name  string
		steps []step
	}{
		{"a follower in touch stays current", []step{
			{400, heard(300, 10, 10), true}, {1200, heard(1100, 12, 11), true}, {5000, heard(4900, 50, 20), true}}},
		{"no leader since the start", []step{
			{500, replicator.Contact{}, true}, {1000, replicator.Contact{}, false}}},
		{"a follower cut off, then back and caught up", []step{
			{100, heard(100, 10, 10), true},
			{1050, heard(100, 10, 10), true},               // within the grace
			{1100, heard(100, 10, 10), false},              // lost
			{3000, heard(100, 10, 10), false},              // nothing heard since
			{3100, heard(3050, 40, 10), false},             // a leader again: catching up to 40
			{3200, heard(3150, 45, 39), false},             // the target stays 40, not each later commit
			{3300, heard(3250, 50, 40), true},              // applied what was committed while away
			{4200, heard(3250, 50, 50), true},              // within the grace of the last contact
			{4300, heard(3250, 50, 50), false},             // cut off again
			{4400, replicator.Contact{Applied: 50}, false}, // no leader known
		}},
		{"a leader heard before the cut does not count", []step{
			{0, heard(0, 5, 5), true}, {1000, heard(0, 5, 5), false}, {1100, heard(0, 5, 5), false}}},
		{"a contact older than the grace does not bring it back", []step{
			{0, heard(0, 5, 5), true}, {1000, heard(0, 5, 5), false},
			{1100, heard(1050, 5, 5), true}, {2100, heard(1050, 5, 5), false},
			{3300, heard(2200, 5, 5), false}}}, // heard after the loss, but too long ago
		{"the ready leader is current", []step{
			{1500, replicator.Contact{Leading: true, Applied: 3}, true},
			{2400, replicator.Contact{Applied: 9}, true},                                  // deposed: still within the grace
			{2600, replicator.Contact{Applied: 9}, false},                                 // no leader for longer
			{4000, replicator.Contact{Leading: true, LeaderCommit: 99, Applied: 9}, true}, // leading again: its barrier applied everything
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := leaderContact{grace: mdLeaderGrace, current: true, touched: start}
			for i, s := range tt.steps {
				changed := l.update(at(s.ms), s.c)
				if l.current != s.current {
					t.Fatalf("step %d (%d ms, %+v): current %v, want %v", i, s.ms, s.c, l.current, s.current)
				}
				if i > 0 && changed != (tt.steps[i-1].current != s.current) {
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

// A member that has had no leader in touch since its start — a follower
// restarted after a while, waiting out the leader's backed-off retries —
// stops serving its restored books after the grace like a member cut
// off, but says so at info: it is catching up. The warning is for a
// member that was in touch and lost it, and, once, for one still
// without a leader mdStartWait after its start (mdcurrent.go, 5).
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
			{g, replicator.Contact{Applied: 10}, "info"}, // not current: catching up
			{2 * g, replicator.Contact{Applied: 10}, ""},
			{2*g + 100*time.Millisecond, heard(2*g, 40, 10), ""},     // a leader: catching up to 40
			{2*g + 200*time.Millisecond, heard(2*g, 40, 40), "info"}, // current again
			{3*g + 300*time.Millisecond, heard(2*g, 40, 40), "warn"}, // in touch once, then lost: cut off
		}},
		{"in touch, then lost", []step{
			{100 * time.Millisecond, heard(100*time.Millisecond, 5, 5), ""},
			{g + 100*time.Millisecond, heard(100*time.Millisecond, 5, 5), "warn"},
		}},
		{"leading, then no leader", []step{
			{g / 2, replicator.Contact{Leading: true}, ""},
			{g/2 + g, replicator.Contact{}, "warn"},
		}},
		{"no leader long after the start", []step{
			{g, replicator.Contact{}, "info"},
			{mdStartWait - time.Millisecond, replicator.Contact{}, ""},
			{mdStartWait, replicator.Contact{}, "warn"}, // once
			{2 * mdStartWait, replicator.Contact{}, ""},
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			l := leaderContact{grace: mdLeaderGrace, current: true, touched: start}
			for i, s := range tt.steps {
				logs.Reset()
				l.look(start.Add(s.after), s.c, zerolog.New(&logs))
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
