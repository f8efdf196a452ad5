package gateway

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/input"
	"github.com/ringex/ringex/output"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
	"github.com/ringex/ringex/unmarshal"
)

// serveConn is a connection's reader goroutine: logon, then frames until
// the connection ends.
func (g *Gateway) serveConn(conn net.Conn, from netip.Addr, epoch uint64, wait *Waiter) {
	defer g.wg.Done()
	defer func() {
		g.mu.Lock()
		delete(g.live, conn)
		g.mu.Unlock()
		g.conns.Add(-1)
		g.perAddr.Close(from)
	}()
	enc := proto.NewEncoder()
	fr := proto.NewFrameReader(conn, g.cfg.MaxFrameBytes)
	log := g.cfg.Logger.With().Str("remote", conn.RemoteAddr().String()).Logger()

	// Logon: the first frame, within the heartbeat timeout — writes too:
	// on a TLS port reading it runs the handshake, whose server flight a
	// client that never reads would otherwise hold unsent, and its slot
	// with it, for ever. The outbox writes without a deadline; it is
	// cleared once the logon is taken.
	conn.SetDeadline(time.Now().Add(g.cfg.HeartbeatTimeout))
	var payload []byte
	var err error
	// Evicted before the deadline above was set, the connection had its
	// wake-up (Waitlist.Evict's read deadline) overwritten: asked here.
	if !g.awaiting.Evicted(wait) {
		payload, err = fr.Next()
	}
	if err == nil && payload != nil {
		// The logon frame is read from the connection too — also when
		// the connection was evicted as it arrived.
		g.Counters.BytesIn.Add(int64(len(payload) + proto.PrefixSize))
	}
	// Evicted: told TooManyConnections — unless the read ended otherwise
	// first (the client gone, a frame too large): the eviction woke a
	// reader with a read deadline, and any other error is the
	// connection's own, counted as it would be had nobody needed its slot.
	if g.awaiting.Settle(wait) {
		defer g.awaiting.Gone()
		if err == nil || isTimeout(err) {
			g.reject(conn, enc, wire.LogonRejectReasonTooManyConnections, CauseMaxConnections)
			return
		}
	}
	if err != nil {
		cause := CauseLogonFailed
		switch {
		case g.closing.Load():
			cause = CauseShutdown // Close ended the read: not the client's failure
		case isTimeout(err) && fr.MidFrame():
			// Part of its Logon frame, and the rest never came: a
			// client that stalled or a probe holding a slot, not one
			// that sent nothing (counted idle until 2026-12-07).
			cause = CauseLogonTimeout
		case isTimeout(err):
			// Silent to the deadline — its TLS handshake unfinished, or
			// no Logon: idle, as the market-data port counts it, not a
			// logon that failed (it never offered one).
			cause = CauseIdle
		case handshakeFailed(conn, err):
			cause = CauseTLSHandshake
		}
		g.reject(conn, enc, logonFailure(err), cause)
		return
	}
	typ, pos, err := proto.Verify(payload)
	if err != nil {
		g.reject(conn, enc, wire.LogonRejectReasonMalformed, CauseLogonFailed)
		return
	}
	if typ == wire.MessageLogout {
		// A client leaving before it logged on: its own end, told
		// nothing and counted logout, as a Logout is wherever it comes
		// (and on the market-data port) — not a failed logon.
		g.Counters.Disconnects[CauseLogout].Add(1)
		conn.Close()
		return
	}
	if typ != wire.MessageLogon {
		g.reject(conn, enc, wire.LogonRejectReasonNotLoggedOn, CauseLogonFailed)
		return
	}
	if g.cfg.Standby != nil {
		if leader, standby := g.cfg.Standby(); standby {
			g.redirect(conn, enc, leader)
			return
		}
	}
	accountID, secret := proto.LogonAt(payload, pos)
	logonAt := g.cfg.Now().UnixNano()
	acct, verdict, why := g.checkLogon(from, accountID, secret, logonAt)
	switch verdict {
	case throttled:
		// Debug: an address guessing secrets would flood the log; the
		// logon_throttled disconnects count it.
		log.Debug().Uint32("account", accountID).Msg("logon refused: too many failed logons from this address")
		g.reject(conn, enc, wire.LogonRejectReasonTooManyFailedLogons, CauseLogonThrottled)
		return
	case throttledAccount:
		log.Debug().Uint32("account", accountID).Msg("logon refused: too many failed logons to this account, and it never logged on from this address")
		g.reject(conn, enc, wire.LogonRejectReasonTooManyFailedLogons, CauseLogonThrottled)
		return
	case failed:
		log.Info().Uint32("account", accountID).Str("reason", why).Msg("logon rejected")
		g.reject(conn, enc, wire.LogonRejectReasonBadSecret, CauseLogonFailed)
		return
	}
	handover := g.accounts[acct.ID].handover
	handover.Lock() // also orders the count below with the account's other logons
	// The account's last session ended and its cancel-on-disconnect is
	// not published yet: this session registers after it, or not at all
	// (its orders would come before the MassCancel and be cancelled by
	// it). Published at once unless the ring is full; a ring that stays
	// full (its engine stalled) has the logon refused, answered within
	// cancelOwedWait rather than held, unanswered, for as long.
	if !awaitCancel(handover, g.accounts[acct.ID].cancelOwed) {
		handover.Unlock()
		log.Warn().Uint32("account", acct.ID).Dur("waited", cancelOwedWait).
			Msg("logon refused: the account's cancel-on-disconnect, owed since its last session ended, is not published yet — the input ring is full")
		g.reject(conn, enc, wire.LogonRejectReasonTooManySessions, CauseCancelPending)
		return
	}
	// gateway.logon_rate counts the logons that become sessions: checked
	// before the logon replaces its client's earlier session (a logon
	// refused must kill none), spent only once no other limit refuses it
	// (a client retrying while its old session holds the account's last
	// slot spent its logons on refusals). Under handover, nothing of the
	// account's takes the token between the two. A drop copy's logon
	// counts as any, here and in max_sessions_per_account below — a
	// market-data program's too, given this port by mistake
	// (client.DialMarketDataLogon logs on as a drop copy), which nothing
	// on the wire tells apart before its client reads the LogonAck: a
	// drop copy left out would open sessions, each with an outbox and a
	// copy of every report of the account, without bound. Its client
	// takes TooManyLogons, which a market-data port never answers, for
	// the wrong port.
	logons := g.accounts[acct.ID].logons
	if g.cfg.LogonRate > 0 && !logons.has(logonAt) {
		handover.Unlock()
		log.Info().Uint32("account", acct.ID).Int("logon_rate", g.cfg.LogonRate).Msg("logon refused: the account logs on faster than gateway.logon_rate")
		g.reject(conn, enc, wire.LogonRejectReasonTooManyLogons, CauseLogonRate)
		return
	}
	// Its id, before the logon replaces anything (a logon refused must
	// kill none); one refused below leaves its id unused, a gap. With no
	// id left every later logon is refused too: the ids only grow.
	id, ok := g.newSessionID(logonAt)
	if !ok {
		handover.Unlock()
		log.Error().Uint32("account", acct.ID).Stringer("last_session", LogID(g.lastSession.Load())).
			Msg("logon refused: this member gave out its last session id below 2^63 — an id past it would be left out of the next restart's floor and given out again; the last one came from the recovered state or an input (a damaged or foreign journal or snapshot), not from the clock")
		g.reject(conn, enc, wire.LogonRejectReasonTooManySessions, CauseSessionIDsSpent)
		return
	}
	// The session this logon replaced, if any.
	var predecessor *Session
	if old := proto.LogonReplacesAt(payload, pos); old != 0 {
		if predecessor = g.replace(old, acct.ID, proto.LogonDropCopyAt(payload, pos)); predecessor != nil {
			log.Info().Stringer("replaced", LogID(old)).Uint32("account", acct.ID).Msg("logon replaces its client's earlier session")
		}
	}
	if max := g.cfg.MaxSessionsPerAccount; max > 0 && g.sessionsOf(acct.ID) >= max {
		handover.Unlock()
		if g.closing.Load() {
			// The gateway stopping: the session holding the slot may be
			// one the shutdown leaves registered for its drain, its
			// client told its end and logging on again — on a connection
			// it opened before, its Logon read before endReading closed
			// it. Refused as endReading would have refused it (shutdown),
			// not TooManySessions, which says to wait for a session to
			// end.
			g.reject(conn, enc, wire.LogonRejectReasonNotLoggedOn, CauseShutdown)
			return
		}
		log.Info().Uint32("account", acct.ID).Int("max", max).Msg("logon refused: the account has gateway.max_sessions_per_account logged on")
		g.reject(conn, enc, wire.LogonRejectReasonTooManySessions, CauseMaxPerAccount)
		return
	}
	if g.cfg.LogonRate > 0 {
		logons.take(logonAt)
	}
	conn.SetWriteDeadline(time.Time{})
	s := &Session{ID: id, Account: acct.ID, From: conn.RemoteAddr().String(), Since: time.Unix(0, logonAt).UTC(),
		DropCopy: proto.LogonDropCopyAt(payload, pos), conn: conn, answered: make(chan struct{}), limiterBack: make(chan struct{}),
		unregistered: make(chan struct{})}
	cause := CauseEOF
	s.Out = output.NewOutbox(conn, g.cfg.SendBufferBytes, g.cfg.HeartbeatTimeout, nil)
	s.Out.CountWrites(&g.Counters.BytesOut) // before anything is queued
	s.Out.SayWhenCut(&g.cuts)
	// Its end waits for its unregistration at most gateway.read_timeout —
	// the silence after which its client, hearing nothing more, gives up
	// on it anyway: a reader held publishing into a ring that stays full
	// (its input, or its account's MassCancel) would otherwise hold the
	// connection and its writer for as long, and the client untold.
	s.Out.EndAfter(s.unregistered, g.cfg.HeartbeatTimeout)
	s.Out.UseBudget(g.cfg.SendBudget)
	if g.cfg.ReportsWritten != nil {
		s.Out.ObserveWrites(g.cfg.ReportsWritten)
	}
	// Registered, the session is sent the account's reports (a drop copy
	// of an account that trades, a trading session of one whose orders
	// fill) before its LogonAck is written: held behind it. Registered
	// before the input sequence is read, so that every report of a later
	// input reaches it.
	s.Out.Hold()
	g.register(s, epoch)
	handover.Unlock()
	log.Info().Stringer("session", LogID(s.ID)).Uint32("account", s.Account).Bool("drop_copy", s.DropCopy).Msg("logon")
	if testHookLogonHeld != nil {
		testHookLogonHeld(s)
	}
	var inputSeq int64
	if g.cfg.InputSeq != nil {
		inputSeq = g.cfg.InputSeq()
	}
	s.Out.Release(enc.LogonAck(proto.Seq(payload), s.ID, uint32(g.cfg.HeartbeatTimeout/time.Millisecond/3), inputSeq))
	close(s.answered) // the operator's from now on: Sessions, CloseSession
	// The rate buckets of an ended session of the account (refilled by
	// the time since), so that logging on again does not start afresh —
	// after a replaced one's reader gave its buckets back (it is closing),
	// or a replacing logon got a fresh second's worth each time. Given
	// back when this session ends.
	if predecessor != nil {
		select {
		case <-predecessor.limiterBack:
		case <-time.After(limiterHandover): // its reader is stuck publishing into a full ring
		}
	}
	spare, cancelOwed := g.accounts[acct.ID].limiters, g.accounts[acct.ID].cancelOwed
	var limiter *rateLimiter
	handover.Lock()
	if k := len(*spare); k > 0 {
		limiter, *spare = (*spare)[k-1], (*spare)[:k-1]
	} else {
		limiter = g.newLimiter(acct, logonAt)
	}
	handover.Unlock()
	s.Out.Watch(g.cfg.HeartbeatInterval, enc.Heartbeat(0))

	defer func() {
		// A Logout: the inputs read before it are published (the
		// deferred publish below ran first), and the session stays
		// registered until their reports are in its outbox, and the
		// answers to its ResendReports among them with their ResendDone,
		// which it then writes before it closes — a client that sends an
		// order, or asks for a resend, and logs out hears the answer.
		// Bounded: an input a deposed leader never commits is answered
		// to no one, and a resend not over by then ends with the
		// connection, its ResendDone unsent.
		if cause == CauseLogout && g.cfg.AwaitAnswers != nil && !g.closing.Load() {
			g.cfg.AwaitAnswers(s.ID, logoutAnswerWait)
		}
		// The gateway stopping (StopTaking), the session stays registered
		// and its outbox open for the reports of the inputs published
		// before: Close ends it after them.
		//
		// Counted once, under the first end of its connection — the one
		// its client is told, which told settles:
		//   - an outbox cut as a slow consumer was cut first, however late
		//     this reader noticed (held publishing, between two reads): an
		//     outbox closes once, and the first end recorded closes it
		//     before it is counted;
		//   - otherwise the first end recorded (endFor): the node's, whose
		//     Closing the outbox was given (an operator's close followed by
		//     DropSessions is operator), or this reader's own
		//     (heartbeat_timeout, rate_limit, a logout …), recorded before
		//     it is counted, so an endSession landing after sends no
		//     Closing;
		//   - a node end whose flag is set and whose endFor has not run, or
		//     that runs none (a registration after DropSessions), by the
		//     flags: not_leader, replaced, then operator (set by the loop
		//     below), recorded here.
		// A shutdown's end is Close's to record: a session not cut and not
		// ended before stays open for the drain, and Close counts it under
		// the end that closes it — its own, or one during the drain (an
		// operator's close, a cut) — so this reader counts only the
		// sessions whose end is settled.
		shutdown := g.closing.Load()
		if _, ended := s.firstEnd(); !ended && cause != CauseSlowConsumer && s.endedByNode(g) {
			switch {
			case s.notLeader.Load():
				cause = CauseNotLeader
			case s.replaced.Load():
				cause = CauseReplaced
			}
		}
		if testHookReaderEnd != nil {
			testHookReaderEnd(s, false)
		}
		if !shutdown {
			s.endFor(cause)
		}
		if testHookReaderEnd != nil {
			testHookReaderEnd(s, true)
		}
		settled := true
		if cause != CauseSlowConsumer { // readFailure found the cut, and logged it
			cause, settled = g.told(s)
		}
		if settled {
			g.counted(s, cause)
		} else {
			g.mu.Lock()
			g.draining = append(g.draining, s)
			g.mu.Unlock()
		}
		handover.Lock()
		*spare = append(*spare, limiter)
		close(s.limiterBack)
		// A replaced session was unregistered by the logon that replaced
		// it (under this lock): not again, and not its account's last.
		last := !s.replaced.Load() && !shutdown && g.unregister(s)
		// Not when the node stopped leading (DropSessions): the client
		// logs on again to the new leader, and a failover keeps orders.
		var owed chan struct{}
		if last && acct.CancelOnDisconnect && !shutdown && !s.notLeader.Load() {
			owed = make(chan struct{})
			*cancelOwed = owed // no logon of the account registers until it is closed
		}
		handover.Unlock()
		if owed != nil {
			// Through the ring like any input: journaled and replayed.
			// Outside the lock: a full ring holds this publish, and the
			// account's logons meanwhile wait cancelOwedWait at most.
			frame := enc.MassCancel(0, 0)
			if err := g.pub.Publish(input.KindControl, 0, s.Account, g.cfg.Now().UnixNano(), frame[proto.PrefixSize:]); err != nil {
				log.Error().Err(err).Uint32("account", s.Account).Msg("cancel-on-disconnect not published")
			}
			handover.Lock()
			*cancelOwed = nil
			handover.Unlock()
			close(owed)
		}
		// Invariant: a session's client learns of its end — its Closing,
		// its LogonReject FrameTooLarge, its connection's close — only
		// from here on, for every end, the reader's own and the node's
		// (its outbox's writer waits for this: EndAfter): its session is
		// unregistered and its account's cancel-on-disconnect published
		// by now. A client that logs on again the moment it reads its end
		// was refused TooManySessions at max_sessions_per_account 1, the
		// ended session still holding the account's slot, and its logon
		// could register first, the ended session then not its account's
		// last, and no MassCancel published. Two ends hold it only in
		// part. A reader held past gateway.read_timeout (a ring that
		// stays full) has its client told all the same (EndAfter's
		// bound, above): its session unregistered — its input's publish
		// gave up at that bound — but its account's MassCancel perhaps
		// still owed, the account's logons refused meanwhile. And a
		// shutdown's session stays registered here, for the drain, until
		// Close unregisters it with the others, while its client may learn
		// of its end before — an operator's close or a cut during the
		// drain is written at once. It need not wait: a shutdown
		// publishes no cancel-on-disconnect, and takes no logon that
		// could find the slot held — the flag this reader read as
		// shutdown is set before the listener closes, an accept that
		// finds it closes the connection, and StopTaking's endReading
		// closes every connection not logged on; a logon read before
		// that is of a session the shutdown ends at once — and a client
		// told its end in the instant between the flag and endReading's
		// close, whose Logon on a connection it had opened before is read
		// then, finding the slot held, is refused as endReading would
		// have refused it (counted shutdown), not TooManySessions.
		close(s.unregistered)
		// Its writer may write on, within its close grace (or, the
		// gateway stopping, until Close ends it): Close waits for it.
		g.writers.Add(1)
		go func() {
			<-s.Out.Done()
			g.writers.Done()
		}()
	}()

	statusLimit := g.accounts[acct.ID].status
	// Reading the clock costs ~100 ns here and moving the read deadline
	// more; both are paid per socket read, not per frame. Frames that
	// arrived in one read share its receive time; the deadline moves when
	// it is older than an eighth of the timeout, so an active session's
	// deadline is always at least 7/8 of the timeout away. A stream that
	// never drains the buffer still refreshes both every 256 frames.
	var now int64
	var deadlineAt time.Time
	// askCut: the read deadline moved since the reader last asked whether
	// the outbox was cut.
	var askCut bool
	// bytesIn is added to the shared counter per read, not per frame:
	// four sessions adding to one atomic per frame bounced its cache
	// line between the cores.
	var bytesIn int64
	// batch holds the trading frames of one read until the reader would
	// wait for the network; they then take the ring together. It is
	// published before the session is torn down (this defer runs before
	// the one above), so inputs a client sent before a logout or a
	// disconnect still come before its cancel-on-disconnect.
	var batch inputBatch
	defer func() {
		g.Counters.BytesIn.Add(bytesIn)
		if err := g.publish(&batch, s, now); err != nil {
			cause = publishFailure(err)
		}
	}()
	for frames := 0; ; frames++ {
		// Fresh: Next will read the network — also when part of the next
		// frame is buffered (a client's write ended mid-frame): it waits
		// for the rest. (Judged by Buffered() == 0, the receive clock and
		// the read deadline stood still there for up to 256 frames: a
		// client within its rate limit was refused, and one sending every
		// quarter second was cut for a heartbeat timeout.)
		network := !fr.FrameBuffered()
		fresh := network || frames&255 == 0
		if fresh || batch.full() {
			// Next may wait for the network, or the receive time moves.
			if err := g.publish(&batch, s, now); err != nil {
				cause = publishFailure(err)
				return
			}
		}
		if fresh {
			g.Counters.BytesIn.Add(bytesIn)
			bytesIn = 0
			if wall := time.Now(); wall.Sub(deadlineAt) > g.cfg.HeartbeatTimeout/8 {
				conn.SetReadDeadline(wall.Add(g.cfg.HeartbeatTimeout))
				deadlineAt = wall
				askCut = true
			}
		}
		// Asked after the deadline above is set: the node's end
		// (endSession) sets its flag, then a read deadline in the past
		// (output.EndReading), which a deadline set after it would undo —
		// and so does a cut that says why (the outbox's close, its error
		// set first), asked only once the deadline moved.
		if network && (s.endedByNode(g) || askCut && s.Out.Err() != nil) {
			// Ended by the node: its connection stays open for the
			// outbox's last frames, and its client's socket may still
			// hold orders — up to a receive window the node would take
			// after it ended the session, left to the outbox's lingering
			// close to drop. What was read before is published, as when
			// the connection was closed under the reader. (Cut, it is
			// counted slow_consumer: told finds the cut.)
			if s.closedByOperator.Load() {
				cause = CauseOperator
			}
			return
		}
		if network {
			askCut = false
		}
		payload, err := fr.Next()
		if err != nil {
			cause = g.readFailure(s, err)
			// A cut (readFailure's slow consumer) came before the
			// operator's close, which would have closed the outbox.
			if cause != CauseSlowConsumer && s.closedByOperator.Load() {
				cause = CauseOperator
			}
			return
		}
		bytesIn += int64(len(payload) + proto.PrefixSize)
		if fresh {
			now = g.cfg.Now().UnixNano()
		}
		verdict := limiter.take(now)
		// Session-level messages stay here; everything else goes to the
		// ring raw, where the unmarshaler validates it: only the envelope
		// is read here, for the type (a message malformed inside is
		// still kept or refused by its type: a heartbeat is dropped, a
		// drop copy's order refused, and an order goes on to be rejected).
		// Over the rate, a heartbeat is still dropped unanswered and a
		// logout still ends the session — over the disconnect rate too,
		// counted logout and told nothing (the market-data port's rule):
		// the client's own end, not a cut it earned.
		typ, terr := proto.Type(payload)
		if terr == nil && typ == wire.MessageLogout {
			cause = CauseLogout
			return
		}
		if verdict == disconnectSession {
			cause = CauseRateLimit
			return
		}
		if terr == nil && typ == wire.MessageHeartbeat {
			continue
		}
		if verdict == rejectMsg {
			g.refuse(s, enc, reasonRateLimited, now, payload)
			continue
		}
		if terr == nil && typ == wire.MessageListInstruments && g.cfg.Instruments != nil {
			// Reference data, a drop copy's too: a read of the config,
			// which the engine does not change — answered here, not
			// journaled, in no order with the reports of the inputs
			// before it. A query, as OrderStatus and ResendReports are:
			// one small message whose answer is the whole list, so it
			// shares their budget (gateway.status_rate).
			if g.cfg.StatusRate > 0 && !statusLimit.take(now) {
				g.refuse(s, enc, reasonRateLimited, now, payload)
				continue
			}
			s.Out.Send(g.cfg.Instruments)
			continue
		}
		if errors.Is(terr, proto.ErrUnknownType) {
			// A type newer than this build (a newer client's; union
			// members are only appended) is refused as the known types
			// that are not order entry are, from a drop copy too. Not
			// journaled: the unmarshaler would reject it malformed, and
			// a later build that knows the type, replaying the journal,
			// would apply it — a state its sender was never told of.
			// Any other frame that does not verify goes on to the ring,
			// rejected there in sequence.
			g.refuse(s, enc, reasonUnknownCommand, now, payload)
			continue
		}
		if s.DropCopy {
			if reason, ok := dropCopyMay(payload); !ok {
				g.refuse(s, enc, reason, now, payload)
				continue
			}
		}
		if terr == nil && !OrderEntry(typ) {
			// Only order entry is journaled: a second Logon would put its
			// secret on disk in clear (and on every replica), a Subscribe
			// is a no-op for the engine, left unanswered, and the rest
			// (a control input, an exchange-to-client message) the engine
			// would only reject.
			g.refuse(s, enc, reasonUnknownCommand, now, payload)
			continue
		}
		if terr == nil && (typ == wire.MessageOrderStatus || typ == wire.MessageResendReports) {
			// Queries: one small message, much work.
			if g.cfg.StatusRate > 0 && !statusLimit.take(now) {
				g.refuse(s, enc, reasonRateLimited, now, payload)
				continue
			}
		}
		if len(payload) > input.RawCapacity {
			// Larger than any order-entry message: cannot be one.
			g.refuse(s, enc, reasonMalformed, now, payload)
			continue
		}
		batch.add(payload)
	}
}

// logoutAnswerWait bounds how long a session that logged out waits for
// the reports of its last inputs and its resends' answers
// (Config.AwaitAnswers): the outbox's
// close grace, which bounds the writes after it too.
const logoutAnswerWait = time.Second

// OrderEntry reports whether a client's message of type typ is one the
// engine acts on: the only ones that go to the input ring (a frame that
// fails verification goes too, for the unmarshaler to reject in sequence —
// but for one of a type newer than this build, which the gateway refuses
// unknown-command: a later build would decode it from the journal).
// The market-data port ends a connection that sends one: the sender
// meant the order-entry port.
func OrderEntry(typ wire.Message) bool {
	switch typ {
	case wire.MessageNewOrder, wire.MessageCancel, wire.MessageReplace, wire.MessageMassCancel,
		wire.MessageOrderStatus, wire.MessageResendReports:
		return true
	}
	return false
}

// dropCopyMay reports whether a drop copy's frame may go to the ring:
// only a query (OrderStatus, ResendReports) that decodes as one. A drop
// copy watches its account; it does not trade for it. And anything else
// it sent the engine would refuse to it alone, in a Rejected that is no
// query's answer, and so a report of the account that every later resend
// gave the trading sessions, which never had it live. Refused here, it is
// never journaled: for drop-copy-session, or malformed-frame when it
// does not decode (a type newer than this build is refused before,
// unknown-command). Drop copies send few messages: decoding each twice
// (here, then the unmarshaler) costs nothing that matters.
func dropCopyMay(payload []byte) (reason uint8, ok bool) {
	var slot input.Slot
	if !slot.SetPayload(payload) {
		return reasonMalformed, false
	}
	unmarshal.Decode(-1, &slot)
	switch c := &slot.Cmd; {
	case c.Type == engine.CmdOrderStatus || c.Type == engine.CmdResend:
		return 0, true
	case c.Type == engine.CmdInvalid && c.Reason == engine.ReasonMalformedFrame:
		return reasonMalformed, false
	default:
		return reasonDropCopy, false
	}
}

// inputBatch holds a session's trading frames from one socket read. They
// go into the input ring with one claim and one publish instead of one of
// each per frame: the claim counter and the availability entries are the
// cache lines a multi-producer ring's producers contend for.
type inputBatch struct {
	buf      []byte // the frames' payloads, back to back
	ends     []int  // where each payload ends in buf
	payloads [][]byte
}

// maxBatchFrames bounds a batch (a claim must fit the ring).
const maxBatchFrames = 64

func (b *inputBatch) add(payload []byte) {
	b.buf = append(b.buf, payload...)
	b.ends = append(b.ends, len(b.buf))
}

func (b *inputBatch) full() bool { return len(b.ends) >= maxBatchFrames }

// publish puts the batch into the ring, received at now, waiting for
// room at most wait, and empties it. It returns how many of its frames
// it left unpublished (all of them, but in a ring smaller than the batch:
// Publisher.PublishBatch) with the publisher's error.
func (b *inputBatch) publish(pub Publisher, s *Session, now int64, wait time.Duration) (unpublished int, err error) {
	if len(b.ends) == 0 {
		return 0, nil
	}
	b.payloads = b.payloads[:0]
	start := 0
	for _, end := range b.ends {
		b.payloads = append(b.payloads, b.buf[start:end])
		start = end
	}
	b.buf, b.ends = b.buf[:0], b.ends[:0]
	n, err := pub.PublishBatch(input.KindClient, s.ID, s.Account, now, b.payloads, wait)
	return len(b.payloads) - n, err
}

// publish publishes s's batch, received at now, its claim waiting for
// room at most gateway.read_timeout: a reader held longer on a ring that
// stays full (the engine stalled) gives up, before it claims, and its
// session ends (input_stalled) — unregistered, its account's slot
// (max_sessions_per_account) given back and its cancel-on-disconnect
// owed, its client told — rather than hold all that for as long as the
// ring stays full, its client told at EndAfter's bound, its session
// still registered. The frames it could not publish are not entered,
// each whole or not at all: logged, and its client, told the session
// ended, learns of its orders' fate with OrderStatus.
func (g *Gateway) publish(b *inputBatch, s *Session, now int64) error {
	unpublished, err := b.publish(g.pub, s, now, g.cfg.HeartbeatTimeout)
	if errors.Is(err, ErrInputStalled) {
		g.cfg.Logger.Warn().Stringer("session", LogID(s.ID)).Uint32("account", s.Account).Int("frames_not_entered", unpublished).
			Dur("read_timeout", g.cfg.HeartbeatTimeout).Msg("session ended: the input ring stayed full for gateway.read_timeout (the engine takes no input); the frames read last were not entered")
	}
	return err
}

// publishFailure is the cause a session ends for when its frames could
// not be published: input_stalled for a ring that stayed full past the
// wait, else shutdown (the node stopping, or no longer leading).
func publishFailure(err error) Cause {
	if errors.Is(err, ErrInputStalled) {
		return CauseInputStalled
	}
	return CauseShutdown
}

// awaitCancel waits, handover held (it is held again when it returns),
// until the account's cancel-on-disconnect is no longer owed (owed, set
// and cleared under handover), cancelOwedWait at most, and reports
// whether it is not. The common case, none owed, arms no timer.
func awaitCancel(handover *sync.Mutex, owed *chan struct{}) bool {
	if *owed == nil {
		return true
	}
	timer := time.NewTimer(cancelOwedWait)
	defer timer.Stop()
	for *owed != nil {
		published := *owed
		handover.Unlock()
		select {
		case <-published:
			handover.Lock()
		case <-timer.C:
			handover.Lock()
			return *owed == nil
		}
	}
	return true
}

// cancelOwedWait bounds how long a logon waits for its account's
// cancel-on-disconnect, owed since the account's last session ended, to
// be published (awaitCancel): a publish that finds room takes
// microseconds, so only a full ring holds it; a client is answered
// within the second, as the limiter handover's wait, rather than held
// unanswered until the ring has room.
const cancelOwedWait = time.Second

// cutSlow reports whether s's outbox was cut as a slow consumer, and
// logs the cut when it was.
func (g *Gateway) cutSlow(s *Session) bool {
	switch err := s.Out.Err(); {
	case errors.Is(err, output.ErrOverflow):
		g.cfg.Logger.Warn().Stringer("session", LogID(s.ID)).Msg("slow consumer disconnected")
	case errors.Is(err, output.ErrStalled):
		g.cfg.Logger.Warn().Stringer("session", LogID(s.ID)).Msg("slow consumer disconnected: it stopped reading")
	case errors.Is(err, output.ErrOverBudget):
		g.cfg.Logger.Warn().Stringer("session", LogID(s.ID)).Msg("slow consumer disconnected: node.send_budget_bytes is spent and it held more than the budget's floor unsent")
	default:
		return false
	}
	return true
}

// testHookLogonHeld, when set by a test, runs in a logon's reader
// between registering its session and queuing its LogonAck (Release).
var testHookLogonHeld func(s *Session)

// testHookReaderEnd, when set by a test, runs twice in a session's
// reader at its end: between choosing the cause and recording it
// (endFor; recorded false), and between recording it and closing the
// outbox saying the first end (told; recorded true).
var testHookReaderEnd func(s *Session, recorded bool)

// told closes s's outbox saying the first end recorded (endFor), if
// any, and returns the cause its client is told: slow_consumer when the
// outbox was cut before (logged), else that first end. The outbox's
// writer writes the Closing and closes the connection, lingering, only
// once the reader has counted the end and unregistered s
// (Session.unregistered): told, counted, unregistered, then its client
// learns of the end. settled is false
// when s was neither cut nor ended — a session the shutdown leaves open
// for the drain — and Close counts it. The outbox closes once: whoever
// closes it first, the end recorded first or this, says the same
// Closing, and once it is closed its cut, or none, is final.
func (g *Gateway) told(s *Session) (cause Cause, settled bool) {
	first, ended := s.firstEnd()
	if ended {
		s.Out.CloseSaying(g.closingOf(s, first))
	}
	if g.cutSlow(s) {
		return CauseSlowConsumer, true
	}
	return first, ended
}

// counted counts s's disconnect under cause, the end its client is
// told, and logs it.
func (g *Gateway) counted(s *Session, cause Cause) {
	g.Counters.Disconnects[cause].Add(1)
	g.cfg.Logger.Info().Str("remote", s.From).Stringer("session", LogID(s.ID)).Str("cause", cause.String()).Msg("session closed")
}

// readFailure answers a failed read and names the cause.
func (g *Gateway) readFailure(s *Session, err error) Cause {
	switch {
	case g.cutSlow(s):
		return CauseSlowConsumer
	case errors.Is(err, proto.ErrFrameTooLarge), errors.Is(err, proto.ErrEmptyFrame):
		// Its LogonReject goes with its Closing (closingOf), after its
		// session is unregistered: it tells the client its session ended.
		s.emptyFrame.Store(errors.Is(err, proto.ErrEmptyFrame))
		return CauseFrameTooLarge
	case errors.Is(err, proto.ErrTruncated):
		return CauseMalformed
	case isTimeout(err):
		return CauseHeartbeatTimeout
	case errors.Is(err, io.EOF):
		return CauseEOF
	}
	return CauseEOF
}

// handshakeFailed reports whether err, the first read of conn, ended in
// its TLS handshake: a client that does not speak TLS, shares no
// version or cipher with the port, refused its certificate, or closed
// the connection before the handshake ended. One silent past the deadline is not
// counted here: it is idle (CauseIdle), as a silent plain-TCP one is.
func handshakeFailed(conn net.Conn, err error) bool {
	tc, ok := conn.(*tls.Conn)
	return ok && !isTimeout(err) && !tc.ConnectionState().HandshakeComplete
}

func logonFailure(err error) wire.LogonRejectReason {
	if errors.Is(err, proto.ErrFrameTooLarge) || errors.Is(err, proto.ErrEmptyFrame) {
		return wire.LogonRejectReasonFrameTooLarge
	}
	return wire.LogonRejectReasonNotLoggedOn
}

// redirect answers a Logon on a standby node with the leader's address,
// or NotLeader when no leader is known, and closes the connection —
// counted standby: a client trying a cluster's addresses reaches one as
// a matter of course, and its secret was never checked.
func (g *Gateway) redirect(conn net.Conn, enc *proto.Encoder, leader string) {
	if leader == "" {
		g.reject(conn, enc, wire.LogonRejectReasonNotLeader, CauseStandby)
		return
	}
	g.Counters.Disconnects[CauseStandby].Add(1)
	g.answerLast(conn, enc.Redirect(0, leader))
}

// reject answers a connection that never logged on and closes it
// (answerLast).
func (g *Gateway) reject(conn net.Conn, enc *proto.Encoder, why wire.LogonRejectReason, cause Cause) {
	g.Counters.Disconnects[cause].Add(1)
	g.answerLast(conn, enc.LogonReject(0, why))
}

// answerLast writes frame, the answer to a connection that never logged
// on, within a second, and closes the connection lingering for at most
// RefusedLinger (output.CloseLingering): a client that sent orders after
// its Logon without waiting for the answer has them unread in the
// node's socket, and closed with them the socket answered them with a
// reset — the client read "connection reset by peer" after the answer
// (every time, on loopback), and lost the answer itself wherever the
// reset overtook it (its segment lost and never sent again, the socket
// gone). The caller is the connection's reader, so nothing else reads
// it; the linger holds the connection's slot (MaxConnections,
// MaxConnectionsPerAddress), which its reader gives back only after it:
// refused logons, however many, hold no goroutine or descriptor past
// those limits, each at most RefusedLinger longer than before.
//
// The second bounds reads too, as a Refuser's are: on a TLS port a
// connection evicted before its first read has not begun its handshake,
// and the answer's write runs it, reading the client's hello (under the
// logon deadline, read_timeout, it held an evicted slot that long for a
// client that sent none).
func (g *Gateway) answerLast(conn net.Conn, frame []byte) {
	conn.SetDeadline(time.Now().Add(time.Second))
	n, _ := conn.Write(frame)
	g.Counters.BytesOut.Add(int64(n))
	output.CloseLingering(conn, time.Now().Add(RefusedLinger))
}

// RefusedLinger bounds the lingering close of a refused connection
// (answerLast). It ends before that at the client's end of its side, or
// once it is quiet with the answer taken (output's lingerQuiet, 50 ms):
// only a client that keeps sending past its answer holds it to the
// bound. Short, because a connection that never logged on is owed
// nothing but its answer, and a slot it holds meanwhile cannot be taken
// for a new connection (it is off the Waitlist): a quarter of the
// answer's own write bound. The market-data port's refusals linger as
// long (node's mdRefusedLinger is this constant): one bound for both
// ports' refused connections.
const RefusedLinger = 250 * time.Millisecond

// refuse answers a message the gateway refuses itself (it never reaches
// the ring, so it has no input sequence: -1) with the reject the engine
// would send: the message is decoded as the unmarshaler decodes it, so
// the report names the order's ids, instrument, side, price and quantity
// (a ResendReports its tag). Only refusals pay for the full decoding; the
// frames that pass are classified by their envelope alone.
func (g *Gateway) refuse(s *Session, enc *proto.Encoder, reason uint8, now int64, payload []byte) {
	g.Counters.Rejected[reason].Add(1)
	t, seq, r := refusal(s, reason, now, payload)
	if t == engine.CmdNoop { // a session-level message: counted with the invalid ones (ringex_orders_total)
		t = engine.CmdInvalid
	}
	if int(t) < len(g.Counters.Refused) {
		g.Counters.Refused[t].Add(1)
	}
	s.Out.Send(enc.ExecutionReport(seq, &r))
}

// refusal is refuse's answer to payload, a client's frame of any bytes:
// the command it decodes to, the seq the report goes under, and the
// report.
func refusal(s *Session, reason uint8, now int64, payload []byte) (engine.CommandType, uint64, proto.Report) {
	var slot input.Slot
	slot.RecvTime, slot.Session, slot.Account, slot.Kind = now, s.ID, s.Account, input.KindClient
	slot.SetPayload(payload) // one too large stays empty: decoded as malformed, naming nothing
	unmarshal.Decode(-1, &slot)
	var ev engine.Event
	var r proto.Report
	engine.RejectOf(&slot.Cmd, engine.RejectReason(reason), &ev)
	proto.ReportOf(&ev, &r)
	var seq uint64 // a refused ResendReports is answered under its seq, as every answer to one is
	if slot.Cmd.Type == engine.CmdResend {
		seq = proto.Seq(payload)
	}
	return slot.Cmd.Type, seq, r
}
