// Package node wires ringex's stages into a running exchange.
//
//	gateway ──► input ring ──► journaller ─┐
//	                     ├──► replicator ──┼──► engine ──► execution ring ──► sender ──► sessions
//	                     └──► unmarshaler ─┘          └──► market-data ring ──► fan-out ──► subscribers
//
// Contract:
//
//  1. Startup is staged. The replay stage restores the newest valid
//     snapshot and runs the journal after it through unmarshal and the
//     engine with every output port closed. At the journal's end the live
//     stage starts: input sequences continue from the last journaled one,
//     session ids above the highest of this member's that the recovered
//     state holds (resting orders, the ids of the inputs before the
//     snapshot, which it records, replayed inputs: sessionfloor.go) and,
//     in a cluster, that the inputs raft delivers after it carry,
//     the execution port opens, then the gateway. A journal empty past
//     input 0 (after an installed raft snapshot) begins durably before
//     any input (Journal.BeginAt): a journal directory holding no segment
//     beside a snapshot past input 0 is never the node's doing, and a
//     node alone refuses it (ErrJournalGone: moved or lost, the inputs
//     after the snapshot with it) unless told to accept the loss
//     (Options.AcceptLostJournal); a cluster member's raft log holds them.
//     The admin port answers from the start of the replay: /healthz
//     "ok", every other endpoint of the live port (a path none has: 404;
//     with admin.token, any request without it but a probe's: 401, as
//     once live) 503 StartReplaying (StartMappingPools while
//     the engine's pools are mapped, before the replay proper, or cleared
//     in the same memory for an older snapshot after one that does not
//     restore), then
//     StartMappingRings while Start maps the rings (rings.prefault),
//     until it is live.
//  2. Durable before visible: the engine consumes a slot only after the
//     journaller has fsynced it (in a cluster: after a majority holds it),
//     so every report a client reads is about a durable input.
//  3. The engine goroutine does no I/O: it publishes events into the output
//     rings; a snapshot command makes it copy its state (memory copies
//     only, into a copy the writer keeps as large as the engine's pools,
//     in steps between its batches: snapcopy.go), which a separate
//     goroutine encodes and writes to disk. The snapshot is of the state
//     after the batch the copy finished at, and records that input.
//  4. The market-data port is open only while someone subscribes: the
//     first subscriber deploys the fan-out consumer and switches the
//     engine's book events on (the engine then sends a full image), and
//     once nobody has subscribed for mdIdleGrace (5 s) they are switched
//     off and the consumer undeployed — not at once: a connection
//     toggling its subscription cost an image per toggle. The
//     engine goroutine makes the switch between two batches, handed to it
//     with Processor.Do, so no input is needed to wake it. A subscriber
//     gets a book snapshot before any update, on a follower as well (a
//     deep book in parts of at most snapshotPartLevels levels, sent back
//     to back, so that no frame outgrows a client's frame limit), and
//     each instrument's updates in md_seq order from it. Its snapshots
//     of several books go one after another, each once its send buffer
//     has room (paced as a resend is), so one that reads is not cut
//     for the snapshots it asked for; one that waited snapshotHoldRounds
//     holds back the subscriber's other updates until it goes, so it
//     goes however busy they are (holdOverdue); a snapshot larger than
//     the buffer is refused (BookTooLarge). A connection is sent at
//     most one snapshot of a book every snapshotAgainAfter (1 s): one
//     asked for sooner (a Subscribe again, or after an Unsubscribe)
//     goes when that has passed (snapshotDeferred), and the asks
//     meanwhile draw nothing more; and its repeats (snapshots of books
//     it was sent one of before), of all books together, go
//     snapshotRepeatBurst (16) at once, then one every
//     snapshotRepeatEvery (100 ms), deferred so too — a book's first
//     snapshot on a connection is never held. The fan-out hands each
//     subscriber an instrument's frames of a ring batch in one piece, so
//     updates of different instruments are not in the engine's order.
//     Every market-data message carries the input it is as of
//     (input_seq: the same on every member), an idle subscriber is sent
//     a Heartbeat every gateway.heartbeat_interval, and a cluster member
//     out of touch with the leader for mdLeaderGrace closes its
//     subscribers and refuses Subscribe (NotCurrent) until it is back and
//     caught up, and one just started refuses it until it has caught
//     up (mdcurrent.go). A connection holds its slot only once it
//     follows an instrument: one over marketdata.max_connections takes
//     the slot of the oldest not logged on (marketdata.require_logon),
//     else of the oldest following nothing (gateway.Waitlist, the
//     order-entry gateway's, at most 64 on their way out), and an ended
//     connection holds its slot until its lingering close is done
//     (within output's close grace, 1 s; a refused one's within 250 ms,
//     as order entry's: mdRefusedLinger); a Logon is
//     checked by the gateway (Gateway.CheckLogon: the same secrets and
//     failed-logon guard). All of it on the connections' readers, none
//     on the fan-out (mdconns.go). The port acts on Logon, Subscribe,
//     Unsubscribe, ListInstruments (answered with the config's
//     instruments, built once: config.InstrumentList, which the gateway sends
//     too) and Logout: a Logout ends the connection as on the
//     order-entry port, after what was queued for it, told nothing and
//     counted logout — wherever it comes: over the message rate, before
//     a required Logon. An order-entry message (gateway.OrderEntry: a program
//     pointed at the wrong port, which would wait for ever for answers)
//     ends the connection, told and counted malformed and logged once;
//     any other message is skipped, one of a type newer than the node
//     included (the wire's unions are only appended to).
//  5. A journal failure stops the node (fail stop); a failure to write
//     the next segment ahead (journal.prepare_segments), not yet the
//     journal, is counted (ringex_journal_io_errors_total) and logged,
//     and the node goes on. A cluster member's fatal errors its next
//     start resolves (RestartResolves: inputs lost with the leadership,
//     a raft snapshot staged) are told apart from the rest, so that
//     `ringex serve` restarts in place for those and exits for the
//     others; a failed node's Stop does not wait for the cluster to
//     settle (the failed stage would never propose the rest).
//     SIGTERM stops the gateway taking inputs (Gateway.StopTaking: the
//     sessions stay open), drains the rings, syncs the journal, ends every
//     session — the reports of every input taken, then Closing{shutdown}
//     — and market-data connection (the updates of every input taken,
//     then Closing{shutdown}), waits for their writers (at most the
//     outbox's close grace, 1 s, for all of them: a client that stopped
//     reading is closed then, untold), snapshots at its end (snapshot.on_stop: the
//     next start replays nothing) and returns.
//     Every snapshot records the matching rules (engine.Config.Fingerprint)
//     its later inputs are decided under; recovery refuses to replay
//     inputs under other rules (ErrRulesChanged) and rewrites the
//     snapshot under new rules when it replays none. Recovery, resends
//     and replay check every snapshot and rules mark between their start
//     and their end, not only the snapshot they start from: rules changed
//     and changed back leave both ends agreeing with the config.
//     engine.halt_clear_chunk is among the rules: a halt with
//     cancel_orders then reports its book's cancels a chunk an input, and
//     while a clear is pending the node sends itself an empty control
//     input (a Heartbeat, decoded to CmdNoop, journaled and replicated),
//     one at a time and only while it takes inputs, so that the reports
//     go out with nobody trading (haltclear.go).
//  6. In a cluster (cluster.peers) the replicator commits each ring batch
//     through raft before the journaller and the engine see it: the
//     journal holds committed inputs only and is not fsynced per batch
//     (the raft log is), only at each raft snapshot, before raft may drop
//     the entries before it (Journal.Checkpoint). Only the ready leader takes inputs; followers get committed
//     batches into their own ring and answer logons with a redirect; a
//     node that takes no sessions puts no reports into its execution ring
//     (the engine counts their trades and rejects itself, and keeps them
//     in the recent reports). A
//     snapshot compacts the raft log; a member too far behind installs
//     the leader's snapshot at its next start. See replication.go and
//     install.go. Symbols and decimals (what ListInstruments serves)
//     decide no input: no snapshot, journal record or raft entry records
//     them, a restart under renamed ones replays as before, and members
//     serving other ones run on — GET /state gives their fingerprint
//     (config.Config.ReferenceFingerprint) for ringex status to compare.
//  7. One node per data directory: New takes an exclusive lock on
//     <data_dir>/LOCK (flock; the kernel releases it when the process
//     dies) and Stop releases it. A second node on the directory fails
//     with ErrDataDirInUse naming the holder's pid, and saying to stop
//     the node first, instead of appending to the same journal.
//  8. Before that, New refuses to run where the filesystem cannot keep
//     the vfs contract (vfs.Unsafe: Windows, which cannot fsync a
//     directory), and where it keeps it with weaker calls than Linux's
//     (vfs.Weaker: macOS, FreeBSD) starts with one warning saying what
//     is weaker (storage.go).
//
// Ring memory: the input ring is input_slots × 256 bytes, each output ring
// output_slots × 128 bytes (engine.Event); the execution sender's recent
// reports gateway.recent_reports × 144 bytes.
package node
