package gateway

import (
	"errors"
	"testing"
	"time"

	"github.com/ringex/ringex/client"
)

// Two members of a cluster whose clocks read the same nanosecond give
// out different session ids: a client that logs on to one after a
// failover, naming its session on the other (Logon.replaces_session),
// must not name a live session there, and an order's session, journaled
// and replicated, must not name another member's. Before, every member
// counted up from its start time in ns: the first logon on each of two
// members started in the same nanosecond got the same id.
func TestSessionIDsOfTwoMembersStartedTogetherDiffer(t *testing.T) {
	at := time.Unix(1_800_000_000, 123_456_789)
	now := func() time.Time { return at }
	seen := map[uint64]uint32{}
	for _, member := range []uint32{1, 2} {
		g, _ := startGateway(t, Config{Member: member, Now: now})
		for range 3 {
			c, err := client.Dial(g.Addr().String(), 1, "one", client.Options{AutoFlush: true})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if other, dup := seen[c.Session]; dup {
				t.Fatalf("member %d gave out session id %d, which member %d gave out too", member, c.Session, other)
			}
			seen[c.Session] = member
		}
	}
}

// newSessionID: ids of members whose clocks agree, or whose own ids run
// ahead of them, never meet; a member's ids grow, and those a member
// gives out after a restart come after those it gave out before: by the
// clock at fewer than ~950 logons a second (faster, its ids run ahead of
// it, by ~1 ms a logon), and whatever the clock says from the last id
// its recovered state holds (Config.Resume).
func TestNewSessionID(t *testing.T) {
	start := time.Unix(1_800_000_000, 0).UnixNano()
	gateways := func(at int64) []*Gateway {
		var gs []*Gateway
		for _, member := range []uint32{1, 2, 3, 1<<memberBits - 1} {
			g, err := New(Config{Member: member, Now: func() time.Time { return time.Unix(0, at) }}, nil)
			if err != nil {
				t.Fatal(err)
			}
			gs = append(gs, g)
		}
		return gs
	}
	seen := map[uint64]int{}
	last := make([]uint64, 4)
	for i, g := range gateways(start) {
		for n := range 10_000 {
			// The same instant for every member; 10k logons within 5 ms
			// run ahead of the clock, then it catches up.
			at := start + int64(n/2000)*int64(time.Millisecond)
			id, _ := g.newSessionID(at)
			if id == 0 || id <= last[i] {
				t.Fatalf("member %d: id %d after %d", g.cfg.Member, id, last[i])
			}
			if id&(1<<memberBits-1) != uint64(g.cfg.Member) {
				t.Fatalf("member %d: id %#x does not end in its member id", g.cfg.Member, id)
			}
			if other, dup := seen[id]; dup {
				t.Fatalf("members %d and %d both gave out %d", other, g.cfg.Member, id)
			}
			seen[id] = int(g.cfg.Member)
			last[i] = id
		}
	}
	// Logons at 500 a second for 2 s, then a restart 10 ms after the
	// last: the new ids come after every id given out before.
	start += int64(time.Minute)
	for i, g := range gateways(start) {
		for n := range 1000 {
			last[i], _ = g.newSessionID(start + int64(n)*int64(2*time.Millisecond))
		}
	}
	restart := start + 999*int64(2*time.Millisecond) + int64(10*time.Millisecond)
	for i, g := range gateways(restart) {
		if id, _ := g.newSessionID(restart); id <= last[i] {
			t.Fatalf("member %d restarted: id %d, not after %d", g.cfg.Member, id, last[i])
		}
	}
	// A burst faster than the clock, then a restart whose clock was set
	// back an hour: from the last id the state holds (Resume), the new
	// ids come after it whatever the clock says.
	for i, g := range gateways(start) {
		for range 1000 {
			last[i], _ = g.newSessionID(start)
		}
	}
	back := start - int64(time.Hour)
	for i, g := range gateways(back) {
		r, err := New(Config{Member: g.cfg.Member, Resume: last[i]}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if id, _ := r.newSessionID(back); id <= last[i] || SessionMember(id) != g.cfg.Member {
			t.Fatalf("member %d resumed from %d: id %d", g.cfg.Member, last[i], id)
		}
	}
	if _, err := New(Config{Member: 1 << memberBits}, nil); err == nil {
		t.Fatal("a member id of 2^20 taken")
	}
	if _, err := New(Config{Member: 1, Resume: 2<<memberBits | 2}, nil); err == nil {
		t.Fatal("member 1 resumed from member 2's session id")
	}
}

// Above raises the ids given out past one of this member's, and past
// nothing else: another member's id, a lower one of its own or 0 leave
// them where the clock puts them.
func TestSessionIDAbove(t *testing.T) {
	const step = 1 << memberBits
	at := time.Unix(1_800_000_000, 0).UnixNano()
	clock := uint64(at)&^(step-1) | 3
	ahead := clock + 1000*step
	for _, tc := range []struct {
		name  string
		above uint64
		want  uint64
	}{
		{"none", 0, clock},
		{"its own, ahead of the clock", ahead, ahead + step},
		{"its own, behind the clock", clock - 10*step, clock},
		{"another member's, ahead of the clock", ahead&^(step-1) | 5, clock},
	} {
		g, err := New(Config{Member: 3}, nil)
		if err != nil {
			t.Fatal(err)
		}
		g.Above(tc.above)
		if id, _ := g.newSessionID(at); id != tc.want {
			t.Errorf("%s: Above(%d), then id %d, want %d", tc.name, tc.above, id, tc.want)
		}
	}
}

// LastSession is every id this member's gateway gave out or follows
// (Resume, Above), the highest: none (0) on a new gateway of no Resume,
// and each id given out once given.
func TestLastSession(t *testing.T) {
	const step = 1 << memberBits
	at := time.Unix(1_800_000_000, 0).UnixNano()
	clock := uint64(at)&^(step-1) | 3
	fresh, err := New(Config{Member: 3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	resumed, err := New(Config{Member: 3, Resume: clock - step}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if last := fresh.LastSession(); last != 0 {
		t.Fatalf("a new gateway's last session %d, want 0", last)
	}
	if last := resumed.LastSession(); last != clock-step {
		t.Fatalf("resumed from %d: last session %d", clock-step, last)
	}
	if id, ok := fresh.newSessionID(at); !ok || fresh.LastSession() != id {
		t.Fatalf("gave out %d (%v): last session %d", id, ok, fresh.LastSession())
	}
	fresh.Above(clock + 10*step)
	if last := fresh.LastSession(); last != clock+10*step {
		t.Fatalf("above %d: last session %d", clock+10*step, last)
	}
}

// An id near 2^64 — none the clock gives out before the year 2262, so
// from a damaged or foreign journal — is not followed: from it the next
// id wrapped past 2^64 to the clock, below every id given out before,
// the one named included. Resume refuses such an id (the node leaves it
// out: node.sessionFloor) and Above passes over it.
func TestSessionIDNearTheEndIsNotFollowed(t *testing.T) {
	const step = 1 << memberBits
	at := time.Unix(1_800_000_000, 0).UnixNano()
	huge := uint64(1<<64-1)&^(step-1) | 3
	g, err := New(Config{Member: 3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	first, _ := g.newSessionID(at)
	g.Above(huge)
	if id, _ := g.newSessionID(at); id <= first || id >= SessionIDLimit {
		t.Fatalf("after Above(%d): id %d, want one above %d and below 2^63", huge, id, first)
	}
	if _, err := New(Config{Member: 3, Resume: huge}, nil); err == nil {
		t.Fatalf("resume from %d taken", huge)
	}
	if _, err := New(Config{Member: 3, Resume: SessionIDLimit - step + 3}, nil); err != nil {
		t.Fatalf("resume from the last id below the limit: %v", err)
	}
}

// No session id at or past 2^63 is given out: a node's next restart
// leaves such an id out of its floor (node.sessionFloor) and gives it
// out again. From a last id one step below the limit — resumed from
// (Config.Resume) or raised to by an input (Above), either from a
// damaged or foreign journal or snapshot — the member's last id below
// the limit is given out, and every logon after it is refused
// TooManySessions, counted session_ids_spent; before, the next logon got
// 2^63 plus the member's id.
func TestNoSessionIDAtTheLimit(t *testing.T) {
	const step = 1 << memberBits
	const lastID uint64 = SessionIDLimit - step + 3 // member 3's last id below the limit
	at := time.Unix(1_800_000_000, 0)
	for _, tc := range []struct {
		name          string
		resume, above uint64
	}{
		{"resumed", lastID - step, 0},
		{"raised by an input", 0, lastID - step},
	} {
		g, _ := startGateway(t, Config{Member: 3, Resume: tc.resume, Now: func() time.Time { return at }})
		g.Above(tc.above)
		c, err := client.Dial(g.Addr().String(), 1, "one", client.Options{})
		if err != nil {
			t.Fatalf("%s: the logon of the last id: %v", tc.name, err)
		}
		defer c.Close()
		if c.Session != lastID {
			t.Fatalf("%s: session %d, want the last id below 2^63, %d", tc.name, c.Session, lastID)
		}
		for range 2 {
			c, err := client.Dial(g.Addr().String(), 1, "one", client.Options{})
			if err == nil {
				c.Close()
				t.Fatalf("%s: a logon after the last id got session %d (2^63 + %d)", tc.name, c.Session, c.Session-SessionIDLimit)
			}
			if !errors.Is(err, client.ErrTooManySessions) {
				t.Fatalf("%s: a logon after the last id: %v, want %v", tc.name, err, client.ErrTooManySessions)
			}
		}
		if n := g.Counters.Disconnects[CauseSessionIDsSpent].Load(); n != 2 {
			t.Fatalf("%s: %d logons counted session_ids_spent, want 2", tc.name, n)
		}
	}
}
