package node

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"time"

	"github.com/ringex/ringex/gateway"
	"github.com/ringex/ringex/internal/ratelimit"
	"github.com/ringex/ringex/output"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// The levels of mdHub.waiting: a connection over marketdata.max_connections
// evicts the oldest of the lowest level listing any.
const (
	mdAwaitingLogon = iota // marketdata.require_logon, and no Logon taken yet
	mdNotSubscribed        // following no instrument
	mdWaitLevels
)

// serve accepts market-data connections, up to marketdata.max_connections
// at once and marketdata.max_connections_per_address from one address. A
// connection beyond the address's bound is told why — the gateway's
// LogonReject{TooManyConnections} — and closed. One beyond
// max_connections takes the slot of the oldest connection not logged on
// yet (marketdata.require_logon), else of the oldest subscribed to
// nothing, which is told the same and closed (evict); with every
// connection following an instrument, it is refused. The subscribers
// being served see nothing of it.
func (h *mdHub) serve(ln net.Listener) {
	for {
		conn, err := gateway.Accept(ln, h.n.log, "marketdata")
		if err != nil {
			return // closed
		}
		switch verdict, from, w := h.track(conn); verdict {
		case trackServe:
			go h.serveConn(conn, from, w)
		case trackFull:
			h.closed[mdMaxConnections].Add(1)
			h.refuser.Refuse(conn)
		case trackAddressFull:
			h.closed[mdMaxPerAddress].Add(1)
			h.refuser.Refuse(conn)
		case trackStopping:
			h.closed[mdShutdown].Add(1)
			output.CloseNow(conn) // not yet handshaken: nothing owed
		}
	}
}

type trackVerdict uint8

const (
	trackServe       trackVerdict = iota
	trackFull                     // marketdata.max_connections are being served, all subscribed
	trackAddressFull              // marketdata.max_connections_per_address from its address
	trackStopping                 // shutdown ran
)

// track lists conn as served — making room by evicting a connection that
// has not made its slot its own, if need be — and counts its goroutine in
// the node's wait group, unless the port is full or shutdown has run.
// Both happen under liveMu, so every wg.Add precedes shutdown's return
// and the node's wg.Wait. The address's bound is checked first: a
// connection it refuses must not evict another address's.
func (h *mdHub) track(conn net.Conn) (trackVerdict, netip.Addr, *gateway.Waiter) {
	h.liveMu.Lock()
	defer h.liveMu.Unlock()
	if h.shut {
		return trackStopping, netip.Addr{}, nil
	}
	from, ok := h.perAddr.Open(conn)
	if !ok {
		return trackAddressFull, from, nil
	}
	if len(h.live) >= h.n.cfg.MarketData.MaxConnections && !h.waiting.Evict() {
		h.perAddr.Close(from)
		return trackFull, from, nil
	}
	h.live[conn] = from
	level := mdNotSubscribed
	if h.n.cfg.MarketData.RequireLogon {
		level = mdAwaitingLogon
	}
	w := h.waiting.Add(conn, level)
	h.n.wg.Add(1)
	return trackServe, from, w
}

// stopped reports whether shutdown has run: a connection's read or
// handshake that ends from now on was ended by it, and is counted so.
func (h *mdHub) stopped() bool {
	h.liveMu.Lock()
	defer h.liveMu.Unlock()
	return h.shut
}

// served is the number of connections being served.
func (h *mdHub) served() int {
	h.liveMu.Lock()
	defer h.liveMu.Unlock()
	return len(h.live)
}

// shutdown ends every connection, so their goroutines exit (they would
// otherwise wait for the subscriber to hang up), and makes serve close
// any connection it accepts from now on. A connection served is sent
// what its outbox holds — Stop drained the market-data ring first: every
// update of the inputs the engine applied — then Closing{shutdown} (or,
// one that ended before, itself or as not-current, the Closing of that
// end, its first: subscriber.endFor), its reader ended at once;
// shutdown returns those outboxes, whose writers end within the
// outbox's close grace (1 s, counted from here): the caller waits for
// them. One still in its TLS handshake is closed at once: nothing is
// owed to it.
func (h *mdHub) shutdown() (ending []*output.Outbox) {
	h.mu.Lock()
	h.closing = true
	if h.idleTimer != nil {
		h.idleTimer.Stop()
	}
	h.mu.Unlock()
	h.liveMu.Lock()
	defer h.liveMu.Unlock()
	h.shut = true
	// No wait here, under liveMu: a TLS Close would send close_notify
	// with a 5 s write deadline to each subscriber that stopped reading,
	// one after another — a shutdown waiting 5 s per stalled one. Each
	// outbox's writer closes its own connection, all at once, a
	// close_notify sent only to a subscriber that takes it within the
	// close grace (output.CloseBy); one with no outbox closes without.
	for conn := range h.live {
		sub := h.listed[conn]
		if sub == nil {
			output.CloseNow(conn)
			continue
		}
		// One that ended before (its own end, not-current) is closed
		// saying that end, its first: once, whoever closes it.
		sub.endFor(mdShutdown)
		h.closeSayingFirst(sub)
		output.EndReading(conn)
		ending = append(ending, sub.out)
	}
	return ending
}

// mdConn is a connection's state its reader keeps (serveConn); only that
// goroutine touches it.
type mdConn struct {
	conn net.Conn
	from netip.Addr
	sub  *subscriber
	// w is the connection in mdHub.waiting: listed there while it
	// follows no instrument (relistIfIdle, refuseTooDeep), settled while
	// it follows one.
	w *gateway.Waiter
	// loggedOn: a Logon was taken, naming account; counted: the
	// connection counts against the account's
	// marketdata.max_connections_per_account.
	loggedOn, counted bool
	account           uint32
}

func (h *mdHub) serveConn(conn net.Conn, from netip.Addr, w *gateway.Waiter) {
	defer h.n.wg.Done()
	c := &mdConn{conn: conn, from: from, w: w}
	defer func() {
		h.liveMu.Lock()
		h.perAddr.Close(h.live[conn])
		delete(h.live, conn)
		delete(h.listed, conn)
		if c.counted {
			if h.perAccount[c.account]--; h.perAccount[c.account] <= 0 {
				delete(h.perAccount, c.account)
			}
		}
		h.liveMu.Unlock()
	}()
	if tc, ok := conn.(*tls.Conn); ok && !h.handshake(tc, w) {
		return
	}
	sub := &subscriber{out: output.NewOutbox(conn, h.n.cfg.MarketData.SendBufferBytes, h.n.cfg.Gateway.ReadTimeout, nil), w: w}
	c.sub = sub
	// Listed for shutdown — which, had it run already, closed conn,
	// untold: its end, the outbox's writer ending at its first write.
	h.liveMu.Lock()
	if h.shut {
		sub.endFor(mdShutdown)
	}
	h.listed[conn] = sub
	h.liveMu.Unlock()
	sub.out.CountWrites(&h.n.stats.mdBytesOut.Int64) // written, not queued: a slow subscriber's cut drops what it was queued
	sub.out.UseBudget(h.n.sendBudget)
	sub.out.SayWhenCut(&h.cuts)
	// A Heartbeat on a connection sent nothing for heartbeat_interval, as
	// the gateway does: a quiet market is told from a dead or frozen feed.
	sub.out.Watch(h.n.cfg.Gateway.HeartbeatInterval, h.heartbeat)
	defer func() {
		// Closed already: by the end counted (told), a cut, or the
		// reader's Close of a connection its subscriber hung up.
		sub.out.Close()
		h.unsubscribe(sub, 0, true)
		evicted := h.waiting.Settle(w)
		// The slot is given back (the deferred release above) only once
		// the outbox's writer has closed the connection: within its close
		// grace (1 s; a refusal's within mdRefusedLinger, a cut's within
		// cutLinger), lingering so that a client still sending — a
		// refused Logon's pipelined after it — reads its answer and the
		// end, not a reset. Given back before,
		// each end held a descriptor past marketdata.max_connections and
		// max_connections_per_address while it lingered. Off the
		// Waitlist meanwhile, as the gateway's refusals are: a newcomer
		// cannot evict it, so the port holds at most its limits, plus
		// the evicted on their way out (their Gone after the close).
		<-sub.out.Done()
		if evicted {
			h.waiting.Gone()
		}
	}()
	fr := newMDFrameReader(conn, h.maxFrame)
	// A connection may subscribe to every listed instrument at once, as a
	// client that follows the whole market does on connecting: the burst
	// is the larger of a second's messages and the instruments. (At a
	// second's messages, 100 by default, a subscriber of an exchange
	// listing 150 instruments was cut off while it subscribed.)
	rate := float64(h.n.cfg.MarketData.MessageRate)
	limit := ratelimit.NewBurst(rate, max(rate, float64(len(h.n.cfg.Instruments))), time.Now().UnixNano())
	for {
		conn.SetReadDeadline(time.Now().Add(h.n.cfg.Gateway.ReadTimeout))
		// Evicted before the deadline above was set, the connection had
		// its wake-up (Waitlist.Evict's read deadline) overwritten.
		if h.waiting.Evicted(w) {
			h.evicted(c)
			return
		}
		// So had one the node ended (shutdown: output.EndReading's read
		// deadline, set after the end is recorded), and one cut that says
		// why (the outbox's close: its error set, then a read deadline in
		// the past, as EndReading's). Asked at every message, since the
		// deadline moves at every message: a reader that asked at its
		// read's failure only read on until the close, up to cutLinger
		// later, what a client still sending sent after its cut.
		if _, ended := sub.firstEnd(); ended || sub.out.Err() != nil {
			if h.endFoundHook != nil {
				h.endFoundHook()
			}
			if h.told(c) {
				return
			}
		}
		payload, err := fr.Next()
		if err != nil {
			if h.endFoundHook != nil {
				h.endFoundHook()
			}
			if h.waiting.Evicted(w) {
				h.evicted(c)
				return
			}
			// Cut as a slow subscriber, or ended by the node (shutdown,
			// not-current), it is counted under the end it is told, not
			// the subscriber's doing, whatever the read says.
			if h.told(c) {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				if h.subscribed(sub) {
					continue // subscribers need not heartbeat; the outbox catches dead peers
				}
				if fr.MidFrame() && !c.loggedOn && h.n.cfg.MarketData.RequireLogon {
					// Part of its Logon and not the rest: stalled mid-logon
					// (counted idle until 2026-12-07). Not logged on, it is
					// told no more than a refused logon is.
					h.ended(c, mdLogonTimeout)
					return
				}
				// Silent and subscribed to nothing for gateway.read_timeout:
				// it would only hold one of marketdata.max_connections.
				h.ended(c, mdIdle)
				return
			}
			if errors.Is(err, proto.ErrFrameTooLarge) {
				h.ended(c, mdTooLarge)
				return
			}
			if errors.Is(err, proto.ErrEmptyFrame) {
				h.ended(c, mdEmptyFrame)
				return
			}
			// It hung up (or its connection broke): its own end, which
			// the port counts under no cause. A cut that closes the
			// outbox before this Close does is the end it was told, and
			// is counted so — the plain Close below finds the outbox
			// closed already; left to the deferred Close, such a cut
			// was counted under nothing and not logged.
			if h.hungUpHook != nil {
				h.hungUpHook()
			}
			sub.out.Close()
			h.cutSlow(c)
			return
		}
		// A Logout ends the connection wherever it comes — over the
		// message rate, before a required Logon — as on the order-entry
		// port: the subscriber's own end, sent what was queued for it,
		// then closed, told nothing, counted logout. Skipped, it left a
		// subscriber that waits for the close waiting for ever, or until
		// gateway.read_timeout when it followed nothing; taken after the
		// rate or the logon check, its close was counted rate-limit or
		// not-logged-on and told so, a cut it had not earned.
		if typ, err := proto.Type(payload); err == nil && typ == wire.MessageLogout {
			h.ended(c, mdLogout)
			return
		}
		if h.n.cfg.MarketData.MessageRate > 0 && !limit.Take(time.Now().UnixNano()) {
			h.ended(c, mdRateLimit)
			return
		}
		// A message of a type newer than this build (a newer client's:
		// the wire's unions are only appended to) is skipped, as the
		// switch below skips the types the port does not take; a frame
		// that does not verify otherwise is malformed.
		typ, pos, err := proto.Verify(payload)
		if err != nil && !errors.Is(err, proto.ErrUnknownType) {
			h.ended(c, mdNotAMessage)
			return
		}
		if !c.loggedOn && typ != wire.MessageLogon && h.n.cfg.MarketData.RequireLogon {
			// Not ignored: a subscriber that does not know the port
			// wants a logon would wait for a snapshot that never comes.
			sub.out.Send(h.logonRejects[wire.LogonRejectReasonNotLoggedOn])
			h.ended(c, mdNotLoggedOn)
			return
		}
		switch typ {
		case wire.MessageLogon:
			if c.loggedOn {
				continue // one Logon a connection; the first stands
			}
			if !h.logon(c, payload, pos) {
				return
			}
			if h.n.cfg.MarketData.RequireLogon && h.waiting.Relist(w, mdNotSubscribed) {
				h.evicted(c)
				return
			}
		case wire.MessageSubscribe:
			// Out of the list before it follows anything: evicted
			// meanwhile, it is not served (its slot was given away).
			if h.waiting.Settle(w) {
				h.evicted(c)
				return
			}
			instrument, parts := proto.SubscribeAt(payload, pos)
			h.subscribe(sub, instrument, parts)
			h.relistIfIdle(c) // refused: it follows nothing still
		case wire.MessageUnsubscribe:
			h.unsubscribe(sub, proto.InstrumentAt(payload, pos), false)
			h.relistIfIdle(c)
		case wire.MessageListInstruments:
			// Reference data, as order entry answers it: it follows
			// nothing by it, so an idle connection stays listed.
			sub.out.Send(h.instruments)
		default:
			if gateway.OrderEntry(typ) {
				// A program pointed at the wrong port: skipped, its orders
				// would go unanswered and it would wait for ever. Told
				// malformed — the wire has no cause of its own for it, and
				// the Closing's text names the order-entry port — and
				// logged once: the connection ends.
				h.n.log.Info().Str("remote", c.conn.RemoteAddr().String()).Stringer("type", typ).
					Msg("market data: an order-entry message on the market-data port: connection closed")
				h.ended(c, mdOrderEntry)
				return
			}
		}
	}
}

// relistIfIdle lists c in waiting again when it follows no instrument:
// a connection that unsubscribed from everything (or whose Subscribes
// were refused) holds its slot as one that never subscribed does. One
// whose last subscription is refused later, at the image's end or by
// the pacer, is listed again by refuseTooDeep.
func (h *mdHub) relistIfIdle(c *mdConn) {
	if h.subscribed(c.sub) {
		return
	}
	h.waiting.Relist(c.w, mdNotSubscribed) // evicted meanwhile, the next look (Evicted) finds it
}

// evicted answers a connection evicted to make room for another (the
// reject a full port sends), closes its outbox and counts it (ended);
// its reader then returns.
func (h *mdHub) evicted(c *mdConn) {
	c.sub.out.Send(h.logonRejects[wire.LogonRejectReasonTooManyConnections])
	h.ended(c, mdEvicted)
}

// ended records cause as the end of c's connection, an end its reader
// found (idle, malformed, a refused logon, an eviction, a logout …), then closes
// its outbox and counts the close (told): under cause, unless an end of
// the node's (shutdown, not-current) was recorded first or the outbox
// was cut before it closed.
func (h *mdHub) ended(c *mdConn, cause int) {
	if h.endedHook != nil {
		h.endedHook()
	}
	c.sub.endFor(cause)
	if h.endRecordedHook != nil {
		h.endRecordedHook()
	}
	h.told(c)
}

// told closes c's outbox saying the first end recorded (endFor), if
// any, then counts the close, once, under the end its subscriber is
// told: slow-consumer, logged (cutSlow), when the outbox was cut before
// it closed — the cut dropped what was queued and said slow_consumer if
// anything — else that first end. It reports false, counting nothing,
// when c was neither cut nor ended: its subscriber's doing, or a read
// of its own to name. An outbox closes once, so once closed its cut, or
// none, is final; whoever closes it first — the end recorded first, or
// this — says the same Closing.
func (h *mdHub) told(c *mdConn) bool {
	first, ended := c.sub.firstEnd()
	if ended {
		h.closeSayingFirst(c.sub)
	}
	switch {
	case h.cutSlow(c):
		return true
	case ended:
		h.closed[mdCounted(first)].Add(1)
	}
	return ended
}

// cutSlow reports whether c's outbox was cut as a slow consumer, and
// then counts and logs the cut.
func (h *mdHub) cutSlow(c *mdConn) bool {
	err := c.sub.out.Err()
	if !errors.Is(err, output.ErrOverflow) && !errors.Is(err, output.ErrStalled) && !errors.Is(err, output.ErrOverBudget) {
		return false
	}
	h.closed[mdSlowConsumer].Add(1)
	h.n.log.Warn().Str("remote", c.conn.RemoteAddr().String()).Err(err).Msg("market data: slow subscriber disconnected")
	return true
}

// logon takes c's Logon. With marketdata.require_logon: the account and
// secret checked by the order-entry gateway (CheckLogon: the same
// accounts, the same failed-logon guard), then the account's
// marketdata.max_connections_per_account; without it, none of these. It answers LogonAck and reports
// true, or a LogonReject, counted, and false: the connection is closed.
func (h *mdHub) logon(c *mdConn, payload []byte, pos uint32) bool {
	ack := proto.NewEncoder().LogonAck(proto.Seq(payload), 0, uint32(h.n.cfg.Gateway.HeartbeatInterval/time.Millisecond), 0)
	md := h.n.cfg.MarketData
	if !md.RequireLogon {
		// Not required: answered, never checked. The port is open to
		// all; a check here would tell anyone whether a secret is right
		// on every member's market-data port — each with an allowance of
		// failed logons of its own, where order entry checks on the
		// leader only.
		c.loggedOn = true
		c.sub.out.Send(ack)
		return true
	}
	account, secret := proto.LogonAt(payload, pos)
	log := h.n.log.With().Str("remote", c.conn.RemoteAddr().String()).Uint32("account", account).Logger()
	switch reason, why := h.n.gw.CheckLogon(c.from, account, secret); reason {
	case wire.LogonRejectReasonNone:
	case wire.LogonRejectReasonTooManyFailedLogons:
		// Debug: an address guessing secrets would flood the log; the
		// logon-throttled closes count it.
		log.Debug().Str("reason", why).Msg("market data: logon refused")
		c.sub.out.Send(h.logonRejects[reason])
		h.ended(c, mdLogonThrottled)
		return false
	default:
		log.Info().Str("reason", why).Msg("market data: logon rejected")
		c.sub.out.Send(h.logonRejects[reason])
		h.ended(c, mdLogonFailed)
		return false
	}
	if md.MaxConnectionsPerAccount > 0 {
		h.liveMu.Lock()
		full := h.perAccount[account] >= md.MaxConnectionsPerAccount
		if !full {
			h.perAccount[account]++
		}
		h.liveMu.Unlock()
		if full {
			log.Info().Int("max", md.MaxConnectionsPerAccount).Msg("market data: logon refused: the account has marketdata.max_connections_per_account logged on")
			c.sub.out.Send(h.logonRejects[wire.LogonRejectReasonTooManySessions])
			h.ended(c, mdMaxPerAccount)
			return false
		}
		c.counted = true
	}
	c.loggedOn, c.account = true, account
	// Session 0: the port has no sessions; input_seq 0: it takes no inputs.
	c.sub.out.Send(ack)
	return true
}

// handshake runs a TLS connection's handshake (marketdata.tls) before
// anything is sent on it, within gateway.read_timeout — writes too: a
// client that never reads would otherwise hold the server's flight
// unsent, and its slot with it, for ever (the gateway bounds its
// handshake, run by the Logon's read, the same way). It reports whether
// the connection is to be served; if not it is closed, counted: idle
// (the deadline passed), tls-handshake (not a TLS client: plain TCP,
// no version or cipher in common, the certificate refused, the
// connection closed), or evicted — the close is all an
// evicted connection is told before its handshake, as on the gateway.
func (h *mdHub) handshake(tc *tls.Conn, w *gateway.Waiter) bool {
	tc.SetDeadline(time.Now().Add(h.n.cfg.Gateway.ReadTimeout))
	// Evicted before the deadline above was set, the connection had its
	// wake-up (Waitlist.Evict's read deadline) overwritten: asked here.
	// Evicted once the handshake is done, it is served: the read loop
	// finds it evicted and tells it why.
	evicted := h.waiting.Evicted(w)
	var err error
	if !evicted {
		err = tc.Handshake()
	}
	if err == nil && !evicted {
		// The outbox writes without a deadline (it times stalls
		// itself); the read loop sets its own.
		tc.SetWriteDeadline(time.Time{})
		return true
	}
	output.CloseNow(tc)
	// Out of the list either way: a closed connection left there would
	// be evicted again, for nothing.
	switch ne, isNet := errors.AsType[net.Error](err); {
	case h.waiting.Settle(w):
		h.closed[mdEvicted].Add(1)
		h.waiting.Gone()
	case h.stopped(): // closed by shutdown, not a failed handshake
		h.closed[mdShutdown].Add(1)
	case isNet && ne.Timeout():
		h.closed[mdIdle].Add(1)
	default:
		h.closed[mdTLSHandshake].Add(1)
	}
	return false
}

// newMDFrameReader reads a market-data connection's frames, of at most
// maxFrame bytes (mdFrameLimit), through a read buffer of one such frame
// and its prefix: a subscriber sends few, small frames, and the 64 KiB
// an order-entry session reads through were 64 MiB at 1024 idle
// subscribers (BenchmarkMDFrameReader).
func newMDFrameReader(conn io.Reader, maxFrame int) *proto.FrameReader {
	return proto.NewFrameReaderSize(conn, maxFrame, proto.PrefixSize+maxFrame)
}
