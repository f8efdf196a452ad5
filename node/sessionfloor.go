package node

import (
	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/gateway"
)

// sessionFloor is the highest session id of one member that a node's
// recovered state holds: its resting orders' (restored from the snapshot
// or entered since) and the inputs its replay applied. The gateway gives
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
	// it out (a damaged or foreign journal), and the ids after it would
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

// orders notes the sessions of eng's live orders.
func (f *sessionFloor) orders(eng *engine.Engine) { eng.OrderSessions(f.note) }
