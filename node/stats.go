package node

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/output"
	"github.com/ringex/ringex/proto"
)

// stats holds what the stages count. Stages add per batch; Prometheus
// reads at scrape time. On the engine goroutine nothing runs per event
// but countEvent on a member that takes no sessions (Node.publishReport):
// a plain increment per trade, an atomic add per (rare) reject.
type stats struct {
	journaller, replicator, unmarshaler, engine, sender *consumer

	commands      [engine.NumCommandTypes]atomic.Int64 // by type, counted by the unmarshaler
	trades        atomic.Int64
	resends       resendStats
	roleChanges   atomic.Int64     // cluster: times this node became the ready leader
	rejects       [64]atomic.Int64 // by engine.RejectReason
	dropped       atomic.Int64
	engineBatches atomic.Int64
	// mdBytesOut counts the bytes written to market-data subscribers'
	// connections, added to by each subscriber's writer after each write
	// (Outbox.CountWrites): not those staged or queued for one cut off as
	// a slow consumer, which are dropped. On a cache line of its own: the
	// writers of a thousand subscribers add to it, and the counters
	// beside it are the engine's and the sender's, per batch.
	mdBytesOut paddedInt64
	// recentSince is the receive time (Unix ns) the recent reports reach
	// back to, stored once per batch by their owner (the execution
	// sender, or the engine goroutine while the node follows).
	recentSince atomic.Int64

	// sender-goroutine scratch
	senderEnc *proto.Encoder
	touched   []*output.Outbox
	// counted by the sender during a batch, added to trades at its end:
	// an atomic add per frame cost a tenth of a node's CPU, as those
	// counters share cache lines with ones other stages write.
	batchTrades int64
	// counted by the engine goroutine while the node takes no sessions
	// (publishReport), added to trades at the end of its batch
	standbyTrades int64

	// snapshots taken, by snapshotResult; the newest written one's input
	// and when it was written (Unix ns)
	snapshots       [snapshotResults]atomic.Int64
	lastSnapshotSeq atomic.Int64
	lastSnapshotAt  atomic.Int64
	snapPause       prometheus.Histogram // the engine's longest wait for each copy
	copySteps       atomic.Int64         // steps the snapshot copies took (snapcopy.go)
	copiesGrown     atomic.Int64         // copies the engine goroutine had to grow itself (snapcopy.go)
	stateCopySteps  atomic.Int64         // steps State's copies took

	// adminRefusals counts the admin port's refused requests (admin.go).
	adminRefusals adminRefusals

	// spareErrors counts the journal's failures to write its next
	// segment ahead (journalSpareFailed).
	spareErrors atomic.Int64
	// retentionErrors counts the retentions (snapshot.keep, snapshot.
	// journal_retention) that failed after a snapshot (storeSnapshot).
	retentionErrors atomic.Int64

	// restartFrom is the input of the newest snapshot on disk — the one
	// recovered, then each written: where a restart's replay would start.
	restartFrom atomic.Int64

	fsync      prometheus.Histogram
	batch      prometheus.Histogram
	raftFsync  prometheus.Histogram // cluster: the raft log's durable writes
	e2e        prometheus.Histogram
	e2eSamples atomic.Int64
	// stage: gateway receive → the stage finished the input; observed
	// once per batch for its last input.
	stage        *prometheus.HistogramVec
	journalStage prometheus.Observer
	engineStage  prometheus.Observer

	// depth[i][side] is the price levels of the i-th configured
	// instrument, stored by the engine goroutine once per batch.
	depth [][2]atomic.Int64
	// halted[i] says the i-th configured instrument is halted, and
	// suspended how many accounts are suspended; stored per batch.
	halted    []atomic.Bool
	suspended atomic.Int64
}

// What became of a snapshot taken or asked for (ringex_snapshots_total's
// result label).
const (
	snapshotWritten = iota
	snapshotFailed  // not written: the log says why
	snapshotSkipped // no state copy free: the writer was still busy
	snapshotResults
)

var snapshotResultNames = [snapshotResults]string{"written", "failed", "skipped"}

// microBuckets spans 1 µs … ~100 ms.
func microBuckets() []float64 { return prometheus.ExponentialBuckets(1e-6, 2, 18) }

func (s *stats) init(instruments int) {
	s.depth = make([][2]atomic.Int64, instruments)
	s.halted = make([]atomic.Bool, instruments)
	s.senderEnc = proto.NewEncoder()
	s.fsync = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "ringex_journal_fsync_seconds",
		Help: "Duration of one journaller batch's write and fdatasync, one per batch (none when the journal does not fsync).", Buckets: microBuckets()})
	s.batch = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "ringex_journal_batch_records",
		Help: "Records written per journal fsync.", Buckets: prometheus.ExponentialBuckets(1, 2, 16)})
	s.raftFsync = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "ringex_raft_log_fsync_seconds",
		Help: "Duration of one durable write (write and fsync) of the raft log.", Buckets: microBuckets()})
	s.e2e = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "ringex_end_to_end_latency_seconds",
		Help:    "Gateway receive to execution report written to the session's connection, sampled once per write, at its oldest report (the longest any report in the write waited).",
		Buckets: microBuckets()})
	s.stage = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "ringex_stage_latency_seconds",
		Help:    "Gateway receive to the stage having finished the input, sampled once per stage batch, at its oldest input.",
		Buckets: microBuckets()}, []string{"stage"})
	s.snapPause = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "ringex_snapshot_engine_pause_seconds",
		Help: "The longest the engine goroutine (trading) waited at once while its state was copied for a snapshot, one per snapshot.", Buckets: prometheus.ExponentialBuckets(1e-5, 2, 16)})
	s.journalStage = s.stage.WithLabelValues("journal")
	s.engineStage = s.stage.WithLabelValues("engine")
}

// sinceRecv is the time from a gateway receive stamp to now, never less
// than 0. The stamp is wall-clock time, a cluster follower's the leader's
// gateway's: a clock behind it (or one stepped back since) made latencies
// negative, which the histograms counted in their lowest bucket and took
// off their sums.
func sinceRecv(recv int64) time.Duration {
	return max(0, time.Duration(time.Now().UnixNano()-recv))
}

func (s *stats) observeFsync(d time.Duration, records int64) {
	s.fsync.Observe(d.Seconds())
	s.batch.Observe(float64(records))
}

func (s *stats) observeE2E(d time.Duration) {
	s.e2e.Observe(d.Seconds())
	s.e2eSamples.Add(1)
}

func (s *stats) addCommands(counts *[engine.NumCommandTypes]int64) {
	for t, c := range counts {
		if c != 0 {
			s.commands[t].Add(c)
		}
	}
}

// endSenderBatch adds what the sender counted in a batch.
func (s *stats) endSenderBatch() {
	if s.batchTrades != 0 {
		s.trades.Add(s.batchTrades)
	}
	s.batchTrades = 0
}

// endEngineBatch adds what the engine goroutine counted in a batch.
func (s *stats) endEngineBatch() {
	if s.standbyTrades != 0 {
		s.trades.Add(s.standbyTrades)
		s.standbyTrades = 0
	}
}

// countEvent counts a report event: a trade into *trades, the calling
// goroutine's own count for its batch (the sender's batchTrades, or the
// engine's standbyTrades on a node that takes no sessions); a reject at
// once, as they are rare.
func (s *stats) countEvent(ev *engine.Event, trades *int64) {
	switch ev.Type {
	case engine.EvTrade:
		*trades++
	case engine.EvRejected:
		if int(ev.Reason) < len(s.rejects) {
			s.rejects[ev.Reason].Add(1)
		}
	}
}

// ports tracks port states for the admin endpoint and metrics.
type ports struct {
	mu    sync.Mutex
	state map[string]bool
}

func (p *ports) set(name string, open bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state == nil {
		p.state = map[string]bool{}
	}
	p.state[name] = open
}

func (p *ports) snapshot() map[string]bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]bool, len(p.state))
	for k, v := range p.state {
		out[k] = v
	}
	return out
}

// paddedInt64 is an atomic.Int64 that shares no cache line with another
// field: 120 bytes either side, as disruptor's sequences are padded (the
// CPU fetches lines in adjacent pairs).
type paddedInt64 struct {
	_ [120]byte
	atomic.Int64
	_ [120]byte
}
