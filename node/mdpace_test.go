package node

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/output"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// gatedConn is a subscriber's connection whose every Write is handed to
// the test (writes) and returns only when the test has read it (ack):
// the test says how far behind its subscriber reads.
type gatedConn struct {
	writes    chan []byte
	ack       chan struct{}
	closed    chan struct{}
	closeOnce sync.Once
}

func newGatedConn() *gatedConn {
	return &gatedConn{writes: make(chan []byte), ack: make(chan struct{}), closed: make(chan struct{})}
}

func (c *gatedConn) Write(b []byte) (int, error) {
	select {
	case c.writes <- bytes.Clone(b):
	case <-c.closed:
		return 0, net.ErrClosed
	}
	select {
	case <-c.ack:
		return len(b), nil
	case <-c.closed:
		return 0, net.ErrClosed
	}
}

func (c *gatedConn) Close() error {
	c.closeOnce.Do(func() { close(c.closed) })
	return nil
}

// A subscriber that follows a busy book and reads a step behind it — at
// every pacer round the node has an update of that book unsent for it —
// gets the snapshot of a deep book it subscribes to (over half of its
// share of node.send_budget_bytes, 512 KB: ~21 000 levels), and each
// book's updates whole after it. Such a snapshot went only when nothing
// at all was unsent at a pacer round: this subscriber never got it, nor
// any error (audit). The test runs the pacer's rounds itself, one per
// step, so that the subscriber is behind at each.
func TestSnapshotReachesASubscriberBehindABusyFeed(t *testing.T) {
	cfg := config.Default()
	budget := output.NewBudget(cfg.Node.SendBudgetBytes, sendBudgetFloor)
	h := newMDHub(&Node{cfg: cfg, log: zerolog.Nop(), sendBudget: budget})
	h.ready = true
	h.pacing = true // no pacer goroutine: the test's steps are its rounds
	const busy, deep, levels = 1, 2, 25_000
	for k := range int64(levels) {
		h.feeds[deep].book.Apply(engine.Buy, 1_000_000-k, 5, 1)
	}
	h.feeds[deep].changed()
	conn := newGatedConn()
	sub := &subscriber{out: output.NewOutbox(conn, cfg.MarketData.SendBufferBytes, 0, nil)}
	sub.out.UseBudget(budget)
	t.Cleanup(func() {
		conn.Close()
		sub.out.Close()
	})
	if _, most := sub.out.Pending(); len(h.snapshotOf(h.feeds[deep])) <= most/2 {
		t.Fatalf("the deep book's snapshot is %d bytes, within half of %d: it would not wait for nothing unsent", len(h.snapshotOf(h.feeds[deep])), most)
	}

	// update changes inst's book, as an engine event in a fan-out batch
	// of its own.
	qty := int64(0)
	update := func(inst uint32, price int64) {
		f := h.feeds[inst]
		qty++
		f.book.Apply(engine.Buy, price, 1+qty%7, 1)
		f.changed()
		f.book.Seq++
		h.publish(f, h.enc.LevelUpdate(0, proto.LevelUpdate{Instrument: inst, MDSeq: f.book.Seq, Side: wire.SideBuy, Price: price, Quantity: 1 + qty%7, Count: 1}))
		h.endBatch(h.touched[:0])
	}

	// What the subscriber read, frame by frame.
	var got []byte
	parsed := 0
	snapSeq := map[uint32]uint64{} // md_seq of each book's snapshot, once whole
	lastSeq := map[uint32]uint64{}
	deepLevels, deepUpdates := 0, 0
	readFrames := func() {
		t.Helper()
		for len(got)-parsed >= proto.PrefixSize {
			n := int(binary.LittleEndian.Uint32(got[parsed:]))
			if len(got)-parsed < proto.PrefixSize+n {
				return
			}
			payload := got[parsed+proto.PrefixSize : parsed+proto.PrefixSize+n]
			parsed += proto.PrefixSize + n
			typ, pos, err := proto.Verify(payload)
			if err != nil {
				t.Fatal(err)
			}
			switch typ {
			case wire.MessageBookSnapshot:
				s := proto.BookSnapshotAt(payload, pos)
				if s.Instrument == deep {
					deepLevels += len(s.Bids)
				}
				if !s.More {
					snapSeq[s.Instrument], lastSeq[s.Instrument] = s.MDSeq, s.MDSeq
				}
			case wire.MessageLevelUpdate:
				u := proto.LevelUpdateAt(payload, pos)
				last, ok := lastSeq[u.Instrument]
				if !ok {
					t.Fatalf("an update of %d before its snapshot: %+v", u.Instrument, u)
				}
				if u.MDSeq != last+1 {
					t.Fatalf("instrument %d: md_seq %d after %d", u.Instrument, u.MDSeq, last)
				}
				lastSeq[u.Instrument] = u.MDSeq
				if u.Instrument == deep {
					deepUpdates++
				}
			default:
				t.Fatalf("frame %s", wire.EnumNamesMessage[typ])
			}
		}
	}
	// next takes the write the outbox's writer makes next, if it has
	// anything to write (the budget counts what it holds unsent); the
	// subscriber has not read it: the writer waits on it.
	deadline := time.Now().Add(10 * time.Second)
	inFlight := false
	next := func() {
		t.Helper()
		for {
			select {
			case b := <-conn.writes:
				got = append(got, b...)
				inFlight = true
				return
			default:
			}
			if budget.Used() == 0 {
				inFlight = false
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the writer holds %d bytes and writes none (outbox: %v)", budget.Used(), sub.out.Err())
			}
			time.Sleep(20 * time.Microsecond)
		}
	}
	// read reads the write under way: the writer goes on to the next.
	read := func() {
		t.Helper()
		if inFlight {
			conn.ack <- struct{}{}
			readFrames()
		}
		next()
	}

	h.subscribe(sub, busy, true) // a small book: its snapshot goes at once
	next()
	h.mu.Lock()
	update(busy, 100_000) // unsent while the writer waits on the snapshot
	h.mu.Unlock()
	h.subscribe(sub, deep, true)
	h.mu.Lock()
	waits := !h.subs[sub][deep]
	h.mu.Unlock()
	if !waits {
		t.Fatal("the deep snapshot went with an update unsent")
	}

	const rounds = 2000
	for round := 1; deepUpdates < 5; round++ {
		if round > rounds {
			t.Fatalf("no deep snapshot after %d pacer rounds, the subscriber a step behind; %d of its levels arrived", rounds, deepLevels)
		}
		h.mu.Lock()
		update(busy, 100_000-int64(round%50))
		update(deep, 1_000_000)
		h.mu.Unlock()
		h.paceRound() // with the update just committed unsent
		h.mu.Lock()
		if unsent, most := sub.out.Pending(); sub.holding && unsent+sub.heldBytes > most {
			t.Fatalf("round %d: %d bytes unsent and %d held, over its share of the budget, %d", round, unsent, sub.heldBytes, most)
		}
		h.mu.Unlock()
		read() // the one before it
		if err := sub.out.Err(); err != nil {
			t.Fatalf("round %d: the subscriber was closed: %v", round, err)
		}
	}
	if deepLevels != levels {
		t.Fatalf("the deep snapshot had %d levels, want %d", deepLevels, levels)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.pending) != 0 || sub.holding || len(h.held) != 0 {
		t.Fatalf("after the snapshot: %d waiting, holding %v, %d held", len(h.pending), sub.holding, len(h.held))
	}
}

// A first Subscribe whose book is too deep for the subscriber's buffer
// is refused when the books become ready (the port's opening image); the
// refused connection follows nothing, so the port closes after the idle
// grace, as after a refusal on a port already open. The image's end
// ignored the refusal: the port and the engine's book events stayed on
// until that connection left, silent for gateway.read_timeout (audit).
func TestMarketDataPortClosesAfterARefusalAtTheImage(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	setConfig(t, cfg, map[string]string{"marketdata.send_buffer_bytes": "65536", "gateway.read_timeout": "1m"})
	eth := &cfg.Instruments[1]
	eth.PriceBandTicks = 0
	n, a := startNodeMDGrace(t, cfg, 200*time.Millisecond)
	c := dial(t, a.Gateway, 1)
	deepBooks(t, c, []config.Instrument{*eth}, 4000) // ~96 KB of levels
	md := dialMD(t, a.MarketData)
	md.Subscribe(eth.ID) // opens the port: refused at the image's end
	m := next(t, md, func(m client.Message) bool { return m.Type != wire.MessageHeartbeat })
	if m.Type != wire.MessageSubscribeReject || m.SubscribeReject != wire.SubscribeRejectReasonBookTooLarge {
		t.Fatalf("%+v, want SubscribeReject BookTooLarge", m)
	}
	waitUntil(t, func() bool { return !n.mdHub.active() }) // within 10 s; the connection is idle for 1 min
	if got := n.mdHub.served(); got != 1 {
		t.Fatalf("%d connections served, want the refused one still", got)
	}
}

// A subscriber held back for its snapshot that is given more updates
// than its share of the budget had room for when the hold began is not
// keeping up: its hold ends and they are all queued, counted against the
// budget — held bytes are not, so the hold does not let a subscriber
// keep more than its share outside it — and the budget's rules apply.
func TestSnapshotHoldEndsForASubscriberNotKeepingUp(t *testing.T) {
	cfg := config.Default()
	budget := output.NewBudget(cfg.Node.SendBudgetBytes, sendBudgetFloor)
	h := newMDHub(&Node{cfg: cfg, log: zerolog.Nop(), sendBudget: budget})
	h.ready = true
	conn := newGatedConn() // never read
	sub := &subscriber{out: output.NewOutbox(conn, cfg.MarketData.SendBufferBytes, 0, nil)}
	sub.out.UseBudget(budget)
	t.Cleanup(func() {
		conn.Close()
		sub.out.Close()
	})
	h.subscribe(sub, 1, true)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.hold(sub)
	if !sub.holding || len(h.held) != 1 {
		t.Fatal("not held")
	}
	room, before := sub.holdRoom, budget.Used()
	f := h.feeds[1]
	for sub.holding {
		f.book.Seq++
		h.publish(f, h.enc.LevelUpdate(0, proto.LevelUpdate{Instrument: 1, MDSeq: f.book.Seq, Side: wire.SideBuy, Price: 100_000, Quantity: 1, Count: 1}))
		h.endBatch(h.touched[:0])
		if sub.holding && budget.Used() != before {
			t.Fatalf("held updates counted: %d bytes used, %d before the hold", budget.Used(), before)
		}
	}
	if queued := budget.Used() - before; queued <= int64(room) {
		t.Fatalf("the hold ended with %d bytes queued, within its room of %d", queued, room)
	}
	if err := sub.out.Err(); err != nil {
		t.Fatal(err) // within its buffer, and the budget is not spent
	}
	h.holdOverdue() // no snapshot waits: forgotten
	if len(h.held) != 0 {
		t.Fatalf("%d held", len(h.held))
	}
}

// A subscriber held back for a snapshot that subscribes again to a book
// it follows gets the updates held for it before the new snapshot, not
// after it: held updates committed after it went back in md_seq. (Its
// first snapshot is read first: one still unsent would answer the
// second Subscribe, drawing no new one.)
func TestSubscribeAgainWhileHeldKeepsTheOrder(t *testing.T) {
	cfg := config.Default()
	h := newMDHub(&Node{cfg: cfg, log: zerolog.Nop()})
	h.ready = true
	sub, fr := pipeSubscriber(t, cfg.MarketData.SendBufferBytes)
	h.subscribe(sub, 1, true)
	typ, payload, pos := nextMDFrame(t, fr)
	if typ != wire.MessageBookSnapshot {
		t.Fatalf("%s, want the first snapshot", wire.EnumNamesMessage[typ])
	}
	last := proto.BookSnapshotAt(payload, pos).MDSeq
	seqs := []string{fmt.Sprintf("snapshot %d", last)}
	waitUntil(t, func() bool { queued, written := sub.out.Progress(); return written == queued })
	h.mu.Lock()
	h.hold(sub)
	f := h.feeds[1]
	f.book.Apply(engine.Buy, 100_000, 1, 1)
	f.changed()
	f.book.Seq++
	h.publish(f, h.enc.LevelUpdate(0, proto.LevelUpdate{Instrument: 1, MDSeq: f.book.Seq, Side: wire.SideBuy, Price: 100_000, Quantity: 1, Count: 1}))
	h.endBatch(h.touched[:0]) // held
	h.mu.Unlock()
	h.subscribe(sub, 1, true) // a new snapshot, mid-stream
	h.mu.Lock()
	h.holdOverdue() // the pacer's next round: no snapshot waits, the hold ends
	h.mu.Unlock()
	for range 2 {
		payload, err := fr.Next()
		if err != nil {
			t.Fatal(err)
		}
		typ, pos, _ := proto.Verify(payload)
		switch typ {
		case wire.MessageBookSnapshot:
			last = proto.BookSnapshotAt(payload, pos).MDSeq
			seqs = append(seqs, fmt.Sprintf("snapshot %d", last))
		case wire.MessageLevelUpdate:
			u := proto.LevelUpdateAt(payload, pos)
			seqs = append(seqs, fmt.Sprintf("update %d", u.MDSeq))
			if u.MDSeq != last+1 {
				t.Fatalf("%v: an update out of md_seq order", seqs)
			}
			last = u.MDSeq
		default:
			t.Fatalf("%v, then %s", seqs, wire.EnumNamesMessage[typ])
		}
	}
}
