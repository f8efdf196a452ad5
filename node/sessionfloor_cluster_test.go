package node

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ringex/ringex/disruptor"
	"github.com/ringex/ringex/gateway"
	"github.com/ringex/ringex/input"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// A cluster member takes part of its state after Start: raft delivers
// the entries committed past its journal's end (deliverBatch) — a
// leader killed after raft committed its last batches and before its
// journal held them gets them back that way, session ids it gave out
// among them. Its gateway's ids were set above the recovered ones at
// Start only, so once leader again it gave out ids below those its
// resting orders named (equal ones after a burst faster than the
// clock). Here the leader publishes, while member f is down, resting
// orders under session ids of f's ahead of the clock, which f gets
// from raft after its restart; f is then made leader, and a logon to
// it must get an id above them.
func TestSessionIDsAboveTheDeliveredOnes(t *testing.T) {
	ns := startTestCluster(t)
	l := readyLeader(t, ns, nil)
	fi := slices.IndexFunc(ns, func(n *Node) bool { return n != l })
	f := ns[fi]
	member := f.cfg.Node.ID
	if err := f.Stop(); err != nil {
		t.Fatal(err)
	}

	const step = 1 << 20 // gateway memberBits
	ahead := uint64(time.Now().Add(time.Hour).UnixNano())&^(step-1) | uint64(member)
	var ids []uint64
	before := l.stateNow().Seq
	enc := proto.NewEncoder()
	in := l.cfg.Instruments[0]
	for i := 0; i < 3; {
		id := ahead + uint64(i)*step
		frame := enc.NewOrder(uint64(i+1), limit(uint64(i+1), wire.SideBuy, in.ReferencePrice-int64(i+1)*in.TickSize, in.LotSize))
		err := l.Publish(input.KindClient, id, 2, time.Now().UnixNano(), frame[proto.PrefixSize:])
		if errors.Is(err, ErrNotLeader) || errors.Is(err, disruptor.ErrHalted) {
			l = readyLeader(t, ns, f)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
		i++
	}
	waitUntil(t, func() bool { return l.stateNow().Seq >= before+3 }, ns...)
	want := l.stateNow()

	f2, _, _ := startNodeWith(t, f.cfg, Options{})
	ns[fi] = f2
	if f2.sessions.max >= ids[0] {
		t.Fatalf("f's journal held the inputs (session floor %d): they were to come from raft", f2.sessions.max)
	}
	waitUntil(t, func() bool { return f2.stateNow().Seq >= want.Seq }, ns...)

	// f is made the leader: the third member stops, an input is
	// committed without it, the leader stops and the third comes back,
	// its log behind f's: f alone can be elected.
	mi := slices.IndexFunc(ns, func(n *Node) bool { return n != l && n != f2 })
	m := ns[mi]
	if err := m.Stop(); err != nil {
		t.Fatal(err)
	}
	l = publishBids(t, ns, m, 10, 10)
	last := appliedAll(t, l).Seq
	waitUntil(t, func() bool { return f2.stateNow().Seq >= last }, ns...)
	if l != f2 {
		if err := l.Stop(); err != nil {
			t.Fatal(err)
		}
		ns[mi], _, _ = startNodeWith(t, m.cfg, Options{})
		if readyLeader(t, ns, l) != f2 {
			t.Fatal("another member than f was elected")
		}
	}
	c := dial(t, ns[fi].cfg.Gateway.Listen, 2)
	if gateway.SessionMember(c.Session) != member {
		t.Fatalf("session %d: not member %d's", c.Session, member)
	}
	for _, id := range ids {
		if c.Session <= id {
			t.Fatalf("session %d given out below %d, which a resting order delivered by raft names (all: %v)", c.Session, id, ids)
		}
	}
}
