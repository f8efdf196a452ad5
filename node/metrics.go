package node

import (
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/ringex/ringex/disruptor"
	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/gateway"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/replicator"
)

// diskWaitingHelp is ringex_disk_waiting_seconds' help, one for both
// label values.
const diskWaitingHelp = "How long the oldest write or fsync (of the raft log, or read) under way has waited for the disk (0: none under way), by files: journal (the journal's and the snapshots'), raft_log, raft_state (raft's stable store: term and vote; raft snapshots; the file of fenced addresses). A disk that stopped answering shows here and nowhere else: the fsync histograms hear of a write only when it returns."

// bytesOutHelp is ringex_bytes_out_total's help, one for both ports:
// each counts what its connections' writes took (Outbox.CountWrites),
// none of what a connection cut off was queued.
const bytesOutHelp = "Bytes written to clients' connections, by port (gateway: trading sessions; marketdata: subscribers), counted as each write returns."

// registerMetrics exposes the node's counters as documented in
// docs/metrics.md. Values are read at scrape time.
func (n *Node) registerMetrics(reg *prometheus.Registry) {
	counter := func(name, help string, labels prometheus.Labels, f func() float64) {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: labels}, f))
	}
	gauge := func(name, help string, labels prometheus.Labels, f func() float64) {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: labels}, f))
	}
	for typ, name := range map[engine.CommandType]string{engine.CmdNewOrder: "new_order", engine.CmdCancel: "cancel",
		engine.CmdReplace: "replace", engine.CmdMassCancel: "mass_cancel", engine.CmdOrderStatus: "order_status",
		engine.CmdResend: "resend", engine.CmdInvalid: "invalid"} {
		c, g := &n.stats.commands[typ], &n.gw.Counters.Refused[typ] // decoded from the ring, and refused by the gateway
		counter("ringex_orders_total", "Trading commands, by type: those the engine processed and those the gateway refused itself (also in ringex_rejects_total).", prometheus.Labels{"type": name},
			func() float64 { return float64(c.Load() + g.Load()) })
	}
	counter("ringex_trades_total", "Trades matched: one per match, each making two fills.", nil, func() float64 { return float64(n.stats.trades.Load()) })
	for _, r := range engine.RejectReasons() {
		c, g := &n.stats.rejects[r], &n.gw.Counters.Rejected[r] // the engine's and the gateway's own
		counter("ringex_rejects_total", "Rejected commands by reason.", prometheus.Labels{"reason": r.String()},
			func() float64 { return float64(c.Load() + g.Load()) })
	}
	// Every start changes it, a restart in place (cluster.restarts_in_place:
	// the process executes itself again) as well as a new process — the
	// process collector's process_start_time_seconds stays the same across
	// an exec. Alert RingexNodeRestarting counts its changes.
	started := float64(time.Now().UnixNano()) / 1e9
	gauge("ringex_start_time_seconds", "When this node started serving, in seconds since the Unix epoch; every start changes it, a restart in place (the process executing itself again, which keeps process_start_time_seconds) included.", nil,
		func() float64 { return started })
	gc := &n.gw.Counters
	counter("ringex_sessions_opened_total", "Order-entry sessions (trading and drop copy) that logged on.", nil, func() float64 { return float64(gc.SessionsOpened.Load()) })
	counter("ringex_sessions_closed_total", "Order-entry sessions (trading and drop copy) that ended.", nil, func() float64 { return float64(gc.SessionsClosed.Load()) })
	counter("ringex_bytes_in_total", "Bytes read from clients' connections, by port (gateway: order-entry connections, their logons included).", prometheus.Labels{"port": "gateway"}, func() float64 { return float64(gc.BytesIn.Load()) })
	counter("ringex_bytes_out_total", bytesOutHelp, prometheus.Labels{"port": "gateway"}, func() float64 { return float64(n.gw.Counters.BytesOut.Load()) })
	for r := range n.stats.resends.results {
		c := &n.stats.resends.results[r]
		counter("ringex_resends_total", "ResendReports requests answered, by result.", prometheus.Labels{"result": proto.ResendResult(r).String()},
			func() float64 { return float64(c.Load()) })
	}
	counter("ringex_resent_reports_total", "Execution reports resent.", nil, func() float64 { return float64(n.stats.resends.reports.Load()) })
	counter("ringex_resend_replayed_inputs_total", "Journaled inputs replayed to rebuild resent reports.", nil,
		func() float64 { return float64(n.stats.resends.replayed.Load()) })
	if n.recent != nil {
		gauge("ringex_recent_reports_age_seconds", "How far back in time the execution sender's recent reports reach: a client away for less gets its missed reports from memory.", nil,
			func() float64 {
				since := n.stats.recentSince.Load()
				if since == 0 {
					return 0
				}
				return time.Since(time.Unix(0, since)).Seconds()
			})
	}
	counter("ringex_resends_from_memory_total", "ResendReports requests answered from the execution sender's recent reports, with no replay.", nil,
		func() float64 { return float64(n.stats.resends.fromMemory.Load()) })
	for r, name := range snapshotResultNames {
		c := &n.stats.snapshots[r]
		counter("ringex_snapshots_total", "Snapshots taken or asked for, by what became of them.", prometheus.Labels{"result": name},
			func() float64 { return float64(c.Load()) })
	}
	counter("ringex_snapshot_copy_steps_total", "Steps the engine goroutine took, between batches, to copy its state for snapshots.", nil,
		func() float64 { return float64(n.stats.copySteps.Load()) })
	counter("ringex_state_copies_grown_total", "State copies (snapshots, GET /state) the engine goroutine had to grow itself, trading waiting for the allocation.", nil,
		func() float64 { return float64(n.stats.copiesGrown.Load()) })
	gauge("ringex_snapshot_sequence", "Input of the newest snapshot this node wrote since it started (0: none).", nil,
		func() float64 { return float64(n.stats.lastSnapshotSeq.Load()) })
	gauge("ringex_inputs_since_snapshot", "Inputs journaled after the newest snapshot on disk (recovered or written): what a restart now would replay.", nil,
		func() float64 { return float64(max(0, n.journal.Durable()-n.stats.restartFrom.Load())) })
	gauge("ringex_dropped_inputs", "Entries in the journal's dropped-inputs file, read at start: inputs the operator dropped, which this node's engine rejects instead of applying (an entry whose checksum names another input than the journal's counts, and drops nothing).", nil,
		func() float64 { return float64(n.drops.Len()) })
	gauge("ringex_snapshot_timestamp_seconds", "When the newest snapshot this node wrote since it started was written (Unix seconds; 0: none).", nil,
		func() float64 { return float64(n.stats.lastSnapshotAt.Load()) / 1e9 })
	for why, name := range refusedReasonNames {
		c := &n.stats.adminRefusals.count[why]
		counter("ringex_admin_refused_total", "Admin-port requests refused before their handler ran, by reason.", prometheus.Labels{"reason": name},
			func() float64 { return float64(c.Load()) })
	}
	counter("ringex_reports_dropped_total", "Execution reports not delivered: their account had no live trading session (a drop copy may still have had them).", nil, func() float64 { return float64(n.stats.dropped.Load()) })
	for _, cause := range gateway.Causes() {
		c := &gc.Disconnects[cause]
		counter("ringex_disconnects_total", "Order-entry connections closed, each once, by the first cause that ended it.", prometheus.Labels{"cause": cause.String()},
			func() float64 { return float64(c.Load()) })
	}
	for _, r := range []struct {
		name string
		pub  func() int64
		cons []*consumer
		size int
	}{
		{"input", n.in.published, []*consumer{n.stats.journaller, n.stats.replicator, n.stats.unmarshaler, n.stats.engine}, n.cfg.Rings.InputSlots},
		{"execution", n.exec.published, []*consumer{n.stats.sender}, n.cfg.Rings.OutputSlots},
	} {
		r := r
		gauge("ringex_ring_capacity", "Ring size in slots.", prometheus.Labels{"ring": r.name}, func() float64 { return float64(r.size) })
		for _, c := range r.cons {
			c := c
			gauge("ringex_consumer_lag", "Slots the consumer is behind on its ring: the ring's cursor minus the consumer's sequence.", prometheus.Labels{"ring": r.name, "consumer": c.Name()},
				func() float64 {
					done := c.Sequence().Load() // first: the cursor read after it is at least as far
					return float64(max(0, r.pub()-done))
				})
		}
		gauge("ringex_ring_occupancy", "Slots published but not yet consumed by the ring's slowest consumer.", prometheus.Labels{"ring": r.name},
			func() float64 {
				lag := int64(0)
				for _, c := range r.cons {
					done := c.Sequence().Load()
					lag = max(lag, r.pub()-done)
				}
				return float64(lag)
			})
	}
	for _, port := range []string{"gateway", "execution", "marketdata"} {
		port := port
		gauge("ringex_port_open", "1 while the port is open.", prometheus.Labels{"port": port}, func() float64 {
			if n.ports.snapshot()[port] {
				return 1
			}
			return 0
		})
	}
	counter("ringex_disruptor_timer_wakeups_total", "Parked stages the wait strategy's recheck timer found ready before any publisher woke them.", nil,
		func() float64 { return float64(disruptor.TimerWakeups()) })
	gauge("ringex_journal_durable_sequence", "Highest input sequence the journal holds as durable (fsynced; written, when it is not fsynced per batch).", nil, func() float64 { return float64(n.journal.Durable()) })
	for file, c := range map[string]*atomic.Int64{"spare": &n.stats.spareErrors, "retention": &n.stats.retentionErrors} {
		counter("ringex_journal_io_errors_total", "I/O on the journal's and snapshots' files that failed without stopping the node, by file (spare: the next segment, written ahead; retention: removing or archiving old snapshots and segments).",
			prometheus.Labels{"file": file}, func() float64 { return float64(c.Load()) })
	}
	gauge("ringex_journal_bytes", "Disk space of the journal's segment files (preallocated).", nil, func() float64 {
		return float64(n.journal.Segments() * n.cfg.Journal.SegmentBytes)
	})
	gauge("ringex_disk_waiting_seconds", diskWaitingHelp, prometheus.Labels{"files": "journal"},
		func() float64 { return n.diskWaiting.Oldest().Seconds() })
	for _, d := range diskDirs(n.cfg) {
		gauge("ringex_disk_free_bytes", "Bytes the node may still write on the filesystem of one of its directories (NaN: unreadable).",
			prometheus.Labels{"dir": d.role}, func() float64 { free, _ := diskSpace(d.path); return free })
		gauge("ringex_disk_size_bytes", "Size of the filesystem of one of the node's directories (NaN: unreadable).",
			prometheus.Labels{"dir": d.role}, func() float64 { _, size := diskSpace(d.path); return size })
	}
	for cause, name := range mdCauseNames {
		c := &n.mdHub.closed[cause]
		counter("ringex_marketdata_closed_total", "Market-data connections the port closed, by cause.", prometheus.Labels{"cause": name},
			func() float64 { return float64(c.Load()) })
	}
	gauge("ringex_send_queued_bytes", "Bytes queued unsent for all sessions and market-data subscribers (node.send_budget_bytes bounds it).", nil,
		func() float64 { return float64(n.sendBudget.Used()) })
	gauge("ringex_send_budget_bytes", "node.send_budget_bytes: the most all connections together may hold unsent (plus 1 MiB each) before those holding the most, over 1 MiB, are cut (0: no bound).", nil,
		func() float64 { return float64(n.cfg.Node.SendBudgetBytes) })
	gauge("ringex_marketdata_subscribers", "Market-data connections being served.", nil, func() float64 { return float64(n.mdHub.served()) })
	for i, table := range []string{"address", "network"} {
		gauge("ringex_logon_guard_entries", "Addresses (IPv4, IPv6 /64) and, beyond 4096 of them, networks (IPv4 /24, IPv6 /48) with failed logons counted by the failed-logon guard.",
			prometheus.Labels{"table": table}, func() float64 {
				a, w := n.gw.GuardCounts()
				return float64([]int{a, w}[i])
			})
	}
	counter("ringex_bytes_out_total", bytesOutHelp, prometheus.Labels{"port": "marketdata"},
		func() float64 { return float64(n.stats.mdBytesOut.Load()) })
	for i, in := range n.cfg.Instruments {
		for side, name := range []string{"bid", "ask"} {
			d := &n.stats.depth[i][side]
			gauge("ringex_book_levels", "Price levels on one side of an instrument's book.",
				prometheus.Labels{"instrument": in.Symbol, "side": name}, func() float64 { return float64(d.Load()) })
		}
		h := &n.stats.halted[i]
		gauge("ringex_instrument_halted", "1 while the instrument is halted (no new orders).",
			prometheus.Labels{"instrument": in.Symbol}, func() float64 {
				if h.Load() {
					return 1
				}
				return 0
			})
	}
	gauge("ringex_accounts_suspended", "Accounts the operator suspended (kill switch).", nil,
		func() float64 { return float64(n.stats.suspended.Load()) })
	for _, stream := range []string{"input->journaller", "input->replicator", "input->unmarshaler", "input->engine",
		"execution->sender", "marketdata->marketdata-fanout"} {
		gauge("ringex_stream_active", "1 while the stream's consumer is deployed on its ring.", prometheus.Labels{"stream": stream},
			func() float64 {
				if n.streams()[stream] {
					return 1
				}
				return 0
			})
	}
	gauge("ringex_ring_capacity", "Ring size in slots.", prometheus.Labels{"ring": "marketdata"}, func() float64 { return float64(n.cfg.Rings.OutputSlots) })
	gauge("ringex_ring_occupancy", "Slots published but not yet consumed by the ring's slowest consumer.", prometheus.Labels{"ring": "marketdata"},
		func() float64 {
			if c := n.mdHub.consumerSeq(); c != nil {
				done := c.Load()
				return float64(max(0, n.md.published()-done))
			}
			return 0 // no consumer: the port is closed and nothing is published
		})
	n.registerClusterMetrics(gauge, counter)
	reg.MustRegister(n.stats.fsync, n.stats.batch, n.stats.raftFsync, n.stats.e2e, n.stats.stage, n.stats.snapPause, newGCPauses())
	// The client library's own: the process's (start time — which an exec
	// keeps: ringex_start_time_seconds counts restarts — CPU, memory and
	// file descriptors) and the Go runtime's. Each node
	// has a registry of its own, so nodes sharing a process (tests) each
	// serve them.
	reg.MustRegister(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), collectors.NewGoCollector())
}

// journalSpareFailed is the journal's OnSpareError: the next segment
// could not be written ahead. The journal goes on (it creates the segment
// when it rolls), but the disk answered a write or an fdatasync with an
// error — the same on a segment's own would stop the node — so it is
// counted (ringex_journal_io_errors_total, alert RingexJournalIOError)
// and logged. Called from the journal's background goroutine, rarely.
func (n *Node) journalSpareFailed(err error) {
	n.stats.spareErrors.Add(1)
	n.log.Warn().Err(err).Str("dir", n.cfg.JournalDir()).
		Msg("journal: I/O error on the journal's disk writing the next segment ahead; the journal goes on, but check the disk")
}

// registerClusterMetrics: a standalone node serves them too, as the
// leader of a cluster of one (term 0, every journaled input committed).
func (n *Node) registerClusterMetrics(gauge, counter func(string, string, prometheus.Labels, func() float64)) {
	cl := n.cl
	status := func() (replicator.Status, bool) {
		if cl == nil || cl.r == nil { // standalone, or not started yet
			return replicator.Status{}, false
		}
		return cl.r.Status(), true
	}
	gauge("ringex_cluster_leader", "1 while this node takes inputs (the ready leader; a standalone node always).", nil, func() float64 {
		if cl == nil || cl.accepting.Load() {
			return 1
		}
		return 0
	})
	gauge("ringex_cluster_term", "Raft term (0 standalone).", nil, func() float64 {
		st, _ := status()
		term, _ := strconv.ParseFloat(st.Term, 64)
		return term
	})
	gauge("ringex_cluster_committed_sequence", "Last input sequence a majority holds (standalone: the journal's durable one).", nil, func() float64 {
		if cl == nil {
			return float64(n.journal.Durable())
		}
		return float64(cl.committed.Load())
	})
	gauge("ringex_cluster_dropped_inputs_in_log", "Inputs the operator dropped that this member has taken and whose raft log entries it has not removed yet: while above 0, a member behind may be sent one from the log (0 standalone).", nil, func() float64 {
		if cl == nil || cl.r == nil {
			return 0
		}
		return float64(cl.r.DroppedInLog())
	})
	gauge("ringex_disk_waiting_seconds", diskWaitingHelp, prometheus.Labels{"files": "raft_log"}, func() float64 {
		if cl == nil || cl.r == nil {
			return 0
		}
		return cl.r.LogWaiting().Seconds()
	})
	gauge("ringex_disk_waiting_seconds", diskWaitingHelp, prometheus.Labels{"files": "raft_state"}, func() float64 {
		if cl == nil || cl.r == nil {
			return 0
		}
		return cl.r.StateWaiting().Seconds()
	})
	for _, reason := range []string{"full", "address", "silent", "stalled"} {
		counter("ringex_cluster_raft_connections_refused_total", "Connections to the raft port it closed, by the bound they were over: as soon as accepted, full (the port's in all), address (one remote address's); later, silent (no first request, or TLS handshake, in time), stalled (a request, or its answer, held past its bound).", prometheus.Labels{"reason": reason}, func() float64 {
			if cl == nil || cl.r == nil {
				return 0
			}
			full, address := cl.r.RaftPortRefused()
			silent, stalled := cl.r.RaftPortCut()
			return float64(map[string]uint64{"full": full, "address": address, "silent": silent, "stalled": stalled}[reason])
		})
	}
	counter("ringex_cluster_leader_changes_total", "Times this node became the ready leader.", nil,
		func() float64 { return float64(n.stats.roleChanges.Load()) })
	gauge("ringex_applied_sequence", "Last input sequence the engine applied (a follower: of those its ring holds, committed).", nil,
		func() float64 { return float64(n.base + n.stats.engine.Sequence().Load()) })
	counter("ringex_cluster_replicated_inputs_total", "Inputs this node proposed and a majority committed.", nil, func() float64 {
		if cl == nil {
			return 0
		}
		return float64(cl.proposed.Load())
	})
	counter("ringex_cluster_entries_total", "Raft entries those inputs were committed in.", nil, func() float64 {
		if cl == nil {
			return 0
		}
		return float64(cl.entries.Load())
	})
}
