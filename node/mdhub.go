package node

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/gateway"
	"github.com/ringex/ringex/internal/ratelimit"
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

	liveMu sync.Mutex
	// live holds the connections being served.
	// Invariant: len(live) <= marketdata.max_connections; track refuses
	// the connection that would pass it.
	live map[net.Conn]struct{}
	shut bool // shutdown ran: no connection is served any more

	portMu   sync.Mutex // serializes opening and closing the port
	consumer *consumer  // deployed fan-out, nil while the port is closed

	mu    sync.Mutex // guards everything below; held by the fan-out per batch
	books map[uint32]*output.MDBook
	subs  map[*subscriber]map[uint32]bool
	// followers lists each instrument's subscribers, the index the
	// fan-out walks per event (walking subs was O(all subscribers) map
	// steps per event: 58 µs an event at 1024 subscribers,
	// BenchmarkMDBroadcast). Invariant: sub is in followers[i] exactly
	// when subs[sub][i].
	followers map[uint32][]*subscriber
	// ready: the engine's image arrived since the port opened; until then
	// new subscriptions wait in pending for their snapshot.
	ready   bool
	pending []subscription
	enc     *proto.Encoder
	touched []*output.Outbox
	// batchBytes counts a fan-out batch's frames, added to the shared
	// counter once at its end.
	batchBytes int64
}

type subscriber struct{ out *output.Outbox }

// Why the market-data port closed a connection (ringex_marketdata_closed_total).
const (
	mdMaxConnections = iota // refused: max_connections being served
	mdIdle                  // subscribed to nothing for read_timeout
	mdRateLimit             // above message_rate
	mdCauses
)

var mdCauseNames = [mdCauses]string{"max-connections", "idle", "rate-limit"}

type subscription struct {
	sub        *subscriber
	instrument uint32
}

func newMDHub(n *Node) *mdHub {
	h := &mdHub{n: n, books: map[uint32]*output.MDBook{}, subs: map[*subscriber]map[uint32]bool{},
		followers: map[uint32][]*subscriber{}, enc: proto.NewEncoder(), live: map[net.Conn]struct{}{}}
	for _, in := range n.cfg.Instruments {
		h.books[in.ID] = &output.MDBook{Instrument: in.ID}
	}
	return h
}

// open deploys the fan-out and switches the engine's book events on.
func (h *mdHub) open() {
	h.portMu.Lock()
	defer h.portMu.Unlock()
	if h.consumer != nil {
		return
	}
	c, err := h.n.md.add("marketdata-fanout", h.fanout)
	if err != nil {
		h.n.log.Error().Err(err).Msg("market data: cannot deploy the fan-out")
		return
	}
	h.consumer = c
	// Everyone subscribed now gets a fresh snapshot once the new image
	// is in: the books were not maintained while the port was closed.
	h.mu.Lock()
	h.ready = false
	h.pending = h.pending[:0]
	for sub, insts := range h.subs {
		for inst := range insts {
			h.pending = append(h.pending, subscription{sub, inst})
		}
	}
	h.mu.Unlock()
	h.n.ports.set("marketdata", true)
	h.n.switchMarketData(true) // after the fan-out is deployed: it sees the image
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
	h.mu.Lock()
	h.pending = nil // books not ready since the idle check; open rebuilds pending
	h.mu.Unlock()
	h.n.ports.set("marketdata", false)
}

// Active reports whether the fan-out is deployed.
func (h *mdHub) active() bool {
	h.portMu.Lock()
	defer h.portMu.Unlock()
	return h.consumer != nil
}

// consumerSeq is the fan-out's sequence, nil while the port is closed.
func (h *mdHub) consumerSeq() interface{ Load() int64 } {
	h.portMu.Lock()
	defer h.portMu.Unlock()
	if h.consumer == nil {
		return nil
	}
	return h.consumer.Sequence()
}

func (h *mdHub) subscribe(sub *subscriber, instrument uint32) {
	h.mu.Lock()
	book := h.books[instrument]
	if book == nil {
		// Answered, not ignored: a subscriber with a wrong id would
		// otherwise wait for a snapshot that never comes.
		sub.out.Send(h.enc.SubscribeReject(0, instrument, wire.SubscribeRejectReasonUnknownInstrument))
		h.mu.Unlock()
		return
	}
	if h.subs[sub] == nil {
		h.subs[sub] = map[uint32]bool{}
	}
	if !h.subs[sub][instrument] {
		h.subs[sub][instrument] = true
		h.followers[instrument] = append(h.followers[instrument], sub)
	}
	ready := h.ready
	if ready {
		// No frames are staged here: fanout commits its batch before it
		// lets go of mu.
		sub.out.Send(h.snapshotFrame(book))
	} else {
		h.pending = append(h.pending, subscription{sub, instrument})
	}
	h.mu.Unlock()
	if !ready {
		h.open()
	}
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
	h.closeIfIdle()
}

// unfollow takes sub out of instrument's followers. The caller holds mu.
func (h *mdHub) unfollow(sub *subscriber, instrument uint32) {
	f := h.followers[instrument]
	for i, s := range f {
		if s == sub {
			f = append(f[:i], f[i+1:]...)
			break
		}
	}
	if len(f) == 0 {
		delete(h.followers, instrument)
		return
	}
	h.followers[instrument] = f
}

// snapshotFrame encodes b's BookSnapshot.
func (h *mdHub) snapshotFrame(b *output.MDBook) []byte {
	conv := func(ls []output.Level) []proto.Level {
		out := make([]proto.Level, len(ls))
		for i, l := range ls {
			out[i] = proto.Level{Price: l.Price, Quantity: l.Quantity, Count: l.Count}
		}
		return out
	}
	return h.enc.BookSnapshot(0, proto.BookSnapshot{Instrument: b.Instrument, MDSeq: b.Seq, Bids: conv(b.Bids),
		Asks: conv(b.Asks), Halted: b.Halted, LastPrice: b.Last})
}

// fanout is the market-data consumer: rebuild books, number updates per
// instrument, stage each subscriber's frames and commit them once per
// batch (Outbox.Stage: fanout runs under mu, which serializes it).
func (h *mdHub) fanout(lo, hi int64) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	touched := h.touched[:0]
	for s := lo; s <= hi; s++ {
		ev := h.n.md.slots.At(s)
		switch ev.Type {
		case engine.EvBookClear:
			if ev.Instrument == 0 { // the image is complete
				h.ready = true
				for _, p := range h.pending {
					if h.subs[p.sub][p.instrument] {
						touched = h.stage(p.sub.out, h.snapshotFrame(h.books[p.instrument]), touched)
					}
				}
				h.pending = nil
			} else if b := h.books[ev.Instrument]; b != nil {
				b.Clear()
				b.Last = ev.Price
			}
		case engine.EvBookLevel:
			b := h.books[ev.Instrument]
			if b == nil {
				continue
			}
			b.Apply(ev.Side, ev.Price, ev.Quantity, ev.Count)
			if !h.ready {
				continue // part of the image, not an update
			}
			b.Seq++
			frame := h.enc.LevelUpdate(0, proto.LevelUpdate{Instrument: ev.Instrument, MDSeq: b.Seq,
				Side: wire.Side(ev.Side), Price: ev.Price, Quantity: ev.Quantity, Count: ev.Count})
			touched = h.broadcast(ev.Instrument, frame, touched)
		case engine.EvHalted, engine.EvResumed:
			b := h.books[ev.Instrument]
			if b == nil {
				continue
			}
			b.Halted = ev.Type == engine.EvHalted
			if !h.ready {
				continue // part of the image
			}
			b.Seq++
			frame := h.enc.TradingStatus(0, proto.TradingStatus{Instrument: ev.Instrument, MDSeq: b.Seq, Halted: b.Halted})
			touched = h.broadcast(ev.Instrument, frame, touched)
		case engine.EvTrade:
			b := h.books[ev.Instrument]
			if b == nil || !h.ready {
				continue
			}
			b.Last = ev.Price
			b.Seq++
			frame := h.enc.Trade(0, proto.Trade{Instrument: ev.Instrument, MDSeq: b.Seq, TradeID: ev.TradeID,
				Price: ev.Price, Quantity: ev.Quantity, Aggressor: wire.Side(ev.Side)})
			touched = h.broadcast(ev.Instrument, frame, touched)
		}
	}
	for _, o := range touched {
		_ = o.Commit(0) // an overflow closes the subscriber
	}
	h.touched = touched[:0]
	h.n.stats.mdBytesOut.Add(h.batchBytes)
	h.batchBytes = 0
	return nil
}

func (h *mdHub) broadcast(instrument uint32, frame []byte, touched []*output.Outbox) []*output.Outbox {
	for _, sub := range h.followers[instrument] {
		touched = h.stage(sub.out, frame, touched)
	}
	return touched
}

// stage queues frame on o for this batch's commit, listing o in touched
// the first time.
func (h *mdHub) stage(o *output.Outbox, frame []byte, touched []*output.Outbox) []*output.Outbox {
	first, err := o.Stage(frame)
	if err != nil {
		return touched
	}
	if first {
		touched = append(touched, o)
	}
	h.batchBytes += int64(len(frame))
	return touched
}

// serve accepts market-data subscribers, up to marketdata.max_connections
// at once. A connection beyond the limit is told why — the gateway's
// LogonReject{TooManyConnections}, though subscribers do not log on — and
// closed; the subscribers already served see nothing of it.
func (h *mdHub) serve(ln net.Listener) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		switch h.track(conn) {
		case trackServe:
			go h.serveConn(conn)
		case trackFull:
			h.closed[mdMaxConnections].Add(1)
			gateway.RefuseConnection(conn)
		case trackStopping:
			conn.Close()
		}
	}
}

type trackVerdict uint8

const (
	trackServe    trackVerdict = iota
	trackFull                  // marketdata.max_connections are being served
	trackStopping              // shutdown ran
)

// track lists conn as served and counts its goroutine in the node's wait
// group, unless the port is full or shutdown has run. Both happen under
// liveMu, so every wg.Add precedes shutdown's return and the node's
// wg.Wait.
func (h *mdHub) track(conn net.Conn) trackVerdict {
	h.liveMu.Lock()
	defer h.liveMu.Unlock()
	switch {
	case h.shut:
		return trackStopping
	case len(h.live) >= h.n.cfg.MarketData.MaxConnections:
		return trackFull
	}
	h.live[conn] = struct{}{}
	h.n.wg.Add(1)
	return trackServe
}

// served is the number of connections being served.
func (h *mdHub) served() int {
	h.liveMu.Lock()
	defer h.liveMu.Unlock()
	return len(h.live)
}

// shutdown closes every subscriber's connection, so their goroutines
// exit (they would otherwise wait for the subscriber to hang up), and
// makes serve close any connection it accepts from now on.
func (h *mdHub) shutdown() {
	h.liveMu.Lock()
	defer h.liveMu.Unlock()
	h.shut = true
	for conn := range h.live {
		conn.Close()
	}
}

func (h *mdHub) serveConn(conn net.Conn) {
	defer h.n.wg.Done()
	defer func() {
		h.liveMu.Lock()
		delete(h.live, conn)
		h.liveMu.Unlock()
	}()
	sub := &subscriber{out: output.NewOutbox(conn, h.n.cfg.MarketData.SendBufferBytes, h.n.cfg.Gateway.ReadTimeout, nil)}
	sub.out.Watch(h.n.cfg.Gateway.ReadTimeout, nil) // subscribers are sent no heartbeats
	defer func() {
		sub.out.Close()
		h.unsubscribe(sub, 0, true)
	}()
	fr := proto.NewFrameReader(conn, 1024)
	limit := ratelimit.New(float64(h.n.cfg.MarketData.MessageRate), time.Now().UnixNano())
	for {
		conn.SetReadDeadline(time.Now().Add(h.n.cfg.Gateway.ReadTimeout))
		payload, err := fr.Next()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				if h.subscribed(sub) {
					continue // subscribers need not heartbeat; the outbox catches dead peers
				}
				// Silent and subscribed to nothing for gateway.read_timeout:
				// it would only hold one of marketdata.max_connections.
				h.closed[mdIdle].Add(1)
				return
			}
			return
		}
		if h.n.cfg.MarketData.MessageRate > 0 && !limit.Take(time.Now().UnixNano()) {
			h.closed[mdRateLimit].Add(1)
			return
		}
		typ, pos, err := proto.Verify(payload)
		if err != nil {
			return
		}
		switch typ {
		case wire.MessageSubscribe:
			h.subscribe(sub, proto.InstrumentAt(payload, pos))
		case wire.MessageUnsubscribe:
			h.unsubscribe(sub, proto.InstrumentAt(payload, pos), false)
		}
	}
}
