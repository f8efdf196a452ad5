package node

import (
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/gateway"
	"github.com/ringex/ringex/output"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// mdHub is the market-data port: its subscribers, the fan-out consumer it
// deploys on the market-data ring while anyone subscribes, and the books
// it rebuilds from the engine's level events.
type mdHub struct {
	n *Node

	closed [mdCauses]atomic.Int64 // connections the port closed, by cause
	// closings and cuts are the port's Closing frames, by end and by
	// cut, built once by newMDHub (mdclosings.go); read-only after.
	closings [mdEnds][]byte
	cuts     output.CutFrames
	// tooDeepLog keeps refuseTooDeep's warning to one line a minute.
	tooDeepLog logEvery

	liveMu sync.Mutex
	// live holds the connections being served, with the address each is
	// counted against in perAddr.
	// Invariant: len(live) <= marketdata.max_connections + the evicted
	// connections on their way out (at most 64, gateway.Waitlist); track
	// refuses the connection that would pass it, or its address's bound.
	live map[net.Conn]netip.Addr
	// listed holds the subscriber of each connection in live that has
	// an outbox (its TLS handshake done): shutdown ends those with a
	// Closing.
	listed  map[net.Conn]*subscriber
	perAddr *gateway.ConnsPerAddr
	// perAccount counts the connections logged on to each account, with
	// marketdata.require_logon and max_connections_per_account set.
	perAccount map[uint32]int
	refuser    *gateway.Refuser
	shut       bool // shutdown ran: no connection is served any more
	// waiting lists the connections that have not made their slot their
	// own — not logged on (marketdata.require_logon), or following no
	// instrument — for one over max_connections to take it (mdconns.go).
	waiting *gateway.Waitlist
	// endFoundHook, set by tests only (nil otherwise; set before the
	// node starts), runs on a connection's reader when it finds its
	// connection may have ended — its read failed, or before a read an
	// end of the node's was recorded or its outbox closed — before the
	// reader names the cause: a test holds the reader in it, so that a
	// shutdown or a cut comes between the finding and the naming. Either
	// may come first: a reader still answering a message when the node
	// ends its connection finds the end before its next read.
	endFoundHook func()
	// endedHook, set by tests only as endFoundHook is, runs on a
	// connection's reader when it has named an end of its own (ended),
	// before it records it (subscriber.endFor) and closes the outbox: a
	// test holds the reader in it, so that a cut, a shutdown or
	// not-current comes between the naming and the close.
	endedHook func()
	// endRecordedHook, set by tests only as endFoundHook is, runs on a
	// connection's reader when it has recorded an end of its own
	// (subscriber.endFor), before it closes the outbox: a test holds the
	// reader in it, so that the node stops being current between.
	endRecordedHook func()
	// hungUpHook, set by tests only as endFoundHook is, runs on a
	// connection's reader when it has found its subscriber hung up,
	// before it closes the outbox: a test holds the reader in it, so
	// that a cut comes between.
	hungUpHook func()
	// maxFrame is the largest frame the port reads (mdFrameLimit).
	// Read-only.
	maxFrame int
	// logonRejects holds a LogonReject frame for each reason, read-only.
	logonRejects [wire.LogonRejectReasonTooManySessions + 1][]byte
	// instruments is the answer to a ListInstruments (config.InstrumentList),
	// on this port and the gateway's. Read-only.
	instruments []byte

	portMu   sync.Mutex // serializes opening and closing the port
	consumer *consumer  // deployed fan-out, nil while the port is closed
	// deployed is consumer for readers that must not wait for portMu (a
	// scrape, GET /ports): open holds it while the engine switches its
	// market data on, which waits for an engine held in a batch.
	deployed atomic.Pointer[consumer]

	// idleGrace is how long the port stays open after its last
	// subscriber left (mdIdleGrace; tests lower it). Closed at once, one
	// connection toggling Subscribe and Unsubscribe — 100 a second pass
	// the rate limit — had the engine build a full image of every book
	// each time the port opened again: a stall for every trader, caused
	// by anyone who can reach the market-data port.
	idleGrace time.Duration
	// snapshotAgain is snapshotAgainAfter, repeatEvery
	// snapshotRepeatEvery (tests change them, under mu).
	snapshotAgain, repeatEvery time.Duration

	mu sync.Mutex // guards everything below; held by the fan-out per batch
	// idleTimer closes the port once idle for idleGrace; closing stops
	// it for good (shutdown).
	idleTimer *time.Timer
	closing   bool
	// feeds has one entry per configured instrument.
	feeds map[uint32]*mdFeed
	// subs holds each subscriber's instruments: true once its snapshot
	// of the instrument went out and it follows the instrument's
	// updates, false while the snapshot waits in pending.
	subs map[*subscriber]map[uint32]bool
	// ready: the engine's image arrived since the port opened; until then
	// new subscriptions wait in pending for their snapshot.
	ready bool
	// draining: closeIfIdle is removing the fan-out; an image end it
	// drains must not make the books ready again (no fan-out follows).
	draining bool
	// pending holds the subscriptions whose snapshot has not gone out:
	// until ready, waiting for the image; then for room in their
	// subscriber's send buffer (offerSnapshot), which the pacer looks
	// for while any waits, or for snapshotAgainAfter to pass since their
	// subscriber's last snapshot of the book (snapshotDeferred).
	// Invariant: p is in pending exactly when subs[p.sub][p.instrument]
	// is false, and then only once.
	pending []subscription
	// pacing: paceSnapshots runs. paceNow wakes it for a snapshot
	// pending anew while it waits for a deferred one (snapshotDeferred).
	pacing  bool
	paceNow chan struct{}
	// held lists the subscribers whose updates the fan-out holds back
	// for a snapshot that waited too long (holdOverdue), and some whose
	// hold just ended; each is released once it is not holding.
	held []*subscriber
	enc  *proto.Encoder
	// bids and asks hold the book's levels snapshotFrames listed last;
	// partLevels is snapshotPartLevels (tests lower it).
	bids, asks []output.Level
	partLevels int
	// filled lists the feeds with frames in the batch under way, in the
	// order of their first frame.
	filled  []*mdFeed
	touched []*output.Outbox
	// behind: the subscribers a pass of offerPending found a snapshot of
	// waiting, whose later ones wait too (reused; cleared after each).
	behind []*subscriber
	// notCurrent: this cluster member's books may be older than what the
	// cluster committed (mdcurrent.go) — it is out of touch with the
	// leader (1), or it has not caught up with the leader since its
	// start (4–5: set before the port listens, so no subscriber yet).
	// Subscribe is answered SubscribeReject{NotCurrent}; the subscribers
	// a member that lost touch had were closed when it began. Written
	// under mu.
	notCurrent atomic.Bool
	// heartbeat is the Heartbeat frame idle subscribers are sent.
	heartbeat []byte
}

type subscriber struct {
	out *output.Outbox
	// w is its connection in mdHub.waiting (nil in tests that make
	// subscribers of no connection): listed again by refuseTooDeep when
	// the subscription it drops was the last, under mdHub.mu.
	w *gateway.Waiter
	// parts: its last Subscribe said it reads a snapshot in parts
	// (Subscribe.parts). Under mdHub.mu.
	parts bool
	// holding: one of its snapshots has waited snapshotHoldRounds for
	// room (holdOverdue). The fan-out stages its updates but commits
	// none, so that what it has unsent drains to nothing and the
	// snapshot goes; then they follow it. Under mdHub.mu, as are the
	// two below.
	// Invariant: while holding, heldBytes <= holdRoom, and the updates
	// staged are all it has staged (none of them committed).
	holding bool
	// heldBytes is what the fan-out staged for it while holding; holdRoom
	// what it could still take, unsent, when the hold began, within its
	// share of the send budget (Outbox.Pending): unsent and held
	// together stay within it — held bytes are not counted against the
	// budget until they are committed.
	heldBytes, holdRoom int
	// snapshots holds, for each instrument sent it a snapshot, the last
	// one's end in its outbox and when it went (sentSnapshot). Under
	// mdHub.mu; kept across Unsubscribe, so that unsubscribing does not
	// let one more in.
	snapshots map[uint32]sentSnapshot
	// repeatsDue is when its allowance of repeats (snapshots of books it
	// was sent one of before) is whole again: each repeat sent moves it
	// snapshotRepeatEvery past now or past itself, whichever is later
	// (repeatDue). Under mdHub.mu.
	repeatsDue time.Time
	// endedFor is the md cause of its connection's first end plus one
	// (0: not ended), recorded once (endFor) by the end that closes its
	// outbox saying it: shutdown's, not-current's (setCurrent) or its
	// reader's own (ended). It is the end its client is told — unless
	// its outbox was cut as a slow consumer before it closed — and the
	// one its reader counts (told).
	endedFor atomic.Int32
}

// sentSnapshot is the last snapshot of a book sent a subscriber.
type sentSnapshot struct {
	// end is where it ended in the subscriber's outbox (Outbox.Progress's
	// queued, just after it): until the connection has taken that much
	// the snapshot is unsent (snapshotUnsent).
	end int64
	// at is when it was sent: the next one goes snapshotAgainAfter later
	// at the earliest (mdHub.snapshotAgain, snapshotDue).
	at time.Time
}

// snapshotUnsent reports whether sub's last snapshot of instrument is
// still in its outbox, in whole or in part. The caller holds mdHub.mu.
func (sub *subscriber) snapshotUnsent(instrument uint32) bool {
	last, ok := sub.snapshots[instrument]
	if !ok {
		return false
	}
	_, written := sub.out.Progress()
	return written < last.end
}

// snapshotDue returns when sub may be sent its next snapshot of
// instrument: again after its last one (the zero time if it had none).
// The caller holds mdHub.mu.
func (sub *subscriber) snapshotDue(instrument uint32, again time.Duration) time.Time {
	last, ok := sub.snapshots[instrument]
	if !ok {
		return time.Time{}
	}
	return last.at.Add(again)
}

// repeatDue returns when sub may be sent its next repeat of a snapshot:
// its allowance (snapshotRepeatBurst, one more every every) has one
// then. The caller holds mdHub.mu.
func (sub *subscriber) repeatDue(every time.Duration) time.Time {
	return sub.repeatsDue.Add(-(snapshotRepeatBurst - 1) * every)
}

// endFor records cause as the end of sub's connection and reports
// whether it is the first: only the first end closes the outbox saying
// its Closing, and a later end changes nothing, neither what the client
// is told nor what is counted.
func (sub *subscriber) endFor(cause int) bool {
	return sub.endedFor.CompareAndSwap(0, int32(cause)+1)
}

// firstEnd returns the cause of the first end of sub's connection
// (endFor), and false when none is recorded.
func (sub *subscriber) firstEnd() (int, bool) {
	c := sub.endedFor.Load()
	return int(c - 1), c != 0
}

// mdMaxBatch bounds a fan-out batch. A feed holds a batch's frames of its
// instrument until the batch ends; a fan-out that fell behind by millions
// of events (the ring holds 2^22) would otherwise gather hundreds of
// megabytes of them, and keep that buffer. 4096 updates are at most ~460
// KB (a Trade or LevelUpdate frame is 112 bytes).
const mdMaxBatch = 4096

// mdFeed is one instrument's market data: the book rebuilt from the
// engine's events, who follows it, and its frames of the fan-out batch
// under way. Each follower is given the batch's frames in one piece when
// the batch ends: staging every frame for every subscriber as it was
// encoded cost a cache miss per subscriber per event (15–20 µs an event
// at 1024 subscribers, BenchmarkMDBroadcast).
type mdFeed struct {
	book output.MDBook
	// followers are the instrument's subscribers that were sent its
	// snapshot: an update goes to no one before the snapshot it follows.
	// Invariant: sub is in feeds[i].followers exactly when subs[sub][i]
	// is true.
	followers []*subscriber
	// frames holds the batch's frames for the followers; empty between
	// batches, and while there are no followers.
	frames []byte
	// snapshot holds the book's snapshot frames when snapshotFresh: every
	// subscriber after the first gets them until the book changes, not a
	// new encoding (1.5 ms for a book 20 000 levels a side deep — a
	// reconnect storm of 1024 subscribers held the fan-out for seconds,
	// BenchmarkSubscribeDeepBook). Every change to book clears
	// snapshotFresh (changed).
	snapshot      []byte
	snapshotParts int // BookSnapshot frames in snapshot
	snapshotFresh bool
}

// changed notes that f's book changed: its snapshot frames are stale.
func (f *mdFeed) changed() { f.snapshotFresh = false }

// Why the market-data port closed a connection (ringex_marketdata_closed_total).
const (
	mdMaxConnections = iota // refused: max_connections being served
	mdIdle                  // subscribed to nothing for read_timeout
	mdRateLimit             // above message_rate
	mdSlowConsumer          // send_buffer_bytes waiting, or no write progress for read_timeout
	mdMaxPerAddress         // refused: max_connections_per_address from its address
	mdMalformed             // a frame over mdFrameLimit, empty, that does not verify, or an order-entry message (told which: mdTooLarge …)
	mdNotCurrent            // a cluster member out of touch with the leader (mdcurrent.go)
	mdEvicted               // not logged on, or following nothing, when a new connection needed its slot
	mdNotLoggedOn           // a message before its Logon, with marketdata.require_logon
	mdLogonFailed           // a Logon with a wrong account or secret
	mdLogonThrottled        // a Logon refused unchecked: the failed-logon guard's allowance spent
	mdMaxPerAccount         // a Logon beyond marketdata.max_connections_per_account
	mdTLSHandshake          // a TLS handshake that failed (marketdata.tls): not a TLS client, or nothing in common
	mdLogonTimeout          // with marketdata.require_logon, part of its Logon frame and not the rest within read_timeout
	// The node stopped (Node.Stop): a connection served, ended after its
	// updates; one in its TLS handshake, or accepted as the port closed,
	// closed at once. The gateway counts its sessions' the same way.
	mdShutdown
	mdLogout // the subscriber sent Logout: told nothing, as the gateway tells a session that logs out
	mdCauses
)

var mdCauseNames = [mdCauses]string{"max-connections", "idle", "rate-limit", "slow-consumer", "max-connections-per-address", "malformed",
	"not-current", "evicted", "not-logged-on", "logon-failed", "logon-throttled", "max-connections-per-account", "tls-handshake",
	"logon-timeout", "shutdown", "logout"}

type subscription struct {
	sub        *subscriber
	instrument uint32
	// waited counts the offers (offerPending) that found no room for
	// the snapshot: at snapshotHoldRounds its subscriber's updates are
	// held back until it goes.
	waited int
}

func newMDHub(n *Node) *mdHub {
	h := &mdHub{n: n, feeds: map[uint32]*mdFeed{}, subs: map[*subscriber]map[uint32]bool{},
		enc: proto.NewEncoder(), heartbeat: proto.NewEncoder().Heartbeat(0), partLevels: snapshotPartLevels, live: map[net.Conn]netip.Addr{}, listed: map[net.Conn]*subscriber{}, idleGrace: mdIdleGrace,
		perAddr: gateway.NewConnsPerAddr(n.cfg.MarketData.MaxConnectionsPerAddress), refuser: gateway.NewRefuser(&n.stats.mdBytesOut.Int64),
		perAccount: map[uint32]int{}, waiting: gateway.NewWaitlist(mdWaitLevels), instruments: n.cfg.InstrumentList(), maxFrame: mdFrameLimit(n.cfg),
		snapshotAgain: snapshotAgainAfter, repeatEvery: snapshotRepeatEvery, paceNow: make(chan struct{}, 1)}
	for r := range h.logonRejects {
		h.logonRejects[r] = proto.NewEncoder().LogonReject(0, wire.LogonRejectReason(r))
	}
	for _, in := range n.cfg.Instruments {
		h.feeds[in.ID] = &mdFeed{book: output.MDBook{Instrument: in.ID}}
	}
	h.buildClosings()
	return h
}

// open deploys the fan-out and switches the engine's book events on.
func (h *mdHub) open() {
	h.portMu.Lock()
	defer h.portMu.Unlock()
	if h.consumer != nil {
		return
	}
	c, err := h.n.md.addBounded("marketdata-fanout", mdMaxBatch, h.fanout)
	if err != nil {
		h.n.log.Error().Err(err).Msg("market data: cannot deploy the fan-out")
		return
	}
	h.consumer = c
	h.deployed.Store(c)
	// Everyone subscribed now gets a fresh snapshot once the new image
	// is in: the books were not maintained while the port was closed.
	// (All of them subscribed since it closed idle, so none follows an
	// instrument yet; nor will it before that snapshot.)
	h.mu.Lock()
	h.ready = false
	h.draining = false
	h.pending = h.pending[:0]
	for _, f := range h.feeds {
		clear(f.followers)
		f.followers = f.followers[:0]
	}
	for sub, insts := range h.subs {
		for inst := range insts {
			insts[inst] = false
			h.pending = append(h.pending, subscription{sub: sub, instrument: inst})
		}
	}
	h.mu.Unlock()
	h.n.ports.set("marketdata", true)
	h.n.switchMarketData(true) // after the fan-out is deployed: it sees the image
}

// mdIdleGrace is mdHub.idleGrace.
const mdIdleGrace = 5 * time.Second

// closeWhenIdle closes the port once nobody has subscribed for idleGrace.
func (h *mdHub) closeWhenIdle() {
	if h.idleGrace <= 0 {
		h.closeIfIdle()
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.armIdleTimer()
}

// armIdleTimer is closeWhenIdle for a caller holding mu, which must not
// close the port itself (the fan-out: closing removes it): with an
// idleGrace of 0 the port closes at once, on the timer's goroutine.
func (h *mdHub) armIdleTimer() {
	if len(h.subs) != 0 || h.closing {
		return
	}
	grace := max(h.idleGrace, 0)
	if h.idleTimer == nil {
		h.idleTimer = time.AfterFunc(grace, h.idleTimeout)
	} else {
		h.idleTimer.Reset(grace)
	}
}

// idleTimeout is idleTimer's: the port closes unless someone subscribed
// meanwhile (closeIfIdle checks) or the node is stopping. Counted in the
// node's wait group, so Stop waits for a close under way.
func (h *mdHub) idleTimeout() {
	h.mu.Lock()
	if h.closing {
		h.mu.Unlock()
		return
	}
	h.n.wg.Add(1)
	h.mu.Unlock()
	defer h.n.wg.Done()
	h.closeIfIdle()
}

// closeIfIdle closes the port when nobody subscribes any more.
func (h *mdHub) closeIfIdle() {
	h.portMu.Lock()
	defer h.portMu.Unlock()
	h.mu.Lock()
	idle := len(h.subs) == 0 && h.consumer != nil
	if idle {
		// From here a new subscriber waits for the next opening's image
		// (subscribe then calls open, which waits for portMu). Were books
		// still "ready", one subscribing while the port closes got its
		// snapshot from the closing fan-out and then no update ever.
		h.ready = false
		h.draining = true
	}
	h.mu.Unlock()
	if !idle {
		return
	}
	h.n.switchMarketData(false)
	if err := h.n.md.remove(h.consumer); err != nil {
		h.n.log.Error().Err(err).Msg("market data: fan-out failed")
	}
	h.consumer = nil
	h.deployed.Store(nil)
	h.mu.Lock()
	h.pending = nil // books not ready since the idle check; open rebuilds pending
	h.mu.Unlock()
	h.n.ports.set("marketdata", false)
}

// Active reports whether the fan-out is deployed.
func (h *mdHub) active() bool { return h.deployed.Load() != nil }

// consumerSeq is the fan-out's sequence, nil while the port is closed.
func (h *mdHub) consumerSeq() interface{ Load() int64 } {
	c := h.deployed.Load()
	if c == nil {
		return nil
	}
	return c.Sequence()
}

func (h *mdHub) subscribe(sub *subscriber, instrument uint32, parts bool) {
	if h.notCurrent.Load() {
		h.n.checkLeaderContact() // back in touch since the last look: served now, not refused until the next
	}
	h.mu.Lock()
	sub.parts = parts
	feed := h.feeds[instrument]
	if feed == nil || h.notCurrent.Load() {
		// Answered, not ignored: a subscriber with a wrong id would
		// otherwise wait for a snapshot that never comes.
		why := wire.SubscribeRejectReasonUnknownInstrument
		if feed != nil {
			why = wire.SubscribeRejectReasonNotCurrent
		}
		sub.out.Send(h.enc.SubscribeReject(0, instrument, why))
		h.mu.Unlock()
		return
	}
	if h.subs[sub] == nil {
		h.subs[sub] = map[uint32]bool{}
	}
	follows, already := h.subs[sub][instrument]
	if already && !follows {
		// Its snapshot already waits in pending: one is enough (each
		// duplicate was staged as a whole snapshot).
		h.mu.Unlock()
		return
	}
	if follows && sub.snapshotUnsent(instrument) {
		// Subscribed again while its last snapshot is still unsent: that
		// snapshot, and the updates after it, answer this Subscribe
		// too — any gap the subscriber saw came before it. A new one
		// each time drew a whole book per Subscribe (100 a second at
		// the default message_rate), however deep, from a client that
		// had not read the last.
		h.mu.Unlock()
		return
	}
	if follows {
		// Subscribed again: a new snapshot, mid-stream, and the updates
		// after it. None goes to it before that snapshot — which goes
		// snapshotAgainAfter after the last one at the earliest
		// (snapshotDeferred).
		h.unfollow(sub, instrument)
	}
	h.subs[sub][instrument] = false
	p, ready := subscription{sub: sub, instrument: instrument}, h.ready
	verdict := snapshotWaits
	// In its turn: behind a snapshot of this subscriber's that waits for
	// room, this one waits too. Offered at once, it took the room the
	// writer had just freed, ahead of the earlier one (seen as a book's
	// snapshot overtaking the one asked for before it).
	now := time.Now()
	if ready && !h.snapshotWaitsFor(sub, now) {
		verdict = h.offerSnapshot(p, now)
	}
	if verdict == snapshotWaits || verdict == snapshotDeferred {
		h.pending = append(h.pending, p)
		h.startPacer()
	}
	h.mu.Unlock()
	switch {
	case verdict == snapshotRefused:
		h.closeWhenIdle()
	case !ready:
		h.open()
	}
}

// snapshotWaitsFor reports whether a snapshot of sub's waits in pending
// for room at now: one deferred (snapshotDeferred) is not waiting for
// room, and one asked for after it need not wait behind it. The caller
// holds mu.
func (h *mdHub) snapshotWaitsFor(sub *subscriber, now time.Time) bool {
	return slices.ContainsFunc(h.pending, func(p subscription) bool { return p.sub == sub && !h.deferred(p, now) })
}

// deferred reports whether p's snapshot may not go yet at now: its
// subscriber was sent one of the book less than snapshotAgain before,
// or has spent its allowance of repeats (snapshotDue). The caller holds
// mu.
func (h *mdHub) deferred(p subscription, now time.Time) bool {
	return now.Before(h.snapshotDue(p))
}

// snapshotDue returns when p's snapshot may go at the earliest (the zero
// time: its subscriber was never sent one of the book):
// snapshotAgain after the last one of the book, and once the
// subscriber's allowance of repeats has one (snapshotRepeatEvery). The
// caller holds mu.
func (h *mdHub) snapshotDue(p subscription) time.Time {
	due := p.sub.snapshotDue(p.instrument, h.snapshotAgain)
	if _, repeat := p.sub.snapshots[p.instrument]; repeat {
		if r := p.sub.repeatDue(h.repeatEvery); r.After(due) {
			due = r
		}
	}
	return due
}

// snapshotAgainAfter bounds how often a connection is sent a snapshot of
// one book: the next one goes this long after the last at the earliest.
// A Subscribe to a book the connection follows asks for a new snapshot
// (a client that saw a gap resubscribes), and an Unsubscribe and
// Subscribe start it again; each drew a whole book at once, so a client
// asking in a loop — reading every snapshot, so that none was unsent to
// answer the next ask — had the node build and send one at every
// message marketdata.message_rate lets through (100 a second), however
// deep the book. Deferred, not refused: the snapshot asked for goes
// when the second has passed, the book's updates after it, and the
// asks meanwhile draw nothing more (one snapshot of a book waits for a
// connection at a time). Other books, and other subscribers, are not
// held.
const snapshotAgainAfter = time.Second

// snapshotRepeatEvery and snapshotRepeatBurst bound the snapshots a
// connection is sent again, of all the books it was sent one of before
// together: snapshotRepeatBurst at once, then one every
// snapshotRepeatEvery (10 a second). snapshotAgainAfter bounds them per
// book only: a client subscribed to N books, asking again for each in a
// loop, drew min(N, message_rate) whole books a second (100 at the
// default rate) — a tenth of that now. Deferred as snapshotAgainAfter
// defers, not refused: each goes in its turn, and other subscribers are
// not held. A book's first snapshot on a connection is no repeat: a
// client that subscribes to every book at its logon gets them all at
// once, as before; one that asks again for up to snapshotRepeatBurst
// books at a time (a gap seen, a view switched) gets them at once too.
const (
	snapshotRepeatEvery = 100 * time.Millisecond
	snapshotRepeatBurst = 16
)

// What became of a snapshot offered to its subscriber (offerSnapshot).
type snapshotVerdict uint8

const (
	snapshotSent     snapshotVerdict = iota
	snapshotRefused                  // BookTooLarge: it can never fit the subscriber's send buffer
	snapshotWaits                    // not yet: the send buffer holds too much unsent
	snapshotDeferred                 // not yet: the last snapshot of the book went less than snapshotAgainAfter before, or the connection's repeats are spent (snapshotRepeatEvery)
)

// offerSnapshot sends p's snapshot if its subscriber's send buffer has
// room for it now, and from then on p's subscriber follows the
// instrument; refuses it if it can never fit (refuseTooDeep); or says
// it must wait. The books are ready; the caller holds mu, so no fan-out
// batch is under way with frames staged for the subscriber (or, at the
// image's end, none staged yet): the snapshot precedes every update
// after it, and comes with no gap before them.
//
// Room is paced as a resend is (resend.go): the snapshot goes when
// nothing waits unsent, or when it fits, with what waits, in half of
// what the subscriber may hold (Outbox.Pending; the rest is for the
// updates). Each snapshot that fits the buffer thus goes in its turn,
// once the writer has taken what is before it. Staged all at once, a
// subscriber's snapshots — several books, each well under the buffer —
// overflowed it before it could read a byte, and it was closed as a
// slow consumer for what it had asked for. (With node.send_budget_bytes
// spent, a snapshot that takes the subscriber past the budget's floor
// still closes it, as any frame would: the budget's rule, not the
// buffer's.)
//
// A snapshot over half of that (with the budget on, over 512 KB: the
// limit Pending gives is the budget's floor, 1 MiB) goes only when
// nothing waits unsent — which, for a subscriber that follows a busy
// book and reads a step behind it, may never be when the pacer looks.
// So one that has waited snapshotHoldRounds has its subscriber's
// updates held back (holdOverdue) until it has gone.
//
// A snapshot of a book the subscriber was sent one of less than
// snapshotAgain before now, or a repeat its subscriber's allowance has
// none for now (snapshotRepeatEvery), is deferred until then, whatever
// the room.
func (h *mdHub) offerSnapshot(p subscription, now time.Time) snapshotVerdict {
	if p.sub.snapshotUnsent(p.instrument) {
		// Unsubscribed and subscribed again while the last snapshot of
		// the book is unsent: this one goes once that one is written,
		// one snapshot of a book at a time in the connection's outbox.
		return snapshotWaits
	}
	if h.deferred(p, now) {
		return snapshotDeferred
	}
	f := h.feeds[p.instrument]
	unsent, most := p.sub.out.Pending()
	fits := func(size int) bool { return unsent == 0 || unsent+size <= most/2 }
	if !fits(len(f.snapshot)) {
		// By its last encoding's size: a busy book is not encoded again
		// every time its subscriber is found without room.
		return snapshotWaits
	}
	frame := h.snapshotOf(f)
	if h.refuseTooDeep(p.sub, p.instrument, frame, f.snapshotParts) {
		return snapshotRefused
	}
	if !fits(len(frame)) {
		return snapshotWaits
	}
	p.sub.out.Send(frame) // an overflow closes the subscriber
	if p.sub.snapshots == nil {
		p.sub.snapshots = map[uint32]sentSnapshot{}
	}
	if _, repeat := p.sub.snapshots[p.instrument]; repeat {
		p.sub.repeatsDue = laterOf(p.sub.repeatsDue, now).Add(h.repeatEvery)
	}
	end, _ := p.sub.out.Progress()
	p.sub.snapshots[p.instrument] = sentSnapshot{end: end, at: now}
	h.subs[p.sub][p.instrument] = true
	f.followers = append(f.followers, p.sub)
	return snapshotSent
}

// offerPending offers each snapshot in pending (offerSnapshot) at now,
// keeping those that must wait, and reports whether it refused one, and
// the time the pacer must look again by: now when one waits for room,
// else the earliest a deferred one may go (the zero time: none waits).
// The books are ready; the caller holds mu.
func (h *mdHub) offerPending(now time.Time) (refused bool, next time.Time) {
	waiting := h.pending[:0]
	for _, p := range h.pending {
		if follows, ok := h.subs[p.sub][p.instrument]; !ok || follows {
			continue // never, by pending's invariant: offerSnapshot would write to a departed subscriber's nil map
		}
		verdict := snapshotWaits
		if !slices.Contains(h.behind, p.sub) { // in its turn, as in subscribe: a smaller one fitting went first
			verdict = h.offerSnapshot(p, now)
		}
		switch verdict {
		case snapshotWaits:
			p.waited++
			waiting = append(waiting, p)
			h.behind = append(h.behind, p.sub)
			next = now
		case snapshotDeferred:
			// Not waiting for room: it counts no round towards a hold,
			// and holds back none of its subscriber's other snapshots.
			waiting = append(waiting, p)
			if due := h.snapshotDue(p); next.IsZero() || due.Before(next) {
				next = due
			}
		case snapshotRefused:
			refused = true
		}
	}
	clear(h.behind) // keep no departed subscriber reachable
	h.behind = h.behind[:0]
	clear(h.pending[len(waiting):])
	h.pending = waiting
	return refused, next
}

// snapshotPaceEvery is how often the pacer looks for room for the
// snapshots that wait, as a resend does (resendSink.send).
const snapshotPaceEvery = time.Millisecond

// startPacer starts the pacer (paceSnapshots) when snapshots wait for
// room in their subscribers' send buffers and none runs; one that runs
// looks at once (it may be waiting for a deferred snapshot's time). The
// caller holds mu.
func (h *mdHub) startPacer() {
	if h.closing || !h.ready || len(h.pending) == 0 {
		return
	}
	if h.pacing {
		select {
		case h.paceNow <- struct{}{}:
		default: // woken already
		}
		return
	}
	h.pacing = true
	h.n.wg.Add(1) // under mu, with closing false: before shutdown's return and the node's wg.Wait
	go h.paceSnapshots()
}

// paceSnapshots offers the waiting snapshots every snapshotPaceEvery
// until none waits, the port closes or the node stops; while only
// deferred ones wait (snapshotDeferred), it sleeps until the first may
// go, or until startPacer wakes it. A subscriber that stopped reading
// keeps its snapshots waiting until it is cut for that (its outbox's
// stall time, ErrStalled) or leaves.
func (h *mdHub) paceSnapshots() {
	defer h.n.wg.Done()
	timer := time.NewTimer(snapshotPaceEvery)
	defer timer.Stop()
	for {
		select {
		case <-h.n.stopping(): // pacing stays set: nothing is paced any more
			return
		case <-timer.C:
		case <-h.paceNow:
		}
		refused, next, done := h.paceRound()
		if refused {
			h.closeWhenIdle() // the refused subscriber may be left with no instrument
		}
		if done {
			return
		}
		timer.Reset(max(time.Until(next), snapshotPaceEvery))
	}
}

// paceRound is one round of the pacer: it offers the waiting snapshots,
// holds back the updates of subscribers with one that waited too long
// (holdOverdue), and reports whether it refused a snapshot, when it
// must look again (offerPending), and whether the pacer is done —
// nothing waits, or the books are not ready.
func (h *mdHub) paceRound() (refused bool, next time.Time, done bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ready && !h.closing {
		refused, next = h.offerPending(time.Now())
	}
	h.holdOverdue()
	done = !h.ready || h.closing || len(h.pending) == 0
	if done {
		h.pacing = false // a Subscribe or the next image's end starts it again if need be
	}
	return refused, next, done
}

// snapshotHoldRounds is how many pacer rounds (~1 ms each) a snapshot
// waits for room before its subscriber's updates are held back for it.
// Long enough that a subscriber catching up on a burst gets its snapshot
// the usual way; short beside the seconds a subscriber waited (or
// forever) for a moment with nothing unsent on a busy feed.
const snapshotHoldRounds = 10

// holdOverdue has the fan-out hold back the updates of each subscriber
// with a snapshot that waited snapshotHoldRounds (hold), and releases
// those of the others it held. Held, a subscriber that reads drains
// what it had unsent while the updates gather, so the pacer finds
// nothing unsent and sends the snapshot, the updates after it; without,
// a subscriber a step behind a busy feed it follows had bytes unsent at
// every round, and a snapshot over half its share waited forever. Only
// its own updates wait, for as long as its writer takes to write what
// was unsent when the hold began: the fan-out does not wait, nor does
// anyone else. The caller holds mu.
func (h *mdHub) holdOverdue() {
	pacing := h.ready && !h.closing
	overdue := func(sub *subscriber) bool {
		return pacing && slices.ContainsFunc(h.pending, func(p subscription) bool { return p.sub == sub && p.waited >= snapshotHoldRounds })
	}
	kept := h.held[:0]
	for _, sub := range h.held {
		if sub.holding && overdue(sub) {
			kept = append(kept, sub)
		} else {
			h.release(sub)
		}
	}
	clear(h.held[len(kept):]) // keep no departed subscriber reachable
	h.held = kept
	if !pacing {
		return
	}
	for _, p := range h.pending {
		if p.waited >= snapshotHoldRounds && !p.sub.holding {
			h.hold(p.sub)
		}
	}
}

// hold starts holding back sub's updates, unless it has its share of the
// send budget (or of its buffer) unsent already: it is not keeping up,
// and holding would only put off its cut as a slow consumer. The caller
// holds mu.
func (h *mdHub) hold(sub *subscriber) {
	unsent, most := sub.out.Pending()
	if unsent >= most {
		return
	}
	sub.holding, sub.heldBytes, sub.holdRoom = true, 0, most-unsent
	h.held = append(h.held, sub)
}

// release ends sub's hold, if it has not ended, and commits the updates
// held for it: after its snapshot, if that went. An overflow closes the
// subscriber, as the fan-out's commit would. The caller holds mu.
func (h *mdHub) release(sub *subscriber) {
	sub.holding, sub.heldBytes, sub.holdRoom = false, 0, 0
	_ = sub.out.Commit(0)
}

// setCurrent is told whether this cluster member's books are current
// (mdcurrent.go). When they stop being, every subscriber is told so for
// each of its subscriptions (SubscribeReject{NotCurrent}) and closed —
// serveConn then counts and unsubscribes it — and Subscribe is refused
// until they are current again: a subscriber that stayed would hear
// nothing of the market trading on elsewhere, nor could tell a frozen
// feed from a quiet one. A subscriber whose connection ended before
// (endFor: shutdown, or an end of its own) is left to that end: it is
// told and counted that one alone.
func (h *mdHub) setCurrent(current bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	wasCurrent := !h.notCurrent.Swap(!current)
	if current || !wasCurrent {
		return
	}
	notCurrent := h.closings[mdNotCurrent]
	for sub, insts := range h.subs {
		if !sub.endFor(mdNotCurrent) {
			continue
		}
		for inst := range insts {
			sub.out.Append(h.enc.SubscribeReject(0, inst, wire.SubscribeRejectReasonNotCurrent))
		}
		sub.out.CloseSaying(notCurrent) // writes the rejects and the Closing, then closes the connection: its reader ends, and counts it (told)
	}
}

// tooDeepLogEvery bounds how often a BookTooLarge refusal is logged.
const tooDeepLogEvery = time.Minute

// refuseTooDeep answers SubscribeReject{BookTooLarge} and drops sub's
// subscription to instrument when the book's snapshot (frame, in parts
// BookSnapshot frames) is larger than marketdata.send_buffer_bytes —
// it can never fit: staged, it overflowed the buffer at once, and the
// subscriber, reading or not, was closed as a slow consumer at every
// Subscribe — or takes more than one part and sub does not read parts:
// a client built before parts took the last part for the whole book,
// far levels and all. The caller holds mu, and drops the subscription
// from pending if it is there.
func (h *mdHub) refuseTooDeep(sub *subscriber, instrument uint32, frame []byte, parts int) bool {
	if len(frame) <= h.n.cfg.MarketData.SendBufferBytes && (parts == 1 || sub.parts) {
		return false
	}
	delete(h.subs[sub], instrument)
	if len(h.subs[sub]) == 0 {
		delete(h.subs, sub)
		// It follows nothing now: its slot goes to a newcomer as that
		// of a connection that never subscribed. Its reader may be
		// waiting for its next message (this is the image's end, or the
		// pacer), and a connection that sends Heartbeats would keep it
		// for good. Never evicted: it was settled while it subscribed,
		// and its reader unsubscribes it (under mu) before it settles it
		// for the last time, so this never lists a connection gone.
		if sub.w != nil {
			h.waiting.Relist(sub.w, mdNotSubscribed)
		}
	}
	feed := h.feeds[instrument]
	feed.followers = slices.DeleteFunc(feed.followers, func(s *subscriber) bool { return s == sub })
	// One line per tooDeepLogEvery: the port needs no logon (unless marketdata.require_logon), and a
	// stranger's Subscribes would each be a line (ringex_marketdata_
	// closed_total does not count them: the connection stays open).
	if ok, heldBack := h.tooDeepLog.allow(tooDeepLogEvery); ok {
		h.n.log.Warn().Uint32("instrument", instrument).Int("snapshot_bytes", len(frame)).Int("send_buffer_bytes", h.n.cfg.MarketData.SendBufferBytes).
			Int("parts", parts).Bool("reads_parts", sub.parts).Int64("not_logged_before", heldBack).
			Msg("market data: a book snapshot larger than marketdata.send_buffer_bytes, or in parts to a subscriber that does not read them, refused (SubscribeReject BookTooLarge)")
	}
	sub.out.Send(h.enc.SubscribeReject(0, instrument, wire.SubscribeRejectReasonBookTooLarge))
	return true
}

// subscribed reports whether sub follows at least one instrument.
func (h *mdHub) subscribed(sub *subscriber) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.subs[sub] != nil // entries are deleted with their last instrument
}

func (h *mdHub) unsubscribe(sub *subscriber, instrument uint32, all bool) {
	h.mu.Lock()
	m := h.subs[sub]
	for inst := range m {
		if all || inst == instrument {
			delete(m, inst)
			h.unfollow(sub, inst)
		}
	}
	if len(m) == 0 {
		delete(h.subs, sub)
	}
	h.mu.Unlock()
	h.closeWhenIdle()
}

// unfollow takes sub out of instrument's followers, and its snapshot out
// of those waiting for the image (a subscribe and unsubscribe repeated
// before it queued one snapshot each). A hold ends first: the updates
// held may be of instrument, and must not follow a new snapshot of it
// (holdOverdue holds sub again if need be). The caller holds mu.
func (h *mdHub) unfollow(sub *subscriber, instrument uint32) {
	if sub.holding {
		h.release(sub)
	}
	h.pending = slices.DeleteFunc(h.pending, func(p subscription) bool { return p.sub == sub && p.instrument == instrument })
	feed := h.feeds[instrument]
	for i, s := range feed.followers {
		if s == sub {
			feed.followers = slices.Delete(feed.followers, i, i+1) // zeroes the vacated slot: no stale pointer to a closed subscriber
			break
		}
	}
}

// snapshotPartLevels bounds the levels of one BookSnapshot frame: ~400
// KB, inside the client library's default 1 MiB frame limit however deep
// the book (a book of the default engine.max_orders at distinct prices
// would be 1.5 MB in one frame).
const snapshotPartLevels = 16384

// snapshotOf returns f's snapshot frames, encoded again only if the book
// changed since they were. Valid until the book changes.
func (h *mdHub) snapshotOf(f *mdFeed) []byte {
	if !f.snapshotFresh {
		f.snapshot, f.snapshotParts = h.snapshotFrames(f.snapshot[:0], &f.book)
		f.snapshotFresh = true
	}
	return f.snapshot
}

// snapshotFrames appends b's BookSnapshot to dst, in parts of at most
// h.partLevels levels (bids first, then asks, each best first), the
// frames back to back.
func (h *mdHub) snapshotFrames(dst []byte, b *output.MDBook) ([]byte, int) {
	conv := func(ls []output.Level) []proto.Level {
		out := make([]proto.Level, len(ls))
		for i, l := range ls {
			out[i] = proto.Level{Price: l.Price, Quantity: l.Quantity, Count: l.Count}
		}
		return out
	}
	h.bids, h.asks = b.AppendLevels(h.bids[:0], engine.Buy), b.AppendLevels(h.asks[:0], engine.Sell)
	bids, asks := h.bids, h.asks
	for parts := 1; ; parts++ {
		nb := min(len(bids), h.partLevels)
		na := min(len(asks), h.partLevels-nb)
		more := nb < len(bids) || na < len(asks)
		dst = append(dst, h.enc.BookSnapshot(0, proto.BookSnapshot{Instrument: b.Instrument, MDSeq: b.Seq,
			Bids: conv(bids[:nb]), Asks: conv(asks[:na]), Halted: b.Halted, LastPrice: b.Last, More: more, InputSeq: b.InputSeq})...)
		if !more {
			return dst, parts
		}
		bids, asks = bids[nb:], asks[na:]
	}
}

// fanout is the market-data consumer: rebuild books, number updates per
// instrument, and give each subscriber its instruments' frames of the
// batch, committed once (Outbox.Stage: fanout runs under mu, which
// serializes it). A subscriber gets each instrument's frames in order;
// within one batch, frames of different instruments come grouped by
// instrument, in the order of each instrument's first frame.
func (h *mdHub) fanout(lo, hi int64) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	touched := h.touched[:0]
	for s := lo; s <= hi; s++ {
		ev := h.n.md.slots.At(s)
		switch ev.Type {
		case engine.EvBookClear:
			if ev.Instrument == 0 { // the image is complete
				if h.draining {
					continue // the port is closing: these books are not followed
				}
				h.ready = true
				// Sent, not staged: each snapshot as its subscriber's
				// buffer has room (offerSnapshot), the rest paced. A
				// refused subscriber may be left with no instrument:
				// the port closes once idle for idleGrace, as after a
				// refused Subscribe — not when that connection goes,
				// idle for gateway.read_timeout.
				if refused, _ := h.offerPending(time.Now()); refused {
					h.armIdleTimer() // not closeWhenIdle: mu is held, and closing removes this fan-out
				}
				h.startPacer()
			} else if f := h.feeds[ev.Instrument]; f != nil {
				f.book.Clear()
				f.book.Last = ev.Price
				f.book.InputSeq = ev.Seq // the engine's last input: the image is as of it
				// A new image: the book may have changed while the port
				// was closed, with no update numbered for it. Its
				// snapshot gets an md_seq of its own.
				f.book.Seq++
				f.changed()
			}
		case engine.EvBookLevel:
			f := h.feeds[ev.Instrument]
			if f == nil {
				continue
			}
			f.book.Apply(ev.Side, ev.Price, ev.Quantity, ev.Count)
			f.book.InputSeq = ev.Seq
			f.changed()
			if !h.ready {
				continue // part of the image, not an update
			}
			f.book.Seq++
			h.publish(f, h.enc.LevelUpdate(0, proto.LevelUpdate{Instrument: ev.Instrument, MDSeq: f.book.Seq,
				Side: wire.Side(ev.Side), Price: ev.Price, Quantity: ev.Quantity, Count: ev.Count, InputSeq: ev.Seq}))
		case engine.EvHalted, engine.EvResumed:
			f := h.feeds[ev.Instrument]
			if f == nil {
				continue
			}
			f.book.Halted = ev.Type == engine.EvHalted
			f.book.InputSeq = ev.Seq
			f.changed()
			if !h.ready {
				continue // part of the image
			}
			f.book.Seq++
			h.publish(f, h.enc.TradingStatus(0, proto.TradingStatus{Instrument: ev.Instrument, MDSeq: f.book.Seq, Halted: f.book.Halted,
				InputSeq: ev.Seq}))
		case engine.EvTrade:
			f := h.feeds[ev.Instrument]
			if f == nil || !h.ready {
				continue
			}
			f.book.Last = ev.Price
			f.book.InputSeq = ev.Seq
			f.book.Seq++
			f.changed()
			h.publish(f, h.enc.Trade(0, proto.Trade{Instrument: ev.Instrument, MDSeq: f.book.Seq, TradeID: ev.TradeID,
				Price: ev.Price, Quantity: ev.Quantity, Aggressor: wire.Side(ev.Side), InputSeq: ev.Seq}))
		}
	}
	h.endBatch(touched)
	return nil
}

// endBatch gives the followers their frames of the batch (stageFilled)
// and commits them, but for the subscribers holding (holdOverdue).
// touched holds the outboxes already staged for in the batch. The
// caller holds mu.
func (h *mdHub) endBatch(touched []*output.Outbox) {
	touched = h.stageFilled(touched)
	for _, o := range touched {
		_ = o.Commit(0) // an overflow closes the subscriber
	}
	clear(touched) // keep no closed subscriber's outbox (and its buffers) reachable
	h.touched = touched[:0]
}

// publish adds frame to f's frames of the batch under way.
func (h *mdHub) publish(f *mdFeed, frame []byte) {
	if len(f.followers) == 0 {
		return
	}
	if len(f.frames) == 0 {
		h.filled = append(h.filled, f)
	}
	f.frames = append(f.frames, frame...)
}

// stageFilled stages each filled feed's frames for its followers and
// empties them.
func (h *mdHub) stageFilled(touched []*output.Outbox) []*output.Outbox {
	for _, f := range h.filled {
		for _, sub := range f.followers {
			touched = h.stage(sub, f.frames, touched)
		}
		f.frames = f.frames[:0]
	}
	h.filled = h.filled[:0]
	return touched
}

// stage queues frames on sub's outbox for this batch's commit, listing
// it in touched the first time — unless sub is holding: its frames wait
// staged for release, beyond this batch. One holding that is given more
// than its holdRoom is not keeping up: its hold ends here, and all it
// was staged is committed with the batch, the budget's rules applying.
func (h *mdHub) stage(sub *subscriber, frames []byte, touched []*output.Outbox) []*output.Outbox {
	first, err := sub.out.Stage(frames)
	if err != nil {
		return touched
	}
	if sub.holding {
		sub.heldBytes += len(frames)
		if sub.heldBytes <= sub.holdRoom {
			return touched
		}
		sub.holding = false // holdOverdue forgets it
		first = true        // not listed in this batch: held until now
	}
	if first {
		touched = append(touched, sub.out)
	}
	return touched
}

// laterOf returns the later of a and b.
func laterOf(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
