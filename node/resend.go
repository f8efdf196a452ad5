package node

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/gateway"
	"github.com/ringex/ringex/journal"
	"github.com/ringex/ringex/output"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/replay"
)

// Resending reports (ResendReports, proto/README.md). The engine keeps no
// history: a request only marks its place in the execution stream
// (EvResend). The execution sender answers it itself, in sequence, when
// its recent reports (recent.go) cover it and the answer is small.
// A larger answer they may cover goes to a goroutine of its own, which
// copies the events in steps the sender runs between its batches, then
// sends them paced to the client. Otherwise it hands the request to one
// worker goroutine, which rebuilds the account's reports by replaying
// the journal on a second engine from a kept snapshot — the inputs were
// decided exactly this way the first time, so the reports are the same
// ones — and appends them to the session's outbox, tagged with the request's seq,
// while live reports keep flowing. A follower serves none (it has no
// sessions); after a failover the new leader's journal holds the same
// inputs, so a client asks it again.
//
// Invariant: the worker takes one request at a time; a request that
// finds it busy is answered busy at once, never queued behind it. The
// worker counts as free from before it sends a job's ResendDone — and
// accounts take it in turns (resendturns.go): a request from an account
// that had a turn while another account waited is answered busy too,
// until the other has had its own. Large
// answers from the recent reports are sent by goroutines of their own
// (at most resendSendersMost at once) beside the worker: a long replay
// holds up only its own answer.
//
// Invariant: an answer's reports reach the session after every live
// report of an input before the request (the client skips a resent
// report it read live, not a live one it read resent). The sender
// answers in sequence; the copies of the recent reports are taken
// between its batches, after it committed the request's; the worker
// waits for that before it replays (afterSenderBatch).
//
// Every answer the worker or those goroutines send is paced to the
// client's reading (resendSink.send), so a client that reads at a
// trickle — never slowly enough to be cut off as a slow consumer —
// would hold one of them as long as it liked, and every other request
// they would serve would be answered busy. Invariant: once a request has
// been answered busy since an answer began, that answer waits for its
// client no longer than gateway.resend_stall in all: it then sends the
// rest of the input whose reports it is sending without waiting (as the
// sender sends a live input's reports), never cutting between two
// reports of one input, and ends with a ResendDone cut through that
// input; the client asks again from there. Unrefused, an answer waits as
// long as its client reads: cutting it would only cost a round trip and
// a status request.

// resendJob is one request: the reports of account caused by inputs
// after after and before before (the request's own input).
type resendJob struct {
	session       uint64
	account       uint32
	after, before int64
	tag           uint64
	// fromMemory: the sender's recent reports may cover the request;
	// whoever takes it tries them first (pickRecent) and replays the
	// journal only when they do not.
	fromMemory bool
}

// resendStats counts what the worker did, for the metrics.
type resendStats struct {
	results  [proto.ResendAhead + 1]atomic.Int64
	reports  atomic.Int64 // reports resent
	replayed atomic.Int64 // inputs replayed to rebuild them
	// fromMemory counts the requests the execution sender answered from
	// its recent reports (no replay).
	fromMemory atomic.Int64
}

// resendRequested is the execution sender's part: answer the request
// from the recent reports itself, or hand it to a goroutine of its own
// when they may cover it, or to the worker, or, when the worker is busy,
// answer busy in sequence with the session's other reports.
func (n *Node) resendRequested(enc *proto.Encoder, ev *engine.Event, touched []*output.Outbox) []*output.Outbox {
	// The request's after_input_seq, never negative (unmarshal), echoed
	// exactly in every answer. after+1 is the first input asked for; at
	// the largest int64 it would wrap to the smallest and resend the
	// account's whole window. That one, like any after at or past the
	// request, is answered ahead before any after+1 is taken.
	// Invariant past the ahead answer: job.after < job.before, so
	// job.after+1 does not overflow.
	job := resendJob{session: ev.Session, account: ev.Account, after: int64(ev.OrderID), before: ev.Seq, tag: ev.ClientOrderID}
	if job.after >= job.before {
		return n.answerAhead(enc, job, ev.Timestamp, touched)
	}
	if answered, touched := n.resendRecent(enc, &job, ev.Timestamp, touched); answered {
		n.resendTurns.answered(job.account)
		return touched
	}
	// Ended by whichever goroutine the answer goes to, or below.
	n.resendsUnderway.begin(job.session)
	if job.fromMemory {
		select {
		case p := <-n.asidePicks:
			n.resendAside.Add(1)
			n.resendTurns.answered(job.account)
			go n.resendAsideFromMemory(job, p)
			return touched
		default: // resendSendersMost are on their way: the worker tries
		}
	}
	if n.toWorker(job) {
		return touched
	}
	n.resendsUnderway.end(job.session)
	s := n.resendSession(job)
	if s == nil {
		return touched
	}
	return n.appendReport(s, ev.Timestamp, n.busyAnswer(enc, job), touched)
}

// answerAhead answers job, a request from at or past its own input, in
// sequence: no input after job.after was reached before the request, so
// nothing is resent, and the answer says so (proto.ResendAhead) with the
// exchange's last input before the request — a client whose input
// sequences are of another history (a node started on new data, another
// cluster) is told, not answered complete.
func (n *Node) answerAhead(enc *proto.Encoder, job resendJob, recv int64, touched []*output.Outbox) []*output.Outbox {
	s := n.resendSession(job)
	if s == nil {
		return touched // logged off: nobody to answer
	}
	// first_input_seq is after_input_seq + 1, above through_input_seq;
	// the largest after_input_seq has no next, and its first is itself,
	// still above through.
	first := job.after
	if first < math.MaxInt64 {
		first++
	}
	done := proto.ResendDone{AfterInputSeq: job.after, FirstInputSeq: first, ThroughInputSeq: job.before - 1, Reason: proto.ResendAhead}
	n.countResend(job, done, time.Now())
	return n.appendReport(s, recv, enc.ResendDone(job.tag, done), touched)
}

// toWorker hands job to the worker, unless it is busy or job's account
// is to let another account have its turn first (resendturns.go).
func (n *Node) toWorker(job resendJob) bool {
	if !n.resendTurns.take(job.account, time.Now()) {
		return false
	}
	// The worker took the last job and is done with it: the slot is free.
	n.resendJobs <- job
	return true
}

// busyAnswer counts and encodes the answer to a request that found the
// worker busy, or waiting for another account's turn: nothing resent,
// ask again. The account waits for its turn from then (take recorded it).
func (n *Node) busyAnswer(enc *proto.Encoder, job resendJob) []byte {
	n.stats.resends.results[proto.ResendBusy].Add(1)
	n.resendRefusals.Add(1) // the answers under way that overstay end (resendSink.overstays)
	return enc.ResendDone(job.tag, proto.ResendDone{AfterInputSeq: job.after, Reason: proto.ResendBusy})
}

// inlineResendBytes bounds an answer the execution sender sends itself,
// between two of its batches: ~6 900 events (counted at two 152-byte
// reports each), about a millisecond of walking and encoding that live
// reports wait for (README, "Resending missed reports"). Larger answers
// go out paced, from a copy.
const inlineResendBytes = 2 << 20

// resendRecent answers job from the sender's recent reports, in
// sequence, when they cover it and the answer fits in half the session's
// send buffer, less what waits in it and what this batch staged (the
// rest is for live reports) and in inlineResendBytes, or
// says it did not — and marks job for the worker to try them when they
// may cover it. recv is the request's receive stamp: the answer's
// latency is the request's, not that of the inputs it resends.
func (n *Node) resendRecent(enc *proto.Encoder, job *resendJob, recv int64, touched []*output.Outbox) (bool, []*output.Outbox) {
	r := n.recent
	if r == nil || job.after < job.before-n.cfg.Gateway.ResendWindow {
		return false, touched
	}
	s := n.resendSession(*job)
	if s == nil {
		return true, touched // logged off: nobody to answer
	}
	start := time.Now()
	pending, limit := s.Out.Pending()
	// What this batch staged for the session counts too: Commit holds
	// pending and staged to the limit, and answers sized on pending alone
	// — a session asking again and again, each request in line — cut it
	// as a slow consumer. (The batch's live reports for it are in the
	// answer's range, which is sized for two reports an event.)
	pending += s.Out.Staged()
	most := max(0, min(limit/2, inlineResendBytes)-pending) / (2 * proto.ReportFrameBytes()) // an event may report twice to one account
	events, ok := r.pick(job.account, job.after, most)
	if !ok {
		job.fromMemory = job.after >= r.floor // else not covered, however large
		return false, touched
	}
	var reps [2]proto.Report
	count := 0
	for _, ev := range events {
		for i := range reportsTo(ev, job.account, &reps) {
			touched = n.appendReport(s, recv, enc.ExecutionReport(job.tag, &reps[i]), touched)
			count++
		}
	}
	done := proto.ResendDone{AfterInputSeq: job.after, FirstInputSeq: job.after + 1, ThroughInputSeq: job.before - 1, Count: uint64(count)}
	touched = n.appendReport(s, recv, enc.ResendDone(job.tag, done), touched)
	n.stats.resends.fromMemory.Add(1)
	n.countResend(*job, done, start)
	return true, touched
}

// Picks from the recent reports (pickRecent): at most recentStepWork
// entries walked or copied per step on the sender — how
// long one step holds up live reports: 26–31 µs on average with the
// account's events side by side, 80–91 µs with one in 8 (every link a
// cache miss; BenchmarkRecentReportsStep, Xeon VM; 4096 measured 114–118
// and 322–337 µs) — and at most recentMemoryMost events per answer (144 B
// each, copied: 36 MiB, into memory kept for the next answer until the
// worker has been idle for resendCacheIdle). A whole answer of that size
// took 17–25 ms of steps and room-making. A larger one is rebuilt from
// the journal.
const (
	recentStepWork   = 1024
	recentMemoryMost = 1 << 18
)

// pickRecent copies job's events from the sender's recent reports into
// p, in steps that the sender runs between its batches; false when they
// do not cover job (or stopped covering it before the copy was whole),
// or the node is stopping.
func (n *Node) pickRecent(p *recentPick, job resendJob) ([]engine.Event, bool) {
	p.start(job.account, job.after, job.before)
	for {
		var done, ok bool
		p.reserve(recentStepWork)
		if !n.stats.sender.Do(func() { done, ok = n.recentStep(p) }) || !ok {
			return nil, false
		}
		if done {
			return p.events, true
		}
	}
}

// resendAsideFromMemory answers job from the recent reports on a
// goroutine of its own, paced to the client's reading, beside the worker
// and the other such goroutines: a client that reads slowly holds up
// only its own answer. It copies the events into p, taken from
// asidePicks, and gives p back when done. When the recent reports turn
// out not to cover job it goes to the worker after all — or, the worker
// being busy, is answered busy.
func (n *Node) resendAsideFromMemory(job resendJob, p *recentPick) {
	defer n.resendAside.Done()
	toWorker := false // the worker ends the answer then
	defer func() {
		if !toWorker {
			n.resendsUnderway.end(job.session)
		}
		n.asidePicks <- p
		// The worker's idle time (which releases p's memory) counts
		// from the last answer, this one included: it re-armed only
		// after a job of its own, and answers from memory rarely reach
		// it, so once its timer had fired no copy was released again.
		select {
		case n.asideDone <- struct{}{}:
		default: // one pending signal is enough
		}
	}()
	s := n.resendSession(job)
	if s == nil {
		return // logged off: nobody to answer
	}
	start := time.Now()
	enc := proto.NewEncoder()
	if events, ok := n.pickRecent(p, job); ok {
		n.sendRecent(&resendSink{n: n, stall: n.cfg.Gateway.ResendStall}, enc, s.Out, job, events, start, func() {})
		return
	}
	select {
	case <-n.stopCh:
		return // the node is stopping: the worker is, too
	default:
	}
	job.fromMemory = false
	if toWorker = n.toWorker(job); !toWorker { // Stop closes resendJobs only once every such goroutine is done
		s.Out.Send(n.busyAnswer(enc, job))
	}
}

// recentStep is one step of a pick (pickRecent), on the execution
// sender's goroutine; never while the engine goroutine keeps the recent
// reports (the node follows: it has no sessions to answer).
func (n *Node) recentStep(p *recentPick) (done, ok bool) {
	n.recentMu.Lock()
	defer n.recentMu.Unlock()
	if n.recentWithEngine {
		return false, false
	}
	return n.recent.step(p, recentStepWork, recentMemoryMost)
}

// resendWorker serves the requests one at a time until Stop.
func (n *Node) resendWorker() {
	defer n.wg.Done()
	w := &resender{n: n, enc: proto.NewEncoder(), checked: journal.NewCheckedHeaders()}
	w.sink = resendSink{n: n, stall: n.cfg.Gateway.ResendStall}
	idle := time.NewTimer(resendCacheIdle)
	defer idle.Stop()
	for {
		select {
		case job, ok := <-n.resendJobs:
			if !ok {
				return
			}
			w.release = sync.OnceFunc(n.resendTurns.release)
			w.serve(job)
			w.release()
			n.resendsUnderway.end(job.session)
			idle.Reset(resendCacheIdle)
		case <-n.asideDone:
			idle.Reset(resendCacheIdle)
		case <-idle.C:
			// Their memory goes back with the next collection.
			w.cache, w.pick = nil, recentPick{}
			n.releaseAsidePicks()
			if resendIdled != nil {
				resendIdled()
			}
		}
	}
}

// afterSenderBatch returns once the execution sender has finished the
// batch it is in (false: it stopped first). The sender stages a batch's
// live reports and commits them at its end; an answer it handed over
// mid-batch waits for this before it sends, so that no resent report
// goes ahead of a live one of an input before the request. Answers from
// the recent reports need not: their copy is taken between batches
// (pickRecent). A variable for tests.
var afterSenderBatch = func(n *Node) bool { return n.stats.sender.Do(func() {}) }

// resendCacheIdle is how long the worker keeps its last replay's engine,
// and the memory of its last pick, without a request: resends come in
// bursts (clients reconnecting after an outage), and the copy of the
// state should not be held for good.
var resendCacheIdle = time.Minute // a variable for tests

// resendIdled, when set, is called by the resend worker each time its
// idle time (resendCacheIdle) has passed, once it has let go of what it
// kept: tests wait for it instead of sleeping past the idle time. Set
// only while no node runs (a variable for tests).
var resendIdled func()

// resender is the resend worker's state. It keeps the engine of its last
// replay (the state after input cacheSeq): a later request for reports
// after cacheSeq or later — a client reconnecting after the last resend —
// replays only the inputs since, instead of everything since a snapshot.
// It costs a second copy of the engine's state, held until a minute
// passes without a request (resendCacheIdle).
type resender struct {
	n        *Node
	enc      *proto.Encoder
	release  func()     // frees the worker for the next job (once per job)
	sink     resendSink // every replay engine's sink, aimed at one job at a time
	cache    *engine.Engine
	cacheSeq int64
	pick     recentPick // its last pick from the recent reports, its memory reused
	// checked remembers the journal's and archive's segment headers its
	// replays' Readers checked: each Reader checks every segment's, those
	// before its start too, which read 10 000 headers per resend in a
	// long-lived archive (journal.CheckedHeaders).
	checked *journal.CheckedHeaders
}

// serve replays from the best start point it can use and sends the
// account's reports of inputs after job.after, then ResendDone.
func (w *resender) serve(job resendJob) {
	n := w.n
	s := n.resendSession(job)
	if s == nil {
		return // logged off before its turn: nobody to answer
	}
	start := time.Now()
	if job.fromMemory { // every goroutine for these was taken when it came
		if events, ok := n.pickRecent(&w.pick, job); ok {
			n.sendRecent(&w.sink, w.enc, s.Out, job, events, start, w.release)
			return
		}
	}
	// The request's batch may hold live reports of the inputs before it,
	// staged, not yet in the outbox: the answer goes after them.
	if !afterSenderBatch(n) {
		return // the node is stopping
	}
	through := job.before - 1
	// Without a usable start point nothing is resent.
	done := proto.ResendDone{AfterInputSeq: job.after, FirstInputSeq: max(through, job.after) + 1, ThroughInputSeq: through}
	out := &w.sink
	out.aim(s.Out, w.enc, job)
	defer out.aim(nil, nil, resendJob{})
	for _, from := range w.starts(job) {
		var eng *engine.Engine
		var err error
		if w.cache != nil && w.cacheSeq == from {
			// From the record at from on: the cached engine's start
			// point may hold a rules mark. The engine is handed over
			// (a replay moves it on) only once they agree.
			if err = n.rulesKeptBetween(from-1, through); err == nil {
				eng, w.cache = w.cache, nil
			}
		} else {
			var checked int64
			if eng, checked, err = w.engineAt(from); err == nil {
				err = n.rulesKeptBetween(checked, through)
			}
		}
		if err != nil {
			n.log.Warn().Err(err).Int64("snapshot_seq", from).Msg("resend: snapshot not usable, trying another")
			continue
		}
		out.first = max(job.after, from) + 1
		done.FirstInputSeq = out.first
		if out.first > through {
			w.cache, w.cacheSeq = eng, from
			break // the start point is the request's input or the one before
		}
		st, err := replay.RunWith(n.cfg.JournalDir(), n.fs, from+1, through, eng,
			replay.Options{Stop: out.quit, Until: out.cutDone, Archive: n.cfg.ArchiveDir(), Checked: w.checked, KnownDrops: true, Drops: n.drops})
		n.stats.resends.replayed.Add(st.Records)
		if errors.Is(err, replay.ErrMissing) {
			continue // the journal after this start point is gone; nothing was applied or sent
		}
		// Whole batches, or those up to the input the answer was cut
		// after, were applied: eng is the state after st.Last — where
		// the client asks again from when it was cut.
		w.cache, w.cacheSeq = eng, st.Last
		if errors.Is(err, replay.ErrStopped) || out.gone {
			return // the session or the node is gone
		}
		if err == nil && out.cut && st.Last < through {
			done.Reason, done.ThroughInputSeq = proto.ResendCut, st.Last
		} else if err == nil && st.Last < through {
			// The journal ended early: the request itself, journaled
			// after through, should have been read past. Not complete.
			err = fmt.Errorf("resend: the journal ends at input %d, before %d", st.Last, through)
		}
		if err != nil {
			n.log.Error().Err(err).Stringer("session", gateway.LogID(job.session)).Msg("resend: journal replay failed")
			done.Reason, done.ThroughInputSeq = proto.ResendFailed, st.Last
		}
		break
	}
	if done.Reason == proto.ResendComplete && done.FirstInputSeq > job.after+1 && job.after < through {
		done.Reason = proto.ResendPartial
	}
	done.Count = uint64(out.count)
	w.finish(s.Out, job, done, start)
}

// sendRecent sends job's reports from events, the copy of the recent
// reports that answer it, through sink, paced to the client's reading,
// then ResendDone — calling beforeDone first (it frees the worker when
// the worker sends).
func (n *Node) sendRecent(sink *resendSink, enc *proto.Encoder, out *output.Outbox, job resendJob, events []engine.Event, start time.Time, beforeDone func()) {
	sink.aim(out, enc, job)
	defer sink.aim(nil, nil, resendJob{})
	sink.first = job.after + 1
	done := proto.ResendDone{AfterInputSeq: job.after, FirstInputSeq: job.after + 1, ThroughInputSeq: job.before - 1}
	for i := range events {
		if sink.cut && events[i].Seq > sink.last { // the events are in input order
			done.Reason, done.ThroughInputSeq = proto.ResendCut, sink.last
			break
		}
		if sink.Emit(&events[i]); sink.gone {
			return
		}
	}
	beforeDone()
	n.stats.resends.fromMemory.Add(1)
	done.Count = uint64(sink.count)
	n.countResend(job, done, start)
	out.Send(enc.ResendDone(job.tag, done))
}

// resendSendersMost bounds the answers from recent reports sent at once
// by goroutines of their own (resendAsideFromMemory; each paced to its
// client, each a copy of up to recentMemoryMost events of 144 B, into
// memory kept from the last answer — a fresh copy per answer made
// garbage at the rate clients could ask). Beyond it the worker takes
// them, and is busy meanwhile.
const resendSendersMost = 4

// releaseAsidePicks lets go of the memory of the picks no goroutine
// holds (the worker calls it after resendCacheIdle without a request).
func (n *Node) releaseAsidePicks() {
	eachFree(n.asidePicks, resendSendersMost, func(p *recentPick) bool {
		*p = recentPick{}
		return true
	})
}

// eachFree calls f with the items of pool no one holds, one at a time —
// the others stay free to take meanwhile — at most most of them, until f
// returns false.
func eachFree[T any](pool chan *T, most int, f func(*T) bool) {
	for range most {
		select {
		case item := <-pool:
			more := f(item)
			pool <- item
			if !more {
				return
			}
		default:
			return
		}
	}
}

// engineAt is an engine in the state after input from, restored from
// the snapshot taken there, if that was taken under this node's rules
// (otherwise the inputs after it would be decided differently now). For
// 0 that is the snapshot of the empty state a new data directory writes,
// which records the rules the journal's first inputs were decided under.
// Where there is none (a directory made before such snapshots, a member
// installed at input 0, or retention removed it) an empty engine under
// the config, as recovery replays such a journal — unless the oldest
// snapshot kept was taken under other rules: then the rules changed
// since the journal began, and inputs replayed under today's would be
// decided differently.
//
// checked is the input after which the rules records are still to be
// checked (rulesKeptBetween): from, when the snapshot restored recorded
// its rules — checked from what was read, the file is not read again
// (RulesBetween verifies a snapshot whole the first time it meets it: a
// second read of 100 MB, ~25 ms cached) — else from-1, a rules mark at
// from included.
func (w *resender) engineAt(from int64) (eng *engine.Engine, checked int64, err error) {
	ecfg := EngineConfig(w.n.cfg)
	snap, err := w.n.snaps.Read(from)
	if from == 0 && errors.Is(err, fs.ErrNotExist) {
		if seqs, _ := w.n.snaps.List(); len(seqs) > 0 {
			// A kept snapshot restored under changed rules was rewritten
			// under them (node.New): its rules say nothing of the inputs
			// before it. Without the snapshot of input 0 the rules the
			// journal began under are unknown.
			if oldest, err := w.n.snaps.Read(seqs[0]); err != nil || oldest.Rules != 0 {
				return nil, 0, errors.New("no snapshot at the journal's start: the rules its first inputs were decided under are unknown")
			}
		}
		eng, err = engine.NewEngine(ecfg, &w.sink)
		return eng, from - 1, err
	}
	if err != nil {
		return nil, 0, err
	}
	if snap.Rules != 0 && snap.Rules != w.n.rules {
		return nil, 0, fmt.Errorf("%w: the snapshot at %d was taken under rules %016x (this config and build give %016x)",
			ErrRulesChanged, from, snap.Rules, w.n.rules)
	}
	checked = from
	if snap.Rules == 0 { // a version 1 file records none: a mark beside it might
		checked = from - 1
	}
	eng, err = engine.RestoreEngine(ecfg, snap.Payload, &w.sink)
	return eng, checked, err
}

// finish counts the resend and answers job with done. The worker is free
// and the resend counted from before the answer goes out: a client that
// asks again as soon as it has it is served, not answered busy, and
// finds it in the metrics.
func (w *resender) finish(out *output.Outbox, job resendJob, done proto.ResendDone, start time.Time) {
	w.release()
	w.n.countResend(job, done, start)
	out.Send(w.enc.ResendDone(job.tag, done))
}

// countResend counts and logs an answered resend.
func (n *Node) countResend(job resendJob, done proto.ResendDone, start time.Time) {
	n.stats.resends.results[done.Reason].Add(1)
	n.stats.resends.reports.Add(int64(done.Count))
	n.log.Info().Stringer("session", gateway.LogID(job.session)).Uint32("account", job.account).Int64("after", job.after).
		Int64("first", done.FirstInputSeq).Int64("through", done.ThroughInputSeq).Uint64("reports", done.Count).
		Str("result", done.Reason.String()).Dur("took_ms", time.Since(start)).Msg("resend")
}

// starts lists where a replay for job may start, best first: the cached
// engine's state, the kept snapshots and 0, the journal's start (see
// engineAt), within gateway.resend_window inputs before the request,
// those at or before job.after newest first (each resends everything),
// then the later ones oldest first (each resends less).
// Start points at or after the request are of no use.
func (w *resender) starts(job resendJob) []int64 {
	seqs, err := w.n.snaps.List()
	if err != nil {
		w.n.log.Warn().Err(err).Msg("resend: listing snapshots")
	}
	points := append([]int64{0}, seqs...)
	if w.cache != nil {
		points = append(points, w.cacheSeq)
	}
	slices.Sort(points)
	points = slices.Compact(points)
	lowest := job.before - w.n.cfg.Gateway.ResendWindow
	var covering, later []int64
	for _, p := range points {
		switch {
		case p < lowest || p >= job.before:
		case p <= job.after:
			covering = append(covering, p)
		default:
			later = append(later, p)
		}
	}
	slices.Reverse(covering)
	return append(covering, later...)
}

// resendSink is the replay engines' sink: it sends the account's reports
// of inputs from first on, as the execution sender sent them, tagged with
// the request's seq — for one job at a time (aim). Only the goroutine
// sending the job's answer (the worker, or resendAsideFromMemory's)
// touches its fields; the watcher aim starts only closes quit.
type resendSink struct {
	n       *Node
	out     *output.Outbox
	enc     *proto.Encoder
	account uint32
	tag     uint64
	first   int64
	count   int64
	gone    bool          // the session ended: stop sending
	quit    chan struct{} // closed (stop) when the session or the node ends: the replay stops too
	stop    func()
	jobDone chan struct{} // closed when the job is over: ends the watcher
	// stall is gateway.resend_stall (0: never cut short).
	stall time.Duration
	// last is the input of the report being sent, or sent last.
	last int64
	// waited is how long the job has waited for its client to read;
	// refusals is n.resendRefusals when it began.
	waited   time.Duration
	refusals uint64
	// cut: the job overstayed (overstays). The rest of input last's
	// reports go without waiting, and the answer ends after it.
	cut bool
}

// aim points the sink at job's session, or, with out nil, at nothing
// (the job is over).
func (r *resendSink) aim(out *output.Outbox, enc *proto.Encoder, job resendJob) {
	if r.jobDone != nil {
		close(r.jobDone)
	}
	r.out, r.enc, r.account, r.tag = out, enc, job.account, job.tag
	r.first, r.count, r.gone = 1<<62, 0, out == nil
	r.last, r.waited, r.refusals, r.cut = 0, 0, r.n.resendRefusals.Load(), false
	if out == nil {
		r.jobDone, r.quit, r.stop = nil, nil, nil
		return
	}
	quit, jobDone := make(chan struct{}), make(chan struct{})
	var once sync.Once
	r.quit, r.jobDone, r.stop = quit, jobDone, func() { once.Do(func() { close(quit) }) }
	stop := r.stop
	go func() { // a replay that sends nothing still ends with its session or the node
		select {
		case <-r.n.stopCh:
			stop()
		case <-out.Done():
			stop()
		case <-jobDone:
		}
	}()
}

func (r *resendSink) Emit(ev *engine.Event) {
	if r.gone || ev.Seq < r.first || r.cut && ev.Seq > r.last {
		return
	}
	var reps [2]proto.Report
	for i := range reportsTo(ev, r.account, &reps) {
		r.last = ev.Seq
		r.send(&reps[i])
	}
}

// cutDone reports whether the answer was cut short: the replay ends after
// the input being applied, whose reports are then all sent
// (replay.Options.Until).
func (r *resendSink) cutDone() bool { return r.cut }

// send appends one report, waiting while the client has more than half
// its send buffer unread: a resend may be far larger than the buffer,
// and a client that reads must not be cut off as a slow reader for it —
// unless the job overstays (then, and for the rest of the input, it
// does not wait).
func (r *resendSink) send(rep *proto.Report) {
	var since time.Time // when this wait began
	for !r.cut {
		pending, limit := r.out.Pending()
		if pending <= limit/2 {
			break
		}
		now := time.Now()
		if since.IsZero() {
			since = now
		}
		if r.overstays(now.Sub(since)) {
			r.cut = true
			break
		}
		r.out.Flush()
		select {
		case <-r.quit: // the session or the node ended
			r.gone = true
			return
		case <-time.After(time.Millisecond):
		}
	}
	if !since.IsZero() {
		r.waited += time.Since(since)
	}
	frame := r.enc.ExecutionReport(r.tag, rep)
	if r.out.Append(frame) != nil {
		r.gone = true
		r.stop()
		return
	}
	r.count++
	if r.count%64 == 0 {
		r.out.Flush()
	}
}

// overstays reports whether the job, having waited for its client for
// waiting now on top of what it waited before, has waited past
// gateway.resend_stall while a request was answered busy since it began.
func (r *resendSink) overstays(waiting time.Duration) bool {
	return r.stall > 0 && r.waited+waiting > r.stall && r.n.resendRefusals.Load() != r.refusals
}

// resendSession is the session that asked for job, if it is logged on
// and of job's account: nil otherwise (an input committed by an earlier
// leader names a session of that node, whose id one of this node's may
// carry).
func (n *Node) resendSession(job resendJob) *gateway.Session {
	s := n.gw.Session(job.session)
	if s == nil || s.Account != job.account {
		return nil
	}
	return s
}
