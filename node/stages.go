package node

import (
	"fmt"
	"math"
	"time"

	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/gateway"
	"github.com/ringex/ringex/input"
	"github.com/ringex/ringex/journal"
	"github.com/ringex/ringex/output"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/unmarshal"
)

// buildPipeline creates the rings and registers the live consumers.
func (n *Node) buildPipeline() error {
	ws := waitStrategy(n.cfg.Rings.Wait)
	onError := func(stage string, err error) {
		n.log.Error().Err(err).Str("stage", stage).Msg("stage failed; stopping")
		n.fail(fmt.Errorf("node: stage %s: %w", stage, err))
	}
	var err error
	if n.in, err = newRing[input.Slot]("input", n.cfg.Rings.InputSlots, true, ws, onError); err != nil {
		return err
	}
	if n.exec, err = newRing[engine.Event]("execution", n.cfg.Rings.OutputSlots, false, ws, onError); err != nil {
		return err
	}
	if n.md, err = newRing[engine.Event]("marketdata", n.cfg.Rings.OutputSlots, false, ws, onError); err != nil {
		return err
	}
	if size := n.cfg.Gateway.RecentReports; size > 0 {
		var maxAccount uint32
		for _, a := range n.cfg.Accounts {
			maxAccount = max(maxAccount, a.ID)
		}
		if n.recent, err = newRecentReports(size, maxAccount); err != nil {
			return err
		}
	}
	r, err := n.in.add("replicator", n.replicateBatch) // pass-through when the node runs alone
	if err != nil {
		return err
	}
	j, err := n.in.addBounded("journaller", n.cfg.Journal.MaxBatch, n.journalBatch, n.journalAfter(r)...)
	if err != nil {
		return err
	}
	u, err := n.in.add("unmarshaler", n.unmarshalBatch)
	if err != nil {
		return err
	}
	if n.stats.engine, err = n.in.add("engine", n.engineBatch, j, r, u); err != nil {
		return err
	}
	n.stats.journaller, n.stats.replicator, n.stats.unmarshaler = j, r, u
	if n.stats.sender, err = n.exec.add("sender", n.sendBatch); err != nil {
		return err
	}
	n.mdHub = newMDHub(n)
	return nil
}

// journalBatchHook, set by tests only (nil otherwise; set before the
// node starts), runs at the start of each journaller batch, on the
// journaller's goroutine: a test holds the journaller in it, so that the
// inputs published meanwhile are journaled — and applied — together.
var journalBatchHook func()

// journalBatch appends a batch and fsyncs it once: group commit. lo and
// hi are ring sequences; its error names the batch's inputs (n.base+lo…
// n.base+hi), the sequences the journal's segments are named for —
// beside the processor's ring sequences, the fatal error read as a
// batch that was not in the segment it named.
func (n *Node) journalBatch(lo, hi int64) error {
	if err := n.journalRing(lo, hi); err != nil {
		return fmt.Errorf("journaling inputs %d…%d: %w", n.base+lo, n.base+hi, err)
	}
	return nil
}

// journalRing is journalBatch's work.
func (n *Node) journalRing(lo, hi int64) error {
	if journalBatchHook != nil {
		journalBatchHook()
	}
	// One record, every field set per input: a journal.Record literal per
	// input was built on the stack and copied over (see proto.ReportOf).
	oldest := noStamp
	err := n.journal.AppendBatch(int(hi-lo+1), func(i int, rec *journal.Record) {
		s := lo + int64(i)
		slot := n.in.slots.At(s)
		rec.Seq, rec.RecvTime, rec.Session = n.base+s, slot.RecvTime, slot.Session
		rec.Account, rec.Kind, rec.Payload = slot.Account, uint8(slot.Kind), slot.Payload()
		oldest = olderStamp(oldest, slot.RecvTime)
	})
	if err != nil {
		return err
	}
	start := time.Now()
	if err := n.journal.Sync(); err != nil {
		return err // fail stop: the group halts and the node exits
	}
	if n.journal.Fsyncs() { // a write alone is no fsync: not in the fsync metrics
		n.stats.observeFsync(time.Since(start), hi-lo+1)
	}
	n.stats.journalStage.Observe(sinceRecv(oldest).Seconds())
	return nil
}

// noStamp is the oldest receive stamp of a batch before any input of it
// is looked at: newer than any stamp, and no latency (sinceRecv) if no
// input has one.
const noStamp = int64(math.MaxInt64)

// olderStamp is the older of oldest and recv, an input's receive stamp;
// a stamp of 0 (none) is passed over.
//
// Each stage's latency is observed once per batch, for the batch's
// oldest input — the longest any of them waited — as end-to-end latency
// is for a write's oldest report, so that journal, engine and send split
// the same figure. The batch's last input is the newest only roughly —
// the gateway stamps an input before it claims its slot — and it was the
// least latency of the batch: under load (batches of hundreds) the
// stages read low. The oldest is taken in the loop each stage makes over
// its batch anyway: a comparison per input, no second pass.
func olderStamp(oldest, recv int64) int64 {
	if recv != 0 && recv < oldest {
		return recv
	}
	return oldest
}

func (n *Node) unmarshalBatch(lo, hi int64) error {
	var counts [engine.NumCommandTypes]int64
	for s := lo; s <= hi; s++ {
		slot := n.in.slots.At(s)
		if n.drops != nil && n.isListed(n.base+s) { // nil but after an operator's drop
			n.decodeListed(n.base+s, slot)
		} else {
			unmarshal.Decode(n.base+s, slot)
		}
		if t := slot.Cmd.Type; int(t) < len(counts) {
			counts[t]++
		}
	}
	n.stats.addCommands(&counts)
	return nil
}

func (n *Node) isListed(seq int64) bool { _, ok := n.drops.Listed(seq); return ok }

// decodeListed decodes an input the drops file lists: as dropped when
// the entry names its checksum, as any other input when another (the
// entry is of another input the sequence once had). Rare — an operator
// lists inputs the engine panicked on — so it logs.
func (n *Node) decodeListed(seq int64, slot *input.Slot) {
	rec := journal.Record{Seq: seq, RecvTime: slot.RecvTime, Session: slot.Session,
		Account: slot.Account, Kind: uint8(slot.Kind), Payload: slot.Payload()}
	if drop, _ := n.drops.Matches(&rec); drop {
		unmarshal.Drop(seq, slot)
		n.log.Warn().Int64("seq", seq).Msg("unmarshal: rejected a dropped input (dropped-by-operator) instead of applying it")
		return
	}
	unmarshal.Decode(seq, slot)
	n.log.Warn().Int64("seq", seq).Msg("unmarshal: applied an input the drops file lists with another checksum: it is another input than the one dropped")
}

// engineBatch is the business logic processor's goroutine.
func (n *Node) engineBatch(lo, hi int64) error {
	n.view.mu.Lock() // uncontended except while the admin reads the state hash
	defer n.view.mu.Unlock()
	n.view.seq = n.base + hi
	oldest := noStamp
	for s := lo; s <= hi; s++ {
		c := &n.in.slots.At(s).Cmd
		n.eng.Apply(c)
		n.sessionIDs.note(c.Session) // the snapshots' record of the ids (sessionTable)
		// The slot's RecvTime, copied by the unmarshaler into the command
		// the engine reads: no other cache line of the slot is touched.
		oldest = olderStamp(oldest, c.Timestamp)
	}
	n.driveClear(hi) // a halt's clear pending: its cancels go out without waiting for trading (haltclear.go)
	n.notePools()
	n.stats.engineBatches.Add(1)
	n.stats.endEngineBatch()
	n.snapshotEvery(n.base + hi)
	// Per batch, never per event: the stage latency of the batch's oldest
	// input (olderStamp). (The books' gauges are read per scrape:
	// bookGauges.)
	if n.keepingRecent { // following: the engine goroutine keeps the recent reports
		n.stats.recentSince.Store(n.recent.floorTime)
	}
	n.stats.engineStage.Observe(sinceRecv(oldest).Seconds())
	return nil
}

// bookGauges stores each book's depth and trading state, and the
// suspended accounts, for a scrape of the metrics: on the engine goroutine
// between two batches, so it reads what the engine alone writes. It ran
// after every batch, for every instrument: with 2000 instruments listed it
// was a quarter of a node's CPU at 100 k orders/s (small batches), and
// p50 825 µs against ~600 with three.
//
// A scrape waits for it at most bookGaugesWait: an engine stuck in a
// batch (an output ring full behind a stalled sender) is when the other
// metrics matter most, so the scrape then goes on with the gauges stored
// last, and no second refresh queues behind the first.
func (n *Node) bookGauges() {
	if !n.engineStarted.Load() || !n.gaugesQueued.CompareAndSwap(false, true) {
		return // Do would wait for a stage that never started; or one is queued
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer n.gaugesQueued.Store(false)
		n.stats.engine.Do(func() {
			for i, in := range n.cfg.Instruments {
				n.stats.depth[i][0].Store(int64(n.eng.Depth(in.ID, engine.Buy)))
				n.stats.depth[i][1].Store(int64(n.eng.Depth(in.ID, engine.Sell)))
				n.stats.halted[i].Store(n.eng.Halted(in.ID))
			}
			n.stats.suspended.Store(int64(n.eng.SuspendedCount()))
		})
	}()
	wait := time.NewTimer(bookGaugesWait)
	defer wait.Stop()
	select {
	case <-done:
	case <-wait.C:
	}
}

// bookGaugesWait bounds a scrape's wait for the engine's book gauges.
const bookGaugesWait = 100 * time.Millisecond

// publishOut copies ev into the next slot of an output ring (the engine
// goroutine is its only producer).
func (n *Node) publishOut(r *ring[engine.Event], ev *engine.Event) {
	hi, err := r.seq.Next(1)
	if err != nil {
		return // halted: the node is stopping
	}
	*r.slots.ForWrite(hi) = *ev
	r.seq.Publish(hi, hi)
}

// engineSink routes engine events to the output rings.
type engineSink struct{ n *Node }

// replayEmitHook, set by tests only (nil otherwise), sees each event the
// engine emits during the replay stage: a test makes the engine panic
// applying a chosen journaled input with it. Read only off the live path.
var replayEmitHook func(*engine.Event)

func (s *engineSink) Emit(ev *engine.Event) {
	n := s.n
	if !n.live.Load() {
		if replayEmitHook != nil {
			replayEmitHook(ev)
		}
		return // replay stage: every output port is closed
	}
	switch ev.Type {
	case engine.EvAccepted, engine.EvRejected, engine.EvCancelled, engine.EvReplaced,
		engine.EvOrderStatus, engine.EvStatusDone, engine.EvMassCancelDone, engine.EvResend:
		n.publishReport(ev)
	case engine.EvTrade:
		n.publishReport(ev)
		if n.eng.MarketData() {
			n.publishOut(n.md, ev)
		}
	case engine.EvBookLevel, engine.EvBookClear:
		n.publishOut(n.md, ev)
	case engine.EvHalted, engine.EvResumed:
		if n.eng.MarketData() {
			n.publishOut(n.md, ev)
		}
	case engine.EvSnapshot:
		n.snapAsked.Store(false)
		err := n.takeSnapshot(ev.Seq)
		if err == nil { // skipped, it paces nothing: snapshotEvery asks again once one is free
			n.lastSnapSeq = ev.Seq
			// A back-off is used once: this snapshot is the retry, and
			// its own write's failure arms the next. Left armed, the
			// retry asked again as soon as its copy went to the writer,
			// two snapshots per round, the back-off doubling twice.
			n.snapRetryAt.Store(0)
		}
		n.snapAnswers.answer(ev.Seq, err)
	}
}

// publishReport hands a report event to the execution sender — unless the
// node takes no sessions. A cluster member that is not the ready leader
// has none (its gateway redirects logons and drops its sessions when it
// loses the lead), so the sender would only count the report and drop it.
// Skipping that cut a follower's CPU per order by a tenth (0.68 → 0.61 of
// the leader's in the same run; ten alternating three-node `ringex bench
// --rate 0` runs on the 2-core dev machine, 314–447 k against 320–379 k
// orders/s, +4 % on average, within the VM's drift). The engine goroutine
// counts the event as the sender would have, so trades and rejects are
// counted on every member alike.
//
// It keeps the event in the recent reports itself (recent.go), so that
// they stay whole across a failover and the clients that reconnect to a
// new leader get what they missed from memory. Publishing the events to
// the sender just to keep them cost followers a fifth more CPU per order
// (three alternating pairs of three-node `ringex bench --rate 0` runs on
// the 2-core Xeon VM: followers 1.11–1.25 against 0.93–1.03 µs, 339–379 k
// against 385–427 k orders/s); keeping them here measured no difference
// (followers 1.02–1.13 against 1.04–1.15 µs, 345–397 k against 319–375 k
// orders/s, the same way). The memory has one owner at a time: the
// sender, until the engine goroutine, on its first event as a follower,
// has waited for the sender to finish every event published before
// (takeRecent); the sender again from the next event the engine
// publishes, which carries the engine's writes with it. Resend steps
// through the memory (pickRecent) run on the sender's goroutine between
// its batches, so recentMu keeps them out while the engine owns it.
func (n *Node) publishReport(ev *engine.Event) {
	if n.refuseInput() {
		n.stats.countEvent(ev, &n.stats.standbyTrades)
		if n.recent != nil && (n.keepingRecent || n.takeRecent()) {
			n.keepingRecent = true
			n.recent.keep(ev)
		}
		return
	}
	if n.keepingRecent {
		n.recentMu.Lock()
		n.recentWithEngine, n.keepingRecent = false, false
		n.recentMu.Unlock()
	}
	n.publishOut(n.exec, ev)
}

// takeRecent waits until the execution sender has finished every event
// published to it, so that the engine goroutine may use the recent
// reports; false when the ring was halted first (the node is stopping).
func (n *Node) takeRecent() bool {
	for published := n.exec.published(); n.stats.sender.Sequence().Load() < published; {
		if n.exec.seq.Halted() {
			return false
		}
		time.Sleep(50 * time.Microsecond)
	}
	n.recentMu.Lock() // after any resend step under way on the sender
	n.recentWithEngine = true
	n.recentMu.Unlock()
	return true
}

// senderBatchHook, set by tests only (nil otherwise; set before the node
// starts), runs at the start of each execution sender batch, on the
// sender's goroutine: a test holds the sender in it, so that the events
// published meanwhile go out in the next batch, together.
var senderBatchHook func()

// otherCancelHook, set by tests only (nil otherwise; set before the node
// starts), runs on the sender's goroutine after a cancel or replace by
// another session than the order's was delivered, before its holder's
// copy is decided: a test ends the asker's session in it.
var otherCancelHook func()

// sendBatch is the execution sender: reports to every live session of the
// owning account, one flush per session per batch.
func (n *Node) sendBatch(lo, hi int64) error {
	if senderBatchHook != nil {
		senderBatchHook()
	}
	enc := n.stats.senderEnc
	touched := n.stats.touched[:0]
	recent := n.recent
	for s := lo; s <= hi; s++ {
		ev := n.exec.slots.At(s)
		if recent != nil {
			recent.keep(ev)
		}
		if ev.Type == engine.EvResend {
			touched = n.resendRequested(enc, ev, touched)
			continue
		}
		var r proto.Report
		proto.ReportOf(ev, &r)
		if ev.Type == engine.EvOrderStatus || ev.Type == engine.EvStatusDone || ev.Type == engine.EvMassCancelDone || ev.Query {
			// The answer to one session's OrderStatus or MassCancel: its
			// alone (a mass cancel's cancels go to the sessions that
			// entered the orders, as engine.EvCancelled says). Copied to
			// the drop copies (or, the asker gone, to the other trading
			// sessions) it was taken for their own answer by a client
			// paging its status.
			touched = n.answerAsker(ev.Account, ev.Session, &r, touched)
			n.stats.countEvent(ev, &n.stats.batchTrades)
			continue
		}
		var askerLive bool
		touched, askerLive = n.deliver(enc, ev.Account, ev.Session, &r, touched)
		if (ev.Type == engine.EvCancelled || ev.Type == engine.EvReplaced) && ev.MakerSession != 0 && ev.MakerSession != ev.Session {
			if otherCancelHook != nil {
				otherCancelHook()
			}
			// Another session cancelled or replaced the order: the one
			// that held it hears too (its own copy; drop copies have
			// theirs) — unless the asker was gone, and deliver sent it
			// to every trading session already. Decided by deliver's own
			// look at the sessions: a second look could find the asker
			// gone since (its logout) and send the holder nothing.
			if askerLive {
				touched = n.answerAsker(ev.Account, ev.MakerSession, &r, touched)
			}
		}
		if ev.Type == engine.EvTrade {
			proto.TakerToMaker(ev, &r)
			touched, _ = n.deliver(enc, ev.MakerAccount, ev.MakerSession, &r, touched)
		}
		n.stats.countEvent(ev, &n.stats.batchTrades)
	}
	// Each report was staged with its input's receive stamp, and each
	// session's commit carries the oldest of its own: end-to-end latency
	// is observed when they are written (ReportsWritten), for the oldest
	// report the write holds. The batch's newest stamp, given to every
	// session, recorded each write at the latency of its newest report,
	// the least of them: under load (`ringex bench`, sender batches of
	// hundreds of inputs) a p99 of 0.8 ms where the clients read their
	// reports at 2.5 ms.
	for _, o := range touched {
		_ = o.Commit(0) // an overflow closes the session; the gateway counts it
	}
	clear(touched) // keep no closed session's outbox (and its buffers) reachable
	n.stats.touched = touched[:0]
	n.stats.endSenderBatch()
	if recent != nil {
		n.stats.recentSince.Store(recent.floorTime)
	}
	return nil
}

// deliver routes a report to the trading session that sent the command
// (or entered the resting order) while it is logged on; otherwise — it is
// gone, or the command was the node's own, like cancel-on-disconnect — to
// every live trading session of the account, so a reconnected client
// still hears about its orders. Every drop-copy session of the account
// gets it too. A drop copy's own query (OrderStatus) is answered to it
// alone. With no trading session the report is counted as dropped (a
// drop copy may still have it); the order's state is in the engine
// either way. ownerLive: session was a live trading session, and had it
// alone of the account's trading sessions.
func (n *Node) deliver(enc *proto.Encoder, account uint32, session uint64, r *proto.Report, touched []*output.Outbox) (_ []*output.Outbox, ownerLive bool) {
	routes := n.gw.RoutesOf(account)
	var owner *gateway.Session // the session that entered the order, if live
	for _, s := range routes.Trading {
		if s.ID == session {
			owner = s
			break
		}
	}
	if owner == nil {
		for _, s := range routes.DropCopy {
			if s.ID == session {
				// A drop copy's own query (OrderStatus, or its reject):
				// the answer is its alone — sent on, the trading
				// sessions got answers to a question they never asked.
				return n.stageReport(s, r.Timestamp, touched, func(staged []byte) []byte { return proto.AppendExecutionReport(staged, 0, r) }), false
			}
		}
	}
	if len(routes.Trading) == 0 {
		n.stats.dropped.Add(1)
		if len(routes.DropCopy) == 0 {
			return touched, false
		}
	}
	if owner != nil && len(routes.DropCopy) == 0 { // one receiver, the usual case: built in its outbox
		return n.stageReport(owner, r.Timestamp, touched, func(staged []byte) []byte { return proto.AppendExecutionReport(staged, 0, r) }), true
	}
	frame := enc.ExecutionReport(0, r)
	for _, s := range routes.DropCopy {
		touched = n.appendReport(s, r.Timestamp, frame, touched)
	}
	if owner != nil {
		return n.appendReport(owner, r.Timestamp, frame, touched), true
	}
	for _, s := range routes.Trading {
		touched = n.appendReport(s, r.Timestamp, frame, touched)
	}
	return touched, false
}

// answerAsker stages r for the session that asked (trading or drop
// copy), if it is still logged on.
func (n *Node) answerAsker(account uint32, session uint64, r *proto.Report, touched []*output.Outbox) []*output.Outbox {
	routes := n.gw.RoutesOf(account)
	for _, list := range [][]*gateway.Session{routes.Trading, routes.DropCopy} {
		for _, s := range list {
			if s.ID == session {
				return n.stageReport(s, r.Timestamp, touched, func(staged []byte) []byte { return proto.AppendExecutionReport(staged, 0, r) })
			}
		}
	}
	return touched
}

// appendReport stages frame, built elsewhere, for s (stageReport).
func (n *Node) appendReport(s *gateway.Session, recv int64, frame []byte, touched []*output.Outbox) []*output.Outbox {
	return n.stageReport(s, recv, touched, func(staged []byte) []byte { return append(staged, frame...) })
}

// stageReport stages the report build appends in s's outbox, listing the
// outbox among those the batch touched the first time. recv is the
// receive stamp (Unix ns) of the input the report answers — the
// report's own (proto.Report's Timestamp), or a resend request's for
// its answer — from which its latency is taken when it is written.
func (n *Node) stageReport(s *gateway.Session, recv int64, touched []*output.Outbox, build func(staged []byte) []byte) []*output.Outbox {
	first, _, err := s.Out.StageAppend(max(recv, 0), build)
	if err != nil {
		return touched
	}
	if first {
		touched = append(touched, s.Out)
	}
	return touched
}
