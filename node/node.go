package node

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/gateway"
	"github.com/ringex/ringex/input"
	"github.com/ringex/ringex/journal"
	"github.com/ringex/ringex/output"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/replay"
	"github.com/ringex/ringex/snapshot"
	"github.com/ringex/ringex/vfs"
)

// sendBudgetFloor is what a connection may hold unsent and never be cut
// for node.send_budget_bytes: far above what a client that keeps up holds
// (a batch's reports). Over the budget those holding the most are cut
// first (output.Budget), so a reader handed a larger burst keeps its
// connection while others hold more.
const sendBudgetFloor = 1 << 20

// Node is one running exchange node.
type Node struct {
	cfg *config.Config
	log zerolog.Logger
	// rules is the engine config's Fingerprint (set by New): every
	// snapshot records it, since the inputs journaled after one were
	// decided under it, and every raft entry this node proposes carries it.
	rules uint64
	// reference is the config's ReferenceFingerprint (set by New): what
	// clients read of the instruments beside the rules, which nothing
	// records; GET /state gives it for `ringex status` to compare.
	reference uint64

	// locks hold the data, journal and snapshot directories (lockDataDir)
	// until Stop.
	locks   dirLocks
	journal *journal.Journal
	// drops lists the inputs the operator dropped (journal.DropsFile),
	// read at New: the unmarshaler rejects them instead of decoding
	// them, as the replay does.
	drops *journal.Drops
	snaps *snapshot.Store
	eng   *engine.Engine // owned by the engine stage's goroutine once live
	base  int64          // input sequence of input-ring sequence 0
	// streamChecked remembers the journal's segment headers the raft
	// snapshot streams' Readers checked (writeInputs): each Reader checks
	// every segment's, those before its start too — with
	// snapshot.journal_retention keep, every segment the journal ever
	// had, per stream (journal.CheckedHeaders).
	streamChecked *journal.CheckedHeaders

	in   *ring[input.Slot]
	exec *ring[engine.Event]
	md   *ring[engine.Event]

	gw    *gateway.Gateway
	mdHub *mdHub
	admin *http.Server
	// gaugesQueued is set while a scrape's refresh of the book gauges
	// waits for the engine (bookGauges).
	gaugesQueued atomic.Bool
	// sendBudget bounds the bytes every session and market-data
	// subscriber hold unsent together (node.send_budget_bytes).
	sendBudget *output.Budget

	adminLn net.Listener
	// adminServes is what the admin port answers: the probes while New
	// recovers (recoveringHandler), every endpoint once Start runs.
	adminServes atomic.Pointer[http.Handler]
	mdLn        net.Listener

	// ctlTurn, a token, is the turn to publish a control input: taken
	// by one request at a time, with a deadline (claimControl), and held
	// by its claim until the claim is published, so that a request
	// abandoned on a full ring behind a stuck engine leaves one claim
	// behind it, never a queue.
	ctlTurn chan struct{}
	ctlMu   sync.Mutex // serializes control frames from the node
	ctlEnc  *proto.Encoder
	// ctlWait bounds a control request: its turn, its claim and the
	// engine applying it (controlWait; shorter in tests).
	ctlWait time.Duration
	// ctlClosed, under ctlMu, refuses control frames: Stop sets it before
	// the input ring drains, so every control input Publish took is
	// consumed (journaled, applied) before the ring halts.
	ctlClosed bool

	live atomic.Bool
	// mappingRings is set by Start as it begins mapping the rings, after
	// the replay: the admin port answers StartMappingRings from then on
	// until it serves every endpoint.
	mappingRings atomic.Bool
	// mappingPools is set by New while it maps the engine's pools
	// (newEngine), before the replay proper: the admin port answers
	// StartMappingPools meanwhile.
	mappingPools atomic.Bool
	// populateHook, set by tests only (nil otherwise; set before Start),
	// runs on Start's goroutine as the mapping of the rings begins.
	populateHook func()

	stats stats
	ports ports

	// recent is the memory of the last reports (recent.go; nil with
	// gateway.recent_reports 0): the execution sender's, or the engine
	// goroutine's while it keeps it as a follower (publishReport).
	recent *recentReports

	snapJobs chan snapJob
	// resendJobs hands ResendReports requests from the execution sender
	// (or resendAsideFromMemory) to the resend worker (resend.go), one at
	// a time: each sends only after taking the worker (resendTurns.take,
	// in toWorker), which the worker releases once it is done with the
	// job (before its ResendDone goes out), so the one slot is always
	// free then. resendTurns also has accounts take it in turns.
	resendJobs  chan resendJob
	resendTurns *resendTurns
	// resendsUnderway counts each session's resend answers handed off
	// the sender and not over: a session that logs out waits for them
	// (resendlogout.go).
	resendsUnderway resendsUnderway
	// resendRefusals counts the requests answered busy (busyAnswer, from
	// the sender or resendAsideFromMemory): an answer that sees it move
	// while it waits for its client knows it keeps someone out
	// (resendSink.overstays).
	resendRefusals atomic.Uint64
	// asidePicks holds the picks free for goroutines answering a resend
	// from recent reports (resendAsideFromMemory), resendSendersMost in
	// all: each takes one and gives it back, its memory kept for the
	// next; resendAside counts the goroutines for Stop.
	asidePicks  chan *recentPick
	resendAside sync.WaitGroup
	// asideDone tells the worker an answer beside it ended: its idle
	// time (resendCacheIdle) counts from there too.
	asideDone chan struct{}
	// recentMu is held by resend steps through recent (pickRecent, on
	// the sender's goroutine) and by the engine goroutine while it takes
	// recent from the sender or gives it back; recentWithEngine, under
	// it, says the engine goroutine keeps recent: no step may touch it.
	recentMu         sync.Mutex
	recentWithEngine bool
	fatal            chan error
	failed           atomic.Bool // fail was called: the node stops on a fatal error
	stopOnce         sync.Once
	stopErr          error // the first Stop's result, for every Stop
	stopCh           chan struct{}
	wg               sync.WaitGroup

	// snapCopies holds the state copies not in use (snapshotCopies of them).
	snapCopies chan *engine.StateCopy
	// profiles are the admin port's running CPU profile and trace.
	profiles adminProfiles
	// stateGate spaces GET /state's answers out (stategate.go).
	stateGate stateGate
	// stateTurn is held (a value in it) by the goroutine making State's
	// answer, until the engine has answered: a channel, not a mutex, so
	// that a caller waiting for it leaves when its context ends.
	stateTurn chan struct{}
	// stateCopy is State's, its turn's holder's.
	stateCopy engine.StateCopy
	// statePanicStackAt is when a panic making State's answer last had
	// its stack logged, statePanicStackStamp that time as the line's
	// stack_logged_at field has it (logStamp), statePanicsQuiet how many
	// panicked since without (statePanicStackEvery). Held by stateTurn's
	// holder.
	statePanicStackAt    time.Time
	statePanicStackStamp string
	statePanicsQuiet     int
	// stateHashHook, set by tests only (nil otherwise; set before the
	// first State), runs on State's goroutine before it hashes the copy.
	stateHashHook func()
	// stateStepHook, set by tests only (nil otherwise; set before the
	// State it is for), runs on State's goroutine while its copy is open
	// on the engine: after each step that did not finish it, and on a
	// stopped engine once it is begun (steppedCopy.afterStep).
	stateStepHook func()
	// stateWait bounds GET /state (stateWaitMax; shorter in tests).
	stateWait time.Duration
	// copyMu is held by whoever drives a stepped copy of the engine's
	// state (snapcopy.go): a snapshot's sweepCopy or State.
	copyMu sync.Mutex
	// engineStarted is set once the engine stage's goroutine has been
	// started: Do on it returns (ran or not) from then on.
	engineStarted atomic.Bool
	// pools is the engine's Sizes, stored after every batch, read to
	// reserve the state copies.
	pools struct{ orders, levels atomic.Int64 }

	// sessions are the session ids recovered: written by the replay,
	// read by Start, which gives the gateway's ids out above them.
	sessions sessionFloor
	// sessionIDs is each member's highest session id among the inputs
	// the engine applied, which every snapshot records (sessionTable).
	sessionIDs sessionTable
	// gatewayNow, when set before Start, is the gateway's clock (nil:
	// the wall clock): tests set a clock that stands still or was set
	// back across a restart.
	gatewayNow func() time.Time

	// engine stage scratch, owned by its goroutine
	lastSnapSeq int64          // input of the last snapshot taken (recovered, then each snapshot input whose copy opened): paces snapshot.every_inputs
	copying     *openCopy      // the snapshot copy being taken in steps (snapcopy.go); engine goroutine
	sweeping    sync.WaitGroup // the goroutine taking it (Stop waits before closing snapJobs)
	// copyStepBytes is how much of the pools one step copies.
	copyStepBytes int
	// keepingRecent: the engine goroutine owns recent (it follows)
	keepingRecent bool
	snapAsked     atomic.Bool // a snapshot.every_inputs request is on its way
	// clearNoop is the empty input on its way that reports the next
	// chunk of a halt's cancels (haltclear.go).
	clearNoop clearNoop
	// snapRetryAt is when (Unix ns) snapshot.every_inputs asks again
	// after a snapshot failed, before its interval has passed; 0: none
	// failed since the last one written. snapFailures counts the
	// failures in a row (the back-off doubles with each); snapRetryFirst
	// is the first back-off (snappace.go).
	snapRetryAt    atomic.Int64
	snapFailures   atomic.Int32
	snapRetryFirst time.Duration
	// snapAnswers tells each RequestSnapshot what became of its input
	// (snaprequest.go).
	snapAnswers snapAnswers

	final Final // set by Stop
	// fs is the journal's and the snapshots' filesystem, its writes and
	// fsyncs timed by diskWaiting (ringex_disk_waiting_seconds, and in a
	// cluster cluster.disk_stall_timeout).
	fs          vfs.FS
	diskWaiting vfs.Pending

	cl   *cluster // nil when the node runs alone
	view stateView
}

type snapJob struct {
	seq     int64
	payload []byte
	// sessions is the engine stage's sessionTable at seq, which the
	// snapshot records.
	sessions sessionTable
	// state, on a job for the snapshot writer, is the engine's state at
	// seq, which the writer encodes into payload and then hands back to
	// Node.snapCopies.
	state  *engine.StateCopy
	copied time.Duration // the engine's longest wait for the copy: a step of it (snapcopy.go)
	steps  int           // how many steps the copy took
	sweep  time.Duration // from the snapshot input to the copy finished
}

// snapshotCopies is how many copies of the engine's state the node keeps
// for snapshots being written: a snapshot that finds none free is
// skipped.
const snapshotCopies = 2

// Recovered reports what the replay stage did.
type Recovered struct {
	SnapshotSeq int64
	Replayed    int64
	// Dropped are the replayed inputs rejected as the operator dropped
	// them (journal.DropsFile) instead of applied.
	Dropped []int64
	LastSeq int64
	Hash    uint64
	Journal journal.Recovery
	// ReplayTime is how long the replay stage took (snapshot restore and
	// journal replay, not the journal's own recovery scan).
	ReplayTime time.Duration
}

// New recovers the node's state (snapshot + journal) and builds the live
// pipeline without starting it.
func New(cfg *config.Config, log zerolog.Logger) (*Node, Recovered, error) {
	return NewWithOptions(cfg, log, Options{})
}

// Options are what a config file cannot say.
type Options struct {
	// FS is the filesystem of the journal and the snapshots (nil: the
	// OS). Tests inject faults through it.
	FS vfs.FS
	// AcceptLostJournal starts a node alone from a snapshot past input 0
	// though its journal directory holds no segment, which recovery
	// refuses (ErrJournalGone), giving up the inputs journaled after the
	// snapshot (`ringex serve --accept-lost-journal`). It is for one
	// start: that start begins the journal, and one with nothing to
	// accept is refused, so that the flag left in a service unit cannot
	// accept a journal lost later (a disk not mounted at boot) unseen.
	AcceptLostJournal bool
}

// NewWithOptions is New with Options.
func NewWithOptions(cfg *config.Config, log zerolog.Logger, opts Options) (*Node, Recovered, error) {
	if err := cfg.Validate(); err != nil {
		return nil, Recovered{}, err
	}
	if err := checkStorage(vfs.Unsafe, vfs.Weaker, log); err != nil {
		return nil, Recovered{}, err
	}
	warnMassCancelBursts(cfg, log)
	warnNoSnapshots(cfg, log)
	if w := marketDataSecretsExposure(cfg); w != "" {
		log.Warn().Msg(w)
	}
	n := &Node{cfg: cfg, log: log, ctlEnc: proto.NewEncoder(), ctlTurn: make(chan struct{}, 1), ctlWait: controlWait, snapJobs: make(chan snapJob, snapshotCopies), snapCopies: make(chan *engine.StateCopy, snapshotCopies), copyStepBytes: copyStepBytes, stateTurn: make(chan struct{}, 1), stateWait: stateWaitMax, snapRetryFirst: snapRetryFirst, resendJobs: make(chan resendJob, 1), resendTurns: newResendTurns(cfg.Accounts), asidePicks: make(chan *recentPick, resendSendersMost), asideDone: make(chan struct{}, 1),
		fatal:      make(chan error, 4),
		stopCh:     make(chan struct{}),
		sendBudget: output.NewBudget(cfg.Node.SendBudgetBytes, sendBudgetFloor)}
	fs := opts.FS
	if fs == nil {
		fs = vfs.Default
	}
	n.fs = vfs.Observed(fs, &n.diskWaiting)
	n.streamChecked = journal.NewCheckedHeaders()
	for range resendSendersMost {
		n.asidePicks <- new(recentPick)
	}
	for range snapshotCopies {
		n.snapCopies <- new(engine.StateCopy)
	}
	var rec Recovered
	var err error
	if err := n.locks.lock(cfg.Node.DataDir); err != nil {
		return nil, rec, err
	}
	ok := false
	defer func() {
		if !ok {
			n.discard()
		}
	}()
	if err := refuseMemberDataDir(cfg); err != nil {
		return nil, rec, err
	}
	if cfg.Cluster.Enabled() {
		installed, err := installStaged(cfg.JournalDir(), cfg.SnapshotDir(), cfg.ArchiveDir(), cfg.Node.DataDir, log)
		if err != nil {
			return nil, Recovered{}, fmt.Errorf("node: installing the staged snapshot: %w", err)
		}
		if installed {
			log.Warn().Msg("cluster: installed the raft snapshot staged by the last run (the replaced journal and snapshots are kept as *.replaced)")
		}
	}
	// After the swap: a lock file goes with the directory it is in.
	for _, d := range []string{cfg.JournalDir(), cfg.SnapshotDir()} {
		if err := n.locks.lock(d); err != nil {
			return nil, rec, err
		}
	}
	closeDataDirs(cfg, log)
	// Before the replay, which may take minutes: a probe of /healthz
	// finds the process alive, /readyz "replaying" (StartReplaying). The port was opened
	// only when the node went live, and a liveness probe with a short
	// delay killed a node in the middle of its replay, over and over.
	if err := n.openAdmin(); err != nil {
		return nil, rec, err
	}
	sync := journal.SyncBatch
	if cfg.Journal.Sync == "none" || cfg.Cluster.Enabled() { // clustered: the raft log is fsynced instead
		sync = journal.SyncNone
	}
	n.journal, rec.Journal, err = journal.Open(cfg.JournalDir(),
		journal.Options{SegmentBytes: cfg.Journal.SegmentBytes, Sync: sync, FS: n.fs, ID: cfg.Cluster.JournalID(), Archive: cfg.ArchiveDir(),
			PrepareSegments: cfg.Journal.PrepareSegments, OnSpareError: n.journalSpareFailed})
	if err != nil { // a torn last batch: the error names `ringex journal cut`
		if errors.Is(err, journal.ErrEndsShort) && cfg.Cluster.Enabled() {
			err = fmt.Errorf("%w; or %s", err, rejoinWay) // a member has its cluster's copy
		}
		return nil, rec, err
	}
	if id := cfg.Cluster.JournalID(); id != "" && rec.Journal.ID != id {
		// A journal keeps its id: begun before cluster.id was set or
		// changed, or a cluster's trading on alone (its id, "cluster"
		// section removed: this branch is not taken then). A warning,
		// not a refusal (a rename is legitimate), but not info either:
		// the data directory may be another cluster's, and a member's
		// segments are no longer another's — each journal refuses the
		// other's (ErrOtherJournal).
		log.Warn().Str("journal_id", rec.Journal.ID).Str("cluster_id", id).
			Msg("journal: its segments carry another cluster id than cluster.id; a journal keeps its id, so its new segments carry the journal's. " +
				"If this data directory is another cluster's, stop the node and point node.data_dir at this cluster's; if cluster.id was renamed, " +
				"this journal's segments and those of members carrying the new id are not interchangeable (a member installed from the leader's state carries the leader's journal's id)")
	}
	switch {
	case rec.Journal.TornFile != "" && rec.Journal.TornOffset == 0:
		// No record and no whole header (journal.Recovery.TornOffset):
		// nothing was truncated, and "a torn tail" of 0 bytes read as
		// damage to look for.
		log.Warn().Str("file", rec.Journal.TornFile).
			Msg("journal: the last segment held no record and no whole header: the last run stopped just after the journal rolled to it " +
				"(a crash, or a roll whose preallocation failed, a full disk leaving the file 0 bytes); its header was written again and it was preallocated, nothing dropped")
	case rec.Journal.TornFile != "":
		log.Warn().Str("file", rec.Journal.TornFile).Int64("offset", rec.Journal.TornOffset).
			Int64("dropped_bytes", rec.Journal.TornDropped).Msg("journal: truncated a torn tail")
	}
	if n.snaps, err = snapshot.OpenStore(cfg.SnapshotDir(), n.fs); err != nil {
		return nil, rec, err
	}
	// Before anything is written: a crash in the middle of a snapshot's
	// write left its temporary file (as large as a snapshot), which stayed
	// until the next snapshot was written, on a disk the crash may have
	// filled. The directory is locked: no other writer has one under way.
	removed, err := n.snaps.RemoveTemps()
	for _, path := range removed {
		log.Warn().Str("file", path).Msg("snapshot: removed the leftover of a write cut short")
	}
	if err != nil {
		log.Warn().Err(err).Msg("snapshot: the leftovers of writes cut short could not all be removed; the next snapshot's write tries again")
	}
	n.rules, n.reference = EngineConfig(cfg).Fingerprint(), cfg.ReferenceFingerprint()
	if n.drops, err = journal.ReadDrops(n.fs, cfg.JournalDir()); err != nil {
		return nil, rec, fmt.Errorf("node: %w; mend it — never remove it: the inputs it lists would be applied, and the engine would panic on them again "+
			"(a file the node cannot read: give it the node's user, chown; docs/runbook.md 'An input the engine cannot apply')", err)
	}
	for _, d := range n.drops.Entries() {
		log.Warn().Int64("seq", d.Seq).Str("checksum", fmt.Sprintf("%08x", d.Checksum)).Str("note", d.Note).
			Msg("journal: the operator dropped this input: the engine applies none of it (" + journal.DropsFile + ")")
	}
	if err := n.replay(&rec, opts.AcceptLostJournal); err != nil {
		return nil, rec, err
	}
	n.view.seq = n.base - 1
	n.lastSnapSeq = max(n.lastSnapSeq, rec.SnapshotSeq) // a recovery that dropped inputs wrote a newer one
	n.stats.restartFrom.Store(n.lastSnapSeq)
	n.cl = newCluster(n)
	if err := n.buildPipeline(); err != nil {
		return nil, rec, err
	}
	ok = true
	return n, rec, nil
}

// discard closes a node New made (or was making) and nobody started: its
// journal, if open, and the data directory's lock.
func (n *Node) discard() error {
	if n.admin != nil {
		n.admin.Close()
	}
	var err error
	if n.journal != nil {
		err = n.journal.Close()
	}
	n.locks.release()
	return err
}

// EngineConfig maps the node config to the engine's: its rules, and pools
// that start at 65536 orders and grow. An account without max_open_orders
// of its own is held to engine.max_open_orders (EffectiveMaxOpenOrders),
// so that no account's orders, cancelled in one engine turn, hold every
// other session's orders for longer than that many cancels take.
// Only the engine that trades is
// sized by engine.max_orders (replay), as trading would wait for its
// pools to grow; a resend's or an operator's replay engine would only
// have all that memory to clear.
func EngineConfig(cfg *config.Config) engine.Config {
	var ec engine.Config
	for _, in := range cfg.Instruments {
		ec.Instruments = append(ec.Instruments, engine.Instrument{ID: in.ID, Symbol: in.Symbol, TickSize: in.TickSize,
			LotSize: in.LotSize, PriceBand: in.PriceBand(), ReferencePrice: in.ReferencePrice})
	}
	for _, a := range cfg.Accounts {
		ec.Accounts = append(ec.Accounts, engine.Account{ID: a.ID, MaxOrderQty: a.MaxOrderQty,
			MaxNotional: a.MaxNotional, MaxOpenOrders: cfg.EffectiveMaxOpenOrders(a)})
	}
	ec.MaxOrders = 1 << 16
	ec.HaltClearChunk = cfg.Engine.HaltClearChunk // one of the rules: in the Fingerprint when not 0
	return ec
}

// newEngine makes the engine that trades, empty. With rings.prefault
// (ecfg.MapPools) NewEngine maps its pools first — engine.max_orders
// sizes them: milliseconds at the default, seconds near its top — and
// the admin port answers StartMappingPools meanwhile, then
// StartReplaying again for the snapshot's restore and the journal's
// replay: the mapping comes before the replay proper. failed, when not
// nil, is the engine a snapshot did not restore into: with
// rings.prefault the new one takes its pools, cleared (engine.Renew),
// so that each snapshot tried does not map another set beside the
// garbage ones — the node held a set per snapshot until the collector
// ran. Without rings.prefault pools are mapped as they are used, and a
// new engine's are made as NewEngine makes them.
func (n *Node) newEngine(ecfg engine.Config, sink engine.Sink, failed *engine.Engine) (*engine.Engine, error) {
	if !ecfg.MapPools {
		return engine.NewEngine(ecfg, sink)
	}
	n.mappingPools.Store(true)
	defer n.mappingPools.Store(false)
	if mapPoolsHook != nil {
		mapPoolsHook(n)
	}
	start := time.Now()
	if failed != nil {
		eng, err := failed.Renew(ecfg, sink)
		if err == nil {
			n.log.Info().Int("max_orders", ecfg.MaxOrders).Dur("took_ms", time.Since(start)).Msg("engine pools cleared for an older snapshot")
		}
		return eng, err
	}
	eng, err := engine.NewEngine(ecfg, sink)
	if err == nil {
		n.log.Info().Int("max_orders", ecfg.MaxOrders).Dur("took_ms", time.Since(start)).Msg("engine pools mapped")
	}
	return eng, err
}

// mapPoolsHook, set by tests only (nil otherwise), runs as newEngine
// begins mapping the engine's pools, on New's goroutine.
var mapPoolsHook func(*Node)

// replay is the replay stage: newest valid snapshot, then the journal
// after it, through unmarshal and the engine, outputs discarded.
// acceptLost is Options.AcceptLostJournal.
func (n *Node) replay(rec *Recovered, acceptLost bool) error {
	start := time.Now()
	defer func() { rec.ReplayTime = time.Since(start) }()
	ecfg := EngineConfig(n.cfg)
	ecfg.MaxOrders, ecfg.MapPools = n.cfg.Engine.MaxOrders, n.cfg.Rings.Prefault // the engine that trades
	sink := &engineSink{n: n}
	maxSeq := int64(0)
	snapRules, restored, snapPath := n.rules, false, "" // of the snapshot restored, if any
	var snapSessions [snapshot.SessionSlots]uint64      // (empty: none, or a file before version 4)
	var unusable []string                               // snapshots skipped as damaged or not restoring
	var failed *engine.Engine                           // the engine the last snapshot that did not restore was tried in; nil: none
	for {
		snap, skipped, err := n.snaps.Newest(maxSeq)
		for _, s := range skipped {
			if errors.Is(s, snapshot.ErrNewerVersion) {
				n.log.Error().Err(s).Msg("snapshot: written by a newer ringex build, which this one cannot read: not starting (downgraded?)")
				return newerBuildsSnapshot(s)
			}
			n.log.Warn().Err(s).Msg("snapshot: skipped a damaged snapshot")
			unusable = append(unusable, s.Error())
		}
		if errors.Is(err, snapshot.ErrNone) {
			if n.eng, err = n.newEngine(ecfg, sink, failed); err != nil {
				return err
			}
			break
		}
		if err != nil {
			return err
		}
		// RestoreEngine re-encodes what it restored and compares when the
		// config has the snapshot's instruments and accounts; after one is
		// added, the state hash legitimately differs from the file's.
		eng, err := n.newEngine(ecfg, sink, failed)
		if err != nil {
			return err
		}
		err = eng.Restore(snap.Payload)
		if errors.Is(err, engine.ErrConfigChanged) {
			// An older snapshot and the journal after it would refuse
			// those orders' inputs: a different state. Stop, do not guess.
			return fmt.Errorf("node: snapshot %s: %w", snap.Path, err)
		}
		if errors.Is(err, engine.ErrNewerSnapshot) { // its file verified: not damage either
			n.log.Error().Err(err).Str("file", snap.Path).Msg("snapshot: taken by a newer ringex build, which this one cannot read: not starting (downgraded?)")
			return newerBuildsSnapshot(fmt.Errorf("snapshot %s: %w", snap.Path, err))
		}
		if err != nil {
			n.log.Warn().Err(err).Str("file", snap.Path).Msg("snapshot: does not restore; trying an older one")
			unusable = append(unusable, snap.Path+": "+err.Error())
			failed = eng
			if maxSeq = snap.Seq - 1; maxSeq < 1 {
				if n.eng, err = n.newEngine(ecfg, sink, failed); err != nil {
					return err
				}
				break
			}
			continue
		}
		eng.SetAppliedSeq(snap.Seq)
		n.eng, rec.SnapshotSeq, snapRules, restored, snapPath, snapSessions = eng, snap.Seq, snap.Rules, true, snap.Path, snap.Sessions
		if err := n.checkRules(snap); err != nil {
			return err
		}
		if err := n.checkSnapshotInput(snap); err != nil {
			return err
		}
		break
	}
	if err := n.checkJournalThere(restored, rec.SnapshotSeq, snapPath, unusable, acceptLost); err != nil {
		return err
	}
	if last := n.journal.LastSeq(); restored && last != 0 && rec.SnapshotSeq > last {
		// Before anything is written: a start refused here used to
		// rewrite the snapshot under a changed config's rules first, and
		// once the missing segments were back, the inputs after it were
		// replayed under those rules.
		lost := "if they are lost for good, move the segments in " + n.cfg.JournalDir() + " aside and start once with `ringex serve --accept-lost-journal`, " +
			"giving up the inputs after the snapshot"
		if n.cfg.Cluster.Enabled() {
			lost = "or " + rejoinWay
		}
		if way := n.keptCutWay(last, rec.SnapshotSeq); way != "" {
			return fmt.Errorf("node: snapshot %s (input %d) is past the journal's end (input %d, %s): %s", snapPath, rec.SnapshotSeq, last, n.cfg.JournalDir(), way)
		}
		return fmt.Errorf("node: snapshot %s (input %d) is past the journal's end (input %d, %s): the journal lost the inputs %d…%d or more; "+
			"put its missing segments (from a backup) back in %s, or point journal.dir at the journal this snapshot belongs with; %s",
			snapPath, rec.SnapshotSeq, last, n.cfg.JournalDir(), last+1, rec.SnapshotSeq, n.cfg.JournalDir(), lost)
	}
	if err := n.refuseMissingSegment(rec.Journal); err != nil {
		return err
	}
	if !restored && n.journal.LastSeq() > 0 {
		if err := n.checkJournalRules(); err != nil {
			return err
		}
	}
	n.sessions = sessionFloor{member: n.cfg.Node.ID}
	n.sessionIDs = restoredTable(snapSessions, n.cfg.Node.ID)
	// The restored orders' ids too: a snapshot of a build before format
	// version 4 records no ids, and those of its orders were all a
	// restart from it knew; the snapshots written from here on keep them
	// once the orders are gone. (Of a version 4 snapshot they are in its
	// table already.)
	n.eng.OrderSessions(n.sessionIDs.note)
	for _, id := range snapSessions {
		n.sessions.note(id)
	}
	opts := replay.Options{KnownDrops: true, Drops: n.drops, Applied: replayedSessions(&n.sessions, &n.sessionIDs)} // as the live unmarshaler drops them
	st, err := replay.RunWith(n.cfg.JournalDir(), n.fs, rec.SnapshotSeq+1, 0, n.eng, opts)
	if errors.Is(err, replay.ErrMissing) {
		// Past damaged snapshots the one restored may be older than the
		// journal's first segment: retention moved the segments before
		// the oldest kept snapshot to the archive. (ErrMissing applied
		// nothing.)
		opts.Archive = n.cfg.ArchiveDir()
		st, err = replay.RunWith(n.cfg.JournalDir(), n.fs, rec.SnapshotSeq+1, 0, n.eng, opts)
	}
	rec.Replayed = st.Records
	rec.Dropped = st.Dropped
	for _, seq := range st.Dropped {
		n.log.Warn().Int64("seq", seq).Msg("recovery: rejected a dropped input (dropped-by-operator) instead of applying it")
	}
	for _, seq := range st.NotDropped {
		n.log.Warn().Int64("seq", seq).Msg("recovery: applied an input the drops file lists with another checksum: " +
			"the journal holds another input there than the one dropped")
	}
	if perr, ok := errors.AsType[*replay.PanicError](err); ok {
		// Logged here once, with the stack the error leaves out: serve
		// prints the error as it exits, each start the same.
		n.log.Error().Int64("seq", perr.Seq).Str("segment", perr.Segment).Int64("offset", perr.Offset).
			Str("checksum", fmt.Sprintf("%08x", perr.Checksum)).
			Str("panic", fmt.Sprint(perr.Value)).Str("stack", perr.Stack).Msg("recovery: the engine panicked applying a journaled input")
		return fmt.Errorf("node: recovery: %w", err)
	}
	if err == nil && n.journal.LastSeq() > rec.SnapshotSeq && st.Last != n.journal.LastSeq() {
		// A journal whose only segment holds no record yet (a roll the
		// power cut short) ends at its name's input - 1: the replay met
		// no record, and ErrMissing none to refuse.
		err = fmt.Errorf("%w: the journal ends at input %d, the replay from %d reached %d", replay.ErrMissing, n.journal.LastSeq(), rec.SnapshotSeq+1, st.Last)
	}
	if err != nil {
		if errors.Is(err, replay.ErrMissing) {
			// Neither the journal nor the archive holds the inputs after
			// the snapshot that restored: past damaged snapshots, or
			// newer ones removed.
			way := "put the missing journal segments (from a backup) in " + n.cfg.ArchiveDir() + ", or a good snapshot in " + n.cfg.SnapshotDir()
			if n.cfg.Cluster.Enabled() {
				way = rejoinWay
			}
			if len(unusable) > 0 {
				return fmt.Errorf("%w: %d snapshot(s) do not restore (%s) and %w; %s", ErrStateLost, len(unusable), strings.Join(unusable, "; "), err, way)
			}
			from := "the empty state"
			if restored {
				from = "snapshot " + snapPath
			}
			return fmt.Errorf("node: recovery from %s: %w (journal %s, archive %s); %s", from, err, n.cfg.JournalDir(), n.cfg.ArchiveDir(), way)
		}
		return err
	}
	switch {
	case restored && rec.Replayed == 0 && snapRules != n.rules:
		// Started under new rules with nothing to replay: from here on
		// inputs are decided under them, and the snapshot says so.
		if err := n.snapshotNow(rec.SnapshotSeq); err != nil {
			return err
		}
		if err := n.snaps.MarkRules(rec.SnapshotSeq, n.rules); err != nil {
			return err
		}
		n.log.Warn().Int64("seq", rec.SnapshotSeq).Msg("snapshot: rewritten under the changed instruments, accounts or limits")
	case !restored && n.journal.LastSeq() == 0 && len(unusable) > 0 && n.snapshotsPastInputZero():
		// Not a fresh data directory: its state is in snapshots that do
		// not restore, and no journal rebuilds it. Started empty, the
		// exchange would have lost every order and position. (A damaged
		// snapshot of input 0 alone held the empty state: nothing lost.)
		return n.stateLost(unusable)
	case !restored && n.journal.LastSeq() == 0:
		// A fresh data directory: a snapshot of the empty state at input
		// 0 records the rules the first inputs are decided under, so that
		// even a first run's journal is never replayed under other ones.
		if err := n.snapshotNow(0); err != nil {
			return err
		}
	}
	if len(st.Dropped) > 0 {
		// A snapshot past the dropped inputs: a member that installs this
		// node's state, or a restart that loses the drops file, does not
		// meet them again.
		if err := n.snapshotNow(st.Last); err != nil {
			return err
		}
		// The newest on disk, and this node's: the metrics and the
		// snapshot pace go from it, not from the one restored.
		n.lastSnapSeq = st.Last
		n.stats.lastSnapshotSeq.Store(st.Last)
		n.stats.lastSnapshotAt.Store(time.Now().UnixNano())
		n.log.Info().Int64("seq", st.Last).Msg("snapshot: written past the dropped inputs")
	}
	n.sessions.orders(n.eng)
	if n.sessions.beyond != 0 {
		n.log.Warn().Stringer("session", gateway.LogID(n.sessions.beyond)).Stringer("resume", gateway.LogID(n.sessions.max)).
			Msg("recovery: a session id of this member at or above 2^63 in the recovered state, none a gateway gives out (a damaged or foreign journal or snapshot?): not followed, new session ids continue from resume")
	}
	rec.LastSeq = max(n.journal.LastSeq(), rec.SnapshotSeq)
	rec.Hash = n.eng.StateHash()
	n.notePools()
	n.base = rec.LastSeq + 1
	// Invariant: a journal directory holding no segment beside a snapshot
	// past input 0 is never the node's doing (checkJournalThere refuses
	// it). A journal empty past input 0 — after an installed raft
	// snapshot with no input after it, or a lost journal accepted —
	// begins durably here, before any input is taken.
	if n.journal.Segments() == 0 && n.base > 1 {
		if err := n.journal.BeginAt(n.base); err != nil {
			return fmt.Errorf("node: beginning the journal at input %d: %w", n.base, err)
		}
	}
	return nil
}

// keptCutWay says how to put back the records a `ringex journal cut`
// took out of the journal, ending at input last, that the snapshot of
// input snapSeq holds: the engine applied them, so they were durable and
// acknowledged, not a torn batch, and accepting the journal as lost
// would give them up. It names the first kept file holding inputs after
// last (journal.KeptCuts) and the `ringex journal uncut` of that file,
// which writes the bytes back only over what the cut left and only into
// the journal's last segment (journal.Uncut), or says "" when there is
// none.
func (n *Node) keptCutWay(last, snapSeq int64) string {
	cuts, err := journal.KeptCuts(n.cfg.JournalDir(), n.fs, last)
	if err != nil {
		return ""
	}
	for _, c := range cuts {
		return fmt.Sprintf("%s holds inputs %d…%d, which a `ringex journal cut` took out of %s at offset %d, and the snapshot holds inputs up to %d: "+
			"they were acknowledged, not a torn batch. With the node stopped, put them back — "+
			"ringex journal uncut %s — and start it again: the start then names the damage the cut was run for "+
			"(restore that segment from a backup); do not accept the journal as lost, which gives those inputs up",
			c.SavedTo, c.FirstCut, c.LastCut, c.File, c.Offset, snapSeq, shellWord(c.SavedTo))
	}
	return ""
}

// shellWord is s as one word of a POSIX shell's command line, for a
// command the node names to be pasted: s itself when every byte is one
// no shell treats specially, else s in single quotes, each single
// quote in it ended, escaped and begun again. A data directory's path
// may hold a space.
func shellWord(s string) string {
	plain := s != ""
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_./:@%+=,-", r)) {
			plain = false
			break
		}
	}
	if plain {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// ErrJournalGone: a node alone restored a snapshot past input 0, and its
// journal directory holds no segment — moved elsewhere (journal.dir
// pointed at a new disk before the segments were copied) or lost with
// its disk. Wraps replay.ErrMissing.
var ErrJournalGone = fmt.Errorf("node: the journal directory holds no segment beside a snapshot past input 0: %w", replay.ErrMissing)

// checkJournalThere refuses (ErrJournalGone) to start a node alone from
// a snapshot past input 0 with a journal directory holding no segment,
// unless acceptLost: inputs acknowledged after the snapshot may have been
// in it, and started here the node would give their sequences (order
// ids) out again. A journal empty after such a snapshot by the node's own
// doing holds its first segment (replay's BeginAt, stageState's). It
// refuses acceptLost with no such journal to accept. Restored from the
// snapshot of input 0 past newer ones that do not restore, the state is
// lost with them (ErrStateLost), flag or not. A cluster member is
// never refused: its raft log holds the committed inputs after its
// snapshot and delivers them again, or it installs its own raft snapshot
// (replicator contract 6).
func (n *Node) checkJournalThere(restored bool, snapSeq int64, snapPath string, unusable []string, acceptLost bool) error {
	gone := restored && !n.cfg.Cluster.Enabled() && n.journal.Segments() == 0 && n.snapshotsPastInputZero()
	switch {
	case gone && snapSeq == 0:
		// The snapshot of input 0 is the empty state: the state was in
		// the newer snapshots, none of which restores, not in a journal
		// after it. Accepted as a lost journal, the node started an
		// empty exchange.
		return n.stateLost(unusable)
	case gone && acceptLost:
		n.log.Warn().Str("journal", n.cfg.JournalDir()).Str("snapshot", snapPath).Int64("snapshot_seq", snapSeq).
			Msg("journal: accepted as lost (--accept-lost-journal): starting from the snapshot alone; every input journaled after it is given up, " +
				"and their sequences (order ids) are given out again")
		return nil
	case gone:
		return fmt.Errorf("%w: restored %s (input %d), journal directory %s: the inputs journaled after input %d, acknowledged to clients, may have been there; "+
			"if the journal moved, put its segments in %s (or point journal.dir at them); if it is lost for good, `ringex serve --accept-lost-journal` "+
			"starts from the snapshot alone, once, giving those inputs up and their sequences (order ids) out again",
			ErrJournalGone, snapPath, snapSeq, n.cfg.JournalDir(), snapSeq, n.cfg.JournalDir())
	case acceptLost:
		return fmt.Errorf("node: --accept-lost-journal: no lost journal to accept (%s holds segments, or no snapshot past input 0 restored, or the node is a cluster member, "+
			"whose raft log holds its inputs): start without it — it is for the one start after a journal was lost", n.cfg.JournalDir())
	}
	return nil
}

// stateLost is ErrStateLost for a data directory whose state was in the
// snapshots unusable, none of which restores, with no journal after them.
func (n *Node) stateLost(unusable []string) error {
	way := "put a good snapshot (from a backup) in " + n.cfg.SnapshotDir() + ", or move the directory away to start an empty exchange"
	if n.cfg.Cluster.Enabled() {
		way = rejoinWay
	}
	return fmt.Errorf("%w: %d snapshot(s) do not restore (%s) and the journal is empty; %s",
		ErrStateLost, len(unusable), strings.Join(unusable, "; "), way)
}

// snapshotsPastInputZero reports whether the snapshot directory holds a
// snapshot of any input after 0: state beyond the empty one.
func (n *Node) snapshotsPastInputZero() bool {
	seqs, _ := n.snaps.List()
	return len(seqs) > 0 && slices.Max(seqs) > 0
}

// refuseMissingSegment refuses a journal whose newest segment is gone
// (journal.Recovery.Missing): after the snapshot's check, which names the
// lost inputs when the snapshot holds some of them. Going on at the
// journal's end gave the lost inputs' sequences (order ids) out again,
// to other inputs, with no word — inputs a client was told of.
func (n *Node) refuseMissingSegment(rec journal.Recovery) error {
	if rec.Missing == 0 {
		return nil
	}
	giveUp := "" // a standalone node's: remove newest-segment
	if n.cfg.Cluster.Enabled() {
		giveUp = "or " + rejoinWay
	}
	return fmt.Errorf("node: %w", journal.MissingSegmentError(n.cfg.JournalDir(), rec.Missing, rec.LastSeq, giveUp))
}

// rejoinWay is how a cluster member whose state is lost gets it back.
const rejoinWay = "move this member's data directory aside (keep it) and start it without --bootstrap: it joins and is sent the leader's state"

// newerBuildsSnapshot refuses to start past a snapshot a later build
// wrote (err, wrapping snapshot.ErrNewerVersion: a file format, or
// engine.ErrNewerSnapshot: a state format, this build does not know):
// the node was downgraded. It does not fall back to an older snapshot as it does past
// damage: the inputs journaled after that one were decided by the later
// build, whose engine may decide them otherwise than this one (a higher
// engine.Semantics), and the record of its rules is in the file this
// build cannot read — replayed here, a trade acknowledged could come
// undone, which checkRules exists to prevent. Nor is it damage: the
// remedy is the build that wrote it.
func newerBuildsSnapshot(err error) error {
	return fmt.Errorf("node: %w; the inputs journaled after it were decided by that build, whose engine this one may not match, "+
		"so this build will not start past it: start that build (or a later one) again", err)
}

// ErrStateLost: the data directory held state (snapshots), none of which
// restores, and the journal (with its archive) cannot rebuild it.
var ErrStateLost = errors.New("node: no snapshot restores and the journal cannot rebuild the state")

// snapshotNow writes the engine's state, at input seq, under the config's
// rules (recovery, before any stage runs).
func (n *Node) snapshotNow(seq int64) error {
	_, _, err := n.writeSnapshot(snapJob{seq: seq, payload: n.eng.AppendSnapshot(nil), sessions: n.sessionIDs})
	return err
}

// ErrRulesChanged: the journal after the newest snapshot was written
// under other instruments, accounts or limits than the config has now, or
// by a build whose engine.Semantics differ.
var ErrRulesChanged = errors.New("node: the journal after the snapshot was written under other instruments, accounts or limits, or by another engine version")

// checkRules refuses to replay inputs journaled after snap under rules
// other than the config's: they could be decided differently from how
// they were decided and answered. A snapshot of unknown rules (version 1
// files) and one with nothing after it pass; a journal with no snapshot
// is replayed under the config as it is (its rules are not recorded).
func (n *Node) checkRules(snap snapshot.Snapshot) error {
	last := n.journal.LastSeq()
	if last <= snap.Seq {
		return nil
	}
	if snap.Rules == 0 || snap.Rules == n.rules {
		// Restored past a damaged newer snapshot, the journal may cross
		// a change of rules and back.
		err := n.rulesKeptBetween(snap.Seq, last)
		if errors.Is(err, snapshot.ErrRulesUnknown) {
			n.log.Warn().Err(err).Msg("snapshot: the rules of a record after the restored snapshot are unknown")
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w; restored from %s (input %d), the replay to input %d would cross that change of rules, which no one config decides: "+
				"put good copies (from a backup) of the snapshots after input %d that did not restore (logged as skipped) in %s",
				err, snap.Path, snap.Seq, last, snap.Seq, n.cfg.SnapshotDir())
		}
		return nil
	}
	return fmt.Errorf("%w: snapshot %s (input %d) records rules %016x, this config and build give %016x, and inputs %d…%d follow it; "+
		"start with the config and the ringex build they were written under (a clean stop then takes a snapshot), then change them",
		ErrRulesChanged, snap.Path, snap.Seq, snap.Rules, n.rules, snap.Seq+1, last)
}

// ErrRulesUnrecorded: the journal is to be replayed from its start and no
// snapshot records the rules its inputs were decided under.
var ErrRulesUnrecorded = errors.New("node: no snapshot records the rules the journal's inputs were decided under")

// checkJournalRules lets a journal be replayed from its start only under
// the rules the snapshot of input 0 records (a data directory starts with
// it), checked as checkRules checks a restored snapshot's — the records
// after it included. Without one — a directory of a build before 2026-12-03, which
// recorded no rules, or snapshots removed — the inputs were replayed under
// this build's engine and config, and a trade acknowledged under the
// build that wrote them could come undone.
func (n *Node) checkJournalRules() error {
	recs, err := n.snaps.RulesBetween(-1, 1)
	for _, r := range recs {
		if r.Rules != 0 { // as if restored from it: its rules, and every record after it
			return n.checkRules(snapshot.Snapshot{Seq: 0, Rules: r.Rules, Path: "of input 0"})
		}
	}
	if err == nil {
		err = errors.New("there is no snapshot of input 0")
	}
	way := "if its snapshots were removed, restore them (" + n.cfg.SnapshotDir() + "); if the directory was written by a build before 2026-12-03, " +
		"start it once with a build from 2026-12-03 on under the config it was written with and stop it cleanly (it snapshots at the journal's end), then with this build"
	if n.cfg.Cluster.Enabled() { // not n.cl: New sets it after the replay
		way = "a cluster member: move its data directory aside (keep it) and start it without --bootstrap to join again (it is sent the leader's state); " +
			"or move its journal aside too (it then restores its own raft snapshot, if that is intact); or " + way
	}
	return fmt.Errorf("%w (%v): inputs 1…%d of %s would be decided under this build's engine and config, maybe otherwise than they were; %s",
		ErrRulesUnrecorded, err, n.journal.LastSeq(), n.cfg.JournalDir(), way)
}

// rulesKeptBetween refuses (ErrRulesChanged) to decide the inputs from
// after+1 to last under the node's rules when a snapshot or a rules mark
// taken before last records others: the rules changed there (and maybe
// back, so the snapshots at both ends agree with the node's). A record
// that cannot be read is ErrRulesUnknown.
func (n *Node) rulesKeptBetween(after, last int64) error {
	recs, err := n.snaps.RulesBetween(after, last)
	for _, r := range recs {
		if r.Rules != 0 && r.Rules != n.rules {
			return fmt.Errorf("%w: the inputs after %d were decided under rules %016x (this config and build give %016x; recorded in %s)",
				ErrRulesChanged, r.Seq, r.Rules, n.rules, n.snaps.RecordPath(r.Seq))
		}
	}
	return err
}

// ErrStopping refuses a control input (halt, resume, kill switch,
// snapshot) once Stop has begun: the input ring drains only what was
// published before.
var ErrStopping = errors.New("node: stopping")

// Fatal delivers errors that stop the node (journal failure).
func (n *Node) Fatal() <-chan error { return n.fatal }

func (n *Node) fail(err error) {
	n.failed.Store(true)
	select {
	case n.fatal <- err:
	default:
	}
}

// publishControl puts a node-issued frame into the input ring and
// returns once the engine has applied it — journaled, and in a cluster
// committed: an operator told "accepted" can rely on it. A leader that
// publishes one and loses the lead before it commits never applies it
// (the next leader never had it); nor, then, is the operator told it
// was taken (ErrControlUnconfirmed).
func (n *Node) publishControl(account uint32, build func(e *proto.Encoder) []byte) error {
	deadline := time.Now().Add(n.ctlWait)
	slot, err := n.claimControl(deadline, account, build, nil, nil)
	if err != nil {
		return err
	}
	return n.awaitApplied(slot, deadline)
}

// claimControl publishes the control input and returns its ring slot.
// claimed, unless nil, is called with the slot before the input is
// published: before any stage can see it.
//
// It waits until deadline for the turn (ctlTurn), then for the claim: on
// a full ring a claim waits for a slot, and a claim once made cannot be
// taken back (the ring's claims are consecutive), so it is made by a
// goroutine of its own that holds the turn until the input is published.
// A request whose deadline passes first returns ErrControlUnconfirmed —
// the input may still be published once the engine moves, and then
// abandoned, unless nil, is called with its slot instead of the request
// being answered. Requests behind it leave at their own deadline without
// publishing anything, so control inputs keep the order the requests
// took their turns in: before, each waited for a slot holding ctlMu
// without a deadline, and behind an engine that had stopped taking
// inputs every control request hung, each holding an admin connection.
//
// The claim publishes holding ctlMu, and Stop waits for it there: no
// longer than the stalled stage its drain would wait for anyway, as no
// stage of the input ring waits for a step of Stop after ctlMu
// (TestStopWaitsOutAControlClaimOnAFullRing).
func (n *Node) claimControl(deadline time.Time, account uint32, build func(e *proto.Encoder) []byte, claimed, abandoned func(slot int64)) (int64, error) {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case n.ctlTurn <- struct{}{}:
	case <-timer.C:
		return 0, n.controlUnconfirmed()
	}
	type claim struct {
		slot int64
		err  error
	}
	var (
		// fate: 0 while undecided, then claimTaken (the request has the
		// result) or claimAbandoned (the request left), set once.
		fate  atomic.Int32
		taken = make(chan claim, 1)
	)
	go func() {
		defer func() { <-n.ctlTurn }()
		n.ctlMu.Lock()
		defer n.ctlMu.Unlock()
		if n.ctlClosed {
			taken <- claim{err: ErrStopping}
			return
		}
		frame := build(n.ctlEnc)
		slot, err := n.publishSlot(input.KindControl, 0, account, time.Now().UnixNano(), frame[proto.PrefixSize:], claimed)
		if !fate.CompareAndSwap(0, claimTaken) && err == nil && abandoned != nil {
			abandoned(slot)
		}
		taken <- claim{slot, err}
	}()
	select {
	case c := <-taken:
		return c.slot, c.err
	case <-timer.C:
		if fate.CompareAndSwap(0, claimAbandoned) {
			return 0, n.controlUnconfirmed()
		}
		c := <-taken // decided as the deadline passed: sent, or about to be
		return c.slot, c.err
	}
}

// What became of a control claim's request (claimControl).
const (
	claimTaken int32 = 1 + iota
	claimAbandoned
)

// ErrControlUnconfirmed: a control input was not applied within
// controlWait — in a cluster this member lost the lead with it
// uncommitted, or is stopping; alone, the journal's disk is stuck, or
// the engine has stopped taking inputs and the ring is full, or the node
// is stopping. It may still take effect: sending it again (to the
// leader) is safe, as halts, resumes, suspensions and snapshot requests
// may be repeated. Its text is a cluster member's: it says "not the
// leader" so that `ringex … --admin A,B,C` goes on to the next member
// (passOn). A node alone answers errControlUnconfirmedAlone, which is
// ErrControlUnconfirmed (errors.Is) in a text of its own.
var ErrControlUnconfirmed = errors.New("node: not the leader, or stopping: the input was not applied within 5 s and may not take effect; send it again (to the leader: it is safe to repeat)")

// errControlUnconfirmedAlone is ErrControlUnconfirmed on a node alone,
// which is never "not the leader": its 503 said so.
var errControlUnconfirmedAlone error = unconfirmedAlone{}

type unconfirmedAlone struct{}

func (unconfirmedAlone) Error() string {
	return "node: the input was not applied within 5 s and may not take effect: the journal's disk is stuck, " +
		"the engine is not taking inputs, or the node is stopping; send it again (it is safe to repeat)"
}

func (unconfirmedAlone) Is(target error) bool { return target == ErrControlUnconfirmed }

// controlUnconfirmed is ErrControlUnconfirmed in the text for this
// node: a cluster member's, or a node alone's.
func (n *Node) controlUnconfirmed() error {
	if !n.cfg.Cluster.Enabled() {
		return errControlUnconfirmedAlone
	}
	return ErrControlUnconfirmed
}

// controlWait bounds a control request (Node.ctlWait): well past an
// election and a raft round trip, well within the CLI's 10 s.
const controlWait = 5 * time.Second

// awaitApplied waits until the engine has applied ring slot slot, or
// deadline passes.
func (n *Node) awaitApplied(slot int64, deadline time.Time) error {
	if !awaitConsumed(n.stats.engine, slot, deadline) {
		return n.controlUnconfirmed()
	}
	return nil
}

// awaitAnswers waits, at most wait, until the reports of every input
// published before the call are staged in their sessions' outboxes — the
// engine has applied the inputs, and the sender has passed every event
// the engine had published by then — and the answers to session's
// ResendReports among them are over, their ResendDone in its outbox
// (gateway.Config.AwaitAnswers, for a session that logs out).
func (n *Node) awaitAnswers(session uint64, wait time.Duration) {
	deadline := time.Now().Add(wait)
	if awaitConsumed(n.stats.engine, n.in.published(), deadline) && awaitConsumed(n.stats.sender, n.exec.published(), deadline) {
		n.awaitResends(session, deadline)
	}
}

// awaitConsumed waits until consumer p has passed ring slot slot, and
// reports whether it did before deadline (false too when p stopped
// short of it).
func awaitConsumed(p *consumer, slot int64, deadline time.Time) bool {
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for p.Sequence().Load() < slot {
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-tick.C:
		case <-p.Done(): // stopped: the sequence is final
			return p.Sequence().Load() >= slot
		}
	}
	return true
}

// Publish claims an input slot, copies the frame and header in, and
// publishes it. It blocks while the ring is full.
func (n *Node) Publish(kind input.Kind, session uint64, account uint32, recvTime int64, payload []byte) error {
	_, err := n.publishSlot(kind, session, account, recvTime, payload, nil)
	return err
}

// publishSlot is Publish, returning the ring slot the input took;
// claimed, unless nil, is called with the slot before it is published.
func (n *Node) publishSlot(kind input.Kind, session uint64, account uint32, recvTime int64, payload []byte, claimed func(slot int64)) (int64, error) {
	slot, err := n.claimInput(1)
	if err != nil {
		return 0, err
	}
	n.fillInput(slot, kind, session, account, recvTime, payload)
	if claimed != nil {
		claimed(slot)
	}
	n.in.seq.Publish(slot, slot)
	return slot, nil
}

// PublishBatch is Publish for several frames of one session, with one
// claim of consecutive slots (gateway.Publisher), that waits for room at
// most wait (0: no bound): past it, gateway.ErrInputStalled, nothing
// claimed. It returns how many frames it published: all of them, or —
// in a ring smaller than the batch, claimed a ring's worth at a time —
// the chunks before the claim that failed.
func (n *Node) PublishBatch(kind input.Kind, session uint64, account uint32, recvTime int64, payloads [][]byte, wait time.Duration) (int, error) {
	published := 0
	for published < len(payloads) {
		k := min(int64(len(payloads)-published), n.in.seq.Size()) // a claim fits the ring
		hi, err := n.claimInputWithin(k, wait)
		if err != nil {
			return published, err
		}
		lo := hi - k + 1
		for i, p := range payloads[published : published+int(k)] {
			n.fillInput(lo+int64(i), kind, session, account, recvTime, p)
		}
		n.in.seq.Publish(lo, hi)
		published += int(k)
	}
	return published, nil
}

// claimInput claims k input slots for the gateway or the admin, waiting
// while the ring is full, unless the node refuses input (refuseInput):
// then it returns ErrNotLeader, claiming nothing — also when the member
// loses the lead while it waits. A claim taken before the wait (Next) was
// published by a member no longer leading once there was room: an input
// no leader commits, in a ring whose next sequences the new leader's
// batches take, and the member stopped (ErrDiverged, ErrInputsLost).
// Leadership lost between the last look and the claim is the in-flight
// case every leader has (replication.go, item 4).
func (n *Node) claimInput(k int64) (int64, error) {
	return n.in.claimUnless(k, n.refuseInput, ErrNotLeader)
}

// claimInputWithin is claimInput waiting at most wait for room (0: no
// bound), then refusing with gateway.ErrInputStalled, nothing claimed: a
// session's reader held on a ring that stays full gives up, and its
// session ends, rather than holding its account's slot and its
// cancel-on-disconnect for as long as the engine stalls.
func (n *Node) claimInputWithin(k int64, wait time.Duration) (int64, error) {
	return n.in.claimWithin(k, wait, n.refuseInput, ErrNotLeader, gateway.ErrInputStalled)
}

// fillInput writes one input into the claimed slot seq.
func (n *Node) fillInput(seq int64, kind input.Kind, session uint64, account uint32, recvTime int64, payload []byte) {
	s := n.in.slots.ForWrite(seq)
	s.RecvTime, s.Session, s.Account, s.Kind = recvTime, session, account, kind
	if !s.SetPayload(payload) {
		s.Len = 0 // cannot happen: the gateway bounds frames; unmarshal rejects an empty one
	}
}

// Halt and Resume stop and restart trading in an instrument.
func (n *Node) Halt(instrument uint32) error {
	return n.publishControl(0, func(e *proto.Encoder) []byte { return e.Halt(0, instrument) })
}

// HaltAndCancelOrders halts an instrument and cancels every resting order
// of it, of every account (cancel reason instrument-halted), each owner's
// session told: the book is cleared — a delisting, a wrong reference
// price, an incident — and stays empty until Resume.
func (n *Node) HaltAndCancelOrders(instrument uint32) error {
	return n.publishControl(0, func(e *proto.Encoder) []byte { return e.HaltAndCancelOrders(0, instrument) })
}

func (n *Node) Resume(instrument uint32) error {
	return n.publishControl(0, func(e *proto.Encoder) []byte { return e.Resume(0, instrument) })
}

// SuspendAccount publishes the kill switch of an account: its live orders
// are cancelled and its new orders refused until ResumeAccount. Like
// every control input it is journaled and, in a cluster, replicated, so
// it holds across restarts and failovers.
func (n *Node) SuspendAccount(account uint32) error {
	return n.publishControl(account, func(e *proto.Encoder) []byte { return e.SuspendAccount(0) })
}

// ResumeAccount lifts an account's suspension.
func (n *Node) ResumeAccount(account uint32) error {
	return n.publishControl(account, func(e *proto.Encoder) []byte { return e.ResumeAccount(0) })
}

// switchMarketData turns the engine's book events on — with an image of
// every book first, ended by a BookClear of instrument 0, at each call —
// or off, and returns when it is done (or the engine stage has stopped).
// The engine goroutine does it between two batches (Processor.Do), woken
// without an input: on a cluster's follower none comes while the market is
// quiet (it takes no inputs of its own), and a port closed and reopened
// between two engine batches used to get no image at all. It holds
// view.mu like a batch, for the admin's reads.
func (n *Node) switchMarketData(on bool) {
	n.stats.engine.Do(func() {
		n.view.mu.Lock()
		defer n.view.mu.Unlock()
		n.eng.SetMarketData(false)
		if on {
			n.eng.SetMarketData(true)
			n.publishOut(n.md, &engine.Event{Type: engine.EvBookClear}) // instrument 0: the image is complete
		}
	})
}

// marketDataSecretsExposure says, for the log at start, that the
// market-data port's Logons (marketdata.require_logon) carry the
// accounts' secrets in clear while order entry protects them
// (gateway.tls): the market-data port has no TLS (marketdata.tls), and
// a secret read off it logs on to order entry and trades. "" when that
// is not so: no logon asked, the port on TLS, order entry in clear too,
// or the port on loopback.
func marketDataSecretsExposure(cfg *config.Config) string {
	if !cfg.MarketData.RequireLogon || cfg.MarketData.TLS.Enabled() || !cfg.Gateway.TLS.Enabled() {
		return ""
	}
	if host, _, err := net.SplitHostPort(cfg.MarketData.Listen); err == nil && config.IsLoopback(host) {
		return ""
	}
	return fmt.Sprintf("market data: marketdata.require_logon with gateway.tls: the market-data port (marketdata.listen %s) has no TLS, "+
		"so every Logon there carries its account's secret — the one that trades on the order-entry port — in clear, for anyone on the path to read; "+
		"set marketdata.tls.cert_file and marketdata.tls.key_file, or give market-data subscribers accounts of their own that do not trade", cfg.MarketData.Listen)
}

// warnNoSnapshots logs that nothing takes snapshots but an operator and
// the stop: the journal (and a cluster's raft log) is pruned only after
// a snapshot, so it grows until the disk is full, and a restart after a
// crash replays all of it.
func warnNoSnapshots(cfg *config.Config, log zerolog.Logger) {
	if cfg.Snapshot.Schedule == "" && cfg.Snapshot.EveryInputs <= 0 {
		log.Warn().Msg("snapshot.schedule and snapshot.every_inputs are both off: only POST /snapshot and a clean stop take snapshots, " +
			"and the journal (and a cluster's raft log) is pruned only after one — it grows until the disk is full, and a crash replays all of it")
	}
}

// warnMassCancelBursts logs each account whose orders, cancelled at once
// (MassCancel, the kill switch, cancel-on-disconnect, a halt that cancels
// orders), come to more reports for one session than
// gateway.send_buffer_bytes holds: the execution sender stages them faster than any client reads, so a client
// that reads would still be disconnected as a slow consumer.
func warnMassCancelBursts(cfg *config.Config, log zerolog.Logger) {
	for _, a := range cfg.Accounts {
		// The pools grow past engine.max_orders: an account's bound (its
		// own, else engine.max_open_orders) is what it can hold; without
		// one, the pools' first size.
		orders := cfg.EffectiveMaxOpenOrders(a)
		if orders <= 0 {
			orders = int64(cfg.Engine.MaxOrders)
		}
		if burst := orders * int64(proto.ReportFrameBytes()); burst > int64(cfg.Gateway.SendBufferBytes) {
			log.Warn().Uint32("account", a.ID).Int64("orders", orders).Int64("reports_bytes", burst).
				Int("send_buffer_bytes", cfg.Gateway.SendBufferBytes).
				Msg("gateway.send_buffer_bytes is below the reports of one mass cancel of this account's orders: a client cancelling them all would be disconnected")
		}
	}
}
