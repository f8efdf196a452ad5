package replicator

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"github.com/rs/zerolog"
)

// ErrIsolated is what every RPC returns while a transport is cut off.
var ErrIsolated = errors.New("replicator: transport isolated")

// cutTransport wraps a raft transport with a switch that isolates the
// node: while cut, outgoing RPCs fail at once and incoming ones are
// answered with ErrIsolated, as if the network between this node and its
// peers were down. Operators and tests use it to check that a leader cut
// off from its peers steps down.
//
// It also notes what raft does not tell: the last log index each peer
// acknowledged holding (a leader's successful AppendEntries with
// entries) — what a leader stopping cleanly waits on (Settle) — and when
// each peer last answered an AppendEntries, heartbeats included: which
// members a leader's membership change may count on (Replace).
//
// It notes when a leader last told this member its commit index, and
// which (heardAt, leaderCommit): an AppendEntries that is more than a
// bare heartbeat — a leader sends one at least every CommitTimeout, idle
// or not, and raft's heartbeats, which carry no commit index, go on while
// the leader's replication to this member is stuck (in its retry
// backoff, after a partition healed). What the node's market data is
// judged current by (Replicator.Contact).
//
// And it keeps a joining member out of elections (see joining), refuses
// RPCs from a moved member's former address (fence), and stops this
// process when a member refuses it so (onFenced).
type cutTransport struct {
	inner raft.Transport
	cut   atomic.Bool
	out   chan raft.RPC
	stop  chan struct{}
	once  sync.Once
	// forwarded is closed once forward returned (after stop); drains
	// counts the goroutines refuse started that still read a refused
	// InstallSnapshot's data — none is started after forwarded.
	forwarded chan struct{}
	drains    sync.WaitGroup

	log   zerolog.Logger
	fence *fence // nil: nothing refused
	// refused holds back repeats of a refusal's line for one cause and
	// peer (noteUndecodable): a leader sends what was refused again at
	// each of its retries.
	refused    raftRepeats
	onFenced   func(error) // told once of a member's fence refusal; set before raft starts
	fencedOnce sync.Once
	// moving: the member Replace is moving and the address it moves it
	// from, while Replace runs (then the fence has it, once committed).
	// Nothing is sent there: raft's leader updates a peer's address in
	// place and keeps an established pipeline to the old one (v1.7.1
	// startStopReplication), so a frozen process woken there was sent
	// the log and counted as the member, and the replacement was sent
	// only heartbeats.
	moving atomic.Pointer[movingMember]

	// joining: this member started with no raft state and was not told to
	// bootstrap — a replaced disk, or a new machine for an old member. It
	// holds none of what it acknowledged before, so until it has applied
	// what a leader had committed when it first heard from one, it neither
	// votes nor campaigns: counted in a majority, it could elect a member
	// missing acknowledged inputs. (So every member of a new cluster
	// starts with Bootstrap: one that joins votes for nobody until a
	// leader is elected without it.) joinTarget is that commit index (0:
	// no leader heard yet); appliedIndex reads raft's applied index (set
	// once raft exists).
	joining      atomic.Bool
	joinTarget   atomic.Uint64
	appliedIndex atomic.Pointer[func() uint64]
	onJoined     func(target uint64)
	// commitLimit, once raft exists, is the most of a leader's commit
	// index raft is told (Replicator.commitLimit); behind, whether the
	// member holds more of what the leader committed than it may hand
	// its FSM (Replicator.fsmBehind). behindGrace: holdsBackLead.
	commitLimit atomic.Pointer[func(*raft.AppendEntriesRequest) uint64]
	behind      atomic.Pointer[func() bool]
	behindGrace atomic.Int64 // a time.Duration
	// outrankedWait: holdsBackLead.
	outrankedWait atomic.Int64 // a time.Duration
	// lastLog, once raft exists, is the index and term of this member's
	// last log entry; outrankedAt (as heardAt) is when a candidate whose
	// log is behind it first asked this member for a (pre-)vote since it
	// last heard a leader, which it refuses: holdsBackLead. Written only
	// by forward's goroutine.
	lastLog     atomic.Pointer[func() (index, term uint64)]
	outrankedAt atomic.Int64
	// lastContact, once raft exists, is raft's last contact with a
	// leader (heartbeats included).
	lastContact atomic.Pointer[func() time.Time]
	// candidateKnowsLeader, once raft exists, reports raft a candidate
	// that knows a leader (RequestPreVote).
	candidateKnowsLeader atomic.Pointer[func() bool]
	openedAt             time.Time // set once, at newCutTransport

	heardAt      atomic.Int64 // ns since monoEpoch (monotonic) + 1; 0: no leader's commit index since the start
	leaderCommit atomic.Uint64
	// currentTerm, once set (before raft starts), is raft's current term
	// (StableStore.CurrentTerm): noteLeaderCommit.
	currentTerm atomic.Pointer[func() uint64]

	mu       sync.Mutex
	acked    map[raft.ServerID]uint64    // under mu
	answered map[raft.ServerID]time.Time // under mu
	// pipes are the pipelines open (closePipelines); closed once they
	// were (no more open).
	pipes  map[*cutPipeline]struct{} // under mu
	closed bool                      // under mu
}

func newCutTransport(inner raft.Transport, fence *fence, log zerolog.Logger) *cutTransport {
	t := &cutTransport{inner: inner, log: log, fence: fence, out: make(chan raft.RPC), stop: make(chan struct{}), forwarded: make(chan struct{}),
		acked: map[raft.ServerID]uint64{}, answered: map[raft.ServerID]time.Time{}, openedAt: time.Now()}
	go t.forward()
	return t
}

// noteAnswer records that peer id answered an AppendEntries just now.
func (t *cutTransport) noteAnswer(id raft.ServerID) {
	now := time.Now()
	t.mu.Lock()
	t.answered[id] = now
	t.mu.Unlock()
}

// answeredAt is when peer id last answered an AppendEntries (zero: not
// since Open).
func (t *cutTransport) answeredAt(id raft.ServerID) time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.answered[id]
}

// noteAck records that peer id holds the entries of req, if it said so.
func (t *cutTransport) noteAck(id raft.ServerID, req *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse) {
	if req == nil || resp == nil || !resp.Success || len(req.Entries) == 0 {
		return
	}
	last := req.Entries[len(req.Entries)-1].Index
	t.mu.Lock()
	t.acked[id] = max(t.acked[id], last)
	t.mu.Unlock()
}

// ackedIndex is the last log index peer id acknowledged holding.
func (t *cutTransport) ackedIndex(id raft.ServerID) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.acked[id]
}

// forward passes incoming RPCs on unless the transport is cut.
func (t *cutTransport) forward() {
	defer close(t.forwarded)
	in := t.inner.Consumer()
	for {
		select {
		case rpc := <-in:
			if t.cut.Load() {
				t.refuse(rpc, ErrIsolated)
				continue
			}
			if t.refuseFenced(rpc) || t.refuseUndecodable(rpc) {
				continue
			}
			t.noteLeaderCommit(rpc)
			t.noteOutranked(rpc)
			if t.joining.Load() && t.refuseWhileJoining(rpc) {
				continue
			}
			if t.refuseLeadWhileBehind(rpc) {
				continue
			}
			t.limitCommit(rpc)
			select {
			case t.out <- rpc:
			case <-t.stop:
				t.refuse(rpc, raft.ErrTransportShutdown)
				return
			}
		case <-t.stop:
			return
		}
	}
}

// refuseFenced answers rpc with the fence's refusal when it comes from a
// moved member's former address (true).
func (t *cutTransport) refuseFenced(rpc raft.RPC) bool {
	if t.fence == nil {
		return false
	}
	err := t.fence.check(rpc.Command)
	if err != nil {
		t.refuse(rpc, err)
	}
	return err != nil
}

// refuse answers rpc with err, raft not told of it. An InstallSnapshot's
// data follows its request on the connection, for whoever takes it to
// read (rpc.Reader); refused unread, the network transport (v1.7.1
// handleConn) read it after the answer as the connection's next
// request, found none and closed the connection: a request sent after
// it on the connection went unanswered, and a sender still writing data
// larger than the sockets hold lost the answer to a reset — a fenced
// process never heard it was fenced. So the data is read to its end
// (the request's Size, or the connection's) and dropped before the
// answer, as raft does before each of its own (raft.go:1823), on a
// goroutine of its own: forward goes on meanwhile, and the
// connection, waiting for this answer, reads nothing else. The read
// ends with the sender's write, or once no byte of it came for the
// transport's timeout or its bytes fell behind the sender's own pace
// (requestConn.requestBound: the connection is then closed, and the
// answer fails to be written) — a sender's write deadline bounds only a
// sender alive and honest.
func (t *cutTransport) refuse(rpc raft.RPC, err error) {
	if rpc.Reader == nil {
		rpc.Respond(nil, err)
		return
	}
	t.drains.Add(1)
	go func() {
		defer t.drains.Done()
		_, _ = io.Copy(io.Discard, rpc.Reader)
		rpc.Respond(nil, err)
	}()
}

// refuseUndecodable answers rpc itself, refusing it with ErrCorrupt
// naming what and who sent it, when it carries a membership that does
// not decode (true): an AppendEntries' membership entry, or an
// InstallSnapshot's membership; or an AppendEntries with an empty (nil)
// entry (undecodableEntry). Raft (v1.7.1) panics on one — the
// entry's once it stored it (raft.go:1548; every start after read it
// again, Open's membershipDecodes), the snapshot's at once
// (raft.go:1861) — and the member's process died. Refused, nothing is
// stored and the member goes on; the leader logs the refusal and sends
// it again, and the member falls behind on that leader's log. The
// member logs it too (noteUndecodable): the leader's line is on
// another machine.
func (t *cutTransport) refuseUndecodable(rpc raft.RPC) bool {
	var err error
	var what string
	var header raft.RPCHeader
	switch req := rpc.Command.(type) {
	case *raft.AppendEntriesRequest:
		header = req.RPCHeader
		what, err = undecodableEntry(req)
	case *raft.InstallSnapshotRequest:
		if req.SnapshotVersion > 0 {
			if _, derr := decodeMembership(req.Configuration); derr != nil {
				what, header = "a raft snapshot's membership", req.RPCHeader
				err = fmt.Errorf("%w: a raft snapshot %s, its membership, does not decode: %v", ErrCorrupt, sentBy(req.RPCHeader), derr)
			}
		}
	}
	if err != nil {
		t.noteUndecodable(what, header, err)
		t.refuse(rpc, err)
	}
	return err != nil
}

// noteUndecodable logs a refusal of what (refuseUndecodable), sent by
// the member of header, at warn: once when that member first sends it,
// then at most once per raftRepeatEvery while it sends it again (each
// of the leader's retries), saying how many were held back.
func (t *cutTransport) noteUndecodable(what string, header raft.RPCHeader, err error) {
	ok, heldBack := t.refused.allow(what+" "+sentBy(header), time.Now())
	if !ok {
		return
	}
	e := t.log.Warn().Err(err).Str("refused", what).Str("peer", string(header.ID)).Str("peer_addr", string(header.Addr))
	if heldBack > 0 {
		e = e.Int("held_back", heldBack) // refusals like it since the last logged
	}
	e.Msg("replicator: refused a leader's request carrying what does not decode (a membership, or an empty entry); it is sent again, and this member falls behind on that leader's log")
}

// undecodableEntry is ErrCorrupt for the first entry req carries that
// raft cannot take, and what it is: a membership entry that does not
// decode, or no entry at all — a nil in the list (msgpack's nil), which
// raft (v1.7.1 appendEntries) and noteAck read through as an entry, and
// the process died of it, the sender any peer that reached the raft
// port. nil when every entry is one raft takes.
func undecodableEntry(req *raft.AppendEntriesRequest) (what string, err error) {
	for i, l := range req.Entries {
		if l == nil {
			return "an empty entry", fmt.Errorf("%w: an AppendEntries %s does not decode: its entry %d of %d is empty (nil)",
				ErrCorrupt, sentBy(req.RPCHeader), i+1, len(req.Entries))
		}
		if l.Type != raft.LogConfiguration {
			continue
		}
		if _, err := decodeConfiguration(sentBy(req.RPCHeader), l); err != nil {
			return "a membership entry", err
		}
	}
	return "", nil
}

// sentBy names the member that sent a request with header h.
func sentBy(h raft.RPCHeader) string {
	return fmt.Sprintf("sent by member %s at %s", h.ID, h.Addr)
}

// movingMember is a member being moved from an address (Replace).
type movingMember struct {
	id   raft.ServerID
	from raft.ServerAddress
}

// errMovedAway: nothing is sent to a member's former address.
type errMovedAway struct {
	id     raft.ServerID
	target raft.ServerAddress
}

func (e errMovedAway) Error() string {
	return fmt.Sprintf("replicator: member %s moved away from %s: nothing is sent there", e.id, e.target)
}

// movedAway is errMovedAway when target is an address member id is being
// moved or was moved away from, else nil.
func (t *cutTransport) movedAway(id raft.ServerID, target raft.ServerAddress) error {
	if m := t.moving.Load(); m != nil && m.id == id && m.from == target {
		return errMovedAway{id, target}
	}
	if t.fence != nil && t.fence.formerAt(id, string(target)) {
		return errMovedAway{id, target}
	}
	return nil
}

// noteFenced passes a member's fence refusal of this process's RPC to
// onFenced, once, and returns err.
func (t *cutTransport) noteFenced(err error) error {
	if isFenceRefusal(err) && t.onFenced != nil {
		t.fencedOnce.Do(func() { t.onFenced(err) })
	}
	return err
}

// noteLeaderCommit notes the commit index an AppendEntries carries
// (heartbeats carry none) when raft will take it: not one of a term
// older than the member's (raft v1.7.1 appendEntries ignores it, "an
// older term"). A deposed leader's, noted, made a member that had
// moved to a newer term, and was cut off from its leader, look in touch
// (Replicator.Contact), its market data current on a commit index
// raft refused. The term is read before raft takes the request: one
// that raft moves to a newer term meanwhile (its own campaign) lets one
// such request through.
func (t *cutTransport) noteLeaderCommit(rpc raft.RPC) {
	req, ok := rpc.Command.(*raft.AppendEntriesRequest)
	if !ok || req.LeaderCommitIndex == 0 {
		return
	}
	if term := t.currentTerm.Load(); term != nil && req.Term < (*term)() {
		return
	}
	t.leaderCommit.Store(req.LeaderCommitIndex)
	t.heardAt.Store(int64(time.Since(monoEpoch)) + 1)
}

// limitCommit lowers the commit index an AppendEntries tells raft to
// commitLimit (after it was noted: the leader's own is what it says).
func (t *cutTransport) limitCommit(rpc raft.RPC) {
	req, ok := rpc.Command.(*raft.AppendEntriesRequest)
	limit := t.commitLimit.Load()
	if !ok || req.LeaderCommitIndex == 0 || limit == nil {
		return
	}
	req.LeaderCommitIndex = min(req.LeaderCommitIndex, (*limit)(req))
}

// errBehind refuses what would make a member far behind in applying
// what the leader committed the leader.
var errBehind = errors.New("replicator: member behind in applying the log: not leading while a member that is not may")

// holdsBackLead: the member holds more of what the leader committed
// than it may hand its FSM at once (behind), and heard from a leader
// within behindGrace. It neither campaigns nor takes a leadership
// transfer then: its log is whole (it stores the leader's at disk speed)
// and raft would elect it as soon as a member that applied everything,
// and a leader is ready only once it applied its log — a failover as
// long as its backlog. A member whose FSM stalled kept its log short
// before FSMBacklogBytes (raft stopped taking entries once 128 batches
// waited), which did the same. Past the grace it campaigns: when every
// member left is behind, one must lead.
//
// Nor does it hold back once outrankedWait has passed since a candidate
// whose log is behind its own first asked it for a (pre-)vote after it
// heard the leader: it refuses that candidate, which cannot be elected
// without its vote when it is the only other member left, and holding
// back would leave the cluster with no leader for the whole grace. With
// all three members alive the third can be elected (the candidate votes
// for a log longer than its own), and campaigns within outrankedWait: a
// follower's election timer runs out at most 2 HeartbeatTimeouts after
// the leader was last heard, and the candidate's ran out no earlier than
// one. The cost: with one member lost of three, and the survivors one
// behind and one whose log is shorter, the cluster waits about 2
// HeartbeatTimeouts more for a leader (outrankedWaitBeats; 300 ms at
// the default 150 ms), give or take one of the member behind's election
// timeouts, when its next campaign comes.
//
// outrankedWait is this member's HeartbeatTimeout taken for the third
// member's: every member's must be the same (cluster.election_timeout).
// Raft's RPCs do not carry it, and the peers name no other member's
// config, so a member cannot learn a longer one; with the third's
// longer (a member-by-member change of it), the member behind may be
// released before the third campaigns, and be elected — a failover as
// long as its backlog, as without the hold-back, and nothing lost.
func (t *cutTransport) holdsBackLead() bool {
	behind := t.behind.Load()
	heard := t.sinceLeaderHeard()
	if behind == nil || heard >= time.Duration(t.behindGrace.Load()) {
		return false
	}
	if at := t.outrankedAt.Load(); at != 0 {
		if since := sinceMono(at); since < heard && since >= time.Duration(t.outrankedWait.Load()) {
			return false
		}
	}
	return (*behind)()
}

// sinceLeaderHeard is how long ago this member last heard from a leader:
// raft's last contact, heartbeats included (an idle leader tells its
// commit index only every CommitTimeout or two, and none to a member its
// replication backs off from after a cut; a stale leader's requests,
// which raft refuses, do not count). Before it heard one, how long ago
// the transport opened: after a whole-cluster restart no member heard a
// leader, and one behind holds back from its start.
func (t *cutTransport) sinceLeaderHeard() time.Duration {
	if contact := t.lastContact.Load(); contact != nil {
		if last := (*contact)(); !last.IsZero() {
			return time.Since(last)
		}
	}
	return time.Since(t.openedAt)
}

// sinceMono is how long ago at was, a time noted as heardAt is.
func sinceMono(at int64) time.Duration { return time.Duration(int64(time.Since(monoEpoch)) + 1 - at) }

// noteOutranked notes the first (pre-)vote request since the leader was
// last heard from a candidate whose log is behind this member's
// (outrankedAt).
func (t *cutTransport) noteOutranked(rpc raft.RPC) {
	var index, term uint64
	switch req := rpc.Command.(type) {
	case *raft.RequestVoteRequest:
		index, term = req.LastLogIndex, req.LastLogTerm
	case *raft.RequestPreVoteRequest:
		index, term = req.LastLogIndex, req.LastLogTerm
	default:
		return
	}
	last := t.lastLog.Load()
	if last == nil {
		return
	}
	ours, ourTerm := (*last)()
	if term > ourTerm || (term == ourTerm && index >= ours) {
		return
	}
	// The first since the leader was heard: outrankedWait counts from it,
	// however often that candidate asks again.
	if at := t.outrankedAt.Load(); at == 0 || sinceMono(at) >= t.sinceLeaderHeard() {
		t.outrankedAt.Store(int64(time.Since(monoEpoch)) + 1)
	}
}

// refuseLeadWhileBehind answers a leadership transfer itself, refusing
// it, while the member holds back from leading (true).
func (t *cutTransport) refuseLeadWhileBehind(rpc raft.RPC) bool {
	if _, ok := rpc.Command.(*raft.TimeoutNowRequest); ok && t.holdsBackLead() {
		rpc.Respond(nil, errBehind)
		return true
	}
	return false
}

// errJoining answers what a joining member does not take part in.
var errJoining = errors.New("replicator: member joining: not voting until it holds what the leader committed")

// refuseWhileJoining answers rpc itself, refusing it, when a joining
// member must not take part (true); otherwise it notes what rpc tells of
// the leader's progress and lets it through (false).
func (t *cutTransport) refuseWhileJoining(rpc raft.RPC) bool {
	if t.checkJoined(); !t.joining.Load() {
		return false // caught up since the last RPC: takes part again
	}
	switch req := rpc.Command.(type) {
	case *raft.AppendEntriesRequest:
		if req.LeaderCommitIndex > 0 {
			t.joinTarget.CompareAndSwap(0, req.LeaderCommitIndex)
		}
	case *raft.RequestVoteRequest:
		// Not even for a candidate whose log holds only the bootstrap
		// entry: a member of a formed cluster that was down since its
		// formation has that log too.
		rpc.Respond(&raft.RequestVoteResponse{RPCHeader: raft.RPCHeader{ProtocolVersion: req.ProtocolVersion}, Term: req.Term}, nil)
		return true
	case *raft.RequestPreVoteRequest:
		rpc.Respond(&raft.RequestPreVoteResponse{RPCHeader: raft.RPCHeader{ProtocolVersion: req.ProtocolVersion}, Term: req.Term}, nil)
		return true
	case *raft.TimeoutNowRequest:
		rpc.Respond(nil, errJoining)
		return true
	}
	t.checkJoined()
	return false
}

// checkJoined ends joining once the member applied the commit index the
// first leader it heard had.
func (t *cutTransport) checkJoined() {
	target, applied := t.joinTarget.Load(), t.appliedIndex.Load()
	if target == 0 || applied == nil || (*applied)() < target {
		return
	}
	if t.joining.CompareAndSwap(true, false) && t.onJoined != nil {
		t.onJoined(target)
	}
}

func (t *cutTransport) Consumer() <-chan raft.RPC     { return t.out }
func (t *cutTransport) LocalAddr() raft.ServerAddress { return t.inner.LocalAddr() }

func (t *cutTransport) AppendEntriesPipeline(id raft.ServerID, target raft.ServerAddress) (raft.AppendPipeline, error) {
	if t.cut.Load() {
		return nil, ErrIsolated
	}
	if err := t.movedAway(id, target); err != nil {
		return nil, err
	}
	p, err := t.inner.AppendEntriesPipeline(id, target)
	if err != nil {
		return nil, err
	}
	cp := &cutPipeline{AppendPipeline: p, t: t, id: id, target: target, done: make(chan raft.AppendFuture), stop: make(chan struct{})}
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		p.Close()
		return nil, raft.ErrPipelineShutdown
	}
	if t.pipes == nil {
		t.pipes = map[*cutPipeline]struct{}{}
	}
	t.pipes[cp] = struct{}{}
	t.mu.Unlock()
	go cp.forward()
	return cp, nil
}

func (t *cutTransport) AppendEntries(id raft.ServerID, target raft.ServerAddress, args *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse) error {
	if t.cut.Load() {
		return ErrIsolated
	}
	if err := t.movedAway(id, target); err != nil {
		return err
	}
	if err := t.inner.AppendEntries(id, target, args, resp); err != nil {
		return t.noteFenced(err)
	}
	t.noteAnswer(id)
	t.noteAck(id, args, resp)
	return nil
}

func (t *cutTransport) RequestVote(id raft.ServerID, target raft.ServerAddress, args *raft.RequestVoteRequest, resp *raft.RequestVoteResponse) error {
	if t.cut.Load() {
		return ErrIsolated
	}
	if err := t.movedAway(id, target); err != nil {
		return err
	}
	if t.joining.Load() {
		return errJoining
	}
	if t.holdsBackLead() {
		return errBehind
	}
	return t.noteFenced(t.inner.RequestVote(id, target, args, resp))
}

// RequestPreVote asks target for a pre-vote — but a candidate that
// knows a leader it answers itself, refused with a term above the one
// it asks for: raft's one way back from a pre-vote candidate to a
// follower (runCandidate, v1.7.1), and a follower knows no leader
// until one is heard again (setState clears it).
//
// Raft leaves a candidate knowing a leader in one way only: an
// InstallSnapshot of its current term sets the leader and makes it a
// follower only for a newer term (installSnapshot), and a pre-vote
// candidate keeps its term until it wins the pre-votes (preElectSelf),
// while nothing in runCandidate clears the leader. The leader's next
// heartbeat makes it a follower; a leader dead or cut off sends none,
// and the candidate refuses every pre-vote and vote "since we have a
// leader" and asks for pre-votes, which change no term, for ever: a
// member whose log is ahead, which needs its vote, is never elected.
// The term raft then takes is one above the one it asked for, a term
// it has not voted in: its next pre-vote is at one more, and the
// others, at lower terms, learn it from its answers as from any
// candidate's. A leader still alive that it had not heard for an
// election timeout it deposes once, as a member without pre-vote
// would (TestCandidateTakingTheLeadersSnapshotStillElects).
func (t *cutTransport) RequestPreVote(id raft.ServerID, target raft.ServerAddress, args *raft.RequestPreVoteRequest, resp *raft.RequestPreVoteResponse) error {
	pv, ok := t.inner.(raft.WithPreVote)
	if !ok {
		return errors.New("replicator: transport has no pre-vote")
	}
	if knows := t.candidateKnowsLeader.Load(); knows != nil && (*knows)() {
		*resp = raft.RequestPreVoteResponse{RPCHeader: raft.RPCHeader{ProtocolVersion: args.ProtocolVersion}, Term: args.Term + 1}
		return nil
	}
	if t.cut.Load() {
		return ErrIsolated
	}
	if err := t.movedAway(id, target); err != nil {
		return err
	}
	if t.joining.Load() {
		return errJoining
	}
	if t.holdsBackLead() {
		return errBehind
	}
	return t.noteFenced(pv.RequestPreVote(id, target, args, resp))
}

func (t *cutTransport) InstallSnapshot(id raft.ServerID, target raft.ServerAddress, args *raft.InstallSnapshotRequest, resp *raft.InstallSnapshotResponse, data io.Reader) error {
	if t.cut.Load() {
		return ErrIsolated
	}
	if err := t.movedAway(id, target); err != nil {
		return err
	}
	return t.noteFenced(t.inner.InstallSnapshot(id, target, args, resp, data))
}

func (t *cutTransport) EncodePeer(id raft.ServerID, addr raft.ServerAddress) []byte {
	return t.inner.EncodePeer(id, addr)
}

func (t *cutTransport) DecodePeer(b []byte) raft.ServerAddress { return t.inner.DecodePeer(b) }

// SetHeartbeatHandler wraps the fast path too: heartbeats bypass Consumer.
func (t *cutTransport) SetHeartbeatHandler(cb func(rpc raft.RPC)) {
	if cb == nil {
		t.inner.SetHeartbeatHandler(nil)
		return
	}
	t.inner.SetHeartbeatHandler(func(rpc raft.RPC) {
		if t.cut.Load() {
			rpc.Respond(nil, ErrIsolated)
			return
		}
		if t.refuseFenced(rpc) {
			return
		}
		cb(rpc)
	})
}

func (t *cutTransport) TimeoutNow(id raft.ServerID, target raft.ServerAddress, args *raft.TimeoutNowRequest, resp *raft.TimeoutNowResponse) error {
	if t.cut.Load() {
		return ErrIsolated
	}
	if err := t.movedAway(id, target); err != nil {
		return err
	}
	return t.noteFenced(t.inner.TimeoutNow(id, target, args, resp))
}

// Close stops forwarding and closes the inner transport, and its pooled
// connections to peers (NetworkTransport.Close leaves them, and their
// goroutines, to time out).
//
// An RPC forward holds when it stops is refused (ErrTransportShutdown)
// as any: an InstallSnapshot's data read to its end first. And the inner
// transport closes only once each refused InstallSnapshot's data was
// read and its answer given (for up to drainsWithin): closed, it ends
// every request waiting for an answer and closes its connection, with
// the data unread — the sender, still writing, lost the answer to a
// reset.
func (t *cutTransport) Close() error {
	t.once.Do(func() { close(t.stop) })
	<-t.forwarded
	drained := make(chan struct{})
	go func() {
		t.drains.Wait()
		close(drained)
	}()
	select {
	case <-drained:
	case <-time.After(drainsWithin):
	}
	if c, ok := t.inner.(interface{ CloseStreams() }); ok {
		c.CloseStreams()
	}
	if c, ok := t.inner.(raft.WithClose); ok {
		return c.Close()
	}
	return nil
}

// drainsWithin is the longest Close waits for refused InstallSnapshots'
// data to be read: each read of it waits at most the transport's timeout
// for a byte (requestConn), but a sender may trickle it for longer.
const drainsWithin = transportTimeout

// cutPipeline stops an established pipeline when the transport is cut,
// and notes the peer's acknowledgements as its answers come back.
type cutPipeline struct {
	raft.AppendPipeline
	t      *cutTransport
	id     raft.ServerID
	target raft.ServerAddress
	done   chan raft.AppendFuture // the answers, passed on to raft
	stop   chan struct{}
	once   sync.Once
}

// AppendEntries fails once the member moved away from the pipeline's
// address: raft then drops the pipeline and sends to where it is now.
func (p *cutPipeline) AppendEntries(args *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse) (raft.AppendFuture, error) {
	if p.t.cut.Load() {
		return nil, ErrIsolated
	}
	if err := p.t.movedAway(p.id, p.target); err != nil {
		return nil, err
	}
	return p.AppendPipeline.AppendEntries(args, resp)
}

func (p *cutPipeline) Consumer() <-chan raft.AppendFuture { return p.done }

func (p *cutPipeline) Close() error {
	p.once.Do(func() { close(p.stop) })
	p.t.mu.Lock()
	delete(p.t.pipes, p)
	p.t.mu.Unlock()
	return p.AppendPipeline.Close()
}

// closePipelines closes every pipeline open, and any opened later fails.
// Raft's shutdown waits for its replication goroutines, and one can wait
// in a pipeline's send for good: its decoder gone (a failed answer ends
// it) while the send loop had not yet seen so, nobody takes the answers,
// and once the inner pipeline's answer and in-flight queues are full its
// next send blocks — only the pipeline's Close ends that, which the
// goroutine itself would call (CI, TestSettleBringsALaggingFollowerAlong:
// a leader's Close hung 7 minutes).
func (t *cutTransport) closePipelines() {
	t.mu.Lock()
	t.closed = true
	pipes := make([]*cutPipeline, 0, len(t.pipes))
	for p := range t.pipes {
		pipes = append(pipes, p)
	}
	t.mu.Unlock()
	for _, p := range pipes {
		p.Close()
	}
}

// forward passes the inner pipeline's answers on until Close.
func (p *cutPipeline) forward() {
	in := p.AppendPipeline.Consumer()
	for {
		select {
		case f := <-in:
			if f.Error() == nil {
				p.t.noteAnswer(p.id)
				p.t.noteAck(p.id, f.Request(), f.Response())
			}
			select {
			case p.done <- f:
			case <-p.stop:
				return
			}
		case <-p.stop:
			return
		}
	}
}

// monoEpoch: heardAt is kept on the monotonic clock, so that Contact.Heard
// carries a monotonic reading and a wall clock stepped by NTP moves no
// grace measured from it.
var monoEpoch = time.Now()
