package node

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/input"
	"github.com/ringex/ringex/replicator"
)

// Replication (cluster.peers set). The replicator stage proposes each
// input-ring batch as raft log entries and returns only when a majority
// holds them; the journaller and the engine come after it, so in a
// cluster:
//
//  1. The journal holds committed inputs only, and is written without
//     fsync: the raft log (fsynced once per batch on each member) is the
//     durable record, so an input is fsynced once per node, not twice. A
//     node whose journal lost its tail in a machine crash gets the
//     missing inputs again from the raft log — raft re-applies the
//     entries after its last snapshot, and the journal is made durable
//     up to that snapshot's input when it is taken (raftSnapshot).
//  2. Only the leader takes inputs (Publish refuses them elsewhere, and
//     one waiting for room in a full ring when the lead goes: claimInput),
//     and only once every entry of earlier terms is in its ring.
//  3. A follower's raft FSM delivers each committed batch into its input
//     ring with the leader's receive times and sessions, so it assigns
//     the same input sequences and reaches the same state. Its execution
//     reports go nowhere: no session logs on to a follower, which answers
//     Logon with Redirect{leader gateway} or LogonReject{NotLeader}.
//  4. A leader that loses leadership drops its trading sessions and
//     becomes a follower in place. A batch of its own in flight may still
//     be committed by the next leader: the replicator stage waits for its
//     FSM to tell. If the batch is committed, nothing is lost; if another
//     leader's batch takes its sequences, if raft never appended part of
//     it (replicator.ErrNotProposed), or if the node becomes the ready
//     leader again without it, the node fails stop (its journal holds
//     only committed inputs, so a restart is clean).

// proposeChunk bounds the inputs of one raft entry (~100 bytes each);
// up to proposeWindow entries are in flight at once, so a large ring
// batch costs about one round trip, not one per entry.
const (
	proposeChunk  = 2048
	proposeWindow = 32
)

// cluster is the node's replication state.
type cluster struct {
	r           *replicator.Replicator // set by Start
	incarnation uint64
	// committed is the last input sequence known committed and present
	// in the input ring: the replicator stage writes it for its own
	// batches, the FSM goroutine for delivered ones (before publishing
	// them). Invariant: committed <= base + published cursor, except
	// while a delivery is being published.
	committed atomic.Int64
	accepting atomic.Bool // leader and caught up: Publish takes inputs
	// led counts the times this node became the ready leader (onRole,
	// before accepting is set); windowLed is what it was when the
	// replicator stage started its last window of proposals (stage
	// goroutine only): awaitFate tells a later leadership by it.
	led       atomic.Int64
	windowLed int64
	proposed  atomic.Int64
	entries   atomic.Int64
	// contact says whether the market data is current (mdcurrent.go).
	contact leaderContact
}

// ErrNotLeader: a clustered node that is not the ready leader refuses
// inputs.
var ErrNotLeader = errors.New("node: not the leader")

// ErrInputsLost stops a member that lost the lead with inputs of its own
// in its ring that no leader will commit (item 4 above): its state is
// ahead of the cluster's by inputs that never happened.
var ErrInputsLost = errors.New("node: inputs lost with the leadership")

// RestartResolves reports whether a fatal error of a cluster member is
// one its next start resolves by itself, the data directory as it is:
// inputs lost with the leadership (ErrInputsLost), a committed batch
// that does not follow the ring (replicator.ErrDiverged: the ring holds
// a deposed leader's inputs; the journal holds committed inputs only, so
// the restart replays none of them), or a raft snapshot staged to load
// at the next start (replicator.ErrInstalled). Storage errors, a
// stalled disk, a fence, rules that differ from the cluster's are not:
// a restart meets them again.
func RestartResolves(err error) bool {
	return errors.Is(err, ErrInputsLost) || errors.Is(err, replicator.ErrDiverged) || errors.Is(err, replicator.ErrInstalled)
}

// stateView lets the admin endpoint read the engine between batches.
type stateView struct {
	mu  sync.Mutex // held by the engine goroutine for each batch and each Do task
	seq int64      // last input sequence the engine applied; under mu
}

func newCluster(n *Node) *cluster {
	if !n.cfg.Cluster.Enabled() {
		return nil
	}
	return &cluster{incarnation: uint64(time.Now().UnixNano())}
}

// journalAfter makes the journaller follow the replicator in a cluster.
func (n *Node) journalAfter(r *consumer) []*consumer {
	if n.cl == nil {
		return nil
	}
	return []*consumer{r}
}

// startCluster opens the raft member; the input ring is running, the
// gateway not yet listening.
func (n *Node) startCluster() error {
	cl := n.cl
	cl.committed.Store(n.base - 1)
	var peers []replicator.Peer
	for _, p := range n.cfg.Cluster.Peers {
		peers = append(peers, replicator.Peer{ID: p.ID, Raft: p.Raft, Gateway: p.Gateway})
	}
	var tlsCfg *tls.Config
	if t := n.cfg.Cluster.TLS; t.Enabled() {
		var err error
		if tlsCfg, err = replicator.MutualTLS(t.CertFile, t.KeyFile, t.CAFile); err != nil {
			return err
		}
	}
	n.log.Info().Bool("mutual_tls", tlsCfg != nil).Str("listen", n.cfg.Cluster.RaftListen).
		Dur("election_timeout", n.cfg.Cluster.ElectionTimeout).Msg("cluster: consensus transport")
	warnDefaultClusterID(n.cfg.Cluster, n.log)
	r, err := replicator.Open(replicator.Config{TLS: tlsCfg,
		NodeID: n.cfg.Node.ID, Listen: n.cfg.Cluster.RaftListen, Peers: peers,
		Dir: raftDir(n.cfg), Cluster: n.cfg.Cluster.JournalID(), Bootstrap: n.cfg.Cluster.Bootstrap, Incarnation: cl.incarnation, Applied: n.base - 1, Rules: n.rules,
		Deliver: n.deliverBatch, OnRole: n.onRole, OnFatal: n.fail, Logger: n.log,
		OnLogSync: func(d time.Duration) { n.stats.raftFsync.Observe(d.Seconds()) },
		Snapshot:  n.raftSnapshot, Install: n.installState, SnapshotApplied: streamApplied,
		TrailingEntries:    uint64(n.cfg.Cluster.TrailingEntries),
		Dropped:            n.droppedSeqs(),
		SnapshotListsDrops: func(r io.Reader) (bool, error) { return streamListsDrops(r, n.drops) },
		HeartbeatTimeout:   n.cfg.Cluster.ElectionTimeout, // election and lease too
		DiskStallTimeout:   n.cfg.Cluster.DiskStallTimeout, DiskWaiting: n.diskWaiting.Oldest,
	})
	if err != nil {
		return err
	}
	cl.r = r
	n.startLeaderContact()
	return nil
}

// warnDefaultClusterID warns a member of a cluster of more than one run
// under config.DefaultClusterID (config.Cluster.UsesDefaultID), at each
// start: every other cluster left without cluster.id runs under it too,
// and the id is what tells another cluster's data directory from this
// one's — a joining member's raft state (the replicator's claimCluster),
// the journal's segments. Not refused: a rename is legitimate, and a
// running cluster's journals keep the id they began with.
func warnDefaultClusterID(c config.Cluster, log zerolog.Logger) {
	if !c.UsesDefaultID() {
		return
	}
	log.Warn().Str("cluster_id", config.DefaultClusterID).
		Msg("cluster: cluster.id is not set: this cluster runs as \"" + config.DefaultClusterID + "\", as does every other cluster left without one, " +
			"and a data directory of another such cluster's member (its raft state, its journal) is not told from one of this cluster's. " +
			"Set cluster.id to a name of this cluster's own, the same on every member — before a new cluster's first start: a journal keeps the id it began with")
}

// droppedSeqs are the inputs the drops file lists, in order: the raft
// log keeps no entry holding one once the node has taken it and a raft
// snapshot covers it (replicator/forget.go), so that no member behind is
// sent a dropped input — one with no drops file of its own (an empty data
// directory) would apply it — but this node's state, which lists them.
func (n *Node) droppedSeqs() []int64 {
	var seqs []int64
	for _, d := range n.drops.Entries() {
		seqs = append(seqs, d.Seq)
	}
	return seqs
}

func (n *Node) stopCluster() error {
	if n.cl == nil || n.cl.r == nil {
		return nil
	}
	n.cl.accepting.Store(false)
	return n.cl.r.Close()
}

// replicateBatch is the replicator stage: it commits the batch through
// raft, in entries of at most proposeChunk inputs, and returns when all
// are committed. Slots the FSM delivered are committed already.
func (n *Node) replicateBatch(lo, hi int64) error {
	cl := n.cl
	if cl == nil {
		return nil
	}
	done := cl.committed.Load() - n.base
	if hi <= done {
		return nil
	}
	lo = max(lo, done+1)
	var window [proposeWindow]replicator.Proposal
	for lo <= hi {
		cl.windowLed = cl.led.Load()
		k, end := 0, lo-1
		for ; k < proposeWindow && end < hi; k++ {
			from := end + 1
			end = min(hi, from+proposeChunk-1)
			window[k] = cl.r.Start(n.entry(from, end))
		}
		var failed error
		for i := range k { // every one: a later entry may be refused, an earlier one lost
			if err := window[i].Wait(); err != nil {
				if !errors.Is(err, replicator.ErrNotLeader) {
					return err
				}
				if failed == nil || errors.Is(err, replicator.ErrNotProposed) {
					failed = err
				}
			}
		}
		if failed != nil {
			if err := n.awaitFate(end, hi, failed); err != nil {
				return err
			}
		}
		cl.committed.Store(n.base + end)
		cl.proposed.Add(end - lo + 1)
		cl.entries.Add(int64(k))
		lo = end + 1
	}
	return nil
}

// entry encodes ring slots lo…hi as one raft entry. raft keeps it: a
// fresh buffer per entry (not per input).
func (n *Node) entry(lo, hi int64) []byte {
	count := hi - lo + 1
	size := replicator.EntryHeaderSize
	for s := lo; s <= hi; s++ {
		size += replicator.InputHeaderSize + int(n.in.slots.At(s).Len)
	}
	// Exact: growing it cost a fifth of the leader's CPU. make zeroes the
	// buffer the appends then overwrite whole, and Go has no way around
	// it but the runtime's own; the zeroing costs nothing measurable: an
	// entry of 2048 inputs of 90 bytes took 105 µs of the process's CPU
	// made so, 106 with the runtime's MakeNoZero (by linkname, measured
	// only) and 118 encoded into a reused buffer and copied (2026-12-07,
	// 8 runs each) — the memclr a profile shows is the first touch of a
	// fresh ~230 KiB, which the appends would pay instead.
	e := make([]byte, 0, size)
	e = replicator.AppendHeader(e, replicator.Header{Origin: n.cfg.Node.ID, Incarnation: n.cl.incarnation, Rules: n.rules,
		First: n.base + lo, Count: uint32(count)})
	for s := lo; s <= hi; s++ {
		slot := n.in.slots.At(s)
		e = replicator.AppendInput(e, &replicator.Input{RecvTime: slot.RecvTime, Session: slot.Session,
			Account: slot.Account, Kind: uint8(slot.Kind), Payload: slot.Payload()})
	}
	return e
}

// awaitFate handles a proposal that failed because leadership was lost:
// the entries up to ring slot end may still be committed by the next
// leader. This node, now a follower, waits for its FSM: if it applies
// them (they are this incarnation's, so they are counted, not delivered)
// they are committed and the stage goes on; if another leader's batch
// takes their sequences, the delivery finds the ring slots taken,
// reports ErrDiverged and the node stops. Slots never proposed (end <
// hi) or refused unappended (ErrNotProposed) can never be committed: the
// node stops at once. So it does when it becomes the ready leader again
// without them: its barrier applied every entry its log holds — a
// leadership begun since the window went out (led), whether or not a
// poll saw the node a follower in between (raft hands a leadership lost
// and won again as one signal, and the stage may not run for a while).
// A state installed meanwhile (the leader's, sent as this member's log
// ended before the leader's compacted one) raises Applied past them but
// says nothing of them: the node stops to load it (ErrInstalled).
func (n *Node) awaitFate(end, hi int64, cause error) error {
	if end < hi || errors.Is(cause, replicator.ErrNotProposed) {
		// Never in any raft log (a later entry of the window may have been
		// refused even when this one was lost): they can never be committed.
		return fmt.Errorf("%w: inputs up to %d were never proposed: %w", ErrInputsLost, n.base+hi, cause)
	}
	last := n.base + end
	n.log.Warn().Err(cause).Int64("last_seq", last).Msg("cluster: leadership lost with inputs in flight; waiting for their fate")
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for {
		applied := n.cl.r.Applied()
		if n.cl.r.Installed() {
			// applied is the staged state's: the leader sent its state
			// because this member's log ended before the leader's, and
			// says nothing of these inputs. Taken for committed, they
			// went on to the journal and the engine (market data,
			// reports) on a member about to load another state.
			return fmt.Errorf("%w: inputs up to %d not known committed: %w", replicator.ErrInstalled, last, cause)
		}
		if applied >= last {
			break
		}
		// accepting first: a leader it shows has counted itself in led.
		leader := n.cl.accepting.Load() && n.cl.led.Load() != n.cl.windowLed
		if leader && n.cl.r.Applied() < last {
			// Ready leader again: its barrier applied every entry it
			// holds; the rest were dropped and can never be committed.
			return fmt.Errorf("%w: inputs up to %d dropped by the next leader: %w", ErrInputsLost, last, cause)
		}
		select {
		case <-n.stopping():
			return fmt.Errorf("node: inputs up to %d not known committed: %w", last, cause)
		case <-t.C:
		}
	}
	n.log.Info().Int64("last_seq", last).Msg("cluster: inputs in flight were committed by the next leader")
	return nil
}

// deliverBatch puts a batch committed by another leader into the input
// ring (raft's FSM goroutine).
func (n *Node) deliverBatch(b *replicator.Batch) error {
	cl := n.cl
	// Once Stop has drained the input ring and halted it, raft may still
	// commit entries before it shuts down. The journal is final: they are
	// delivered at the next start, not now — and not judged against the
	// ring either: its uncommitted tail (a leader deposed as it stopped)
	// was never journaled (the journaller follows the replicator stage),
	// and the next start takes the committed entries in its place.
	if n.in.seq.Halted() {
		return fmt.Errorf("%w: the input ring is halted", replicator.ErrDeliveryStopped)
	}
	// Slots at or past the batch's first input hold inputs this node's
	// gateway published and raft never committed (a deposed leader's):
	// the batch takes their sequences. Stop now, claiming nothing: the
	// replicator stage, waiting for their fate, holds the ring, and a
	// claim would wait for space only it can free.
	if pub := n.base + n.in.published(); pub >= b.First {
		return fmt.Errorf("%w: input %d would take the place of an uncommitted input (the ring holds inputs up to %d)",
			replicator.ErrDiverged, b.First, pub)
	}
	var in replicator.Input
	next := b.First
	for left := int64(b.Count); left > 0; {
		k := min(left, max(1, int64(n.in.slots.Size()/2))) // a 1-slot ring: 1, not 0
		hi, err := n.in.seq.Next(k)
		if err != nil { // halted since: the node is stopping
			return fmt.Errorf("%w: %w", replicator.ErrDeliveryStopped, err)
		}
		lo := hi - k + 1
		for s := lo; s <= hi; s++ {
			ok, err := b.Next(&in)
			if err == nil && !ok {
				err = fmt.Errorf("%w: batch ended early", replicator.ErrEntry)
			}
			if err == nil && n.base+s != next {
				err = fmt.Errorf("%w: input %d would take ring slot of input %d", replicator.ErrDiverged, next, n.base+s)
			}
			slot := n.in.slots.ForWrite(s)
			if err != nil {
				slot.Kind, slot.Len = input.KindControl, 0 // every claimed slot is published; the node stops
				n.in.seq.Publish(lo, hi)
				return err
			}
			slot.RecvTime, slot.Session, slot.Account, slot.Kind = in.RecvTime, in.Session, in.Account, input.Kind(in.Kind)
			// Ids this member gave out before a restart, committed past
			// its journal's end, come back here, after Start set the
			// gateway's ids above the recovered ones (sessionfloor.go).
			n.gw.Above(in.Session)
			if !slot.SetPayload(in.Payload) {
				slot.Len = 0
			}
			next++
		}
		// Committed before published (the replicator stage must not
		// propose them), and only once every slot holds this batch's
		// input: raised before the checks, a batch that found a slot
		// taken — an input the gateway published before leadership was
		// lost, never committed — let the stage pass that input to the
		// journal and the engine as committed while the node stopped.
		cl.committed.Store(n.base + hi)
		n.in.seq.Publish(lo, hi)
		left -= k
	}
	return nil
}

// roleLogHook, set by tests only (nil otherwise; set before the node
// starts), runs in onRole before the role is logged, on the goroutine
// following leadership: a test holds it there, to find what was done
// before.
var roleLogHook func(n *Node, leader bool)

// onRole follows leadership: a ready leader takes sessions and inputs; a
// node that stops being leader drops its sessions, whose clients are
// redirected on reconnect. The sessions are dropped before anything else
// is done, and the log names the new leader by id (LeaderID), which takes
// no name lookup: Leader, for its gateway, may wait up to 2 s a name on a
// resolver that does not answer, the sessions meanwhile open and their
// inputs refused, the next leadership signal waiting.
func (n *Node) onRole(leader bool) {
	if leader {
		// Counted where a leader begins only: one that stops or crashes
		// never counts its end, so counting both ends counted a change
		// once or twice depending on how the old leader went. Before
		// accepting is set: whoever sees a ready leader sees it counted.
		n.stats.roleChanges.Add(1)
		n.cl.led.Add(1)
	}
	n.cl.accepting.Store(leader)
	if leader {
		n.kickClear() // a clear the last leader left pending
	}
	if !leader && n.gw != nil {
		n.gw.DropSessions()
	}
	if roleLogHook != nil {
		roleLogHook(n, leader)
	}
	n.log.Info().Bool("leader", leader).Uint32("leader_id", n.cl.r.LeaderID()).Msg("cluster role")
}

// standby is the gateway's logon check: the leader's gateway address to
// redirect to, "" when none is known.
func (n *Node) standby() (string, bool) {
	cl := n.cl
	if cl.accepting.Load() {
		return "", false
	}
	id, addr := cl.r.Leader()
	if id == n.cfg.Node.ID {
		return "", true // elected, not yet caught up
	}
	return addr, true
}

// refuseInput reports whether Publish must refuse an input.
func (n *Node) refuseInput() bool { return n.cl != nil && !n.cl.accepting.Load() }

// NodeState is the admin /state answer. Its integers are JSON numbers:
// counts of inputs and entries, which stay far below 2^53, where a
// reader whose numbers are float64 (jq, JavaScript) starts rounding —
// 2^53 inputs take over a century at 2 M a second. (GET /sessions's
// session ids, above it, are strings: gateway.SessionInfo.)
type NodeState struct {
	Node uint32 `json:"node"`
	Seq  int64  `json:"seq"`  // last input sequence the engine applied
	Hash string `json:"hash"` // engine state hash after it
	// Rules fingerprints the instruments, accounts and limits the node
	// matches under (engine.Config.Fingerprint): equal on every member of
	// a cluster, or the members stop rather than diverge.
	Rules string `json:"rules"`
	// Reference fingerprints the reference data clients read of the
	// instruments beside the rules — symbols and decimals
	// (config.Config.ReferenceFingerprint) — which no raft entry carries:
	// members serving other ones run on, and `ringex status` compares
	// them (GET /instruments lists them).
	Reference string             `json:"reference"`
	Proposed  int64              `json:"proposed_inputs,omitempty"`
	Entries   int64              `json:"proposed_entries,omitempty"`
	Committed int64              `json:"committed_seq,omitempty"`
	Cluster   *replicator.Status `json:"cluster,omitempty"`
	Ports     map[string]bool    `json:"ports"`
	// Suspended lists the accounts the operator suspended (kill switch),
	// Halted the instruments halted.
	Suspended []uint32 `json:"suspended_accounts"`
	Halted    []uint32 `json:"halted_instruments"`
}

// State reads the engine's sequence and state. The state is copied in
// steps between batches, like a snapshot's (snapcopy.go): trading waits
// for a step at a time, not for the whole copy (6–13 ms for 1 M resting
// orders on the dev VM), and not while the copy is hashed. Calls take
// turns with the one copy they keep (stateTurn), and with snapshot copies
// (copyMu).
//
// It returns ErrStateUnanswered when ctx ends before the answer is made
// — the engine held inside a batch (a long command, a stage after it
// stalled) or hung, or the copy of a very large state still hashed. The
// copy is not abandoned half-way: a goroutine of
// its own drives it to its end and then frees the turn, so the engine is
// never left with a copy open, never waits to hand over an answer nobody
// reads, and a call gone leaves at most that one goroutine, which every
// later call waits for (with its own ctx) instead of starting another.
// A free turn is taken whatever ctx says, but a ctx that has ended is
// answered only if the answer is made by the time State looks: a call
// whose ctx ended already mostly gets ErrStateUnanswered, its copy made
// for nobody. GET /state calls it through stateGate, which waits for the
// answer itself (ctx without its end) and rests after it, so a request
// that gives up does not go without the rest (stategate.go). A panic
// while the answer is made is recovered on its goroutine and returned as
// ErrStateInternal (GET /state: 500), the node going on.
func (n *Node) State(ctx context.Context) (NodeState, error) {
	if !takeTurn(ctx, n.stateTurn) {
		return NodeState{}, fmt.Errorf("%w (an earlier request's copy is still waiting for it)", ErrStateUnanswered)
	}
	type answer struct {
		st  NodeState
		err error
	}
	made := make(chan answer, 1) // room for the answer: its maker never waits for a reader
	go func() {
		defer func() { <-n.stateTurn }()
		st, err := n.makeStateRecovered()
		made <- answer{st, err}
	}()
	select {
	case a := <-made:
		return a.st, a.err
	case <-ctx.Done():
		select {
		case a := <-made: // both ready: the answer
			return a.st, a.err
		default:
			return NodeState{}, ErrStateUnanswered
		}
	}
}

// ErrStateInternal: making State's answer panicked — a bug. The panic
// and its stack are logged at error level, at most once a minute
// (statePanicStackEvery); the node goes on.
var ErrStateInternal = errors.New("node: internal error while making the state answer")

// statePanicStackEvery: a panic making State's answer is logged, with
// its stack, at most this often; the ones between are counted in the
// next. A GET /state that panics every time, asked in a loop (a monitor
// polling it), logged a stack for each answer: the same stack, filling
// the log, even rested (stateGate) — a panic that comes quickly rests
// little.
const statePanicStackEvery = time.Minute

// makeStateRecovered is makeState with a panic in it turned into
// ErrStateInternal. It runs on a goroutine of its own (State), where a
// panic ended the process: net/http recovered the handler's, before the
// answer moved off the handler's goroutine (2b36330).
func (n *Node) makeStateRecovered() (st NodeState, err error) {
	defer func() {
		if p := recover(); p != nil {
			// The answer says whose stack the log holds: within the
			// minute after one logged, only the earlier panic's (it said
			// this one's was there). The time is taken once, before the
			// stack, and logged as stack_logged_at in the log's own time
			// format: the answers in the next minute quote it, and an
			// operator finds the line by it (the line's own stamp is
			// taken as it is written, after the stack).
			where := "its stack is in the node's log"
			if now := time.Now(); n.statePanicStackAt.IsZero() || now.Sub(n.statePanicStackAt) >= statePanicStackEvery {
				stamp := logStamp(now, zerolog.TimeFieldFormat)
				n.log.Error().Str("panic", fmt.Sprint(p)).Str("stack", string(debug.Stack())).Int("not_logged_since_last", n.statePanicsQuiet).
					Str("stack_logged_at", stamp).
					Msg("GET /state: making the answer panicked (a bug: please report it with this stack); the node goes on " +
						"(logged at most once a minute; not_logged_since_last counts the panics since the last one logged)")
				n.statePanicStackAt, n.statePanicStackStamp, n.statePanicsQuiet = now, stamp, 0
			} else {
				n.statePanicsQuiet++
				where = fmt.Sprintf("its stack was not logged, only counted: the stack of an earlier panic was logged with stack_logged_at %q",
					n.statePanicStackStamp)
			}
			st, err = NodeState{}, fmt.Errorf("%w (%v; %s)", ErrStateInternal, p, where)
		}
	}()
	return n.makeState(), nil
}

// logStamp renders t as zerolog renders a time field in format (the
// node's log: zerolog.TimeFieldFormat, cmd/ringex's local time to the
// millisecond), so that a time an answer quotes is found in the log as
// written.
func logStamp(t time.Time, format string) string {
	switch format {
	case zerolog.TimeFormatUnix:
		return strconv.FormatInt(t.Unix(), 10)
	case zerolog.TimeFormatUnixMs:
		return strconv.FormatInt(t.UnixMilli(), 10)
	case zerolog.TimeFormatUnixMicro:
		return strconv.FormatInt(t.UnixMicro(), 10)
	case zerolog.TimeFormatUnixNano:
		return strconv.FormatInt(t.UnixNano(), 10)
	}
	return t.Format(format)
}

// ErrStateUnanswered: State's answer was not made before its caller
// stopped waiting. Which part took the time is not known to the caller:
// the copy, which the engine makes between two batches (held off by a
// long command, a stalled stage after it, or a hung engine), or the
// hashing of the copy, which is long for a very large state with the
// engine going on. Its text names both: it said the engine had not
// answered when the time went on hashing.
var ErrStateUnanswered = errors.New("node: the state answer was not made in time: copying the engine's state, which the engine does " +
	"between two batches (held off by a long command, a stalled stage after it, or a hung engine), or hashing the copy " +
	"(long for a very large state) took longer")

// makeState is State's answer, made by the holder of stateTurn.
func (n *Node) makeState() NodeState {
	sc := steppedCopy{state: &n.stateCopy, afterStep: n.stateStepHook}
	st := n.copyState(&sc)
	n.stats.stateCopySteps.Add(int64(sc.steps))
	if n.stateHashHook != nil {
		n.stateHashHook()
	}
	st.Hash = fmt.Sprintf("%016x", engine.SnapshotHash(sc.state.Snapshot()))
	if cl := n.cl; cl != nil && cl.r != nil {
		s := cl.r.Status()
		st.Cluster, st.Committed, st.Proposed, st.Entries = &s, cl.committed.Load(), cl.proposed.Load(), cl.entries.Load()
	}
	st.Ports = n.ports.snapshot()
	return st
}

// copyState copies the engine's state into sc and returns what State
// reports of the engine besides its hash. Its locks are released by
// defer: a panic recovered above (makeStateRecovered) left copyMu held,
// and the next snapshot or GET /state waited for it for good. A panic
// while the copy is open closes it on the engine (dropOpenCopy) before
// copyMu goes: left open, the next copy's BeginCopy panicked — on the
// engine goroutine, failing the engine stage, or on a stopped engine,
// every later GET /state.
func (n *Node) copyState(sc *steppedCopy) (st NodeState) {
	n.copyMu.Lock()
	defer n.copyMu.Unlock()
	finished := false
	defer func() {
		if !finished && sc.begun { // panicking: the copy may be open
			n.dropOpenCopy()
		}
	}()
	if n.engineStarted.Load() && n.driveCopy(sc, func() { st = n.engineState() }) {
		finished = true
		return st
	}
	// The engine is not running (not started, or stopped): its state
	// holds still.
	n.view.mu.Lock()
	defer n.view.mu.Unlock()
	n.finishStopped(sc)
	finished = true
	return n.engineState()
}

// dropOpenCopy closes the engine's open copy unfinished, if one is: on
// the engine goroutine while it runs, else (stopped: its state holds
// still) here under view.mu. The caller holds copyMu, so the copy is
// its own.
func (n *Node) dropOpenCopy() {
	drop := func() { n.eng.DropCopy() }
	if n.engineStarted.Load() && n.stats.engine.Do(drop) {
		return
	}
	n.view.mu.Lock()
	defer n.view.mu.Unlock()
	drop()
}

// engineState is what State reports of the engine besides its hash, read
// where the copy finished (engine goroutine, or the engine not running).
func (n *Node) engineState() NodeState {
	st := NodeState{Node: n.cfg.Node.ID, Seq: n.view.seq, Rules: fmt.Sprintf("%016x", n.rules),
		Reference: fmt.Sprintf("%016x", n.reference),
		Suspended: n.eng.SuspendedAccounts(), Halted: []uint32{}}
	for _, id := range n.eng.Instruments() {
		if n.eng.Halted(id) {
			st.Halted = append(st.Halted, id)
		}
	}
	return st
}

// clusterAdmin adds GET /state and, in a cluster, POST
// /cluster/isolate?on=true|false (cuts the consensus transport: a fault
// drill for operators and tests) and POST /cluster/replace (memberAdmin).
func (n *Node) clusterAdmin(mux *http.ServeMux) {
	mux.Handle("GET /state", n.auth(onlyParams(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Bounded (stateWait): a request that waited for good on an
		// engine that did not answer held its admin connection, one of
		// adminMaxConnections, and left ringex status no word of why.
		ctx, cancel := context.WithTimeout(r.Context(), n.stateWait)
		defer cancel()
		st, err := n.stateGate.get(ctx, time.Now(), n.State) // rested, shared: stategate.go
		if err != nil {
			if r.Context().Err() != nil {
				return // the client left while it waited
			}
			if errors.Is(err, ErrStateInternal) {
				http.Error(w, fmt.Sprintf("%v; ask again; if it keeps failing, report it with the stack from the node's log", err), http.StatusInternalServerError)
				return
			}
			if !errors.Is(err, ErrStateUnanswered) { // stateWait ended in the gate, behind another request's answer
				err = fmt.Errorf("%w (waited behind another request's answer)", ErrStateUnanswered)
			}
			http.Error(w, fmt.Sprintf("%v; GET /state gave up after %v: ask again; if it keeps failing, "+
				"ringex_consumer_lag{consumer=\"engine\"} on GET /metrics says whether the engine is behind", err, n.stateWait), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(st)
	}))))
	if n.cl == nil {
		// A node alone has no cluster to isolate or change: 404 saying
		// so, where the mux's "404 page not found" left an operator who
		// sent ringex cluster replace to it guessing at a typo.
		alone := n.auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, fmt.Sprintf("POST %s: this node is not a cluster member (cluster.peers is empty)", r.URL.Path), http.StatusNotFound)
		}))
		mux.Handle("POST /cluster/isolate", alone)
		mux.Handle("POST /cluster/replace", alone)
		return
	}
	mux.Handle("POST /cluster/isolate", n.auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		on, err := isolateRequest(r.URL.RawQuery)
		if err != nil {
			n.audit(r, "cluster-isolate", "", 0, fmt.Errorf("refused %d: %w", http.StatusBadRequest, err))
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		n.cl.r.Isolate(on)
		n.log.Warn().Bool("isolated", on).Msg("cluster: consensus transport isolation changed by operator")
		action := "cluster-isolate"
		if !on {
			action = "cluster-rejoin"
		}
		n.audit(r, action, "", 0, nil)
		w.WriteHeader(http.StatusAccepted)
	})))
	n.memberAdmin(mux)
}

// isolateRequest reads POST /cluster/isolate's one parameter, on=true or
// on=false, given once (checkQuery): ?on=true&on=false isolated the
// member, and a refused one was not audited.
func isolateRequest(raw string) (bool, error) {
	if err := checkQuery(raw, "/cluster/isolate", []string{"on"}); err != nil {
		return false, err
	}
	q, _ := url.ParseQuery(raw)
	on, err := strconv.ParseBool(q.Get("on"))
	if err != nil {
		return false, errors.New("on=true|false required")
	}
	return on, nil
}
