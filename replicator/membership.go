package replicator

import (
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/hashicorp/raft"
)

// Errors of Replace. Each but ErrChangeUnknown means raft's membership
// was not changed.
var (
	// ErrUnknownMember: the id names no member of raft's membership
	// (Replace moves a member; it adds none).
	ErrUnknownMember = errors.New("replicator: no such member in the membership")
	// ErrReplaceLeader: the leader was asked to move itself.
	ErrReplaceLeader = errors.New("replicator: the leader cannot move itself")
	// ErrMemberLive: the member to move still answers the leader at its
	// old address — not lost. Moved, it would run on with the id of the
	// member at the new address, and two processes voting as one member
	// can elect two leaders in one term. (One that was only silent and
	// comes back after the change is fenced: see fence.)
	ErrMemberLive = errors.New("replicator: the member still answers at its old raft address")
	// ErrTooFewLive: without the member to move, fewer than a majority of
	// the members answer the leader: the change could not commit.
	ErrTooFewLive = errors.New("replicator: fewer than a majority of members would be live")
	// ErrAddressTaken: another member is at the new raft address.
	ErrAddressTaken = errors.New("replicator: another member is at that raft address")
	// ErrChangePending: a membership change is under way (here, or one
	// raft has not committed yet): one at a time.
	ErrChangePending = errors.New("replicator: a membership change is not committed yet")
	// ErrChangeUnknown: the change was appended to the leader's log but
	// not known committed (leadership lost, or no majority within
	// changeCommitWithin); the next leader may still commit it. Asked
	// again while raft's membership holds a change not known committed
	// (this one, made before), Replace answers it again.
	ErrChangeUnknown = errors.New("replicator: membership change appended, not known committed")
)

// Waits of Replace: for raft's leader loop to take the change (it takes
// none while the latest membership is not committed: then the change is
// refused, ErrChangePending), and for the change to commit.
const (
	changeEnqueue      = time.Second
	changeCommitWithin = 5 * time.Second
)

// Replace moves member p.ID to raft address p.Raft and gateway p.Gateway
// — the way to replace a member whose machine was lost by one at a new
// address. Only the ready leader takes it, for another member that has
// not answered it for liveWindow, when the rest make a majority; one
// change at a time. It returns once the change is committed (moved), or
// when raft's committed membership has the member at p.Raft already (not
// moved: a retry after an answer that was lost).
//
// Raft's membership as read is its latest, which may not be committed:
// a change a Replace answered ErrChangeUnknown for, asked again on the
// same leader. Lost with this leader's lead, the next leader may not
// hold it. So an answer taken from the membership — the member at p.Raft
// already, or another member there — is given only once what was read
// is known committed (membershipCommitted), else ErrChangeUnknown.
//
// Raft's AddVoter with the member's id and the new address changes the
// address in place (hashicorp/raft v1.7.1 nextConfiguration): one
// membership entry, the set of voters and the majority unchanged, and
// the leader sends to the new address from then on. The member at the
// new address starts with no raft state and without Config.Bootstrap:
// it joins, and is sent the log or the leader's snapshot.
//
// Each member's raft replicates by the membership, not Config.Peers, so
// members running with the old peers go on. Only the gateway addresses
// are not in raft: Leader on a member started with the old peers names
// no gateway while the moved member leads (on this one it names
// p.Gateway), until it is started again with the peers edited to match
// — which checkMembership then requires.
func (r *Replicator) Replace(p Peer) (moved bool, err error) { return r.ReplaceIf(p, nil) }

// ReplaceIf is Replace with allow, when not nil, asked first whether the
// move may be made (the node's rules for gateways, which raft does not
// hold): it is handed the members as Members gives them, of the
// membership Replace reads and changes, under Replace's one change at a
// time — no other change comes between its check and the move — and
// with their names looked up in Replace's one round (a resolver that
// does not answer holds the caller fenceResolveWithin once, not once for
// Members and again for Replace). Its error is returned as it is, nothing
// changed.
func (r *Replicator) ReplaceIf(p Peer, allow func(members []Peer) error) (moved bool, err error) {
	if !r.Ready() {
		return false, fmt.Errorf("%w: a membership change is made on the ready leader", ErrNotProposed)
	}
	if p.ID == r.cfg.NodeID {
		return false, fmt.Errorf("%w: stop it (another member is elected) and ask the new leader", ErrReplaceLeader)
	}
	if !r.changing.CompareAndSwap(false, true) {
		return false, fmt.Errorf("%w: another replace is under way on this leader", ErrChangePending)
	}
	defer r.changing.Store(false)
	id := serverID(p.ID)
	servers := r.raft.GetConfiguration().Configuration().Servers
	// The log's end, read after the membership: the membership's entry
	// is at or before it.
	read := r.raft.LastIndex()
	// Every address compared looked up once, together (names.lookUp):
	// a resolver that does not answer holds the caller — the admin
	// handler, its client waiting — fenceResolveWithin once, however
	// many members are compared; allow's members are placed in the same
	// round (membersOf).
	n := newNames()
	for _, s := range servers {
		n.need(string(s.Address))
	}
	n.need(p.Raft)
	if allow != nil {
		if err := allow(r.membersOf(servers, n)); err != nil {
			return false, err
		}
	}
	n.lookUp()
	var target *raft.Server
	for i, s := range servers {
		switch {
		case s.ID == id:
			target = &servers[i]
		case n.sameSocket(s.Address, raft.ServerAddress(p.Raft)):
			if err := r.membershipCommitted(read); err != nil {
				return false, err
			}
			return false, fmt.Errorf("%w: member %s is at %s", ErrAddressTaken, s.ID, s.Address)
		}
	}
	if target == nil {
		return false, fmt.Errorf("%w: member %d (the membership is %s)", ErrUnknownMember, p.ID, membershipString(servers))
	}
	if n.sameSocket(target.Address, raft.ServerAddress(p.Raft)) {
		if err := r.membershipCommitted(read); err != nil {
			r.unknownChange.Store(&p)
			return false, err
		}
		r.notePeer(p)
		return false, nil
	}
	if err := liveWithout(servers, id, serverID(r.cfg.NodeID), r.trans.answeredAt, time.Now(), r.liveWindow()); err != nil {
		return false, err
	}
	r.trans.moving.Store(&movingMember{id: id, from: target.Address})
	defer r.trans.moving.Store(nil)
	f := r.raft.AddVoter(id, raft.ServerAddress(p.Raft), 0, changeEnqueue)
	answered, err := answerWithin(f, changeCommitWithin, r.stop)
	if !answered {
		r.unknownChange.Store(&p)
		return false, fmt.Errorf("%w: not committed within %v (no majority in touch?)", ErrChangeUnknown, changeCommitWithin)
	}
	switch {
	case err == nil:
	case errors.Is(err, raft.ErrEnqueueTimeout):
		return false, fmt.Errorf("%w: raft takes no change until the last one is committed", ErrChangePending)
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return false, fmt.Errorf("%w: %v", ErrNotProposed, err)
	default:
		r.unknownChange.Store(&p)
		return false, fmt.Errorf("%w: %v", ErrChangeUnknown, err)
	}
	r.notePeer(p)
	r.cfg.Logger.Warn().Uint32("member", p.ID).Str("from", string(target.Address)).Str("raft", p.Raft).Str("gateway", p.Gateway).
		Uint64("index", f.Index()).Msg("replicator: membership changed: member moved")
	return true, nil
}

// membershipCommitted makes sure raft's log is committed through index,
// the last index when the membership was read: at once when raft's
// commit index is there, else by a barrier, which commits only with
// every entry before it, answered within changeCommitWithin. Raft does
// not say the index of the membership it reads out (v1.7.1
// GetConfiguration's Index is 0), so the log's end then stands for it.
// A barrier that fails, or is not answered in time, leaves what was read
// not known committed: ErrChangeUnknown.
func (r *Replicator) membershipCommitted(index uint64) error {
	if r.raft.CommitIndex() >= index {
		return nil
	}
	answered, err := answerWithin(r.raft.Barrier(changeEnqueue), changeCommitWithin, r.stop)
	switch {
	case !answered:
		return fmt.Errorf("%w: the membership read is not known committed: raft's log to index %d not committed within %v (no majority in touch?)",
			ErrChangeUnknown, index, changeCommitWithin)
	case err != nil:
		return fmt.Errorf("%w: the membership read is not known committed: raft's log to index %d: %v", ErrChangeUnknown, index, err)
	}
	return nil
}

// answerWithin waits up to d for raft's answer to f: answered false when
// none came by then. Raft may still answer it later; the goroutine
// reading it ends then, or when the member stops (stop, closed by Close
// before raft shuts down), whichever comes first: raft drops some
// futures unanswered at shutdown (futureAnswer).
func answerWithin(f raft.Future, d time.Duration, stop chan struct{}) (answered bool, err error) {
	select {
	case err = <-futureAnswer(f, stop):
		return true, err
	case <-time.After(d):
		return false, nil
	}
}

// noteCommitted takes a committed membership (raft's FSM goroutine): a
// Replace that returned ErrChangeUnknown and committed after all has its
// peer noted then, as Replace would have (Leader names its gateway).
func (r *Replicator) noteCommitted(servers []raft.Server) {
	p := r.unknownChange.Load()
	if p == nil {
		return
	}
	for _, s := range servers {
		if s.ID == serverID(p.ID) && string(s.Address) == p.Raft {
			r.notePeer(*p)
			r.unknownChange.CompareAndSwap(p, nil)
			r.cfg.Logger.Warn().Uint32("member", p.ID).Str("raft", p.Raft).Str("gateway", p.Gateway).
				Msg("replicator: membership changed: member moved (a replace answered \"not known committed\" committed after all)")
		}
	}
}

// notePeer puts p's addresses in place of the ones this member started
// with (Leader names its gateway).
func (r *Replicator) notePeer(p Peer) {
	peers := maps.Clone(*r.peers.Load())
	peers[serverID(p.ID)] = p
	r.peers.Store(&peers)
}

// liveWindow: a member that answered the leader within it counts as live.
// Raft's heartbeats go every tenth of HeartbeatTimeout, so a live member
// answers many times in it.
func (r *Replicator) liveWindow() time.Duration { return max(time.Second, 4*r.cfg.HeartbeatTimeout) }

// liveWithout checks that the voters of servers other than target make a
// majority of them counting only those that answered within window (self,
// the leader, always counts), and that target did not answer within it.
func liveWithout(servers []raft.Server, target, self raft.ServerID, answeredAt func(raft.ServerID) time.Time, now time.Time, window time.Duration) error {
	voters, live := 0, 0
	for _, s := range servers {
		if s.Suffrage != raft.Voter {
			continue
		}
		voters++
		at := answeredAt(s.ID)
		fresh := s.ID == self || (!at.IsZero() && now.Sub(at) < window)
		switch {
		case s.ID == target && fresh:
			return fmt.Errorf("%w: member %s answered %v ago: stop it for good first (replace moves a lost member)",
				ErrMemberLive, s.ID, now.Sub(at).Round(time.Millisecond))
		case fresh:
			live++
		}
	}
	if quorum := voters/2 + 1; live < quorum {
		return fmt.Errorf("%w: %d of %d members answer besides the one to move, %d needed", ErrTooFewLive, live, voters, quorum)
	}
	return nil
}
