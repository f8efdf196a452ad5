package replicator

import (
	"cmp"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/rs/zerolog"

	"github.com/ringex/ringex/vfs"
)

// Errors.
var (
	// ErrNotProposed: the entry was refused before raft appended it to
	// any log (raft.ErrNotLeader, ErrLeadershipTransferInProgress): it can
	// never be committed. It wraps ErrNotLeader.
	ErrNotProposed = fmt.Errorf("%w: entry not appended", ErrNotLeader)
	// ErrNotLeader: this node cannot commit the proposal because it is
	// not (or no longer) the leader. The proposal may or may not be
	// committed later by another leader.
	ErrNotLeader = errors.New("replicator: not the leader")
	// ErrDiverged: a committed batch does not continue the inputs this
	// node holds. The node must stop.
	ErrDiverged = errors.New("replicator: committed batch does not follow the local inputs")
	// ErrRulesDiffer: a committed batch was proposed by a member matching
	// under other instruments, accounts or limits (Header.Rules) than this
	// one; applied here, its inputs could be decided differently. The
	// node must stop.
	ErrRulesDiffer = errors.New("replicator: committed batch was proposed under other instruments, accounts or limits, or by another engine version, than this member's")
	// ErrOtherCluster: a joining member's raft directory was first
	// started for another cluster (claimCluster). Open refuses it.
	ErrOtherCluster = errors.New("replicator: raft state of another cluster")
)

// Peer is one member of the cluster.
type Peer struct {
	ID      uint32
	Raft    string // consensus address
	Gateway string // order-entry address clients are redirected to
}

// Config configures a Replicator.
type Config struct {
	NodeID uint32
	// Listen is the consensus bind address; the advertised address is
	// this node's Peers entry.
	Listen string
	// Peers lists every voter, this node included, as the raft state's
	// membership must hold them (checkMembership), or held them before
	// a Replace this member applied (stalePeers). Raft's membership
	// changes only by Replace; the members' peers are then edited to
	// match for their next start.
	Peers []Peer
	// TLS, when set (MutualTLS), runs the consensus transport over mutual
	// TLS; nil is plain TCP, for a private network only: a peer that
	// reaches a plain transport can append inputs for any account.
	TLS *tls.Config
	// Dir holds the raft log, the stable store and raft snapshots, and
	// the files naming the member and the cluster they belong to (a
	// directory of another member is refused, and a joining member's of
	// another cluster: claimCluster).
	Dir string
	// Cluster is the cluster's id (the node's cluster.id, or
	// config.DefaultClusterID): recorded in Dir at the member's first
	// start, it tells a joining member's raft state of another cluster
	// from its own (claimCluster). "": neither recorded nor checked.
	Cluster string
	// Bootstrap: on a first start (no raft state in Dir), form the
	// cluster of Peers — for the first start of a new cluster only.
	// Without it a member with no raft state joins: it waits for a
	// leader's log and takes no part in elections until it holds what
	// that leader had committed (a member whose data was lost must not
	// count in a majority). With raft state it changes nothing.
	Bootstrap bool
	// Incarnation tells this process's proposals from those of earlier
	// runs of the same node (a restart must re-deliver them).
	Incarnation uint64
	// Rules is this member's engine.Config.Fingerprint: a committed batch
	// proposed under other rules stops it (ErrRulesDiffer) before it
	// applies an input. 0: not checked.
	Rules uint64
	// Applied is the last input sequence the node already holds (its
	// journal's end): committed inputs up to it are skipped, also those at
	// the start of an entry the journal ends inside.
	Applied int64
	// Deliver puts a committed batch proposed elsewhere into the node's
	// input ring, in order. Called from raft's FSM goroutine.
	Deliver func(b *Batch) error
	// OnRole is told when this node becomes a leader that may accept
	// inputs (every earlier entry is applied) and when it stops being
	// one. Called from one goroutine, in order.
	OnRole func(leader bool)
	// OnFatal is told of an error that must stop the node.
	OnFatal func(error)
	// OnLogSync, when set, is told how long each durable write of the
	// raft log took (write and fsync).
	OnLogSync func(time.Duration)
	// DiskStallTimeout, when above 0, stops a member one of whose raft
	// log writes (or DiskWaiting) has waited longer for the disk:
	// ErrDiskStalled, cut off from its peers first (contract item 9).
	DiskStallTimeout time.Duration
	// DiskWaiting, when set, is how long the node's own oldest disk write
	// under way (its journal's, its snapshots') has waited; 0: none.
	DiskWaiting func() time.Duration
	Logger      zerolog.Logger

	// Snapshot writes the node's state as of input applied (its newest
	// snapshot at or before it and the inputs after that) for raft to
	// keep and send to a member whose log is too far behind; Install, on
	// that member, reads such a state and stages it for the node's next
	// start, returning the input it reaches. Both nil: raft snapshots are
	// never taken and the log is kept whole.
	Snapshot func(applied int64, w io.Writer) error
	Install  func(r io.Reader) (applied int64, err error)
	// SnapshotApplied reads, from the start of such a state, the input
	// it reaches, without reading the rest (see stageOwnSnapshotAhead).
	SnapshotApplied func(r io.Reader) (applied int64, err error)
	// TrailingEntries is how many entries Compact keeps behind the
	// snapshot (default 10240).
	TrailingEntries uint64
	// FSMBacklogBytes bounds the committed entries, as stored, a member
	// has raft hold in memory for its FSM (commitLimit; default 64 MiB).
	FSMBacklogBytes int64
	// Dropped are the inputs the node's operator dropped (its journal's
	// drops file), in increasing order. The log keeps no entry holding
	// one once the node has taken it and a raft snapshot covers it
	// (forget.go): a member behind is sent the node's state instead.
	Dropped []int64
	// SnapshotListsDrops, when set, reports whether a raft snapshot's
	// state (a stream Snapshot wrote) lists each of the node's dropped
	// inputs it holds, so that a member behind may be sent it in place of
	// the log's entries (forget.go). One written before the drops file
	// listed an input may hold it unlisted: raft snapshots the input the
	// replicator applied, which runs ahead of the engine that panicked on
	// it. nil: every raft snapshot does.
	SnapshotListsDrops func(r io.Reader) (bool, error)

	// Timing. Defaults suit a LAN: a follower starts an election
	// 1–2 HeartbeatTimeouts after the leader's last contact.
	HeartbeatTimeout   time.Duration // default 150ms
	ElectionTimeout    time.Duration // default HeartbeatTimeout
	LeaderLeaseTimeout time.Duration // default HeartbeatTimeout
	CommitTimeout      time.Duration // default 250ms; the same on every member (Validate)
}

// Validate fills defaults and checks the config.
func (c *Config) Validate() error {
	if c.NodeID == 0 || c.Dir == "" || c.Listen == "" || c.Deliver == nil {
		return errors.New("replicator: node id, dir, listen and deliver are required")
	}
	self := false
	for _, p := range c.Peers {
		self = self || p.ID == c.NodeID
	}
	if !self {
		return fmt.Errorf("replicator: node %d is not among the peers", c.NodeID)
	}
	if c.HeartbeatTimeout <= 0 {
		c.HeartbeatTimeout = 150 * time.Millisecond
	}
	if c.ElectionTimeout <= 0 {
		c.ElectionTimeout = c.HeartbeatTimeout
	}
	if c.LeaderLeaseTimeout <= 0 {
		c.LeaderLeaseTimeout = c.HeartbeatTimeout
	}
	if c.CommitTimeout <= 0 {
		// Only an idle leader waits for it, to tell followers the commit
		// index (under load every new entry carries it). 20ms cost an idle
		// leader 7% of a core on the dev VM, 250ms 3.9% (heartbeats, every
		// HeartbeatTimeout/10, are most of the rest).
		c.CommitTimeout = 250 * time.Millisecond
	}
	// Every member's CommitTimeout must be the same, which no member can
	// check (the node leaves it at this default, so members of one build
	// agree). A member's raft port holds a connection that has sent no
	// request for firstRequestWithin of its own CommitTimeout (2 of them
	// past the transport's timeout), and a leader's pipeline sends its
	// first request up to 2 of the leader's after it dialled: a leader
	// whose CommitTimeout is longer by more than half the transport's
	// timeout has its pipeline's connection closed while it is idle:
	// raft falls back to single requests, then dials a new pipeline, and
	// logs each — nothing is lost, but the member's lines and its
	// connections churn.
	if c.FSMBacklogBytes <= 0 {
		c.FSMBacklogBytes = 64 << 20
	}
	if c.TrailingEntries == 0 {
		c.TrailingEntries = 10240
	}
	if (c.Snapshot == nil) != (c.Install == nil) {
		return errors.New("replicator: snapshot and install go together")
	}
	for i, seq := range c.Dropped { // droppedAtMost searches it
		if seq < 1 || (i > 0 && seq <= c.Dropped[i-1]) {
			return fmt.Errorf("replicator: dropped inputs %v: not increasing sequences from 1", c.Dropped)
		}
	}
	if c.OnRole == nil {
		c.OnRole = func(bool) {}
	}
	if c.OnFatal == nil {
		c.OnFatal = func(error) {}
	}
	return nil
}

// Replicator runs this node's raft member: it commits proposed batches
// and delivers batches committed by other leaders.
type Replicator struct {
	cfg   Config
	raft  *raft.Raft
	trans *cutTransport
	port  *boundedStream // the raft port: the connections it holds and refused
	logs  *LogStore
	cache raft.LogStore // logs behind raft's cache of recent entries
	reads *fsmReads     // cache with a leader's reads for its FSM held: what raft reads
	fsm   *fsm
	// stable is raft's stable store (term, vote); snaps its snapshot
	// store, whose writes snapsPending times (stateWaiting).
	stable       *StableStore
	snaps        *observedSnapshots
	snapsPending vfs.Pending
	// peers is Config.Peers by id, as far as this member knows them: a
	// Replace made here puts the moved member's new addresses in
	// (copy on write; read by Leader on the gateway's goroutines).
	peers atomic.Pointer[map[raft.ServerID]Peer]
	// unknownChange: the last Replace that returned ErrChangeUnknown,
	// noted if it commits later (noteCommitted).
	unknownChange atomic.Pointer[Peer]
	// placed caches names.sameSocket's answers for Leader and Members
	// (placedAsPeers): [2]string{peer's raft address, the membership's}
	// → bool; a "no" only when every lookup made for it answered
	// (resolve).
	placed sync.Map
	// changing: a Replace is under way (one at a time).
	changing atomic.Bool
	// heldAtStart is the last raft index whose inputs the node held when
	// the member opened (heldThrough of Config.Applied): fsmBehind counts
	// the log after it.
	heldAtStart uint64
	// listsDrops caches SnapshotListsDrops for one raft snapshot (its
	// ID): Open's, then forgetDropped's goroutine.
	listsDrops struct {
		id string
		ok bool
	}
	// forgotten is the greatest dropped input no log entry holds any
	// more (noteForgotten).
	forgotten atomic.Int64

	ready atomic.Bool // leader, and every earlier entry is applied
	stop  chan struct{}
	wg    sync.WaitGroup
	once  sync.Once

	// stopping is set by Close before raft shuts down and its transport
	// closes, and by a failed Open before it closes what it made
	// (closeFailedOpen), and never cleared: raft's lines about what that
	// stop breaks are not errors from then on (zerologWriter).
	stopping atomic.Bool
}

// Open starts the raft member. On first start every node bootstraps the
// same static configuration from Peers.
func Open(cfg Config) (*Replicator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &Replicator{cfg: cfg, stop: make(chan struct{})}
	var servers []raft.Server
	var advertise string
	peers := map[raft.ServerID]Peer{}
	r.peers.Store(&peers)
	for _, p := range cfg.Peers {
		id := serverID(p.ID)
		peers[id] = p
		servers = append(servers, raft.Server{Suffrage: raft.Voter, ID: id, Address: raft.ServerAddress(p.Raft)})
		if p.ID == cfg.NodeID {
			advertise = p.Raft
		}
	}
	hlog := hclog.New(&hclog.LoggerOptions{Name: "raft", Level: hclog.Info, Output: zerologWriter{log: cfg.Logger, stopping: &r.stopping, repeats: &raftRepeats{}}, DisableTime: true})
	var err error
	if r.logs, err = OpenLogStore(filepath.Join(cfg.Dir, "log")); err != nil {
		return nil, err
	}
	logDropped(r.logs, cfg.Logger)
	// The raft log and stable store are made 0600 in 0700 directories
	// (vfs.FileMode, vfs.DirMode), but raft's own snapshot store
	// (FileSnapshotStore) makes each snapshot's directory 0755 and its
	// files 0644, as far as the umask lets it, and earlier builds made the
	// whole raft directory so: closed, it keeps every local user but the
	// node's out of what the log and snapshots hold — every account's
	// orders. Not fatal: a directory the node does not own keeps its
	// mode, with a warning.
	vfs.CloseToOthers(cfg.Dir, "replicator: a raft directory", cfg.Logger)
	r.logs.OnSync = cfg.OnLogSync
	r.logs.OnFail = func(err error) { cfg.OnFatal(fmt.Errorf("replicator: raft log failed: %w", err)) }
	stable, err := OpenStableStore(cfg.Dir)
	if err != nil {
		r.logs.Close()
		return nil, err
	}
	stable.OnFail = func(err error) { cfg.OnFatal(fmt.Errorf("replicator: raft stable store failed: %w", err)) }
	// Made here first, 0700: FileSnapshotStore would make it 0755.
	if err := vfs.MkdirAllDurable(filepath.Join(cfg.Dir, "snapshots")); err != nil {
		r.logs.Close()
		return nil, err
	}
	// Before raft's store is made, which then writes no snapshot until
	// NewRaft: every "*.tmp" directory is one a stop left half written.
	if err := removeSnapshotTemps(cfg.Dir, cfg.Logger); err != nil {
		r.logs.Close()
		return nil, err
	}
	// Raft's store lists only the snapshots whose meta.json reads, and
	// skips the others with a WARN line of its own: a member then starts
	// as if the snapshot was never taken. That costs it no state and no
	// acknowledged input, at most the leader's install; but raft panics
	// at its start when the log does not reach back to where it starts
	// reading (checkSnapshotsSkipped says why, refuses that start, and
	// removes a skipped directory otherwise).
	fileSnaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.Dir, 2, hlog)
	if err != nil {
		r.logs.Close()
		return nil, err
	}
	r.stable = stable
	r.snaps = &observedSnapshots{SnapshotStore: fileSnaps, o: &r.snapsPending}
	snaps := r.snaps
	existing, err := raft.HasExistingState(r.logs, stable, snaps)
	if err == nil && existing && !stable.found {
		// A log or snapshot, so the term was written (stable.found): the
		// file was lost. Raft would start on term 0 with no vote.
		err = fmt.Errorf("%w: %s is missing, but the raft log or a raft snapshot in %s is there; started without the term and vote it held, the member could vote twice in one term. "+
			"Put the file back if it was moved; else move the member's data directory aside and start it without --bootstrap: it joins and is sent the leader's state",
			ErrStableLost, filepath.Join(cfg.Dir, stableName), cfg.Dir)
	}
	if err == nil {
		err = claimDir(cfg.Dir, cfg.NodeID, existing)
	}
	if err == nil {
		err = checkSnapshotsSkipped(cfg, r.logs, snaps)
	}
	if err == nil {
		err = checkSnapshotsDamaged(cfg, r.logs, snaps)
	}
	if err == nil {
		err = stageOwnSnapshotAhead(cfg, snaps)
	}
	if err != nil {
		r.logs.Close()
		return nil, err
	}
	addr, err := net.ResolveTCPAddr("tcp", advertise)
	if err != nil {
		r.logs.Close()
		return nil, fmt.Errorf("replicator: advertise %q: %w", advertise, err)
	}
	perAddress, most := portBounds(len(cfg.Peers))
	bounds := connBounds{timeout: transportTimeout, first: firstRequestWithin(cfg.CommitTimeout), max: most, perAddress: perAddress, log: cfg.Logger}
	var trans *raft.NetworkTransport
	if cfg.TLS != nil {
		stream, err := newTLSStream(cfg.Listen, addr, cfg.TLS, handshakeBoundsFor(len(cfg.Peers), cfg.Logger))
		if err != nil {
			r.logs.Close()
			return nil, fmt.Errorf("replicator: %w", err)
		}
		trans, r.port = newBoundedTransport(stream, bounds, hlog)
	} else if trans, r.port, err = newTCPTransport(cfg.Listen, addr, bounds, hlog); err != nil {
		r.logs.Close()
		return nil, fmt.Errorf("replicator: %w", err)
	}
	madeTransport(trans)
	fence, err := openFence(cfg.Dir, cfg.Logger)
	if err != nil {
		r.closeFailedOpen(trans)
		return nil, err
	}
	var startIndex uint64 // raft's applied index at its start
	if metas, err := snaps.List(); err == nil && len(metas) > 0 {
		// The newest first: the one raft starts from
		// (NoSnapshotRestoreOnStart: it opens no file to choose).
		before, err := membershipBefore(r.logs, metas)
		if err == nil {
			err = fence.started(before, metas[0].Configuration.Servers)
		}
		if err != nil {
			r.closeFailedOpen(trans)
			return nil, err
		}
		startIndex = metas[0].Index
	}
	r.trans = newCutTransport(trans, fence, cfg.Logger)
	currentTerm := stable.CurrentTerm
	r.trans.currentTerm.Store(&currentTerm)
	r.trans.behindGrace.Store(int64(behindGraceBeats * cfg.HeartbeatTimeout))
	r.trans.outrankedWait.Store(int64(outrankedWaitBeats * cfg.HeartbeatTimeout))
	r.trans.onFenced = func(err error) { cfg.OnFatal(fmt.Errorf("%w: %v", ErrFenced, err)) }
	// Joining lasts across restarts until done: a member restarted
	// while joining has raft state, but not yet the history.
	joinMark := filepath.Join(cfg.Dir, joiningFile)
	_, markErr := os.Stat(joinMark)
	// A mark with no raft state: the member never heard from a leader
	// (a new cluster first started without bootstrap) — Bootstrap forms
	// the cluster as on a first start.
	joining := (!existing && !cfg.Bootstrap) || (existing && markErr == nil)
	if !existing && cfg.Bootstrap && markErr == nil {
		if err := os.Remove(joinMark); err != nil {
			r.closeFailedOpen(r.trans)
			return nil, fmt.Errorf("replicator: %w", err)
		}
	}
	if err := claimCluster(cfg.Dir, cfg.Cluster, existing, joining); err != nil {
		r.closeFailedOpen(r.trans)
		return nil, err
	}
	if joining && markErr != nil {
		if err := vfs.WriteFileAtomic(joinMark, []byte("joining: no vote until it holds what the leader committed\n")); err != nil {
			r.closeFailedOpen(r.trans)
			return nil, fmt.Errorf("replicator: %w", err)
		}
	}
	r.trans.joining.Store(joining)
	r.trans.onJoined = func(target uint64) {
		if err := os.Remove(joinMark); err != nil && !errors.Is(err, fs.ErrNotExist) {
			cfg.Logger.Warn().Err(err).Msg("replicator: joined, but the joining mark stays: a restart joins again")
		}
		cfg.Logger.Info().Uint64("leader_commit", target).Msg("replicator: joined")
	}
	// raftMade is closed once r.raft is set: raft may send Restore a
	// leader's snapshot before NewRaft has returned.
	raftMade := make(chan struct{})
	r.fsm = &fsm{cfg: &r.cfg, snaps: snaps, onMembership: func(servers []raft.Server) error {
		err := fence.observe(servers)
		if err != nil {
			r.stopCutOff(err)
		}
		r.noteCommitted(servers)
		return err
	}, onInstalled: func(servers []raft.Server) {
		<-raftMade
		// Raft's membership is read without its main loop, which waits
		// for Restore to return before it takes the snapshot's: it is
		// still the one this member held before.
		if err := fence.installed(r.raft.GetConfiguration().Configuration().Servers, servers); err != nil {
			r.stopCutOff(err)
		}
		r.noteCommitted(servers)
	}}
	r.fsm.applied.Store(cfg.Applied)
	r.fsm.taken.Store(startIndex)
	// Before raft runs: entries a compaction removed from the middle of a
	// segment are there again at each start (OpenLogStore).
	forgotten, err := r.forgetAtOpen()
	if err != nil {
		r.closeFailedOpen(r.trans)
		return nil, err
	}
	r.heldAtStart = r.heldThrough(cfg.Applied)
	// Raft decodes these at its start, and panics on one that does not.
	if err := membershipDecodes(r.logs, startIndex); err != nil {
		r.closeFailedOpen(r.trans)
		return nil, err
	}

	rc := raft.DefaultConfig()
	rc.LocalID = serverID(cfg.NodeID)
	rc.Logger = hlog
	rc.HeartbeatTimeout = cfg.HeartbeatTimeout
	rc.ElectionTimeout = cfg.ElectionTimeout
	rc.LeaderLeaseTimeout = cfg.LeaderLeaseTimeout
	rc.CommitTimeout = cfg.CommitTimeout
	rc.MaxAppendEntries = raftBatchEntries
	// The entries the node starts together (a ring batch's chunks, up to
	// its window) wait in a buffered apply channel, and the leader takes
	// them all into one log write and fsync; unbuffered, each Start
	// waited until the previous entry's fsync was done, one fsync each
	// (TestStartedEntriesShareAnFsync: 17 for 32). make cluster-bench,
	// alternating (2026-12-05): 674–722 k orders/s against 649–692 k,
	// leader 0.93–1.03 against 0.98–1.08 µs of CPU per order. Apply's
	// timeout, which this breaks, is not used (0).
	rc.BatchApplyCh = true
	// Pre-vote stays on (raft's default, PreVoteDisabled false): a
	// candidate keeps its term until a majority would elect it, so a
	// member cut off and heard again deposes no leader, and one that
	// holds back from leading (holdsBackLead) refuses its own pre-votes
	// without its term rising above the others' — with PreVoteDisabled
	// it raised its term at every election timeout and refused the other
	// member's votes as of an older term (TestAMemberBehindInApplyingLetsAnotherLead:
	// no leader within 10 s, 2 of 2). It depends on raft v1.7.1's
	// installSnapshot setting the leader from a snapshot of a pre-vote
	// candidate's term while leaving it a candidate: the transport
	// answers that candidate's own pre-vote with a newer term, which
	// makes it a follower (cutTransport.RequestPreVote); a raft that
	// makes such a candidate a follower itself needs none of it.
	// The node recovers its own state from its snapshot and journal and
	// skips the committed batches it already holds. Raft snapshots are
	// taken only by Compact, after the node wrote a snapshot of its own.
	rc.NoSnapshotRestoreOnStart = true
	rc.SnapshotThreshold = 1 << 62
	rc.SnapshotInterval = 24 * time.Hour
	rc.TrailingLogs = cfg.TrailingEntries
	// Recent entries stay in memory: the leader sends them to followers
	// and every member applies them right after storing them; without
	// the cache each is read back from disk (a follower spent a fifth of
	// its CPU in pread under ringex bench).
	logs, err := raft.NewLogCache(logCacheEntries, r.logs)
	if err != nil {
		r.closeFailedOpen(r.trans)
		return nil, fmt.Errorf("replicator: %w", err)
	}
	r.cache = logs
	r.reads = newFSMReads(logs, r)
	r.fsm.reads = r.reads
	if r.raft, err = raft.NewRaft(rc, r.fsm, r.reads, stable, snaps, r.trans); err != nil {
		r.closeFailedOpen(r.trans)
		return nil, fmt.Errorf("replicator: %w", err)
	}
	close(raftMade)
	r.reads.armed.Store(true)
	applied := r.raft.AppliedIndex
	r.trans.appliedIndex.Store(&applied)
	commitLimit, behind := r.commitLimit, r.fsmBehind
	r.trans.commitLimit.Store(&commitLimit)
	r.trans.behind.Store(&behind)
	lastLog, lastContact := r.lastLog, r.raft.LastContact
	r.trans.lastLog.Store(&lastLog)
	r.trans.lastContact.Store(&lastContact)
	// The leader is read before the state: a heartbeat, on its own
	// goroutine, makes a candidate a follower before it sets the leader.
	candidateKnowsLeader := func() bool {
		addr, id := r.raft.LeaderWithID()
		if addr == "" || r.raft.State() != raft.Candidate {
			return false
		}
		cfg.Logger.Warn().Str("leader", string(id)).Msg("replicator: a candidate that knows a leader (raft took its snapshot in the candidate's term): becoming a follower at a newer term, or it would refuse every vote")
		return true
	}
	r.trans.candidateKnowsLeader.Store(&candidateKnowsLeader)
	fence.place(r.raft.GetConfiguration().Configuration().Servers)
	switch {
	case joining:
		why := "a member with no raft state, started without cluster.bootstrap (which only a new cluster's first start takes)"
		if existing {
			// Its raft state is the leader's log or snapshot, received
			// since its first start: it was not told it has none.
			why = "started again before it had joined (" + joinMark + " is there): restarted in place to load the leader's state, or stopped while it caught up"
		}
		// No checkMembership: a joining member's raft state is what the
		// leader has sent so far — a raft snapshot, part of the log —
		// which may end before a replace its peers already hold (the
		// replacement itself, sent a snapshot of before its move), and
		// refused then it could never join. Its own address the leader
		// does not reach is shown by ringex status (Status.RaftAddr);
		// its first start once joined compares them. Another cluster's
		// raft state is told by the cluster id recorded at its first
		// start (claimCluster, above), not by its addresses.
		cfg.Logger.Warn().Str("why", why).
			Str("until", "it holds what the leader committed: it waits for the leader's log and neither votes nor campaigns").
			Msg("replicator: joining")
	case existing:
		if err := r.checkMembership(servers); err != nil {
			r.Close()
			return nil, err
		}
		if cfg.Bootstrap {
			cfg.Logger.Warn().Msg("replicator: cluster.bootstrap is set on a member that has raft state: it changes nothing now — remove it, or a start on a lost disk would form a new cluster instead of joining")
		}
	case cfg.Bootstrap:
		// ErrCantBootstrap: since HasExistingState, raft took entries from
		// a leader the other members formed — a member of the new cluster.
		err := r.raft.BootstrapCluster(raft.Configuration{Servers: servers}).Error()
		if err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
			r.Close()
			return nil, fmt.Errorf("replicator: bootstrap: %w", err)
		}
		cfg.Logger.Info().Bool("formed_by_others", err != nil).Msg("replicator: bootstrapped a new cluster (cluster.bootstrap)")
	}
	r.wg.Add(1)
	go r.watch()
	if forgotten < r.lastDropped() {
		r.wg.Add(1)
		go r.forgetDropped(forgotten)
	}
	if cfg.DiskStallTimeout > 0 {
		r.wg.Add(1)
		go r.watchDisk()
	}
	return r, nil
}

// madeTransport is told of Open's transport once it listens, before
// raft runs: a test's hook to send it an RPC.
var madeTransport = func(raft.Transport) {}

// closeFailedOpen closes what a failed Open made before raft ran: trans,
// its transport, and the log. What Open closes so counts as a stop
// (stopping), as Close's does: a peer's RPC the transport took before
// fails as it closes, and raft's line about that is no error — the
// failed Open is one, which its caller reports.
func (r *Replicator) closeFailedOpen(trans raft.WithClose) {
	r.stopping.Store(true)
	trans.Close()
	r.logs.Close()
}

// logDropped tells the operator what opening the raft log cut off its
// end: the entries are gone from this member's log (never acknowledged:
// the write's fsync had not returned), which the leader sends again.
func logDropped(logs *LogStore, log zerolog.Logger) {
	d, ok := logs.Dropped()
	if !ok {
		return
	}
	ev := log.Warn().Str("segment", d.Segment).Int64("bytes", d.Bytes)
	if d.FirstIndex == 0 {
		ev.Msg("replicator: removed a raft log segment with no header (a crash cut its creation short; it held no entry)")
		return
	}
	ev.Int64("offset", d.Offset).Uint64("first_index", d.FirstIndex).Uint64("last_index", d.LastIndex).
		Msg("replicator: dropped the raft log's torn last write (a crash before its fsync returned: never acknowledged)")
}

// commitLimit is the last index raft may take for committed as told by
// the leader's request req: the FSM is given what raft takes for
// committed, queued in memory (128 batches of up to MaxAppendEntries
// entries: ~6 GB of entries of proposeChunk inputs), so a member whose
// node takes inputs slower than raft stores them — catching up, its
// input ring full — would hold the whole backlog it is behind by.
// Limited, it holds at most Config.FSMBacklogBytes of entries after the
// last the FSM took (those raft stored and those req brings), and learns
// the rest of the leader's commit index with its later requests — the
// leader sends one at least every CommitTimeout — as the FSM takes
// entries. Raft's log is stored, and acknowledged, as before: the limit
// slows no commit. Not limited once a state was installed: the FSM takes
// nothing more and the member is stopping.
func (r *Replicator) commitLimit(req *raft.AppendEntriesRequest) uint64 {
	if r.fsm.installed.Load() {
		return req.LeaderCommitIndex
	}
	return r.fsmLimit(req)
}

// fsmLimit is commitLimit's limit: the last index up to which the
// entries the FSM has not taken — those stored, then those req brings,
// in order — fit in FSMBacklogBytes (at least one entry past what raft
// applied, however large). req may be nil.
func (r *Replicator) fsmLimit(req *raft.AppendEntriesRequest) uint64 {
	taken := r.fsm.taken.Load()
	last := r.limitAfter(taken, req)
	if applied := r.raft.AppliedIndex(); last <= applied {
		// Raft holds all the limit lets it: if it applied past taken only
		// entries the FSM is never handed (no-ops, barriers: taken does
		// not move over them), nothing more would ever be let through
		// when the next entry exceeds what the budget has left.
		if done := r.unhandedAfter(taken, applied); done > taken {
			last = r.limitAfter(done, req)
		}
	}
	return last
}

// limitAfter is fsmLimit counting the budget from after index done.
// Entries req brings count only where they continue what is counted: a
// request's entries come after the stored log's end, never past a gap
// the budget left (taking an entry there would commit the gap).
func (r *Replicator) limitAfter(done uint64, req *raft.AppendEntriesRequest) uint64 {
	last, left := r.logs.Within(done, r.cfg.FSMBacklogBytes)
	if req == nil {
		return last
	}
	for _, e := range req.Entries {
		if e.Index <= last {
			continue
		}
		if e.Index != last+1 || (left < int64(len(e.Data)) && e.Index > done+1) {
			break
		}
		last, left = e.Index, left-int64(len(e.Data))
	}
	return last
}

// unhandedAfter is the last index up to applied such that raft handed
// the FSM no entry after taken up to it (no-ops and barriers only).
func (r *Replicator) unhandedAfter(taken, applied uint64) uint64 {
	for ; taken < applied; taken++ {
		var l raft.Log
		if r.logs.GetLog(taken+1, &l) != nil || (l.Type != raft.LogNoop && l.Type != raft.LogBarrier) {
			break
		}
	}
	return taken
}

// behindGraceBeats: a member behind in applying holds back from leading
// (cutTransport.holdsBackLead) for this many HeartbeatTimeouts after it
// last heard from a leader — time for members that are not behind to
// campaign, each after one or two.
const behindGraceBeats = 10

// outrankedWaitBeats: a member behind in applying that a candidate whose
// log is behind its own asked for a (pre-)vote holds back from leading
// (cutTransport.holdsBackLead) for this many HeartbeatTimeouts more —
// raft's follower campaigns at most 2 HeartbeatTimeouts after it last
// heard a leader, so a third member, if alive, campaigns first.
const outrankedWaitBeats = 2

// fsmBehind: the member holds more of its log than commitLimit lets it
// hand its FSM at once, past the entries its node held at its start
// (heldAtStart, which the FSM skips). Its whole log, not what a leader
// said committed: elected, a member commits and applies all of it before
// it is ready, and after a whole-cluster restart no leader said anything
// yet. Following a leader, the log's end is that commit index give or
// take the entries in flight.
func (r *Replicator) fsmBehind() bool {
	if r.fsm.installed.Load() {
		return false
	}
	last, err := r.logs.LastIndex()
	from := max(r.fsm.taken.Load(), r.heldAtStart)
	if err != nil || last <= from {
		return false
	}
	within, _ := r.logs.Within(from, r.cfg.FSMBacklogBytes)
	return within < last
}

// heldThrough is the last raft index up to which the log's command
// entries carry no input past applied — entries whose inputs the node
// holds already, which the FSM skips (0: none; the log's first index
// less one when its first command entry is past applied).
func (r *Replicator) heldThrough(applied int64) uint64 {
	end, _ := r.logs.prefixEnd(func(h Header) bool { return h.Last() <= applied })
	return end
}

// lastLog is the index and term of the last entry of the raft log (0, 0:
// none stored).
func (r *Replicator) lastLog() (index, term uint64) {
	var l raft.Log
	if last, err := r.logs.LastIndex(); err != nil || last == 0 || r.logs.GetLog(last, &l) != nil {
		return 0, 0
	}
	return l.Index, l.Term
}

// raftBatchEntries is raft's MaxAppendEntries: the most entries of one
// AppendEntries request, and of one batch raft hands the FSM.
const raftBatchEntries = 256

// logCacheEntries is how many recent raft entries stay in memory (at most
// ~200 KB each: proposeChunk inputs).
const logCacheEntries = 128

func serverID(id uint32) raft.ServerID { return raft.ServerID(strconv.FormatUint(uint64(id), 10)) }

// Files in Dir: memberFile names the member the raft state belongs to,
// clusterFile the cluster (claimCluster); joiningFile is there while the
// member joins (cutTransport.joining).
const (
	memberFile  = "member"
	clusterFile = "cluster"
	joiningFile = "joining"
)

// claimDir refuses a raft directory of another member (volumes or hosts
// mixed up: this member would take on another's term, vote and log) and
// marks an unmarked one as this member's. A mark of another member on a
// directory with no raft state (existing false) is taken over: a start
// with a mistyped node id that failed before raft held anything left it,
// and the directory was refused to the right id ever after.
func claimDir(dir string, id uint32, existing bool) error {
	path := filepath.Join(dir, memberFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		owner, perr := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 32)
		if perr != nil {
			return fmt.Errorf("replicator: %s: %q is not a member id", path, b)
		}
		if uint32(owner) != id && existing {
			return fmt.Errorf("replicator: %s holds the raft state of member %d, not of member %d (node.id): a data directory of another member", dir, owner, id)
		}
		if uint32(owner) == id {
			return nil
		}
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("replicator: %w", err)
	}
	if err := vfs.WriteFileAtomic(path, fmt.Appendf(nil, "%d\n", id)); err != nil {
		return fmt.Errorf("replicator: marking %s as member %d's: %w", dir, id, err)
	}
	return nil
}

// claimCluster records cluster, the cluster's id (Config.Cluster), in
// dir at the member's first start, and refuses a joining member's raft
// state recorded under another id (ErrOtherCluster): the data directory
// of a member of another cluster that had not joined yet (volumes or
// hosts mixed up). Its raft state is another cluster's log and term,
// which the leader's would be grafted onto wherever an index and term
// happen to match. The id is the identity, not the addresses: a joining
// member's raft state is what the leader sent so far, whose membership
// may place every member at an address it has since been moved from
// (Open's joining case), so addresses tell another cluster from this
// one only once the member has joined (checkMembership, peersRefused).
// Two clusters both left at config.DefaultClusterID are not told apart,
// as their journals are not. A joined member's record is not checked
// (its cluster.id may have been renamed since; its peers are): it is
// never rewritten once the member has raft state, so a legitimate
// rename and another cluster's directory read alike there, and a check
// would refuse every member of a renamed cluster at its next start. The
// node's start warns of both: its journal, which keeps the id it began
// with, carries another than cluster.id. A directory with no raft state
// takes the id it is started with (a first start that failed before
// raft stored anything), as does one an earlier build made, which holds
// no record.
func claimCluster(dir, cluster string, existing, joining bool) error {
	if cluster == "" {
		return nil
	}
	path := filepath.Join(dir, clusterFile)
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("replicator: %w", err)
	}
	held := strings.TrimSpace(string(b))
	switch {
	case err == nil && held == cluster:
		return nil
	case err == nil && existing && joining:
		return fmt.Errorf("%w: %s holds the raft state of a member joining cluster %q, not %q (cluster.id): the data directory of another cluster's member (volumes or hosts mixed up)? "+
			"Point node.data_dir at this member's, or move that directory aside and start the member with an empty one, without --bootstrap: it joins and is sent the leader's state. "+
			"If cluster.id was changed since the member's first start, set it back until the member has joined",
			ErrOtherCluster, dir, held, cluster)
	case err == nil && existing:
		return nil
	}
	if err := vfs.WriteFileAtomic(path, []byte(cluster+"\n")); err != nil {
		return fmt.Errorf("replicator: marking %s as cluster %q's: %w", dir, cluster, err)
	}
	return nil
}

// checkMembership refuses raft state whose membership is not cluster.
// peers: raft keeps the membership it was bootstrapped with, or changed
// to by Replace, so a peer list edited without Replace (a member's raft
// address moved) was silently not used — the moved member never heard
// from the others again and the cluster ran on with one member fewer
// than the operator saw in the config. After a Replace the peers edited
// to match pass; a member that was down during it holds the old
// membership until it has caught up, and passes with the old peers.
// A member that applied the Replace, or installed a leader's raft
// snapshot holding it, passes with the peers it ran with too
// (stalePeers): restarted in place, or by its service manager before the
// operator edited its config, it was refused, and with the replacement
// still joining the cluster could be left with no majority. A joining
// member is not checked (Open): its raft state may predate a replace its
// peers hold.
func (r *Replicator) checkMembership(want []raft.Server) error {
	f := r.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return fmt.Errorf("replicator: membership: %w", err)
	}
	have := f.Configuration().Servers
	if len(have) == 0 {
		return nil // joined before it received the membership
	}
	moved, err := checkPeers(have, want, serverID(r.cfg.NodeID), r.trans.fence.formerAt, r.cfg.Dir)
	if moved != nil {
		r.cfg.Logger.Warn().Str("peers", membershipString(want)).Str("membership", membershipString(have)).Strs("moved", moved).
			Str("until", "cluster.peers is edited to match (the runbook's \"A member's machine is lost\"): a moved member's gateway is not known here, and while it leads a logon here is told no leader is known").
			Msg("replicator: cluster.peers names a member where a committed replace moved it from: the raft state's membership is used")
	}
	return err
}

// checkPeers is checkMembership of peers want against the raft state's
// membership have: nil, nil when they are the same membership
// (sameMembership); the moves when they are stale by committed moves
// only (stalePeers, which formerAt answers for); else the refusal
// (peersRefused). Peers spelled as the membership has them need no name
// looked up; otherwise every address of both is looked up once,
// together (lookedUp), for all three comparisons: a resolver that does
// not answer holds Open fenceResolveWithin once, not once a name in
// turn, at every start of a member whose peers are spelled otherwise.
func checkPeers(have, want []raft.Server, self raft.ServerID, formerAt func(raft.ServerID, string) bool, dir string) (moved []string, err error) {
	if sameMembership(have, want, func(a, b raft.ServerAddress) bool { return a == b }) {
		return nil, nil
	}
	n := lookedUp(slices.Concat(have, want))
	if sameMembership(have, want, n.sameSocket) {
		return nil, nil
	}
	if moved := stalePeers(have, want, self, formerAt, n); moved != nil {
		return moved, nil
	}
	return nil, peersRefused(have, want, dir, n)
}

// peersRefused is the refusal of peers want that differ from the raft
// state's membership have (in dir) by more than committed moves, with
// their addresses resolved by n. When none of want's addresses is one
// of have's, the likelier cause is a data directory of another cluster
// (volumes or hosts mixed up), and it says so: the advice to edit the
// peers or run a replace fits a member whose addresses changed, not a
// directory that is not this member's.
func peersRefused(have, want []raft.Server, dir string, n *names) error {
	msg := "a member's id or raft address cannot be changed by editing the peers alone (the members would not reach it); " +
		"start with peers that match the raft state's membership — to move a member, run `ringex cluster replace` on the leader first; a member that was down while it ran holds the old membership until it has caught up: start it with the old peers, then again with the new"
	if !slices.ContainsFunc(want, func(w raft.Server) bool {
		return slices.ContainsFunc(have, func(h raft.Server) bool { return n.sameSocket(h.Address, w.Address) })
	}) {
		msg = fmt.Sprintf("no member of it is at an address cluster.peers names: %s may hold another cluster's raft state (volumes or hosts mixed up) — "+
			"point node.data_dir at this member's, or if the peers are what is wrong, start with the raft state's: ", dir) + msg
	}
	return fmt.Errorf("replicator: cluster.peers names members %s, but the raft state holds the membership %s: %s", membershipString(want), membershipString(have), msg)
}

// stalePeers reports how peers want are stale by committed moves this
// member applied, "id: peers' address -> membership's" for each member
// moved, or nil when they are not only that: they name the members of
// have, each at its address there or — for a member other than self —
// at one it was moved away from (formerAt: the fence, which keeps the
// former addresses of every committed move this member applied or was
// sent in a leader's raft snapshot, across restarts). A member's own
// address is never taken as stale: the process at a moved member's
// former address is not a member. n resolves the addresses of both.
func stalePeers(have, want []raft.Server, self raft.ServerID, formerAt func(raft.ServerID, string) bool, n *names) []string {
	if len(have) != len(want) {
		return nil
	}
	at := map[raft.ServerID]raft.ServerAddress{}
	for _, s := range have {
		at[s.ID] = s.Address
	}
	var moved []string
	for _, s := range want {
		a, ok := at[s.ID]
		switch {
		case !ok:
			return nil
		case n.sameSocket(a, s.Address):
		case s.ID != self && slices.ContainsFunc(n.all(string(s.Address)), func(x string) bool { return formerAt(s.ID, x) }):
			moved = append(moved, fmt.Sprintf("%s: %s -> %s", s.ID, s.Address, a))
		default:
			return nil
		}
	}
	return moved
}

// sameMembership reports whether have and want name the same members at
// the same sockets, as same compares them — spelled alike, or resolving
// to a common address (names.sameSocket): a member that joined holds the
// membership as the leader spelled it ("localhost:7500" where its own
// peers say "127.0.0.1:7500"), and was refused at its next start with
// the peers it joined with.
func sameMembership(have, want []raft.Server, same func(a, b raft.ServerAddress) bool) bool {
	if len(have) != len(want) {
		return false
	}
	at := map[raft.ServerID]raft.ServerAddress{}
	for _, s := range have {
		at[s.ID] = s.Address
	}
	for _, s := range want {
		a, ok := at[s.ID]
		if !ok || !same(a, s.Address) {
			return false
		}
	}
	return true
}

// sameSocketAs reports whether host:port addresses a and b are spelled
// alike, or share a port and an IP address their hosts resolve to, as
// all gives them (names.all: looked up together beforehand, never one
// after the other here).
func sameSocketAs(a, b string, all func(string) []string) bool {
	if a == b {
		return true
	}
	inB := set(all(b))
	return slices.ContainsFunc(all(a), func(x string) bool { return inB[x] })
}

// membershipString lists ss as "id=address,…" in order.
func membershipString(ss []raft.Server) string {
	var parts []string
	for _, s := range ss {
		parts = append(parts, fmt.Sprintf("%s=%s", s.ID, s.Address))
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

// Ready reports whether this node is the leader and accepts inputs.
func (r *Replicator) Ready() bool { return r.ready.Load() }

// Leader returns the current leader's id and gateway address, id 0 when
// none is known. The gateway is "" when this member's peers place the
// leader at another raft address than raft's membership does: it was
// moved (Replace) since this member started, and its gateway is not
// known here — the client is told no leader is known and tries the other
// addresses it has, rather than being sent to the lost machine's.
func (r *Replicator) Leader() (uint32, string) {
	p, ok := r.leader()
	if !ok {
		return 0, ""
	}
	if !r.placedAsPeers(r.raft.GetConfiguration().Configuration().Servers, newNames(), p)[0] {
		return p.ID, ""
	}
	return p.ID, p.Gateway
}

// Members is raft's latest membership, by id, each member with the
// gateway this member's peers give it — none ("") for a member they
// place at another raft address than the membership does (moved since
// this member started: its gateway is not known here, and the one its
// peers name is the lost machine's).
func (r *Replicator) Members() []Peer {
	return r.membersOf(r.raft.GetConfiguration().Configuration().Servers, newNames())
}

// membersOf is Members of membership servers, the names compared looked
// up into n in one round with those n was asked for before (need).
func (r *Replicator) membersOf(servers []raft.Server, n *names) []Peer {
	peers := *r.peers.Load()
	members := make([]Peer, 0, len(servers))
	var known []Peer // the peers of members, placed in one round
	var of []int     // known[k] is the peer of members[of[k]]
	for _, s := range servers {
		m := Peer{Raft: string(s.Address)}
		if id, err := strconv.ParseUint(string(s.ID), 10, 32); err == nil {
			m.ID = uint32(id)
		}
		if p, ok := peers[s.ID]; ok {
			known = append(known, p)
			of = append(of, len(members))
		}
		members = append(members, m)
	}
	for k, placed := range r.placedAsPeers(servers, n, known...) {
		if placed {
			members[of[k]].Gateway = known[k].Gateway
		}
	}
	slices.SortFunc(members, func(a, b Peer) int { return cmp.Compare(a.ID, b.ID) })
	return members
}

// LeaderID is Leader's id alone, which it reads without a name lookup:
// Leader may wait on one (placedAsPeers, up to fenceResolveWithin),
// and a caller that must not — the node following leadership
// on the goroutine OnRole is called on, Status, the node's refusal of a
// control input on a follower — names the leader by its id.
func (r *Replicator) LeaderID() uint32 {
	p, _ := r.leader()
	return p.ID
}

// leader is the peer raft knows as leader; false when none is known.
func (r *Replicator) leader() (Peer, bool) {
	_, id := r.raft.LeaderWithID()
	p, ok := (*r.peers.Load())[id]
	return p, ok
}

// placedAsPeers reports, for each of ps, whether servers (raft's
// membership) has it at its Raft address, or holds no entry for it (a
// joining member before the leader's log came). Addresses spelled
// otherwise are compared by their names (sameSocket), every pair's
// looked up into n together, with those n was asked for before (need;
// names.lookUp): a resolver that does not answer holds the caller — a
// logon on a standby (Leader), the admin handler (Members, ReplaceIf) —
// fenceResolveWithin once, not once a name in turn. An
// answer is kept for the pair (placed), unless a lookup failed: "not
// placed" then is no answer, and kept it would withhold the leader's
// gateway from every later logon until the process restarted.
func (r *Replicator) placedAsPeers(servers []raft.Server, n *names, ps ...Peer) []bool {
	at := make(map[raft.ServerID]raft.ServerAddress, len(servers))
	for _, s := range servers {
		at[s.ID] = s.Address
	}
	placed := make([]bool, len(ps))
	var unknown []int // ps whose pair is neither spelled alike nor kept
	var addrs []string
	for i, p := range ps {
		addr, ok := at[serverID(p.ID)]
		if !ok || string(addr) == p.Raft {
			placed[i] = true // no lookup, no cache entry
			continue
		}
		if same, ok := r.placed.Load([2]string{p.Raft, string(addr)}); ok {
			placed[i] = same.(bool)
			continue
		}
		unknown = append(unknown, i)
		addrs = append(addrs, p.Raft, string(addr))
	}
	if len(unknown) == 0 {
		return placed
	}
	n.need(addrs...)
	n.lookUp()
	for _, i := range unknown {
		p := ps[i]
		addr := at[serverID(p.ID)]
		placed[i] = n.sameSocket(raft.ServerAddress(p.Raft), addr)
		if placed[i] || n.answered(p.Raft, string(addr)) {
			r.placed.Store([2]string{p.Raft, string(addr)}, placed[i])
		}
	}
	return placed
}

// Propose commits one batch entry made with AppendHeader/AppendInput and
// returns when a majority holds it and it is applied here. The entry is
// kept by raft: the caller must not reuse it. ErrNotLeader means the fate
// of the batch is unknown to this node.
func (r *Replicator) Propose(entry []byte) error { return r.Start(entry).Wait() }

// Proposal is an entry on its way to being committed.
type Proposal struct{ f raft.ApplyFuture }

// Start proposes an entry without waiting: entries started back to back
// are written and sent together. Wait for each, in order, before Close:
// an entry still in raft's apply channel (buffered: BatchApplyCh) when
// raft shuts down is never answered. (The node closes its replicator
// only after the replicator stage has drained.)
func (r *Replicator) Start(entry []byte) Proposal { return Proposal{r.raft.Apply(entry, 0)} }

// Wait is Propose's answer for a started entry.
func (p Proposal) Wait() error {
	f := p.f
	if err := f.Error(); err != nil {
		if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipTransferInProgress) {
			return fmt.Errorf("%w: %v", ErrNotProposed, err)
		}
		if errors.Is(err, raft.ErrLeadershipLost) || errors.Is(err, raft.ErrRaftShutdown) {
			return fmt.Errorf("%w: %v", ErrNotLeader, err)
		}
		return fmt.Errorf("replicator: %w", err)
	}
	if err, ok := f.Response().(error); ok && err != nil {
		return err
	}
	return nil
}

// Applied is the last input sequence committed and taken by the node.
func (r *Replicator) Applied() int64 { return r.fsm.applied.Load() }

// Installed reports whether the leader's state (or this member's own
// raft snapshot) was staged over the node's inputs: Applied then counts
// the staged state's inputs, not ones this node proposed and saw
// committed. Read Applied first: Installed is set before it is raised.
func (r *Replicator) Installed() bool { return r.fsm.installed.Load() }

// Compact takes a raft snapshot (Config.Snapshot writes it) and drops the
// log before it, except the last TrailingEntries entries. Nothing new
// since the last one is not an error.
func (r *Replicator) Compact() error {
	if r.cfg.Snapshot == nil {
		return nil
	}
	err := r.raft.Snapshot().Error()
	if errors.Is(err, raft.ErrNothingNewToSnapshot) {
		return nil
	}
	return err
}

// Isolate cuts this node off from its peers (on) or reconnects it.
func (r *Replicator) Isolate(on bool) { r.trans.cut.Store(on) }

// Status is a summary for the admin endpoint.
type Status struct {
	State       string `json:"state"`
	Ready       bool   `json:"ready"`
	Leader      uint32 `json:"leader"`
	Term        string `json:"term"`
	CommitIndex uint64 `json:"commit_index"`
	Applied     int64  `json:"applied_seq"`
	Isolated    bool   `json:"isolated"`
	// Joining: started with no raft state and no cluster.bootstrap; no
	// vote until it holds what the leader committed.
	Joining bool `json:"joining,omitempty"`
	// ElectionTimeout is the member's cluster.election_timeout, which
	// must be the same on every member (`ringex status` compares them).
	ElectionTimeout string `json:"election_timeout,omitempty"`
	// Membership is raft's latest membership, "id=raft_addr,…" sorted:
	// what cluster.peers must match at the member's next start.
	Membership string `json:"membership,omitempty"`
	// RaftAddr is this member's raft address as its cluster.peers name
	// it: where it takes the others' RPCs. A joining member holds no
	// membership yet; one started at another address than the members'
	// membership holds for its id is never sent the leader's log
	// (`ringex status` compares the two).
	RaftAddr string `json:"raft_addr,omitempty"`
	// ClusterID is the id the member runs under (Config.Cluster: its
	// cluster.id, or config.DefaultClusterID, which every cluster left
	// without one shares: `ringex status` says so).
	ClusterID string `json:"cluster_id,omitempty"`
}

// newNames is names with nothing looked up yet.
func newNames() *names { return &names{of: map[string][]string{}} }

// Addresses are raft addresses (host:port) looked up together, made by
// LookUpAddresses, for comparing any two of them (Same) with no lookup
// more.
type Addresses struct{ n *names }

// LookUpAddresses looks up the host names of addrs all at once, each
// lookup within fenceResolveWithin: a resolver that does not answer
// holds the caller that long once, not once a name in turn (`ringex
// status` comparing each member's own raft address with the
// memberships'). Only addresses to be compared with one spelled
// otherwise need be passed: Same takes two spelled alike for one
// socket without their lookup.
func LookUpAddresses(addrs ...string) Addresses { return Addresses{lookedUp(nil, addrs...)} }

// Same reports whether raft addresses a and b name one socket: spelled
// alike, or sharing a port and an address their hosts resolve to. An
// address not passed to LookUpAddresses, or whose lookup failed, is
// taken as spelled; nothing is looked up here, and s is only read.
func (s Addresses) Same(a, b string) bool {
	return sameSocketAs(a, b, func(addr string) []string {
		if out, ok := s.n.of[addr]; ok {
			return out
		}
		return []string{addr}
	})
}

// Status reports the member's state. It looks no name up (the leader by
// id alone): /state and ringex status answer with a resolver down.
func (r *Replicator) Status() Status {
	st := Status{State: r.raft.State().String(), Ready: r.Ready(), Leader: r.LeaderID(), Term: r.raft.Stats()["term"],
		CommitIndex: r.raft.CommitIndex(), Applied: r.Applied(), Isolated: r.trans.cut.Load(), Joining: r.trans.joining.Load(),
		ElectionTimeout: r.cfg.ElectionTimeout.String(), Membership: membershipString(r.raft.GetConfiguration().Configuration().Servers),
		ClusterID: r.cfg.Cluster}
	if i := slices.IndexFunc(r.cfg.Peers, func(p Peer) bool { return p.ID == r.cfg.NodeID }); i >= 0 {
		st.RaftAddr = r.cfg.Peers[i].Raft
	}
	return st
}

// Contact is what a member knows of the leader's progress, for a node
// that must tell whether what it serves is current.
type Contact struct {
	// Leading: this member is the ready leader, which has applied every
	// entry of earlier terms (Ready).
	Leading bool
	// Heard is when a leader last sent this member its commit index: an
	// AppendEntries with more than a heartbeat, which a leader in touch
	// sends at least every CommitTimeout to 2×CommitTimeout (250–500 ms by
	// default), idle or not. Zero: not since Open. LeaderCommit is the
	// commit index it sent.
	Heard        time.Time
	LeaderCommit uint64
	// Applied is the last log index this member's state machine is done
	// with: the inputs of every entry through it were handed to the node
	// — the no-ops and barriers raft applied after the last entry it
	// handed over count, carrying none. Raft's own applied index runs
	// ahead of it by what raft queued for the state machine, not yet
	// handed over.
	Applied uint64
	// Inputs is the last input sequence handed to the node, read after
	// Applied: it covers every input of the entries through Applied.
	Inputs int64
}

// Contact reports what this member knows of the leader's progress.
func (r *Replicator) Contact() Contact {
	applied := r.unhandedAfter(r.fsm.taken.Load(), r.raft.AppliedIndex()) // before the inputs: they cover it
	c := Contact{Leading: r.Ready(), LeaderCommit: r.trans.leaderCommit.Load(), Applied: applied, Inputs: r.fsm.applied.Load()}
	if at := r.trans.heardAt.Load(); at != 0 {
		c.Heard = monoEpoch.Add(time.Duration(at - 1))
	}
	return c
}

// Settle is for a member about to stop cleanly, its inputs still flowing
// into its ring. Followers learn the leader's commit index only with its
// next AppendEntries — within CommitTimeout, up to twice that, when no
// new entry comes — so members stopped together would leave the last
// entries committed on the leader and not applied elsewhere; applied at
// the next start, under another config if the operator changed it, they
// stop the member (ErrRulesDiffer). A leader commits a barrier, which
// carries its commit index to the followers now; a follower gives that a
// moment to arrive, then waits until it has applied what it knows
// committed. Bounded by within.
//
// A barrier commits on a majority: a follower that lags behind (a slow
// disk, a busy machine) may not hold the last entries yet, and would
// meet them at its next start. So a leader also waits until every peer
// has acknowledged holding its last entry, and a follower stays while
// the leader is in touch (its heartbeats come every few milliseconds):
// the followers leave after the leader, which leaves once they hold
// everything. A follower stopped alone while the leader trades on waits
// out within. So does one that has not heard from the leader since it
// began to settle: a follower cut off a while — healed as the members
// stop — hears again only when the leader's retries, backing off since
// the cut, next reach it (seconds after a long cut); before, it left
// having heard nothing, without the last entries.
func (r *Replicator) Settle(within time.Duration) {
	start := time.Now()
	deadline := start.Add(within)
	if r.raft.State() == raft.Leader {
		if r.raft.Barrier(within).Error() != nil {
			return
		}
		last := r.raft.LastIndex()
		for !r.peersHold(last) && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		return
	}
	time.Sleep(min(within, settleGrace))
	quiet := max(settleQuiet, 3*r.cfg.HeartbeatTimeout/10) // three of the leader's heartbeats at least
	for time.Now().Before(deadline) {
		contact := r.raft.LastContact()
		leaderGone := contact.After(start) && time.Since(contact) >= quiet
		if leaderGone && r.raft.AppliedIndex() >= r.raft.CommitIndex() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// peersHold reports whether every other member acknowledged holding the
// log up to index.
func (r *Replicator) peersHold(index uint64) bool {
	for _, p := range r.cfg.Peers {
		if p.ID != r.cfg.NodeID && r.trans.ackedIndex(serverID(p.ID)) < index {
			return false
		}
	}
	return true
}

// settleGrace is how long a stopping follower waits for a stopping
// leader's barrier (a round trip and an fsync on each side); settleQuiet
// how long it must not have heard from the leader before it stops (or
// three heartbeat intervals, a tenth of HeartbeatTimeout each, if longer).
const (
	settleGrace = 200 * time.Millisecond
	settleQuiet = 100 * time.Millisecond
)

// Close stops the member: no more deliveries or commits. A state the
// leader sent and the FSM staged is answered installed first.
func (r *Replicator) Close() error {
	var err error
	r.once.Do(func() {
		r.awaitInstallAnswered()
		close(r.stop)
		if r.reads != nil {
			r.reads.close()
		}
		r.stopping.Store(true)
		if r.raft != nil {
			shutdown := r.raft.Shutdown()
			r.trans.closePipelines() // raft is stopping: none of its sends need to go now
			r.port.cutSends()
			err = shutdown.Error()
		}
		r.wg.Wait()
		if e := r.trans.Close(); err == nil {
			err = e
		}
		if e := r.logs.Close(); err == nil {
			err = e
		}
	})
	return err
}

// installAnswerWait bounds Close's wait for raft to take a state the
// FSM staged as installed (awaitInstallAnswered): raft's own steps after
// Restore, no network round trip.
const installAnswerWait = 5 * time.Second

// awaitInstallAnswered waits, up to installAnswerWait, until raft took a
// state the FSM staged from the leader (Restore) as installed: raft's
// applied index reaches its newest raft snapshot's once Restore returned,
// and raft answers the leader's install in the same step. A Close that
// shut raft down before (the node stops as soon as ErrInstalled is
// reported, inside Restore) had raft answer it failed ("raft is already
// shutdown") though the state was staged: the leader sent the same state
// again at the member's next start, and the member staged it and stopped
// once more.
func (r *Replicator) awaitInstallAnswered() {
	if r.raft == nil || r.fsm == nil || !r.fsm.installed.Load() {
		return
	}
	metas, err := r.snaps.List()
	if err != nil || len(metas) == 0 {
		return
	}
	for deadline := time.Now().Add(installAnswerWait); r.raft.AppliedIndex() < metas[0].Index && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
}

// fsm is raft's state machine: the node's input stream. Apply and
// Restore run on raft's FSM goroutine only.
type fsm struct {
	cfg     *Config
	snaps   raft.SnapshotStore // this member's raft snapshots
	applied atomic.Int64       // last input sequence taken; written on the FSM goroutine only (Apply, install)
	// installed: a state was staged, the node is stopping. Atomic for
	// Installed; set before applied is raised to the staged input.
	installed atomic.Bool
	// taken is the raft index of the last entry the FSM is done with
	// (Apply, StoreConfiguration; raft's newest snapshot at the start).
	// Raft's applied index runs ahead of it by what raft has queued for
	// the FSM.
	taken atomic.Uint64
	// reads is woken (took) after taken moves: a leader's read for the
	// FSM may wait for it.
	reads   *fsmReads
	stopped bool // Deliver said ErrDeliveryStopped: nothing more is delivered
	started bool // a command entry was applied since Open
	// failed: Apply stopped the node over an entry it did not take
	// (OnFatal), or a committed move was not written to the file of
	// fenced addresses (onMembership's error). With installed and stopped
	// it means raft's applied index may be past what the member holds on
	// disk, so no raft snapshot is taken: raft restarts before the entry,
	// and applies it again.
	failed bool
	// onMembership is told each committed membership: a member moved
	// fences its former address, and a late-committed Replace is noted.
	// An error says the member stops (OnFatal) with the move not written.
	onMembership func([]raft.Server) error
	// onInstalled is told the membership of a leader's raft snapshot
	// Restore installs, as onMembership, with a move in it fenced against
	// the membership raft held before (fence.installed).
	onInstalled func([]raft.Server)
}

// StoreConfiguration is raft telling of a committed membership entry
// (raft.ConfigurationStore).
func (f *fsm) StoreConfiguration(index uint64, c raft.Configuration) {
	if f.onMembership != nil && f.onMembership(c.Servers) != nil {
		f.failed = true
	}
	f.took(index)
}

// took notes that the FSM is done with the entry at index.
func (f *fsm) took(index uint64) {
	f.taken.Store(index)
	if f.reads != nil {
		f.reads.took()
	}
}

// ErrDeliveryStopped, wrapped by Config.Deliver's error, says the node
// takes no more inputs: its input ring was halted for a stop (or a
// failure). The entry and every one after it are left undelivered and
// not counted applied, and nothing is fatal: raft delivers them again at
// the next start (it applies from its newest snapshot,
// NoSnapshotRestoreOnStart), where a real divergence shows again.
var ErrDeliveryStopped = errors.New("replicator: the node takes no more inputs")

// ErrInstalled stops a member that was sent the leader's state: it is
// staged in the data directory and loaded at the next start.
var ErrInstalled = errors.New("replicator: installed the leader's snapshot; restart to load it")

func (f *fsm) Apply(l *raft.Log) any {
	defer f.took(l.Index)
	if l.Type != raft.LogCommand || f.installed.Load() || f.stopped {
		return nil
	}
	resp := f.apply(l)
	if resp != nil {
		f.failed = true
	}
	return resp
}

func (f *fsm) apply(l *raft.Log) any {
	b, err := ParseBatch(l.Data)
	if err != nil {
		err = fmt.Errorf("%w: raft index %d", err, l.Index)
		f.cfg.OnFatal(err)
		return err
	}
	applied := f.applied.Load()
	if b.Last() <= applied {
		return nil // already held (recovered from the journal)
	}
	if b.First <= applied {
		// The journal the node recovered from ends inside this entry:
		// a crash cut its tail part-way through a write. Deliver the rest.
		if err := b.Skip(uint32(applied - b.First + 1)); err != nil {
			err = fmt.Errorf("%w: raft index %d", err, l.Index)
			f.cfg.OnFatal(err)
			return err
		}
	}
	first := !f.started
	f.started = true
	if b.Rules != 0 && f.cfg.Rules != 0 && b.Rules != f.cfg.Rules {
		err := fmt.Errorf("%w: node %d proposed inputs %d…%d under rules %016x, this member has %016x (raft index %d); "+
			"run every member with the same config — this one with the one those inputs were decided under until it has caught up",
			ErrRulesDiffer, b.Origin, b.First, b.Last(), b.Rules, f.cfg.Rules, l.Index)
		f.cfg.OnFatal(err)
		return err
	}
	if b.First != applied+1 {
		err := fmt.Errorf("%w: batch %d…%d after input %d (raft index %d)", ErrDiverged, b.First, b.Last(), applied, l.Index)
		if first && b.First > applied+1 && f.restoreOwn(applied, err) {
			return nil
		}
		f.cfg.OnFatal(err)
		return err
	}
	if b.Origin != f.cfg.NodeID || b.Incarnation != f.cfg.Incarnation {
		if err := f.cfg.Deliver(&b); errors.Is(err, ErrDeliveryStopped) {
			f.stopped = true
			return nil
		} else if err != nil {
			f.cfg.OnFatal(err)
			return err
		}
	}
	// A batch this process proposed is already in its input ring.
	f.applied.Store(b.Last())
	return nil
}

var errNoSnapshots = errors.New("replicator: raft snapshots are not taken; the log is kept whole")

var errSnapshotBehind = errors.New("replicator: no raft snapshot: entries were applied that the node did not take (it is stopping)")

// Snapshot captures the applied input; the node writes its state as of
// that input later, off the FSM goroutine.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	if f.cfg.Snapshot == nil {
		return nil, errNoSnapshots
	}
	if f.installed.Load() || f.stopped || f.failed {
		// Raft's applied index counts entries the node did not take (left
		// for the next start, or past a state staged to load): a snapshot
		// labelled with it would hold fewer inputs than it claims, and raft
		// restarts after it — those inputs never delivered again.
		return nil, errSnapshotBehind
	}
	return &fsmSnapshot{applied: f.applied.Load(), write: f.cfg.Snapshot}, nil
}

// Restore is raft installing the leader's snapshot on this member (only
// when its log is too far behind: NoSnapshotRestoreOnStart). The node
// stages the state and stops; it loads it when it starts again.
func (f *fsm) Restore(rc io.ReadCloser) error {
	f.installedMembership()
	applied, err := f.install(rc)
	if err != nil {
		return fmt.Errorf("replicator: installing the leader's snapshot: %w", err)
	}
	f.cfg.OnFatal(fmt.Errorf("%w (input %d)", ErrInstalled, applied))
	return nil
}

// installedMembership tells onInstalled of the membership in the raft
// snapshot Restore installs: raft's newest, which raft wrote to the store
// before Restore (a leader's snapshot is sent only to a member behind
// it, so it is newer than any of the member's own). Told first, whether
// or not the node takes the state: the membership is committed either
// way, and the node stops once it has.
func (f *fsm) installedMembership() {
	if f.onInstalled == nil || f.snaps == nil {
		return
	}
	list, err := f.snaps.List()
	if err != nil || len(list) == 0 {
		f.cfg.Logger.Error().Err(err).Msg("replicator: the membership of the leader's raft snapshot is not known: a member it moved is not fenced here, and this member is refused the peers it ran with until they are edited")
		return
	}
	f.onInstalled(list[0].Configuration.Servers)
}

// restoreOwn handles a first entry that starts past the node's inputs:
// raft restarts after its newest snapshot (NoSnapshotRestoreOnStart), so
// a member whose journal was removed or cut short while its raft
// directory was kept is handed entries it holds no inputs before — at
// every start. That snapshot is the member's own committed state up to
// the entry before, as a leader would send it: restoreOwn stages it like
// Restore and reports whether the node is now stopping to load it. gap is
// the error it would otherwise stop with.
func (f *fsm) restoreOwn(applied int64, gap error) bool {
	if f.cfg.Install == nil || f.snaps == nil {
		return false
	}
	list, err := f.snaps.List()
	if err != nil || len(list) == 0 {
		return false
	}
	_, rc, err := f.snaps.Open(list[0].ID)
	if err != nil {
		f.cfg.Logger.Error().Err(err).Str("snapshot", list[0].ID).Msg("replicator: opening this member's raft snapshot")
		return false
	}
	installed, err := f.install(rc)
	if err != nil {
		f.cfg.Logger.Error().Err(err).Str("snapshot", list[0].ID).Msg("replicator: installing this member's raft snapshot")
		return false
	}
	f.cfg.OnFatal(fmt.Errorf("%w (input %d, from this member's own raft snapshot %s: the node's inputs end at %d, before its raft log: %v)",
		ErrInstalled, installed, list[0].ID, applied, gap))
	return true
}

// stageOwnSnapshotAhead stages this member's newest raft snapshot, and
// returns ErrInstalled, when it reaches past the node's inputs
// (cfg.Applied): raft keeps a snapshot a leader sends before the FSM
// stages it (Restore), so a member killed in between — while the node
// wrote the staged journal, before its READY marker — restarted with
// raft counting every entry up to that snapshot applied and the node's
// state thousands of inputs older. Nothing noticed until an entry past
// the snapshot came (restoreOwn), and meanwhile it could be elected and
// take orders on the old book. Done before raft starts: the member
// neither votes nor campaigns in that state.
func stageOwnSnapshotAhead(cfg Config, snaps raft.SnapshotStore) error {
	if cfg.Install == nil || cfg.SnapshotApplied == nil {
		return nil
	}
	list, err := snaps.List()
	if err != nil || len(list) == 0 {
		return err
	}
	id := list[0].ID
	// Read from the file: checkSnapshotsDamaged opened the newest one,
	// reading it whole for raft's CRC, and kept one that does not open
	// only if the node holds every input it reaches.
	reaches, err := snapshotReaches(cfg, id)
	if err != nil { // as before this check: raft will not read it
		cfg.Logger.Warn().Err(err).Str("snapshot", id).Msg("replicator: this member's raft snapshot does not say how far it reaches")
		return nil
	}
	if reaches <= cfg.Applied {
		return nil
	}
	_, rc, err := snaps.Open(id)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrSnapshotDamaged, filepath.Join(cfg.Dir, "snapshots", id), err)
	}
	defer rc.Close()
	installed, err := cfg.Install(rc)
	if err != nil {
		return fmt.Errorf("replicator: this member's raft snapshot %s reaches input %d, past the node's %d, and does not stage: %w; "+
			"move the member's data directory aside and start it without --bootstrap: it joins and is sent the leader's state",
			id, reaches, cfg.Applied, err)
	}
	return fmt.Errorf("%w (input %d, from this member's own raft snapshot %s, which it kept but did not load: the node's inputs end at %d)",
		ErrInstalled, installed, id, cfg.Applied)
}

// install stages the state rc streams and marks the node as stopping.
func (f *fsm) install(rc io.ReadCloser) (int64, error) {
	defer rc.Close()
	if f.cfg.Install == nil {
		return 0, errNoSnapshots
	}
	applied, err := f.cfg.Install(rc)
	if err != nil {
		return 0, err
	}
	f.installed.Store(true) // first: whoever sees applied raised sees why
	f.applied.Store(applied)
	return applied, nil
}

type fsmSnapshot struct {
	applied int64
	write   func(applied int64, w io.Writer) error
}

func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := s.write(s.applied, sink); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *fsmSnapshot) Release() {}

// zerologWriter turns raft's log lines into zerolog messages.
//
// Once the member is stopping (Close, a failed Open), a line about a call that failed
// because this member closed its own transport, pipelines or raft is
// taken at info level: raft logs each as an error (an inbound RPC that
// arrives after the transport closed, "failed to decode incoming
// command: transport shutdown", on every clean stop), and an operator
// alerted on error lines would be called for each stop. Until Close
// those lines stay errors: while the member runs they are real faults.
//
// A line about a call to a peer that failed (peerCalls: the peer
// stopped, restarts, or is cut off) is taken at warn, its repeats for
// one peer held back (raftlog.go); so is one about a connection this
// member closed on a peer that sent no request in time (errCutOff),
// its repeats held back by message.
type zerologWriter struct {
	log      zerolog.Logger
	stopping *atomic.Bool // Replicator.stopping; nil: never stopping
	repeats  *raftRepeats // nil: none held back
}

// closedByStop is the text of the errors a call fails with when this
// member closed what it went through: its transport, a pipeline, a
// connection, or raft itself.
var closedByStop = []string{
	raft.ErrTransportShutdown.Error(),
	raft.ErrPipelineShutdown.Error(),
	raft.ErrRaftShutdown.Error(),
	net.ErrClosed.Error(),
}

func (w zerologWriter) Write(p []byte) (int, error) {
	line := strings.TrimSpace(string(p))
	lvl := zerolog.InfoLevel
	key, peerCall := peerCallKey(line)
	heldBack := 0
	switch {
	case strings.Contains(line, errBehind.Error()), strings.Contains(line, errJoining.Error()):
		// A vote this member does not ask for on purpose: raft logs the
		// refusal as a failed RPC at each election it would have called.
	case w.stopping != nil && w.stopping.Load() && slices.ContainsFunc(closedByStop, func(e string) bool { return strings.Contains(line, e) }):
		// What this member's own stop broke.
	case strings.Contains(line, errCutOff.Error()):
		// A connection this member closed on a peer (requestConn): no
		// request came in time — a sender stalled, frozen or gone with no
		// reset, or a connection no peer's. Raft logs what then failed
		// on it at error ("failed to flush response", "failed to decode
		// incoming command", "failed to copy snapshot"), but this member
		// is sound and did what it should: nothing here for an operator
		// to be called for. A warning, held back as a peer's calls are:
		// anyone who reaches the port could make one a connection.
		msg, _ := raftMessage(line)
		key = "cut off " + msg
		fallthrough
	case peerCall:
		lvl = zerolog.WarnLevel
		if w.repeats != nil {
			var ok bool
			if ok, heldBack = w.repeats.allow(key, time.Now()); !ok {
				return len(p), nil
			}
		}
	case strings.Contains(line, "[ERROR]"):
		lvl = zerolog.ErrorLevel
	case strings.Contains(line, "[WARN]"):
		lvl = zerolog.WarnLevel
	}
	e := w.log.WithLevel(lvl).Str("component", "raft")
	if heldBack > 0 {
		e = e.Int("held_back", heldBack) // lines like it since the last let through
	}
	e.Msg(line)
	return len(p), nil
}
