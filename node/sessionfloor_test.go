package node

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/gateway"
	"github.com/ringex/ringex/input"
	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
	"github.com/ringex/ringex/snapshot"
)

// A session id is the logon time with node.id in its low bits; after a
// restart the clock alone kept a member's new ids above its old ones.
// A burst of logons faster than the clock (ids taken ahead of it), or a
// clock set back across the restart, gave a new session the id of one
// whose order still rested — its fills went to the newcomer. The ids
// the recovered state holds (resting orders, replayed inputs) are now
// the floor.
func TestSessionIDsAboveTheRecoveredOnesAfterARestart(t *testing.T) {
	base := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	for _, tc := range []struct {
		name          string
		onStop        bool      // snapshot at the stop: the ids come from the snapshot's resting orders
		rest          bool      // the sessions' orders rest (else they are rejected: only the journal holds the ids)
		before, after time.Time // the gateway's clock, standing still, before and after the restart
	}{
		{"burst faster than the clock", true, true, base, base},
		{"clock set back across the restart", true, true, base, base.Add(-time.Hour)},
		{"ids in the replayed journal only", false, false, base, base},
		{"ids before the snapshot only, no order resting", true, false, base, base},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t, t.TempDir())
			setConfig(t, cfg, map[string]string{"node.id": "7", "snapshot.on_stop": boolString(tc.onStop)})
			in := cfg.Instruments[0]

			n, addrs := startAtClock(t, cfg, tc.before)
			var old []uint64
			for i := range 3 { // three logons in the same nanosecond: ids ahead of the clock
				c := dial(t, addrs.Gateway, 2)
				price := in.ReferencePrice - int64(i+1)*in.TickSize
				want := report(wire.ExecKindAccepted)
				if !tc.rest {
					price, want = price+in.TickSize/2+1, report(wire.ExecKindRejected) // off the tick
				}
				c.NewOrder(limit(uint64(i+1), wire.SideBuy, price, in.LotSize))
				next(t, c, want)
				old = append(old, c.Session)
			}
			if err := n.Stop(); err != nil { // the sessions still open: their orders stay
				t.Fatal(err)
			}

			n2, addrs2 := startAtClock(t, cfg, tc.after)
			defer n2.Stop()
			if !tc.onStop && n2.sessions.max == 0 {
				t.Fatal("the replay read no session id: the journal was not replayed")
			}
			c := dial(t, addrs2.Gateway, 2)
			if gateway.SessionMember(c.Session) != 7 {
				t.Fatalf("session %d: not member 7's", c.Session)
			}
			for _, id := range old {
				if c.Session <= id {
					t.Fatalf("after the restart session %d, not above %d given out before it (all: %v)", c.Session, id, old)
				}
			}
		})
	}
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// A resting order whose session id is at or above 2^63 — none the clock
// gives out before 2262: a damaged or foreign journal's — is not
// followed. Followed, the ids after it wrapped past 2^64 to the clock:
// with the clock where it stood, the first logon after the restart got
// the id of the session whose order still rested. (The gateway now
// refuses to resume from such an id; the node leaves it out.)
func TestSessionIDBeyondTheLimitNotFollowed(t *testing.T) {
	cfg, in, at, n, c := member7WithABid(t)
	old := c.Session
	huge := uint64(1<<64-1)&^(1<<20-1) | 7
	frame := proto.NewEncoder().NewOrder(1, limit(2, wire.SideBuy, in.ReferencePrice-2*in.TickSize, in.LotSize))
	if err := n.Publish(input.KindClient, huge, 2, at.UnixNano(), frame[proto.PrefixSize:]); err != nil {
		t.Fatal(err)
	}
	next(t, c, report(wire.ExecKindAccepted)) // the account's other order, reported to its live session
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	n2, addrs2 := startAtClock(t, cfg, at)
	defer n2.Stop()
	c2 := dial(t, addrs2.Gateway, 2)
	if c2.Session <= old || c2.Session >= gateway.SessionIDLimit || gateway.SessionMember(c2.Session) != 7 {
		t.Fatalf("session %d after the restart; the resting orders' are %d and %d", c2.Session, old, huge)
	}
}

// sessionTable keeps each member's highest id, 16 members at most: the
// one of the lowest id but the node's own gives way to a higher one, a
// member whose id is below all those is left out, and the node's own
// member always comes in; 0 and ids past the limit count for nothing.
func TestSessionTable(t *testing.T) {
	id := func(at, member uint64) uint64 { return 1<<60 + at<<20 | member }
	var full sessionTable // members 16, 1, 2, … 15: each new one took an empty slot and moved to the first
	for m := range uint64(snapshot.SessionSlots) {
		full.note(id(100+m, m+1))
	}
	// full as node 1's, whose id is the lowest there, and as node 99's,
	// in no slot; behind is node 16's, its id the lowest and in the first
	// slot (its clock behind the others': a failover to it).
	own1, own99, behind := full, full, sessionTable{own: 16}
	own1.own, own99.own = 1, 99
	for m := range uint64(snapshot.SessionSlots - 1) {
		behind.note(id(100+m, m+1))
	}
	behind.note(id(1, 16))
	for _, tc := range []struct {
		name string
		from sessionTable
		ids  []uint64
		want sessionTable
	}{
		{"first of a member", table(), []uint64{id(5, 7)}, table(id(5, 7))},
		{"the highest kept", table(), []uint64{id(5, 7), id(9, 7), id(6, 7)}, table(id(9, 7))},
		{"the latest input's member first", table(), []uint64{id(5, 7), id(3, 2), id(8, 7), id(4, 2)}, table(id(4, 2), id(8, 7))},
		{"a leader after two failovers first", table(id(5, 7), id(3, 2)), []uint64{id(2, 4), id(6, 4), id(1, 4)}, table(id(6, 4), id(3, 2), id(5, 7))},
		{"control input and past the limit", table(id(5, 7)), []uint64{0, gateway.SessionIDLimit | 7, 1<<64 - 1}, table(id(5, 7))},
		{"a 17th member takes the lowest slot", full, []uint64{id(500, 99)}, fronted(full, 1, id(500, 99))},
		{"a 17th member below all is left out", full, []uint64{id(1, 99)}, full},
		{"a known member when full", full, []uint64{id(900, 5)}, fronted(full, 5, id(900, 5))},
		{"the node's own member never gives way", own1, []uint64{id(500, 99)}, fronted(own1, 2, id(500, 99))},
		{"the node's own member first never gives way", behind, []uint64{id(500, 99)}, fronted(behind, slices.Index(behind.ids[:], id(100, 1)), id(500, 99))},
		{"the node's own member comes in below all", own99, []uint64{id(1, 99)}, fronted(own99, 1, id(1, 99))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.from
			for _, i := range tc.ids {
				got.note(i)
			}
			if got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
	// A file's table is read as its ids noted: two of one member, or one
	// past the limit (a damaged or foreign file), count as note counts them.
	// Its first slot stays first.
	if got := restoredTable([snapshot.SessionSlots]uint64{id(3, 7), gateway.SessionIDLimit | 2, id(9, 7), 5: id(4, 2)}, 0); got != table(id(9, 7), id(4, 2)) {
		t.Fatalf("restoredTable: %v", got)
	}
	if got := restoredTable(full.ids, 0); got.ids[0] != full.ids[0] || !sameIDs(got, full) {
		t.Fatalf("restoredTable of a full table: %v, want the ids of %v, its first slot first", got, full)
	}
	// The installed snapshot's field takes the installing member's
	// highest id in: first, in the slot of the lowest id of a full table
	// whatever its own; raising its own member's; 0 changes nothing.
	for _, tc := range []struct {
		name string
		id   uint64
		want sessionTable
	}{
		{"a member below all of a full table", id(1, 99), fronted(full, 1, id(1, 99))},
		{"a member in the table", id(900, 5), fronted(full, 5, id(900, 5))},
		{"none", 0, full},
	} {
		if got := withOwnSession(full.ids, tc.id); got != tc.want.ids {
			t.Errorf("withOwnSession, %s: %v, want %v", tc.name, got, tc.want.ids)
		}
	}
}

// table is a sessionTable of no node's (own 0) holding ids from its
// first slot on.
func table(ids ...uint64) sessionTable {
	var t sessionTable
	copy(t.ids[:], ids)
	return t
}

// sameIDs reports whether a and b hold the same ids, in any order.
func sameIDs(a, b sessionTable) bool {
	slices.Sort(a.ids[:])
	slices.Sort(b.ids[:])
	return a.ids == b.ids
}

// fronted is t with id in slot i and the id of slot 0 moved there: the
// table once id, the member of slot i's or one that takes it, came.
func fronted(t sessionTable, i int, id uint64) sessionTable {
	t.ids[i], t.ids[0] = t.ids[0], id
	return t
}

// sessionTable against a plain reference — each member's highest id,
// sixteen members at most, the lowest id but the node's own giving way,
// the node's own always coming in — over random ids of 40 members, ids
// past the limit and 0 among them; and the member of the latest id kept
// in the first slot.
func TestSessionTableAgainstReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const own = 3
	got, want := sessionTable{own: own}, newReferenceTable(own)
	for i := range 200_000 {
		var id uint64
		switch r := rng.IntN(100); {
		case r == 0:
		case r == 1:
			id = gateway.SessionIDLimit + rng.Uint64N(1<<62)
		default:
			id = 1<<60 + rng.Uint64N(1<<30)<<20 | uint64(1+rng.IntN(40))
		}
		got.note(id)
		if kept := want.note(id); kept != 0 && got.ids[0] != kept {
			t.Fatalf("input %d: id %d kept, slot 0 holds %d (table %v)", i, kept, got.ids[0], got)
		}
		if err := want.check(got); err != nil {
			t.Fatalf("input %d (id %d): %v", i, id, err)
		}
	}
}

// FuzzRestoredTable: the table a node makes of a snapshot's sessions
// field (restoredTable) — any 16 ids, a damaged or foreign file's: ids
// past the limit, two of one member, empty slots between full ones — is
// the reference's of the same ids noted, the first slot's last and kept
// first, its empty slots after the others.
func FuzzRestoredTable(f *testing.F) {
	field := func(ids ...uint64) []byte {
		var b []byte
		for _, id := range ids {
			b = binary.LittleEndian.AppendUint64(b, id)
		}
		return b
	}
	f.Add(field(1<<60|7, 1<<60+1<<20|3), uint32(7))
	f.Add(field(1<<60|7, gateway.SessionIDLimit|7, 1<<60+2<<20|7, 0, 1<<60|2, 1<<64-1, 1<<60), uint32(7))
	var distinct []uint64
	for m := range uint64(snapshot.SessionSlots) {
		distinct = append(distinct, 1<<60+(20-m)<<20|(m+1))
	}
	f.Add(field(distinct...), uint32(16))
	f.Add(field(distinct...), uint32(99))
	f.Fuzz(func(t *testing.T, b []byte, own uint32) {
		var ids [snapshot.SessionSlots]uint64
		for i := range ids {
			if len(b) >= 8*(i+1) {
				ids[i] = binary.LittleEndian.Uint64(b[8*i:])
			}
		}
		got := restoredTable(ids, own)
		want := newReferenceTable(own)
		for _, id := range ids[1:] {
			want.note(id)
		}
		if first := want.note(ids[0]); first != 0 && got.ids[0] != first {
			t.Fatalf("the file's first slot %d kept as %d, the table's first slot holds %d (table %v)", ids[0], first, got.ids[0], got)
		}
		if err := want.check(got); err != nil {
			t.Fatalf("sessions %v: %v", ids, err)
		}
	})
}

// referenceTable is what a sessionTable holds, kept plainly: each
// member's highest id in a map, sixteen members at most, the lowest id
// but the node's own (own) giving way to a member beyond them, the
// node's own always coming in.
type referenceTable struct {
	own uint32
	ids map[uint32]uint64
}

func newReferenceTable(own uint32) *referenceTable {
	return &referenceTable{own: own, ids: map[uint32]uint64{}}
}

// note takes in id and returns the id its member has then (0: none, or
// id is 0 or past the limit).
func (r *referenceTable) note(id uint64) uint64 {
	if id == 0 || id >= gateway.SessionIDLimit {
		return 0
	}
	m := gateway.SessionMember(id)
	if have, ok := r.ids[m]; ok || len(r.ids) < snapshot.SessionSlots {
		r.ids[m] = max(have, id)
		return r.ids[m]
	}
	low, found := uint32(0), false
	for m, have := range r.ids {
		if m != r.own && (!found || have < r.ids[low]) {
			low, found = m, true
		}
	}
	if m == r.own || id > r.ids[low] {
		delete(r.ids, low)
		r.ids[m] = id
	}
	return r.ids[m]
}

// check says how got differs from r: other ids, or an empty slot before
// a full one.
func (r *referenceTable) check(got sessionTable) error {
	var ids []uint64
	for i, have := range got.ids {
		if have != 0 {
			if i > 0 && got.ids[i-1] == 0 {
				return fmt.Errorf("table %v: slot %d empty, slot %d full", got, i-1, i)
			}
			ids = append(ids, have)
		}
	}
	want := slices.Sorted(maps.Values(r.ids))
	if slices.Sort(ids); !slices.Equal(ids, want) {
		return fmt.Errorf("table %v, want the ids %v", got, want)
	}
	return nil
}

// The first start of this build from a snapshot of an older one (format
// version 3: no sessions field) knows the session ids of its resting
// orders. The snapshots it writes record them (sessionTable), though the
// orders go before them: without, the table held only the inputs
// replayed after the old snapshot, and a restart from a later snapshot
// alone — the orders cancelled by a control input in between, which
// names no session — gave the id of the order's session out again.
func TestSessionIDsOfAnOlderSnapshotsOrdersRecorded(t *testing.T) {
	cfg, in, at, n, c := member7WithABid(t)
	old := c.Session
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	seqs, _ := n.snaps.List()
	path := filepath.Join(cfg.SnapshotDir(), fmt.Sprintf("%020d.snap", seqs[len(seqs)-1]))
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v3 := testkit.SnapshotAsVersion3(b)
	if s, err := snapshot.Decode(v3); err != nil || s.Seq != seqs[len(seqs)-1] {
		t.Fatalf("the version 3 file does not read: %v", err)
	}
	if err := os.WriteFile(path, v3, 0o600); err != nil {
		t.Fatal(err)
	}

	n2, _ := startAtClock(t, cfg, at) // the upgrade: from the version 3 snapshot, its order resting
	if err := n2.HaltAndCancelOrders(in.ID); err != nil {
		n2.Stop()
		t.Fatal(err)
	}
	if err := n2.Stop(); err != nil { // a version 4 snapshot past the cancel
		t.Fatal(err)
	}
	if after, _ := n2.snaps.List(); after[len(after)-1] <= seqs[len(seqs)-1] {
		t.Fatalf("no snapshot past the cancel: %v", after)
	}

	n3, addrs3 := startAtClock(t, cfg, at)
	defer n3.Stop()
	if depth := n3.eng.Depth(in.ID, engine.Buy); depth != 0 {
		t.Fatalf("%d bid level(s) rest after the restart: the cancel was not in the snapshot", depth)
	}
	if c3 := dial(t, addrs3.Gateway, 2); c3.Session <= old {
		t.Fatalf("after the restarts session %d, not above %d given out before the upgrade", c3.Session, old)
	}
}

// A snapshot whose sessions field a damaged or foreign file filled, its
// checksum good, is read as restoredTable reads it: node 7's highest id
// below the limit is followed wherever its slot is, one at or above the
// limit (in the first slot) is not — followed, the ids after it wrapped
// past 2^64 to the clock — and two of one member count once. A guard:
// no fix behind it.
func TestSessionIDsOfADamagedSessionsField(t *testing.T) {
	cfg, _, at, n, c := member7WithABid(t)
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	seqs, _ := n.snaps.List()
	snap, err := n.snaps.Read(seqs[len(seqs)-1])
	if err != nil {
		t.Fatal(err)
	}
	const step = 1 << 20 // gateway memberBits
	high := c.Session + 10*step
	snap.Sessions = [snapshot.SessionSlots]uint64{gateway.SessionIDLimit | 7, c.Session + 2*step, 1<<60 | 3, 1<<60 + step | 3,
		high, c.Session + 5*step, 9: 1<<63 - step | 4}
	if _, err := n.snaps.Write(snap); err != nil {
		t.Fatal(err)
	}
	n2, addrs2 := startAtClock(t, cfg, at)
	defer n2.Stop()
	if c2 := dial(t, addrs2.Gateway, 2); c2.Session <= high || c2.Session >= gateway.SessionIDLimit || gateway.SessionMember(c2.Session) != 7 {
		t.Fatalf("session %d after the restart; node 7's highest id below the limit in the snapshot is %d", c2.Session, high)
	}
}

// A node's own member keeps its slot in the sessionTable past sixteen
// members: a long-lived cluster's members come and go, and a member whose
// clock is behind the others' (a failover to it) has the lowest ids.
// Here node 7's session sends an input the engine rejects (no order
// rests), then inputs of sixteen other members, their ids later, come
// in; a restart from the snapshot alone, the clock where it stood, must
// give out an id above node 7's old one. Before, the sixteenth other
// member took the slot of the lowest id, node 7's, and the restart gave
// its id out again.
func TestSessionIDsOfTheNodeKeptPastSixteenMembers(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	setConfig(t, cfg, map[string]string{"node.id": "7", "snapshot.on_stop": "true"})
	in := cfg.Instruments[0]
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	n, addrs := startAtClock(t, cfg, at)
	c := dial(t, addrs.Gateway, 2)
	offTick := limit(1, wire.SideBuy, in.ReferencePrice+in.TickSize/2+1, in.LotSize)
	c.NewOrder(offTick)
	next(t, c, report(wire.ExecKindRejected))
	sixteenOthersAfter(t, n, 7, at, offTick)
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	n2, addrs2 := startAtClock(t, cfg, at)
	defer n2.Stop()
	if c2 := dial(t, addrs2.Gateway, 2); c2.Session <= c.Session {
		t.Fatalf("after the restart session %d, not above %d, which sent an input before it", c2.Session, c.Session)
	}
}

// A member that installs another's state (a raft snapshot stream: the
// leader's snapshot and the inputs after it) keeps its own ids. The
// leader's table keeps the leader's member, not the installer's: past
// sixteen members the installer's gave way when its id was the lowest
// (its clock behind the others', or it led longest ago), and the
// install sets aside the installer's own snapshots, which kept it. Here
// node 7's session sends an input (rejected: no order rests); the
// leader, node 1, holds that input and sixteen other members' later
// ones; node 7 stages its stream and installs it at its restart, its
// clock where it stood. Before, the restart gave node 7's id out again.
func TestSessionIDsOfTheNodeKeptThroughAnInstall(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	cfg := testConfig(t, t.TempDir())
	setConfig(t, cfg, map[string]string{"node.id": "7"})
	in := cfg.Instruments[0]
	offTick := limit(1, wire.SideBuy, in.ReferencePrice+in.TickSize/2+1, in.LotSize)
	n, addrs := startAtClock(t, cfg, at)
	c := dial(t, addrs.Gateway, 2)
	c.NewOrder(offTick)
	next(t, c, report(wire.ExecKindRejected))

	leader, _ := startAtClock(t, testConfig(t, t.TempDir()), at) // node 1
	frame := proto.NewEncoder().NewOrder(1, offTick)
	if err := leader.Publish(input.KindClient, c.Session, 2, at.UnixNano(), frame[proto.PrefixSize:]); err != nil {
		leader.Stop()
		t.Fatal(err)
	}
	sixteenOthersAfter(t, leader, 7, at, offTick)
	waitSnapshot(t, leader)
	var stream bytes.Buffer
	err := leader.raftSnapshot(leader.stateNow().Seq, &stream)
	if stopErr := leader.Stop(); err == nil {
		err = stopErr
	}
	if err == nil {
		_, err = n.installState(&stream)
	}
	if stopErr := n.Stop(); err == nil {
		err = stopErr
	}
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := installStaged(cfg.JournalDir(), cfg.SnapshotDir(), cfg.ArchiveDir(), cfg.Node.DataDir, zerolog.Nop()); !ok || err != nil {
		t.Fatalf("installStaged: %v %v", ok, err)
	}
	n2, addrs2 := startAtClock(t, cfg, at)
	defer n2.Stop()
	if c2 := dial(t, addrs2.Gateway, 2); c2.Session <= c.Session {
		t.Fatalf("after the install session %d, not above %d, which sent an input before it", c2.Session, c.Session)
	}
}

// sixteenOthersAfter publishes order as an input of each of sixteen
// members but member skip, their ids an hour after at, and waits until
// the engine applied them: with a member skip's id at at, seventeen
// members' in all, skip's the lowest. On failure it stops n.
func sixteenOthersAfter(t *testing.T, n *Node, skip uint64, at time.Time, order proto.NewOrder) {
	t.Helper()
	before := n.stateNow().Seq
	frame := proto.NewEncoder().NewOrder(1, order)
	later := uint64(at.Add(time.Hour).UnixNano()) &^ (1<<20 - 1)
	others := 0
	for m := uint64(1); others < snapshot.SessionSlots; m++ {
		if m == skip {
			continue
		}
		if err := n.Publish(input.KindClient, later|m, 3, at.UnixNano(), frame[proto.PrefixSize:]); err != nil {
			n.Stop()
			t.Fatal(err)
		}
		others++
	}
	waitUntil(t, func() bool { return n.stateNow().Seq >= before+int64(others) })
}

// startAtClock starts a node on cfg whose gateway's clock stands still
// at now (session ids are logon times: ids ahead of the clock, or a clock
// set back, across restarts).
func startAtClock(t *testing.T, cfg *config.Config, now time.Time) (*Node, Addrs) {
	t.Helper()
	return startWithClock(t, cfg, func() time.Time { return now })
}

// startWithClock starts a node on cfg whose gateway reads the clock now:
// it stamps the inputs it receives with it.
func startWithClock(t *testing.T, cfg *config.Config, now func() time.Time) (*Node, Addrs) {
	t.Helper()
	n, _, err := NewWithOptions(cfg, zerolog.Nop(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	n.gatewayNow = now
	addrs, err := n.Start()
	if err != nil {
		n.Stop()
		t.Fatalf("start: %v", err)
	}
	return n, addrs
}

// member7WithABid starts node 7 (snapshot on stop) with its gateway's
// clock standing still at at, and rests a bid of account 2 on in, the
// first instrument: c is the session that entered it.
func member7WithABid(t *testing.T) (cfg *config.Config, in config.Instrument, at time.Time, n *Node, c *client.Client) {
	t.Helper()
	cfg = testConfig(t, t.TempDir())
	setConfig(t, cfg, map[string]string{"node.id": "7", "snapshot.on_stop": "true"})
	in = cfg.Instruments[0]
	at = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	n, addrs := startAtClock(t, cfg, at)
	c = dial(t, addrs.Gateway, 2)
	restBuy(t, c, in, 1)
	return cfg, in, at, n, c
}
