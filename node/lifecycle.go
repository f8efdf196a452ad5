package node

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/gateway"
	"github.com/ringex/ringex/journal"
	"github.com/ringex/ringex/replay"
	"github.com/ringex/ringex/snapshot"
)

// Addrs are the bound addresses of a started node.
type Addrs struct {
	Gateway, MarketData string
	Admin               string // "" when admin.listen turns the admin port off
}

// Start opens the live stage: rings and consumers, then the gateway,
// market-data and admin ports.
func (n *Node) Start() (Addrs, error) { return n.StartUnless(nil) }

// ErrStoppedBeforeLive: StartUnless's stop was closed before the node
// started anything; Stop stops it as a node never started.
var ErrStoppedBeforeLive = errors.New("node: stop asked before the node went live")

// StartUnless is Start, unless stop is closed (a SIGTERM) before the
// live stage begins: it then returns ErrStoppedBeforeLive, having
// started no stage and opened no port — mapping the rings
// (rings.prefault) can take seconds, after which Start used to open the
// ports and log "live" only for the stop to close them. A nil stop is
// never closed.
func (n *Node) StartUnless(stop <-chan struct{}) (Addrs, error) {
	n.stats.init(len(n.cfg.Instruments))
	if n.cfg.Rings.Prefault {
		// Replayed: the admin port says what the node does now, not
		// "replaying" for a replay long over.
		n.mappingRings.Store(true)
		if n.populateHook != nil {
			n.populateHook()
		}
		n.populateRings()
	}
	var accounts []gateway.Account
	for _, a := range n.cfg.Accounts {
		accounts = append(accounts, gateway.Account{ID: a.ID, Secret: a.Secret, CancelOnDisconnect: a.CancelOnDisconnect,
			RejectRate: a.RateLimit, DisconnectRate: a.DisconnectRate})
	}
	gcfg := gateway.Config{
		Listen: n.cfg.Gateway.Listen, MaxFrameBytes: n.cfg.Gateway.MaxFrameBytes, MaxConnections: n.cfg.Gateway.MaxConnections,
		MaxConnectionsPerAddress: n.cfg.Gateway.MaxConnectionsPerAddress,
		MaxSessionsPerAccount:    n.cfg.Gateway.MaxSessionsPerAccount,
		HeartbeatTimeout:         n.cfg.Gateway.ReadTimeout, HeartbeatInterval: n.cfg.Gateway.HeartbeatInterval, RejectRate: n.cfg.Gateway.RateLimit, DisconnectRate: n.cfg.Gateway.DisconnectRate,
		StatusRate:                      n.cfg.Gateway.StatusRate,
		LogonRate:                       n.cfg.Gateway.LogonRate,
		FailedLogonsPerMinute:           n.cfg.Gateway.FailedLogonsPerMinute,
		FailedLogonsPerAccountPerMinute: n.cfg.Gateway.FailedLogonsPerAccountPerMinute,
		SendBufferBytes:                 n.cfg.Gateway.SendBufferBytes, SendBudget: n.sendBudget, Accounts: accounts, Logger: n.log,
		Instruments:    n.mdHub.instruments,
		Member:         n.cfg.Node.ID,  // in every session id: no two members give out the same one
		Resume:         n.sessions.max, // and none it gave out before the restart, nor below them
		Now:            n.gatewayNow,
		ReportsWritten: func(recv int64) { n.stats.observeE2E(sinceRecv(recv)) },
		// Claims come after the published cursor: the session's inputs
		// are claimed after this is read. In a cluster, the committed
		// input: a leader deposed before it commits what it published
		// sees the next leader give those sequences to other inputs.
		InputSeq: func() int64 {
			if n.cl != nil {
				return n.cl.committed.Load()
			}
			return n.base + n.in.published()
		},
		AwaitAnswers: n.awaitAnswers,
	}
	if n.cfg.Gateway.TLS.Enabled() {
		var err error
		if gcfg.TLS, err = serverTLS("gateway.tls", n.cfg.Gateway.TLS); err != nil {
			return Addrs{}, err
		}
	}
	// Loaded before anything starts, as gateway.tls's: a pair that does
	// not load stops the start.
	var mdTLS *tls.Config
	if n.cfg.MarketData.TLS.Enabled() {
		var err error
		if mdTLS, err = serverTLS("marketdata.tls", n.cfg.MarketData.TLS); err != nil {
			return Addrs{}, err
		}
	}
	if n.cl != nil {
		gcfg.Standby = n.standby
	}
	var err error
	if n.gw, err = gateway.New(gcfg, n); err != nil {
		return Addrs{}, err
	}
	select {
	case <-stop: // the last moment before anything starts: Stop needs nothing more
		return Addrs{}, ErrStoppedBeforeLive
	default:
	}

	// Live stage: outputs open before anything can arrive.
	n.live.Store(true)
	if err := n.exec.start(); err != nil {
		return Addrs{}, err
	}
	n.ports.set("execution", true)
	if err := n.md.start(); err != nil {
		return Addrs{}, err
	}
	n.ports.set("marketdata", false)
	if err := n.in.start(); err != nil {
		return Addrs{}, err
	}
	n.engineStarted.Store(true)
	if n.cl != nil {
		if err := n.startCluster(); err != nil {
			return Addrs{}, err
		}
	}
	n.kickClear() // recovered mid-clear: no input may come to report the rest
	n.wg.Add(2)
	go n.snapshotWriter()
	go n.resendWorker()

	if err := n.gw.Listen(); err != nil {
		return Addrs{}, err
	}
	if n.mdLn, err = net.Listen("tcp", n.cfg.MarketData.Listen); err != nil {
		n.gw.Close()
		return Addrs{}, fmt.Errorf("node: market data: %w", err)
	}
	if mdTLS != nil {
		n.mdLn = tls.NewListener(n.mdLn, mdTLS)
	}
	// The admin port was opened by New, answering the probes while the
	// journal replayed: every endpoint from now on.
	adminAddr := ""
	if n.admin != nil {
		adminAddr = n.adminLn.Addr().String()
		n.adminServes.Store(new(n.adminHandler()))
	}
	go n.gw.Serve()
	go n.mdHub.serve(n.mdLn)
	n.ports.set("gateway", true)
	if n.cfg.Snapshot.Schedule != "" {
		n.wg.Add(1)
		go n.snapshotSchedule()
	}
	n.log.Info().Str("gateway", n.gw.Addr().String()).Str("marketdata", n.mdLn.Addr().String()).
		Str("admin", adminAddr).Bool("gateway_tls", n.cfg.Gateway.TLS.CertFile != "").
		Bool("marketdata_tls", n.cfg.MarketData.TLS.CertFile != "").Bool("admin_tls", n.cfg.Admin.TLS.CertFile != "").
		Int64("next_seq", n.base).Msg("live")
	return Addrs{Gateway: n.gw.Addr().String(), MarketData: n.mdLn.Addr().String(), Admin: adminAddr}, nil
}

// Stop stops accepting, drains every ring, syncs the journal and closes.
func (n *Node) Stop() error {
	n.stopOnce.Do(func() {
		var err error
		defer func() { n.stopErr = err }()
		close(n.stopCh)
		n.ports.set("gateway", false)
		if n.gw != nil {
			n.gw.StopTaking() // its sessions stay open for the reports the drain sends
		}
		if n.mdLn != nil {
			n.mdLn.Close()
		}
		// No control input after this one: each one published so far is
		// below the drain's target (publishControl publishes under ctlMu).
		n.ctlMu.Lock()
		n.ctlClosed = true
		n.ctlMu.Unlock()
		n.settleCluster()
		err = n.in.drain() // journal synced, engine caught up
		if e := n.stopCluster(); err == nil {
			err = e
		}
		if e := n.exec.drain(); err == nil {
			err = e
		}
		// The fan-out stages every update of the inputs the engine
		// applied, as the sender did every report: a subscriber is told
		// the node stops only after them. It waits for no subscriber (a
		// full outbox cuts its own), so the drain is the fan-out's work
		// on what the ring holds, no more.
		if e := n.md.drain(); err == nil {
			err = e
		}
		// Every report is in its session's outbox, every update in its
		// subscriber's: each connection is ended with them, then
		// Closing{shutdown} — its subscribers' as well — and Stop waits
		// for their writers, all within the one close grace (1 s) they
		// count from here: a process exiting after Stop cuts no Closing
		// short, and a client that stopped reading holds it no longer
		// than that.
		subscribers := n.mdHub.shutdown()
		if n.gw != nil {
			n.gw.Close()
		}
		for _, out := range subscribers {
			<-out.Done()
		}
		n.ports.set("execution", false)
		n.sweeping.Wait() // a copy open when the engine stopped is finished and queued
		close(n.snapJobs)
		n.resendAside.Wait() // resendAsideFromMemory may hand a request to the worker
		close(n.resendJobs)  // the sender, its other producer, has drained
		if n.admin != nil {
			n.admin.Close()
		}
		n.wg.Wait()
		// Every stage has stopped: the engine's state may be read here.
		// Live or not: stopped during recovery (serve), the engine holds
		// the replayed journal. A stop without that snapshot is no clean
		// stop: the next start replays, and refuses a changed config.
		if err == nil && n.cfg.Snapshot.OnStop {
			err = n.snapshotAtStop()
		}
		n.final = Final{LastSeq: n.journal.LastSeq(), Hash: n.eng.StateHash()}
		if e := n.journal.Close(); err == nil {
			err = e
		}
		n.locks.release() // another node may use the directories now
	})
	return n.stopErr // every caller, after the one run, gets its result
}

// settleCluster lets a clustered node stopping cleanly bring its members
// to the same committed input before its ring drains: the replicator
// stage proposes what is left in the ring, then replicator.Settle (a
// leader's barrier, a follower's wait for it). Members stopped together
// then start again with nothing committed they have not applied — and a
// config changed in between meets no entry decided under the old one.
// Not after a fatal error: the failed stage (often the replicator's own)
// never proposes the rest, and the wait took 1–2 s of a deposed leader's
// restart in place for nothing — its next start takes the committed
// inputs from the raft log anyway.
func (n *Node) settleCluster() {
	if n.cl == nil || n.cl.r == nil || n.stats.replicator == nil || n.failed.Load() {
		return
	}
	deadline := time.Now().Add(time.Second)
	for n.stats.replicator.Sequence().Load() < n.in.published() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	n.cl.r.Settle(time.Until(deadline) + time.Second)
}

// populateRings maps the rings' memory before the node opens its ports,
// so that no order pays a page fault for a ring page reached for the
// first time. It used to run in the background while the node traded:
// orders sent in the first seconds then waited up to 1.2 s (p99 0.9 s at
// 100 k orders/s), as the kernel mapping gigabytes of memory stalls the
// process's other memory-map users.
func (n *Node) populateRings() {
	start := time.Now()
	bytes := n.in.slots.Bytes() + n.exec.slots.Bytes() + n.md.slots.Bytes()
	if n.recent != nil {
		bytes += n.recent.entries.Bytes()
	}
	n.log.Info().Int64("bytes", bytes).Msg("mapping rings")
	ok := n.in.slots.Populate() && n.exec.slots.Populate() && n.md.slots.Populate() &&
		(n.recent == nil || n.recent.entries.Populate())
	if !ok {
		n.log.Warn().Msg("rings.prefault: this kernel cannot populate memory (MADV_POPULATE_WRITE); ring pages map on first use")
		return
	}
	n.log.Info().Int64("bytes", bytes).Dur("took_ms", time.Since(start)).Msg("rings mapped")
}

// Final is the state a stopped node ended in.
type Final struct {
	LastSeq int64  // last journaled input
	Hash    uint64 // engine state hash after it
}

// Final reports the state after Stop returned (zero before).
func (n *Node) Final() Final { return n.final }

// snapshotWriter writes snapshots off the engine goroutine, then prunes
// old snapshots and the journal segments they make unnecessary. Between
// snapshots it keeps the state copies as large as the engine's pools
// (and driveCopy tops a copy up before each step), so that the
// engine goroutine only copies memory: grown there, a copy of 1 M orders
// took 0.13–0.26 s (page faults), 0.53 s in a run where the allocation
// met a garbage collection (gctrace: its mark phase took as long), 1.3 s
// once (the 2-core Xeon dev VM).
func (n *Node) snapshotWriter() {
	defer n.wg.Done()
	grow := time.NewTicker(time.Second)
	defer grow.Stop()
	for {
		select {
		case job, ok := <-n.snapJobs:
			if !ok {
				return
			}
			n.writeTaken(job)
		case <-grow.C:
			n.reserveCopies()
		}
	}
}

// writeTaken encodes and writes a snapshot takeSnapshot copied.
func (n *Node) writeTaken(job snapJob) {
	job.payload = job.state.Snapshot()
	stored := n.storeSnapshot(job)
	job.state.Reserve(n.poolSizes())
	n.snapCopies <- job.state
	if !stored || n.cl == nil || n.cl.r == nil {
		return
	}
	// The raft log before this snapshot can go (minus the trailing
	// entries for members a little behind).
	if err := n.cl.r.Compact(); err != nil {
		n.log.Warn().Err(err).Msg("cluster: raft log compaction")
	} else {
		n.log.Info().Int64("seq", job.seq).Msg("cluster: raft log compacted")
	}
}

// reserveCopies grows the free state copies to the engine's pools, one
// at a time, and only while no snapshot waits to be written: the engine
// may then take the other copy meanwhile.
func (n *Node) reserveCopies() {
	orders, levels := n.poolSizes()
	if len(n.snapJobs) > 0 {
		return
	}
	eachFree(n.snapCopies, snapshotCopies, func(c *engine.StateCopy) bool {
		c.Reserve(orders, levels)
		return len(n.snapJobs) == 0
	})
}

// notePools stores the engine's Sizes for poolSizes (engine goroutine).
func (n *Node) notePools() {
	orders, levels := n.eng.Sizes()
	n.pools.orders.Store(int64(orders))
	n.pools.levels.Store(int64(levels))
}

// poolSizes is the engine's Sizes after its latest batch (or recovery).
func (n *Node) poolSizes() (orders, levels int) {
	return int(n.pools.orders.Load()), int(n.pools.levels.Load())
}

// errCheckpoint marks a journal that could not be made durable before a
// snapshot: the journal has failed, and the node must stop.
var errCheckpoint = errors.New("node: journal checkpoint before a snapshot")

// writeSnapshot writes job's snapshot under the node's rules and returns
// its path. Every input up to the snapshot's must be durable in the
// journal before the snapshot is: a recovery that finds a snapshot past
// the journal's end cannot continue the journal. Fsynced per batch it is
// already; not (in a cluster, or journal.sync none), it is made so here.
// The journaller wrote them before the engine applied them.
func (n *Node) writeSnapshot(job snapJob) (path string, fileBytes int64, err error) {
	if err := n.journal.Checkpoint(); err != nil {
		return "", 0, fmt.Errorf("%w: %w", errCheckpoint, err)
	}
	snap := snapshot.Snapshot{Seq: job.seq, Hash: engine.SnapshotHash(job.payload), Rules: n.rules, Sessions: job.sessions.ids, Payload: job.payload}
	snap.InputChecksum, snap.InputKnown = n.inputChecksum(job.seq)
	path, err = n.snaps.Write(snap)
	return path, snapshot.FileSize(snap), err
}

// journalDirs are the directories a node's journal segments are in, in
// the order journal.NewReaderOf reads them: the archive retention moves
// them to, then the journal.
func (n *Node) journalDirs() []string { return []string{n.cfg.ArchiveDir(), n.cfg.JournalDir()} }

// inputChecksum is the checksum the journal stores with input seq's
// record, which a snapshot of seq records to tie it to its journal
// (checkSnapshotInput). False for input 0, and when the record cannot be
// read (logged): the snapshot is written without it, as an earlier build
// wrote every snapshot. Runs on the snapshot writer's goroutine. Seq is
// the engine's last input, near the journal's end: the journal reads it
// from a mark at most 256 KiB before it (RecentChecksum); only an input
// older than the journal's marks is read from its segment's start (up to
// journal.segment_bytes, from the disk — a review measured ~20 MB per
// snapshot that way).
func (n *Node) inputChecksum(seq int64) (uint32, bool) {
	if seq == 0 {
		return 0, false
	}
	crc, found, err := n.journal.RecentChecksum(seq)
	if err == nil && !found {
		crc, found, err = journal.ChecksumAt(n.journalDirs(), n.fs, seq)
	}
	if err != nil || !found {
		n.log.Warn().Err(err).Int64("seq", seq).Bool("found", found).
			Msg("snapshot: its last input's journal record could not be read; written without the checksum that ties it to the journal")
		return 0, false
	}
	return crc, true
}

// checkSnapshotInput refuses a snapshot restored whose checksum of its
// last input differs from the journal's record of it (replay.ErrOtherInputs):
// its state came from other inputs, and the journal replayed after it
// would build a state that never was — a snapshot copied in from another
// node or exchange, or journal.dir pointed at another's journal. It used
// to be accepted whenever its input was not past the journal's end. A
// journal that does not hold the input (it begins after it) has nothing
// to compare. The segment holding the input carrying another cluster id
// than the journal's newest (journal.ErrOtherJournal) is refused too,
// naming both: one of them was copied in from another journal, whose
// inputs at the same sequences are others — before, it was logged as a
// journal that could not be read, and the start went on until a replay
// through it refused it, naming neither its directory nor the remedy. A
// journal that cannot be read there is logged and the start goes on, as
// it did before the check (the replay starts after it).
func (n *Node) checkSnapshotInput(snap snapshot.Snapshot) error {
	if !snap.InputKnown || snap.Seq == 0 {
		return nil
	}
	err := replay.CheckSnapshotInput(n.journalDirs(), n.fs, snap.Seq, snap.InputChecksum)
	if errors.Is(err, replay.ErrOtherInputs) {
		return fmt.Errorf("node: snapshot %s: %w; move it out of %s (the node then starts from an older snapshot, each checked the same way, or from the journal's start), "+
			"or point journal.dir at the journal it was taken on", snap.Path, err, n.cfg.SnapshotDir())
	}
	if errors.Is(err, journal.ErrOtherJournal) {
		return fmt.Errorf("node: %w", replay.OtherJournalSegment(err, snap.Path, snap.Seq, n.cfg.JournalDir(), n.journal.ID(), nil))
	}
	if err != nil {
		n.log.Warn().Err(err).Str("file", snap.Path).Int64("seq", snap.Seq).
			Msg("snapshot: its last input's journal record could not be read to check that the snapshot belongs with the journal; starting from it unchecked")
	}
	return nil
}

// storeSnapshot writes job's snapshot, then applies snapshot.keep and the
// journal retention. It reports whether the snapshot was written.
func (n *Node) storeSnapshot(job snapJob) bool {
	path, fileBytes, err := n.writeSnapshot(job)
	if err != nil {
		n.stats.snapshots[snapshotFailed].Add(1)
	} else {
		n.stats.lastSnapshotSeq.Store(job.seq)
		n.stats.lastSnapshotAt.Store(time.Now().UnixNano())
		n.stats.restartFrom.Store(job.seq)        // one writer, in input order
		n.stats.snapshots[snapshotWritten].Add(1) // after the seq: who sees the count sees its snapshot's
		n.snapshotStored()
	}
	if errors.Is(err, errCheckpoint) {
		n.log.Error().Err(err).Int64("seq", job.seq).Msg("journal checkpoint before a snapshot failed; stopping")
		n.fail(err)
		return false
	}
	if err != nil {
		ev := n.log.Error().Err(err).Int64("seq", job.seq)
		if wait := n.snapshotFailed(); n.asksForSnapshots() {
			ev = ev.Dur("retry_in", wait) // snapshot.every_inputs asks again at the next input after it
		}
		ev.Msg("snapshot write failed")
		return false
	}
	oldest, err := n.snaps.Prune(n.cfg.Snapshot.Keep)
	if err == nil && oldest > 0 {
		// Segments wholly before the oldest kept snapshot are no longer
		// needed for recovery.
		switch n.cfg.Snapshot.JournalRetention {
		case "delete":
			_, err = n.journal.DeleteBefore(oldest + 1)
		case "archive":
			_, err = n.journal.ArchiveBefore(oldest+1, n.cfg.ArchiveDir())
		}
	}
	if err != nil {
		// The snapshot is written; only old files stay. Counted like the
		// journal's other I/O errors that do not stop the node: left alone,
		// a retention that keeps failing fills the disk.
		n.stats.retentionErrors.Add(1)
		n.log.Warn().Err(err).Str("journal_retention", n.cfg.Snapshot.JournalRetention).
			Msg("retention: old snapshots or journal segments could not be removed or archived; they stay on disk")
	}
	// bytes: the file's size, as ls shows it (the payload with the
	// file's header and checksum).
	ev := n.log.Info().Int64("seq", job.seq).Str("file", path).Int64("bytes", fileBytes)
	if job.state != nil {
		ev = ev.Dur("engine_paused_ms", job.copied).Int("copy_steps", job.steps).Dur("copy_took_ms", job.sweep)
	}
	ev.Msg("snapshot written")
	return true
}

// snapshotAtStop snapshots the engine at the journal's end (snapshot.
// on_stop) unless the newest snapshot on disk is there already. Every
// stage has stopped; the engine applied every journaled input, and the
// writer wrote every snapshot queued. (Not lastSnapSeq: that is the last
// snapshot taken, which may have failed.)
//
// It returns why there is none when it could not write it: the stop is
// then reported as failed (serve exits non-zero), as a clean stop
// promises that snapshot. It logged the failure and returned nothing, and
// an operator who changed the config after a stop that exited 0 found the
// next start refused.
func (n *Node) snapshotAtStop() error {
	seq := n.journal.LastSeq()
	if seq == 0 {
		return nil
	}
	if seqs, err := n.snaps.List(); err == nil && len(seqs) > 0 && slices.Max(seqs) >= seq && n.snaps.Verify(slices.Max(seqs)) == nil {
		return nil // (a damaged one there is replaced: Write takes its sequence)
	}
	if n.view.seq != seq {
		return fmt.Errorf("node: no snapshot at stop: the engine is at input %d, the journal's end at %d", n.view.seq, seq)
	}
	if !n.storeSnapshot(snapJob{seq: seq, payload: n.eng.AppendSnapshot(nil), sessions: n.sessionIDs}) {
		return fmt.Errorf("node: no snapshot at stop: writing the snapshot of input %d failed (logged); the next start replays the journal", seq)
	}
	return nil
}

// snapshotSchedule issues a snapshot command every day at the configured
// time.
func (n *Node) snapshotSchedule() {
	defer n.wg.Done()
	for {
		next, ok := n.cfg.Snapshot.Next(time.Now())
		if !ok {
			return
		}
		t := time.NewTimer(time.Until(next))
		select {
		case <-t.C:
			// A cluster follower refuses inputs (ErrNotLeader); the
			// leader's request reaches it. The schedule stays: it may lead
			// tomorrow (it ended here, so after a failover no member took
			// scheduled snapshots any more).
			// A skipped one is counted and logged where it is skipped.
			if err := n.RequestSnapshot(); err != nil && !errors.Is(err, ErrNotLeader) && !errors.Is(err, ErrStopping) &&
				!errors.Is(err, ErrControlUnconfirmed) && !errors.Is(err, ErrSnapshotSkipped) {
				n.log.Warn().Err(err).Msg("scheduled snapshot not requested")
			}
		case <-n.stopping():
			t.Stop()
			return
		}
	}
}

// stopping is closed when Stop begins.
func (n *Node) stopping() <-chan struct{} { return n.stopCh }

// warnWriter logs each write as one warning: a standard library logger
// into the node's log.
type warnWriter struct{ log zerolog.Logger }

func (w warnWriter) Write(p []byte) (int, error) {
	w.log.Warn().Msg(strings.TrimSpace(string(p)))
	return len(p), nil
}
