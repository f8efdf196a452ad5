package node

import (
	"errors"
	"slices"
	"sync/atomic"
	"time"

	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/output"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
	"github.com/ringex/ringex/replay"
)

// Resending reports (ResendReports, proto/README.md). The engine keeps no
// history: a request only marks its place in the execution stream
// (EvResend). The execution sender hands it to one worker goroutine,
// which rebuilds the account's reports by replaying the journal on a
// second engine from a kept snapshot — the inputs were decided exactly
// this way the first time, so the reports are the same ones — and
// appends them to the session's outbox, tagged with the request's seq,
// while live reports keep flowing. A follower serves none (it has no
// sessions); after a failover the new leader's journal holds the same
// inputs, so a client asks it again.
//
// Invariant: one resend runs at a time per node; a request that finds
// the worker busy is answered busy at once, never queued behind it.

// resendJob is one request: the reports of account caused by inputs
// after after and before before (the request's own input).
type resendJob struct {
	session       uint64
	account       uint32
	after, before int64
	tag           uint64
}

// resendStats counts what the worker did, for the metrics.
type resendStats struct {
	results  [proto.ResendFailed + 1]atomic.Int64
	reports  atomic.Int64 // reports resent
	replayed atomic.Int64 // inputs replayed to rebuild them
}

// resendRequested is the execution sender's part: hand the request to
// the worker or, when it is busy, answer busy in sequence with the
// session's other reports.
func (n *Node) resendRequested(enc *proto.Encoder, ev *engine.Event, touched []*output.Outbox) []*output.Outbox {
	job := resendJob{session: ev.Session, account: ev.Account, after: int64(ev.OrderID), before: ev.Seq, tag: ev.ClientOrderID}
	select {
	case n.resendJobs <- job:
		return touched
	default:
	}
	n.stats.resends.results[proto.ResendBusy].Add(1)
	s := n.gw.Session(job.session)
	if s == nil {
		return touched
	}
	return n.appendReport(s, enc.ResendDone(job.tag, proto.ResendDone{AfterInputSeq: job.after, Reason: proto.ResendBusy}), touched)
}

// resendWorker serves the requests one at a time until Stop.
func (n *Node) resendWorker() {
	defer n.wg.Done()
	enc := proto.NewEncoder()
	for job := range n.resendJobs {
		n.serveResend(enc, job)
	}
}

// serveResend replays from the best start point it can use and sends the
// account's reports of inputs after job.after, then ResendDone.
func (n *Node) serveResend(enc *proto.Encoder, job resendJob) {
	s := n.gw.Session(job.session)
	if s == nil {
		return // logged off before its turn: nobody to answer
	}
	start := time.Now()
	through := job.before - 1
	// Without a usable start point nothing is resent.
	done := proto.ResendDone{AfterInputSeq: job.after, FirstInputSeq: max(through, job.after) + 1, ThroughInputSeq: through}
	out := &resendSink{n: n, out: s.Out, enc: enc, account: job.account, tag: job.tag}
	for _, from := range n.resendStarts(job) {
		eng, err := n.resendEngine(from, out)
		if err != nil {
			n.log.Warn().Err(err).Int64("snapshot_seq", from).Msg("resend: snapshot not usable, trying another")
			continue
		}
		out.first = max(job.after, from) + 1
		done.FirstInputSeq = out.first
		if out.first > through {
			break // the start point is the request's input or the one before
		}
		st, err := replay.RunUntil(n.cfg.JournalDir(), n.fs, from+1, through, eng, n.stopCh)
		n.stats.resends.replayed.Add(st.Records)
		if errors.Is(err, replay.ErrMissing) {
			continue // the journal after this start point is gone; nothing was sent
		}
		if errors.Is(err, replay.ErrStopped) || out.gone {
			return
		}
		if err != nil {
			n.log.Error().Err(err).Uint64("session", job.session).Msg("resend: journal replay failed")
			done.Reason, done.ThroughInputSeq = proto.ResendFailed, st.Last
		}
		break
	}
	if done.Reason == proto.ResendComplete && done.FirstInputSeq > job.after+1 && job.after < through {
		done.Reason = proto.ResendPartial
	}
	done.Count = uint64(out.count)
	n.finishResend(enc, s.Out, job, done, start)
}

func (n *Node) finishResend(enc *proto.Encoder, out *output.Outbox, job resendJob, done proto.ResendDone, start time.Time) {
	n.stats.resends.results[done.Reason].Add(1)
	n.stats.resends.reports.Add(int64(done.Count))
	_ = out.Send(enc.ResendDone(job.tag, done))
	n.log.Info().Uint64("session", job.session).Uint32("account", job.account).Int64("after", job.after).
		Int64("first", done.FirstInputSeq).Int64("through", done.ThroughInputSeq).Uint64("reports", done.Count).
		Str("result", done.Reason.String()).Dur("took", time.Since(start)).Msg("resend")
}

// resendStarts lists where a replay for job may start, best first:
// snapshots (0 is the empty state at the journal's start) within
// gateway.resend_window inputs before the request, those at or before
// job.after newest first (each resends everything), then the later ones
// oldest first (each resends less). Snapshots taken at or after the
// request are of no use.
func (n *Node) resendStarts(job resendJob) []int64 {
	seqs, err := n.snaps.List()
	if err != nil {
		n.log.Warn().Err(err).Msg("resend: listing snapshots")
	}
	lowest := job.before - n.cfg.Gateway.ResendWindow
	var covering, later []int64
	for _, p := range append([]int64{0}, seqs...) {
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

// resendEngine is an engine in the state after input from: empty for 0,
// else the snapshot taken there, if it was taken under this node's rules
// (otherwise the inputs after it would be decided differently now).
func (n *Node) resendEngine(from int64, sink engine.Sink) (*engine.Engine, error) {
	ecfg := EngineConfig(n.cfg)
	if from == 0 {
		return engine.NewEngine(ecfg, sink)
	}
	snap, err := n.snaps.Read(from)
	if err != nil {
		return nil, err
	}
	if snap.Rules != 0 && snap.Rules != n.rules {
		return nil, errors.New("taken under other instruments, accounts or limits")
	}
	return engine.RestoreEngine(ecfg, snap.Payload, sink)
}

// resendSink is the replay engine's sink: it sends the account's reports
// of inputs from first on, as the execution sender sent them, tagged.
type resendSink struct {
	n       *Node
	out     *output.Outbox
	enc     *proto.Encoder
	account uint32
	tag     uint64
	first   int64
	count   int64
	gone    bool // the session ended: stop sending
}

func (r *resendSink) Emit(ev *engine.Event) {
	if r.gone || ev.Seq < r.first {
		return
	}
	var rep proto.Report
	if !proto.ReportOf(ev, &rep) || rep.Kind == wire.ExecKindStatus || rep.Kind == wire.ExecKindStatusDone {
		return
	}
	if ev.Account == r.account {
		r.send(&rep)
	}
	if ev.Type == engine.EvTrade && ev.MakerAccount == r.account {
		proto.TakerToMaker(ev, &rep)
		r.send(&rep)
	}
}

// send appends one report, waiting while the client has more than half
// its send buffer unread: a resend may be far larger than the buffer,
// and a client that reads must not be cut off as a slow reader for it.
func (r *resendSink) send(rep *proto.Report) {
	for {
		pending, limit := r.out.Pending()
		if pending <= limit/2 {
			break
		}
		r.out.Flush()
		select {
		case <-r.out.Done():
			r.gone = true
			return
		case <-r.n.stopCh:
			r.gone = true
			return
		case <-time.After(time.Millisecond):
		}
	}
	if r.out.Append(r.enc.ExecutionReport(r.tag, rep)) != nil {
		r.gone = true
		return
	}
	r.count++
	if r.count%64 == 0 {
		r.out.Flush()
	}
}
