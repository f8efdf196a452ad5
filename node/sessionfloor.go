package node

import (
	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/gateway"
	"github.com/ringex/ringex/snapshot"
)

// sessionFloor is the highest session id of one member that a node's
// recovered state holds: its resting orders' (restored from the snapshot
// or entered since), the snapshot's sessions (sessionTable: the ids of
// the inputs before it) and the inputs its replay applied. The gateway gives
// out ids above it (gateway.Config.Resume): a session id is the logon
// time, and after a burst of logons faster than the clock, or a clock
// set back across the restart, the clock alone gave out again ids that
// resting orders still named — their fills went to the new session.
//
// In a cluster the inputs raft delivers after Start raise the gateway's
// ids the same way (deliverBatch, gateway.Above).
//
// Owned by the replay (New's goroutine) until Start reads it.
type sessionFloor struct {
	member uint32
	max    uint64
	// beyond is the highest of this member's ids at or above
	// gateway.SessionIDLimit (0: none), left out of max: no gateway gave
	// it out (a damaged or foreign journal or snapshot), and the ids after it would
	// wrap past 2^64 to the clock. The node's start warns of it.
	beyond uint64
}

// note takes in one session id: another member's (a cluster's former
// leader's) or 0 (a control input) changes nothing.
func (f *sessionFloor) note(session uint64) {
	switch {
	case session == 0 || gateway.SessionMember(session) != f.member:
	case session >= gateway.SessionIDLimit:
		f.beyond = max(f.beyond, session)
	case session > f.max:
		f.max = session
	}
}

// input is note for a replayed input (replay.Options.Applied).
func (f *sessionFloor) input(c *engine.Command) { f.note(c.Session) }

// replayedSessions is the replay's replay.Options.Applied: each input's
// session id noted in f and, for the snapshots after it, in t.
func replayedSessions(f *sessionFloor, t *sessionTable) func(c *engine.Command) {
	return func(c *engine.Command) {
		f.input(c)
		t.note(c.Session)
	}
}

// orders notes the sessions of eng's live orders.
func (f *sessionFloor) orders(eng *engine.Engine) { eng.OrderSessions(f.note) }

// sessionTable is, for each cluster member whose inputs the engine
// applied, the highest session id among those inputs (the member is
// in an id's low bits: gateway.SessionMember), carried in every snapshot
// (snapshot.Snapshot.Sessions) up to its input. A session that rests no
// order and whose inputs all came before the snapshot is in neither the
// snapshot's orders nor the journal replayed after it: without the
// table, a restart from that snapshot alone (after a burst of logons
// faster than the clock, or a clock set back across it) gave its id out
// again, and a client's Redial naming it could close a stranger's
// session of the same account. A logon is no input: the id of a session
// that sent none (a drop copy that only listened) is in no table, and a
// restart with its clock before that logon may give it out again.
// Recovery seeds it from the snapshot
// restored and its resting orders (all an older build's snapshot tells
// of ids), and sessionFloor from it.
//
// Bound: snapshot.SessionSlots (16) members. A cluster has a few, and a
// member replaced brings a new node.id, so a long-lived cluster may see
// more over the years: a member beyond 16 takes the slot of the lowest
// id but the node's own, and is left out when its id is lower than
// every one of those. The ids are logon times, so the member left out
// is the one that gave an id out longest ago — the least likely to meet
// its own ids again. The node's own member (own) never gives way and
// always comes in: a restart from the node's snapshot alone gives out
// only its own ids, and its clock may be behind every other member's
// (a failover to it), its ids the lowest. A member that installs
// another's snapshot takes its own highest id into it (withOwnSession).
// Ids at or above gateway.SessionIDLimit (none a gateway gives out) and
// 0 (a control input) are left out.
//
// The member of the latest input is in the first slot (another member's
// input moves its own there): a node alone, or a cluster's leader, is
// checked against one slot, two comparisons an input; its inputs
// since a failover move it once. The slots' order means nothing else.
// Invariant: one slot a member; the empty slots (0) come after the
// others.
// Owned by the engine goroutine (engineBatch, and the snapshot copy it
// finishes), by New's goroutine during the replay before it.
type sessionTable struct {
	ids [snapshot.SessionSlots]uint64
	own uint32 // the node's member (node.id): its slot never gives way
}

// note takes in one input's session id.
func (t *sessionTable) note(id uint64) {
	// 0 is member 0's: an empty table's first id of member 0 fills the
	// slot; a control input's (0) raises nothing.
	if gateway.SessionMember(id) == gateway.SessionMember(t.ids[0]) {
		if id > t.ids[0] && id < gateway.SessionIDLimit {
			t.ids[0] = id
		}
		return
	}
	t.noteOther(id)
}

// noteOther is note for an id of another member than the first slot's
// (or 0): it takes its member's slot, an empty one or, the table full,
// the one giveWay names, and moves to the first.
func (t *sessionTable) noteOther(id uint64) {
	if id == 0 || id >= gateway.SessionIDLimit {
		return
	}
	m := gateway.SessionMember(id)
	for i := 1; i < len(t.ids); i++ {
		if have := t.ids[i]; have == 0 || gateway.SessionMember(have) == m {
			t.ids[0], t.ids[i] = max(have, id), t.ids[0]
			return
		}
	}
	if low := t.giveWay(); m == t.own || id > t.ids[low] {
		t.ids[low] = t.ids[0]
		t.ids[0] = id
	}
}

// giveWay is the slot of a full table whose member gives way to a new
// one: the lowest id's but the node's own member's (one slot at most,
// so fifteen others are there).
func (t *sessionTable) giveWay() int {
	low := -1
	for i, have := range t.ids {
		if gateway.SessionMember(have) != t.own && (low < 0 || have < t.ids[low]) {
			low = i
		}
	}
	return low
}

// restoredTable is the table of member own's node of a snapshot's
// sessions field, each id taken in as an input's, the first slot's last so that it stays
// first: a damaged or foreign file's ids past the limit, or two of one
// member, count as note counts them.
func restoredTable(ids [snapshot.SessionSlots]uint64, own uint32) sessionTable {
	t := sessionTable{own: own}
	for _, id := range ids[1:] {
		t.note(id)
	}
	t.note(ids[0])
	return t
}

// withOwnSession is a sessions field (the snapshot a member installs: the
// sender's) with id, the installing member's highest (0: none), taken
// in as its own member's. The sender's table keeps the sender's member,
// not the installer's, which past sixteen members may have given way
// there; the install sets aside the installer's snapshots, which kept
// it, and a restart from the installed snapshot alone would give its
// ids out again. A stream without a snapshot has no field to take it:
// the installer replays every input from the first, each id noted, and
// only an id no input carries (a logon alone) is not kept, as at any
// restart (sessionTable).
func withOwnSession(ids [snapshot.SessionSlots]uint64, id uint64) [snapshot.SessionSlots]uint64 {
	if id == 0 {
		return ids
	}
	t := restoredTable(ids, gateway.SessionMember(id))
	t.note(id)
	return t.ids
}

// ownSession is the highest session id of this member the node knows
// of: its gateway's (gateway.LastSession: every id given out since its
// start, and those of its recovered state and of the inputs raft
// delivered since), or before Start the recovered state's (sessionFloor).
// Read by raft's goroutines once Start made the gateway.
func (n *Node) ownSession() uint64 {
	if n.gw == nil {
		return n.sessions.max
	}
	return n.gw.LastSession()
}
