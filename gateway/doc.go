// Package gateway is ringex's order-entry front door: a TCP listener with
// one reader goroutine per connection that logs sessions on, enforces
// limits, and publishes raw frames into the input ring.
//
// Contract:
//
//  1. The first frame of a connection must be a Logon with a known
//     account and its secret; anything else gets a LogonReject and the
//     connection is closed — as a standby's Redirect, lingering for at
//     most RefusedLinger (250 ms) on the connection's reader, its slot
//     still held: what the client sent after its Logon is read and
//     dropped, so that it reads its answer and then the end of the
//     stream, not a reset. Wrong credentials are answered BadSecret
//     whether or not the account exists, in the same time either way. A session acts only for its own account: the
//     gateway stamps the account on every frame it publishes, and the
//     unmarshaler takes it from there, never from the wire. A Logon
//     another port of the node takes (market data, with
//     marketdata.require_logon) is checked by CheckLogon: the same
//     accounts, the same failed-logon guard.
//  2. The gateway does not decode the orders it passes on and never calls
//     the engine (it decodes only what it refuses itself, to answer it:
//     4). It classifies each frame by its envelope's type alone
//     (proto.Type; the unmarshaler verifies the whole frame) —
//     session-level messages, Heartbeat and Logout, it handles itself,
//     and answers ListInstruments with Config.Instruments, a read of the
//     config never journaled, within Config.StatusRate as the queries
//     (a Logout ends the connection, told nothing and counted logout,
//     over any rate and before a Logon too — after the reports of the
//     inputs read before it and the answers of its resends among them,
//     waited for at most a second through Config.AwaitAnswers) —
//     and copies everything else raw into a claimed input-ring slot with
//     the session id and receive time. The frames of one socket read are
//     claimed and published together, in order,
//     as soon as the reader would wait for the network (so batching adds
//     no latency) and before the session is torn down.
//  3. Backpressure: when the ring is full, Publish blocks and the reader
//     stops reading its socket, so TCP pushes back on that client. A frame
//     already read is never dropped — but by a ring full for
//     gateway.read_timeout (the engine, or a stage before it, stalled):
//     the reader's claim gives up then, before it claims
//     (ErrInputStalled: a slot claimed is always published), and its
//     session ends, counted input_stalled and told shutdown, in a text
//     naming the wait; the frames it held are not entered, each whole or
//     not at all, and its client asks OrderStatus which were.
//  4. Limits, each with a clear answer: frames above the maximum size
//     (LogonReject FrameTooLarge, then disconnect), a silent connection past
//     the heartbeat timeout (disconnect), connections above the maximum
//     (LogonReject TooManyConnections, then close — to the oldest
//     connection that has not sent its Logon, if any, which makes room
//     for the new one; else to the new one: Waitlist, which the
//     market-data port uses too), messages above the
//     reject rate (ExecutionReport rejected, rate-limited) and above the
//     disconnect rate (disconnect), failed logons above the per-address
//     allowance (LogonReject TooManyFailedLogons, then close, for that
//     address only; an address is remembered until its allowance
//     refills, and past 4 096 of them the new ones share their
//     network's — an IPv6 /48, an IPv4 /24), failed logons naming an account above the
//     per-account allowance (the same, for the logons to it from
//     addresses its secret never logged on from: its clients at their
//     usual addresses are not locked out), an account's logons above
//     gateway.logon_rate (LogonReject TooManyLogons), an account's sessions at
//     gateway.max_sessions_per_account (LogonReject TooManySessions: final
//     until one ends, unlike a busy member's TooManyConnections), and
//     every logon once the member's next session id would be at or past
//     SessionIDLimit (the same answer, counted session_ids_spent: an id
//     that a restart's floor leaves out would be given out again). Only
//     order entry goes to the ring: any other message of a logged-on
//     session but Heartbeat and Logout
//     is refused (unknown-command), so a second Logon's secret is never
//     journaled — and so is one of a type newer than this build
//     (proto.ErrUnknownType), from a drop copy too: journaled, the
//     unmarshaler would reject it malformed-frame, and a later build
//     that knows the type would apply it when it replays the journal (a
//     frame that fails verification otherwise still goes to the ring,
//     rejected there in sequence). A message the gateway refuses itself (rate-limited,
//     or trading from a drop copy) is answered with the reject the engine
//     would send (engine.RejectOf over the unmarshaler's decoding): the
//     ids, instrument, side, price and quantity it carried.
//  5. Cancel-on-disconnect: when an account configured for it loses its
//     last session, the gateway publishes a control MassCancel for it
//     through the ring, so it is journaled and replayed like any input.
//     A session of the account that logs on meanwhile is registered only
//     after that MassCancel is published, so its orders follow it: it
//     waits for it a second at most, then is refused TooManySessions
//     (counted cancel_pending). The MassCancel is published outside the
//     account's lock, so a ring that stays full holds neither the
//     account's logons, unanswered, nor its other sessions' ends.
//     Only a session ending on a running gateway does: the node stopping
//     or crashing, or a cluster leader stepping down (DropSessions, its
//     inputs refused), leaves the account's orders in the book, so a
//     planned restart or a failover does not empty it. A client that
//     wants its orders gone then sends MassCancel when it is back; one
//     that wants to know what became of them sends OrderStatus.
//  6. Replies to a session (LogonAck, rejects) and execution reports go
//     through the session's bounded Outbox; a slow reader is disconnected,
//     never waited for.
//  7. A session the gateway ends itself is sent a Closing naming the
//     cause it counts (closings: rate_limit, frame_too_large, malformed,
//     slow_consumer, heartbeat_timeout, operator, replaced, not_leader,
//     shutdown), its text naming the limit crossed with its setting
//     and value (built once by New: closings.go; a slow consumer is
//     told which of its limits, by its cut) as the connection's last
//     frame, best effort: after what
//     its outbox holds, within the outbox's close grace — for a slow
//     consumer only when its socket takes it at once
//     (Outbox.SayWhenCut) — so nothing is guaranteed. Its reader reads
//     no more from the network meanwhile: the frames it had read are
//     published, none its client's socket still held. One that logs out
//     or hangs up is sent none; a refused logon is answered LogonReject
//     alone, as before. A session the node ends twice (an operator's
//     close, then DropSessions), or that the node ends as it ends
//     itself (a heartbeat timeout, a logout), is told and counted the
//     first end. Whatever ends it, a session is counted, unregistered and,
//     the account's last trading session, its cancel-on-disconnect
//     published before its client can learn of the end: its Closing (a
//     frame too large's LogonReject with it) and its connection's close
//     wait for its reader's end (output.Outbox.EndAfter), their close
//     grace counted from then: a reader held publishing into a full ring
//     (its input, its account's MassCancel) delays its client's Closing,
//     and no longer loses it. That wait lasts gateway.read_timeout at
//     most: past it, a ring that stays full, the client is told all the
//     same — its session unregistered by then unless its account's
//     MassCancel still waits for room (its input's publish gives up
//     then: 3). A client that
//     logs on again the moment it reads its end finds the account's slot
//     free (gateway.max_sessions_per_account), and its new session's
//     orders come after the MassCancel — but in a shutdown, which takes
//     no logon and publishes no cancel-on-disconnect. The operator
//     lists and closes (Sessions, CloseSession) a session still logging on once its LogonAck is queued, waiting
//     for it at most 5 s: its client is told the close of the session
//     it logged on as, never EOF for its logon's answer.
//  8. A shutdown has two halves. StopTaking stops accepting and reading
//     and waits for the readers: every frame read is published, and the
//     sessions stay registered with their outboxes open, so the reports
//     of those inputs still reach them while the node drains. Close then
//     ends every session — its reports, then Closing{shutdown} — and
//     waits for their writers, and for those of sessions that ended
//     before, each at most the outbox's close grace (1 s, counted from
//     Close, or from the session's end — from its reader's if its writer,
//     all written, waited for it): once
//     it returns nothing of the gateway writes to a client, and the
//     process may exit. A session
//     the node ends while it drains (an operator's close, a cut as a
//     slow consumer) is told and counted that end; Close counts the
//     sessions left open, each once.
package gateway
