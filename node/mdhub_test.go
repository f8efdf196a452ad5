package node

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"
	"weak"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/output"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// dialMD connects to the market-data port; the connection is closed with
// the test.
func dialMD(t *testing.T, addr string) *client.Client {
	t.Helper()
	c, err := client.DialMarketData(addr, client.Options{AutoFlush: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// subscribeMD is dialMD plus a subscription to instrument, returned once
// its book snapshot has arrived.
func subscribeMD(t *testing.T, addr string, instrument uint32) *client.Client {
	t.Helper()
	c := dialMD(t, addr)
	c.Subscribe(instrument)
	next(t, c, func(m client.Message) bool { return m.Type == wire.MessageBookSnapshot })
	return c
}

// expectClosed reads c until the node closes it, and fails if it is still
// open after 5 s. It returns the error the reads ended with (a
// client.ClosedError when the node said why).
func expectClosed(t *testing.T, c *client.Client, what string) error {
	t.Helper()
	return testkit.ReadToEnd(t, c, what)
}

// wantToldWhy checks that the connection ended with the node's word of
// why (a Closing), naming cause.
func wantToldWhy(t *testing.T, err error, cause string) {
	t.Helper()
	if got := client.ClosedBy(err); got != cause {
		t.Fatalf("the connection ended with %v: told %q, want %q", err, got, cause)
	}
}

// restAndSee rests a buy of qty at instrument 1's reference price and
// checks that each of subs gets the level update.
func restAndSee(t *testing.T, cfg *config.Config, gateway string, qty int64, subs ...*client.Client) {
	t.Helper()
	restBuyAtReference(t, cfg, gateway, qty)
	for i, md := range subs {
		u := next(t, md, func(m client.Message) bool { return m.Type == wire.MessageLevelUpdate })
		if u.Level.Quantity != qty {
			t.Fatalf("subscriber %d: %+v", i, u)
		}
	}
}

// restBuyAtReference rests a buy of qty at instrument 1's reference price, for a
// new session of account 1, and waits for its accept.
func restBuyAtReference(t *testing.T, cfg *config.Config, gateway string, qty int64) {
	t.Helper()
	c := dial(t, gateway, 1)
	c.NewOrder(limit(1, wire.SideBuy, cfg.Instruments[0].ReferencePrice, qty))
	next(t, c, report(wire.ExecKindAccepted))
}

// nextUpdate reads md's next update (LevelUpdate, Trade or TradingStatus)
// of an instrument in seq, which holds each followed instrument's last
// md_seq (0: none yet), and fails the test on a gap.
func nextUpdate(t *testing.T, md *client.Client, seq map[uint32]uint64) client.Message {
	t.Helper()
	m, err := readUpdate(md, seq)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// readUpdate is nextUpdate for a goroutine other than the test's: it
// returns the read error or the gap instead of failing the test.
func readUpdate(md *client.Client, seq map[uint32]uint64) (client.Message, error) {
	for {
		m, err := md.Next()
		if err != nil {
			return m, fmt.Errorf("market data after md_seq %v: %w", seq, err)
		}
		last, followed := seq[m.Instrument]
		switch m.Type {
		case wire.MessageLevelUpdate, wire.MessageTrade, wire.MessageTradingStatus:
		default:
			continue
		}
		if !followed {
			continue
		}
		if last != 0 && m.MDSeq != last+1 {
			return m, fmt.Errorf("instrument %d: md_seq %d after %d", m.Instrument, m.MDSeq, last)
		}
		seq[m.Instrument] = m.MDSeq
		return m, nil
	}
}

// wantClosed checks how many connections the port closed for cause,
// waiting (10 s at most) for the count to reach want: a connection its
// reader ends is counted once its outbox is closed (mdHub.ended), a
// moment after its client may have read the last of it.
func wantClosed(t *testing.T, n *Node, cause int, want int64) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); n.mdHub.closed[cause].Load() != want && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if got := n.mdHub.closed[cause].Load(); got != want {
		t.Fatalf("%s closes: %d, want %d", mdCauseNames[cause], got, want)
	}
}

// Market-data connections beyond marketdata.max_connections are refused
// with a reason; the subscribers being served keep their data, and a
// freed slot takes a new subscriber.
func TestMarketDataConnectionLimit(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Set("marketdata.max_connections", "2")
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	subs := []*client.Client{subscribeMD(t, addrs.MarketData, 1), subscribeMD(t, addrs.MarketData, 1)}

	extra := dialMD(t, addrs.MarketData)
	extra.SetReadDeadline(time.Now().Add(5 * time.Second))
	m, err := extra.Next()
	if err != nil || m.Type != wire.MessageLogonReject || m.LogonReject != wire.LogonRejectReasonTooManyConnections {
		t.Fatalf("third subscriber got %+v, %v; want LogonReject{TooManyConnections}", m, err)
	}
	expectClosed(t, extra, "refused connection")
	wantClosed(t, n, mdMaxConnections, 1)
	restAndSee(t, cfg, addrs.Gateway, 3, subs...)

	subs[0].Close()
	waitUntil(t, func() bool { return n.mdHub.served() == 1 })
	again := dialMD(t, addrs.MarketData)
	again.Subscribe(1)
	snap := next(t, again, func(m client.Message) bool { return m.Type != wire.MessageNONE })
	if snap.Type != wire.MessageBookSnapshot || len(snap.Bids) != 1 {
		t.Fatalf("subscriber in the freed slot got %+v", snap)
	}
}

// subscribeFrom subscribes to instrument from local address from (any
// 127/8 address reaches the loopback port) and returns the type of the
// first answer — a BookSnapshot, or the LogonReject of a refused
// connection — and the connection, to read what follows. It stays open
// until the test ends.
func subscribeFrom(t *testing.T, addr, from string, instrument uint32) (wire.Message, rawSubscriber) {
	t.Helper()
	conn := testkit.DialFrom(t, addr, from)
	conn.Write(proto.NewEncoder().Subscribe(1, instrument))
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	sub := rawSubscriber{conn, proto.NewFrameReader(conn, 1<<20)}
	p, err := sub.fr.Next()
	if err != nil {
		t.Fatalf("subscribe from %s: %v", from, err)
	}
	typ, _, err := proto.Verify(p)
	if err != nil {
		t.Fatal(err)
	}
	return typ, sub
}

// rawSubscriber is a market-data connection the test reads frame by
// frame (one the client library cannot dial: from a chosen address).
type rawSubscriber struct {
	conn net.Conn
	fr   *proto.FrameReader
}

// levelUpdate reads s until a LevelUpdate, 5 s at most, and returns it.
func (s rawSubscriber) levelUpdate(t *testing.T) proto.LevelUpdate {
	t.Helper()
	s.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		p, err := s.fr.Next()
		if err != nil {
			t.Fatalf("waiting for a level update: %v", err)
		}
		if typ, pos, err := proto.Verify(p); err == nil && typ == wire.MessageLevelUpdate {
			return proto.LevelUpdateAt(p, pos)
		}
	}
}

// One address gets at most marketdata.max_connections_per_address
// subscribers; the next is refused with a reason, the address's own
// subscribers are served on, and another address is served.
func TestMarketDataConnectionsPerAddress(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Set("marketdata.max_connections_per_address", "2")
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	var served []rawSubscriber
	for i, want := range []wire.Message{wire.MessageBookSnapshot, wire.MessageBookSnapshot, wire.MessageLogonReject} {
		got, sub := subscribeFrom(t, addrs.MarketData, "127.0.0.1", 1)
		if got != want {
			t.Fatalf("subscriber %d of the address: %v, want %v", i+1, got, want)
		}
		if got == wire.MessageBookSnapshot {
			served = append(served, sub)
		}
	}
	wantClosed(t, n, mdMaxPerAddress, 1)
	got, other := subscribeFrom(t, addrs.MarketData, "127.0.0.2", 1)
	if got != wire.MessageBookSnapshot {
		t.Fatalf("another address: %v", got)
	}
	restBuyAtReference(t, cfg, addrs.Gateway, 3)
	for i, sub := range append(served, other) {
		if u := sub.levelUpdate(t); u.Quantity != 3 {
			t.Fatalf("subscriber %d: %+v", i, u)
		}
	}
}

// A connection over its address's bound (marketdata.max_connections_per_address)
// is refused before the port's bound is looked at: with the port full as
// well, it evicts nobody — the connection of another address following
// nothing keeps its slot — and is told LogonReject{TooManyConnections}.
// A newcomer of a third address then takes that slot, the connection
// following nothing told the same. The subscriber streaming gets every
// update throughout, and so does the newcomer.
func TestMarketDataAddressOverItsBoundEvictsNobody(t *testing.T) {
	n, addrs, feed := startWithFeedCheck(t, map[string]string{"marketdata.max_connections": "2", "marketdata.max_connections_per_address": "1"})
	streaming := subscribed(t, dialMD(t, addrs.MarketData)) // from 127.0.0.1
	feed.more(streaming)
	idle := testkit.DialFrom(t, addrs.MarketData, "127.0.0.2")
	waitUntil(t, func() bool { return n.mdHub.served() == 2 && n.mdHub.waiting.Listed() == 1 })

	wantLogonReject(t, dialMD(t, addrs.MarketData), wire.LogonRejectReasonTooManyConnections, "a second connection from 127.0.0.1")
	wantClosed(t, n, mdMaxPerAddress, 1)
	if evicted, served := n.mdHub.closed[mdEvicted].Load(), n.mdHub.served(); evicted != 0 || served != 2 {
		t.Fatalf("%d evicted, %d served, want none evicted and both served: the refused connection took no slot", evicted, served)
	}
	feed.more(streaming)

	got, newcomer := subscribeFrom(t, addrs.MarketData, "127.0.0.3", 1)
	if got != wire.MessageBookSnapshot {
		t.Fatalf("a newcomer of a third address, the port full: %v, want its BookSnapshot", got)
	}
	if answers := mdFramesToEnd(t, idle); len(answers) != 1 || logonRejectOf(answers[0]) != wire.LogonRejectReasonTooManyConnections {
		t.Fatalf("the connection following nothing read %d frames, want its LogonReject{TooManyConnections} alone", len(answers))
	}
	wantClosed(t, n, mdEvicted, 1)
	feed.more(streaming)
	if u := newcomer.levelUpdate(t); u.Quantity != feed.total {
		t.Fatalf("the newcomer: %+v, want the level's total %d", u, feed.total)
	}
}

// A market-data connection that subscribes to nothing for
// gateway.read_timeout is closed, so idle connections cannot hold the
// port's slots; a subscriber needs no heartbeats.
func TestMarketDataIdleConnectionClosed(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	// 1 s: the subscriber's Subscribe must reach the port within it of
	// its connection (at 300 ms a loaded machine's pause closed it).
	cfg.Set("gateway.heartbeat_interval", "250ms")
	cfg.Set("gateway.read_timeout", "1s")
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	idle := dialMD(t, addrs.MarketData)
	sub := subscribeMD(t, addrs.MarketData, 1)

	wantToldWhy(t, expectClosed(t, idle, "idle connection"), "idle")
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); { // three read timeouts
		if m := next(t, sub, func(client.Message) bool { return true }); m.Type != wire.MessageHeartbeat {
			t.Fatalf("silent subscriber of a quiet market sent %s", wire.EnumNamesMessage[m.Type])
		}
	}
	waitUntil(t, func() bool { return n.mdHub.served() == 1 })
	wantClosed(t, n, mdIdle, 1)
}

// The market-data port sends a Heartbeat to a subscriber it sent nothing
// for gateway.heartbeat_interval, as the order-entry gateway does: a
// subscriber reading with a timeout (client.Options.ReadTimeout) tells a
// quiet market from a dead feed. Without them, a quiet market and a node
// or network gone dead looked alike.
func TestMarketDataHeartbeatsAQuietSubscriber(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Set("gateway.heartbeat_interval", "250ms") // read with an 8x timeout: a loaded machine's pause fits
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	md, err := client.DialMarketData(addrs.MarketData, client.Options{AutoFlush: true, ReadTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer md.Close()
	md.Subscribe(1)
	heartbeats := 0
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); {
		m, err := md.Next()
		if err != nil {
			t.Fatalf("a subscriber of a quiet market, reading with a 2 s timeout, after %d heartbeats: %v", heartbeats, err)
		}
		if m.Type == wire.MessageHeartbeat {
			heartbeats++
		}
	}
	if heartbeats < 3 {
		t.Fatalf("%d heartbeats in 3 s at a 250 ms heartbeat_interval", heartbeats)
	}
}

// Market data carries the exchange input each message is as of — the
// same on every member and across restarts, unlike md_seq — so a
// subscriber that moves to another member can tell an older book from
// its own and the trades it already has: a snapshot's input_seq is the
// last input in the book (the engine's last input when the port opened),
// an update's the input that caused it, and a trade id is its input_seq
// and the match's number.
func TestMarketDataCarriesInputSeq(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	ref := cfg.Instruments[0].ReferencePrice
	seller, buyer := dial(t, addrs.Gateway, 1), dial(t, addrs.Gateway, 2)
	seller.NewOrder(limit(1, wire.SideSell, ref, 5))
	rested := next(t, seller, report(wire.ExecKindAccepted)).Report.InputSeq

	md := dialMD(t, addrs.MarketData)
	md.Subscribe(1)
	if s := next(t, md, func(m client.Message) bool { return m.Type == wire.MessageBookSnapshot }); s.InputSeq != rested {
		t.Fatalf("snapshot from the image: input_seq %d, want %d (the last input)", s.InputSeq, rested)
	}
	buyer.NewOrder(limit(2, wire.SideBuy, ref-cfg.Instruments[0].TickSize, 1))
	bid := next(t, buyer, report(wire.ExecKindAccepted)).Report.InputSeq
	if u := next(t, md, func(m client.Message) bool { return m.Type == wire.MessageLevelUpdate }); u.InputSeq != bid || u.Level.InputSeq != bid {
		t.Fatalf("level update %+v: input_seq %d, want %d", u.Level, u.InputSeq, bid)
	}
	buyer.NewOrder(limit(3, wire.SideBuy, ref, 2))
	fill := next(t, buyer, report(wire.ExecKindFill)).Report
	tr := next(t, md, func(m client.Message) bool { return m.Type == wire.MessageTrade })
	if tr.InputSeq != fill.InputSeq || tr.Trade.TradeID != fill.TradeID || int64(tr.Trade.TradeID>>16) != tr.InputSeq {
		t.Fatalf("trade %+v, input_seq %d; the fill's input_seq %d, trade id %d", tr.Trade, tr.InputSeq, fill.InputSeq, fill.TradeID)
	}
	if err := n.Halt(1); err != nil {
		t.Fatal(err)
	}
	st := next(t, md, func(m client.Message) bool { return m.Type == wire.MessageTradingStatus })
	if st.InputSeq <= fill.InputSeq {
		t.Fatalf("trading status input_seq %d, after the trade's %d", st.InputSeq, fill.InputSeq)
	}
	if s := snapshotOf(t, addrs.MarketData, 1); s.InputSeq != st.InputSeq {
		t.Fatalf("a later snapshot: input_seq %d, want the halt's %d", s.InputSeq, st.InputSeq)
	}
}

// snapshotOf subscribes anew to instrument and returns its snapshot.
func snapshotOf(t *testing.T, addr string, instrument uint32) client.Message {
	t.Helper()
	c := dialMD(t, addr)
	c.Subscribe(instrument)
	return next(t, c, func(m client.Message) bool { return m.Type == wire.MessageBookSnapshot })
}

// A market-data connection sending above marketdata.message_rate (each
// Subscribe costs a book snapshot) is disconnected; another subscriber
// keeps its data.
func TestMarketDataMessageRate(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Set("marketdata.message_rate", "20")
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	calm := subscribeMD(t, addrs.MarketData, 1)
	flood := dialMD(t, addrs.MarketData)
	go func() {
		for range 1000 { // bounded: the node cuts it off after ~20
			if flood.Subscribe(1) != nil || flood.Unsubscribe(1) != nil {
				return
			}
		}
	}()
	wantToldWhy(t, expectClosed(t, flood, "flooding subscriber"), "rate_limit")
	wantClosed(t, n, mdRateLimit, 1)
	restAndSee(t, cfg, addrs.Gateway, 4, calm)
}

// A subscriber may subscribe to every instrument at once, however many
// the exchange lists — above marketdata.message_rate — and gets each one's
// snapshot; flooding beyond that still cuts it off.
func TestMarketDataSubscribeToEveryInstrument(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Set("marketdata.message_rate", "20")
	for id := uint32(100); len(cfg.Instruments) < 150; id++ {
		cfg.Instruments = append(cfg.Instruments, config.Instrument{ID: id, Symbol: fmt.Sprintf("X%d", id), TickSize: 1, LotSize: 1,
			PriceDecimals: 2})
	}
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	md := dialMD(t, addrs.MarketData)
	for _, in := range cfg.Instruments {
		if err := md.Subscribe(in.ID); err != nil {
			t.Fatal(err)
		}
	}
	got := map[uint32]bool{}
	for len(got) < len(cfg.Instruments) {
		m := next(t, md, func(m client.Message) bool { return m.Type == wire.MessageBookSnapshot })
		got[m.Instrument] = true
	}
	wantClosed(t, n, mdRateLimit, 0)
	go func() {
		for range 1000 { // bounded: the bucket is empty, the node cuts it off after ~20
			if md.Subscribe(1) != nil {
				return
			}
		}
	}()
	expectClosed(t, md, "flooding subscriber")
	wantClosed(t, n, mdRateLimit, 1)
}

// Stop does not wait for market-data subscribers to hang up: it closes
// their connections, subscribed or not.
func TestStopClosesMarketDataConnections(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, addrs, _ := startNode(t, cfg)
	sub := subscribeMD(t, addrs.MarketData, 1)
	idle := dialMD(t, addrs.MarketData)
	waitUntil(t, func() bool { return n.mdHub.served() == 2 })

	stopped := make(chan error, 1)
	go func() { stopped <- n.Stop() }()
	if err := received(t, stopped, "Stop still waiting for market-data subscribers after 10 s"); err != nil {
		t.Fatal(err)
	}
	expectClosed(t, sub, "subscriber connection")
	expectClosed(t, idle, "unsubscribed connection")
}

// A Subscribe to an instrument the node does not trade is answered, not
// ignored; the connection stays open and serves a valid one afterwards.
func TestMarketDataUnknownInstrument(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	c := dialMD(t, addrs.MarketData)
	c.Subscribe(999)
	m := next(t, c, func(m client.Message) bool { return m.Type != wire.MessageNONE })
	if m.Type != wire.MessageSubscribeReject || m.Instrument != 999 || m.SubscribeReject != wire.SubscribeRejectReasonUnknownInstrument {
		t.Fatalf("Subscribe(999) answered %+v, want SubscribeReject{999, UnknownInstrument}", m)
	}
	c.Subscribe(1)
	if m := next(t, c, func(m client.Message) bool { return m.Type != wire.MessageNONE }); m.Type != wire.MessageBookSnapshot || m.Instrument != 1 {
		t.Fatalf("then Subscribe(1) answered %+v, want the book snapshot", m)
	}
}

// startNodeClosingMDAtOnce starts a node whose market-data port closes as
// its last subscriber leaves (no idle grace), for the tests of closing
// and opening it.
func startNodeClosingMDAtOnce(t *testing.T, cfg *config.Config) (*Node, Addrs) {
	t.Helper()
	return startNodeMDGrace(t, cfg, 0)
}

// startNodeSnapshotsAtOnce is startNodeClosingMDAtOnce with no bound on
// how often a connection is sent a snapshot of a book (snapshotAgainAfter),
// nor on its repeats of them together (snapshotRepeatEvery):
// for the tests of a port closed and reopened at each subscription,
// round after round on one connection, which the bound's second between
// each of its snapshots would only slow (200 rounds: 200 s).
func startNodeSnapshotsAtOnce(t *testing.T, cfg *config.Config) (*Node, Addrs) {
	t.Helper()
	n, a := startNodeClosingMDAtOnce(t, cfg)
	n.mdHub.mu.Lock()
	n.mdHub.snapshotAgain, n.mdHub.repeatEvery = 0, 0
	n.mdHub.mu.Unlock()
	return n, a
}

func startNodeMDGrace(t *testing.T, cfg *config.Config, grace time.Duration) (*Node, Addrs) {
	t.Helper()
	n, _, err := New(cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	n.mdHub.idleGrace = grace // before Start: no hub goroutine yet
	a, err := n.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Stop() })
	return n, a
}

// The port stays open through a subscriber's Subscribe/Unsubscribe
// churn, and closes once nobody has subscribed for the idle grace: closed
// at each last Unsubscribe, every reopening had the engine build a full
// image of every book — a stall for all traders, 100 times a second, at
// the hands of anyone who can reach the port.
func TestMarketDataPortOutlastsChurn(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	if err := cfg.Set("marketdata.message_rate", "0"); err != nil {
		t.Fatal(err)
	}
	const grace = 300 * time.Millisecond
	n, a := startNodeMDGrace(t, cfg, grace)
	n.mdHub.mu.Lock()
	n.mdHub.snapshotAgain, n.mdHub.repeatEvery = 0, 0 // the churn is the port's: a second between snapshots would make it 50 s long
	n.mdHub.mu.Unlock()
	md := dialMD(t, a.MarketData)
	snapshot := func() {
		t.Helper()
		next(t, md, func(m client.Message) bool { return m.Type == wire.MessageBookSnapshot })
	}
	md.Subscribe(1)
	snapshot()
	opened := n.mdHub.deployed.Load()
	for range 50 {
		md.Unsubscribe(1)
		md.Subscribe(1)
		snapshot()
	}
	if n.mdHub.deployed.Load() != opened {
		t.Fatal("the port closed and opened again during the churn")
	}
	unsubscribed := time.Now() // the grace runs from later: when the hub took it
	md.Unsubscribe(1)
	time.Sleep(grace / 2)
	// Only while the grace surely runs: a loaded machine's sleep can
	// outlast it, and the port then rightly closed.
	if closed := n.mdHub.deployed.Load() == nil; closed && time.Since(unsubscribed) < grace {
		t.Fatal("closed before the idle grace passed")
	}
	waitUntil(t, func() bool { return n.mdHub.deployed.Load() == nil })
}

// A subscription that reopens the port right after its last subscriber
// left gets its snapshot. The engine used to notice only a change of the
// wanted switch: when the port closed and opened again before its next
// batch it saw none, sent no image, and the new fan-out waited for one
// forever (`ringex client watch` right after another: "no book snapshot").
func TestMarketDataReopenedAtOnceGetsASnapshot(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	if err := cfg.Set("marketdata.message_rate", "0"); err != nil { // 400 messages at once
		t.Fatal(err)
	}
	_, a := startNodeSnapshotsAtOnce(t, cfg)
	md := dialMD(t, a.MarketData)
	for i := range 200 {
		md.Subscribe(1)
		md.SetReadDeadline(time.Now().Add(3 * time.Second))
		for {
			m, err := md.Next()
			if err != nil {
				t.Fatalf("subscription %d: no snapshot: %v", i, err)
			}
			if m.Type == wire.MessageBookSnapshot {
				break
			}
		}
		md.Unsubscribe(1) // the last subscriber: the port closes
	}
}

// A subscriber that comes while the last one leaves gets its snapshot and
// then every update. One subscribing while the port closed got its
// snapshot from the closing fan-out's books and then nothing more.
func TestMarketDataSubscribeWhileThePortCloses(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	if err := cfg.Set("marketdata.message_rate", "0"); err != nil {
		t.Fatal(err)
	}
	_, a := startNodeSnapshotsAtOnce(t, cfg)
	leaving, coming := dialMD(t, a.MarketData), dialMD(t, a.MarketData)
	trader := dial(t, a.Gateway, 4)
	in := cfg.Instruments[0]
	waitFor := func(c *client.Client, what wire.Message, round int) client.Message {
		t.Helper()
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		for {
			m, err := c.Next()
			if err != nil {
				t.Fatalf("round %d: waiting for %s: %v", round, wire.EnumNamesMessage[what], err)
			}
			if m.Type == what {
				return m
			}
		}
	}
	for round := range 60 {
		leaving.Subscribe(1)
		waitFor(leaving, wire.MessageBookSnapshot, round)
		leaving.Unsubscribe(1) // the last subscriber: the port closes…
		coming.Subscribe(1)    // …while this one comes
		waitFor(coming, wire.MessageBookSnapshot, round)
		id := uint64(round + 1)
		trader.NewOrder(limit(id, wire.SideBuy, in.ReferencePrice-int64(1+round)*in.TickSize, 1))
		if u := waitFor(coming, wire.MessageLevelUpdate, round); u.Level.Price != in.ReferencePrice-int64(1+round)*in.TickSize {
			t.Fatalf("round %d: update %+v", round, u.Level)
		}
		coming.Unsubscribe(1)
	}
}

// Subscribers learn an instrument's trading state: in the book snapshot
// (also when the port opens on an instrument already halted, from the
// engine's image) and as a TradingStatus, numbered in the instrument's
// md_seq, when the operator halts or resumes it.
func TestMarketDataTradingStatus(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	if err := n.Halt(1); err != nil { // before any subscriber: the image carries it
		t.Fatal(err)
	}
	c := dial(t, addrs.Gateway, 1)
	c.NewOrder(limit(1, wire.SideBuy, cfg.Instruments[0].ReferencePrice, 1))
	if m := next(t, c, report(wire.ExecKindRejected)); m.Report.Reason != uint8(engine.ReasonInstrumentHalted) {
		t.Fatalf("order on a halted instrument: %+v", m.Report)
	}
	snapshot := func(md *client.Client, instrument uint32) client.Message {
		t.Helper()
		md.Subscribe(instrument)
		return next(t, md, func(m client.Message) bool { return m.Type == wire.MessageBookSnapshot })
	}
	md := dialMD(t, addrs.MarketData)
	if s := snapshot(md, 1); !s.Halted {
		t.Fatalf("snapshot of a halted instrument: %+v", s)
	}
	if s := snapshot(md, 2); s.Halted {
		t.Fatalf("snapshot of a trading instrument: %+v", s)
	}
	seq := uint64(0)
	for _, halted := range []bool{false, true, false} {
		do := n.Resume
		if halted {
			do = n.Halt
		}
		if err := do(1); err != nil {
			t.Fatal(err)
		}
		m := next(t, md, func(m client.Message) bool { return m.Type == wire.MessageTradingStatus })
		if m.Instrument != 1 || m.Halted != halted || (seq != 0 && m.MDSeq != seq+1) {
			t.Fatalf("trading status %+v after md_seq %d, want halted %v", m, seq, halted)
		}
		seq = m.MDSeq
		if s := snapshot(dialMD(t, addrs.MarketData), 1); s.Halted != halted || s.MDSeq != seq {
			t.Fatalf("a new subscriber's snapshot %+v, want halted %v at md_seq %d", s, halted, seq)
		}
		if got := n.stateNow().Halted; (len(got) == 1 && got[0] == 1) != halted {
			t.Fatalf("/state halted_instruments %v, want instrument 1 halted %v", got, halted)
		}
	}
}

// A subscriber's book snapshot carries the last trade price: from the
// engine's image when the port opens (the trade happened while nobody
// watched, market data off), then from the trades the open port sees.
func TestMarketDataSnapshotHasLastPrice(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	in := cfg.Instruments[0]
	trade := func(price int64, clOrd uint64) {
		t.Helper()
		seller, buyer := dial(t, addrs.Gateway, 1), dial(t, addrs.Gateway, 2)
		seller.NewOrder(limit(clOrd, wire.SideSell, price, 1))
		next(t, seller, report(wire.ExecKindAccepted))
		buyer.NewOrder(limit(clOrd+1, wire.SideBuy, price, 1))
		next(t, buyer, report(wire.ExecKindFill))
	}
	subscribe := func() (*client.Client, int64) {
		t.Helper()
		md := dialMD(t, addrs.MarketData)
		md.Subscribe(1)
		return md, next(t, md, func(m client.Message) bool { return m.Type == wire.MessageBookSnapshot }).LastPrice
	}
	p1, p2 := in.ReferencePrice+in.TickSize, in.ReferencePrice+2*in.TickSize
	trade(p1, 10) // no subscriber yet
	first, got := subscribe()
	if got != p1 {
		t.Fatalf("last price %d from the image, want %d", got, p1)
	}
	trade(p2, 20) // the port is open now: the first subscriber sees it go by
	next(t, first, func(m client.Message) bool { return m.Type == wire.MessageTrade && m.Trade.Price == p2 })
	if _, got := subscribe(); got != p2 {
		t.Fatalf("last price %d after a trade the port saw, want %d", got, p2)
	}
}

// TestMarketDataFollowersMirrorSubscriptions: the fan-out's per-instrument
// index holds a subscriber exactly for the instruments it subscribes to
// (and was sent the snapshot of), through subscribing twice,
// unsubscribing one and unsubscribing all.
func TestMarketDataFollowersMirrorSubscriptions(t *testing.T) {
	h := newMDHub(&Node{cfg: config.Default()})
	h.ready = true // subscribe sends the snapshot at once; no port to open
	// A Subscribe again sends its snapshot at once, as the first: deferred
	// (snapshotAgainAfter), the subscriber followed none of the book until
	// it went — whenever the writer had taken the first snapshot before
	// the second Subscribe (CI, 396f546: "followers [], …").
	h.snapshotAgain, h.repeatEvery = 0, 0
	newSub := func() *subscriber {
		s := &subscriber{out: output.NewOutbox(discardConn{}, 1<<20, 0, nil)}
		t.Cleanup(func() { s.out.Close() })
		return s
	}
	a, b := newSub(), newSub()
	h.subscribe(a, 1, true)
	h.subscribe(a, 1, true) // again: still once
	h.subscribe(a, 2, true)
	h.subscribe(b, 2, true)
	check := func(when string) {
		t.Helper()
		n, m := 0, 0
		for _, insts := range h.subs {
			n += len(insts)
		}
		for inst, f := range h.feeds {
			m += len(f.followers)
			for _, s := range f.followers {
				if !h.subs[s][inst] {
					t.Errorf("%s: follower of %d not subscribed to it", when, inst)
				}
			}
		}
		if n != m {
			t.Errorf("%s: %d subscriptions, %d followers", when, n, m)
		}
	}
	check("subscribed")
	if len(h.feeds[1].followers) != 1 || len(h.feeds[2].followers) != 2 {
		t.Fatalf("followers %v, %v", h.feeds[1].followers, h.feeds[2].followers)
	}
	h.unsubscribe(a, 2, false)
	check("a left 2")
	if f := h.feeds[2].followers; len(f) != 1 || f[0] != b {
		t.Fatalf("after a left 2: followers of 2 %v", f)
	}
	h.unsubscribe(a, 0, true)
	h.unsubscribe(b, 0, true)
	check("all left")
	for inst, f := range h.feeds {
		if len(f.followers) != 0 {
			t.Fatalf("after all left: followers of %d %v", inst, f.followers)
		}
	}
	if len(h.subs) != 0 {
		t.Fatalf("after all left: subs %v", h.subs)
	}
}

// TestMarketDataFramesRebuildTheBooks: a subscriber of two instruments,
// while orders on both arrive back to back (so the fan-out's batches mix
// them), gets every update of each instrument once and in md_seq order,
// and the books it rebuilds from them are the books a later subscriber's
// snapshots show.
func TestMarketDataFramesRebuildTheBooks(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	md := dialMD(t, addrs.MarketData)
	type book struct {
		seq        uint64
		bids, asks map[int64]int64 // price -> quantity
	}
	books := map[uint32]*book{}
	fromSnapshot := func(m client.Message) *book {
		b := &book{seq: m.MDSeq, bids: map[int64]int64{}, asks: map[int64]int64{}}
		for _, l := range m.Bids {
			b.bids[l.Price] = l.Quantity
		}
		for _, l := range m.Asks {
			b.asks[l.Price] = l.Quantity
		}
		return b
	}
	for _, inst := range []uint32{1, 2} {
		md.Subscribe(inst)
		m := next(t, md, func(m client.Message) bool { return m.Type == wire.MessageBookSnapshot })
		books[m.Instrument] = fromSnapshot(m)
	}
	traders := []*client.Client{dial(t, addrs.Gateway, 1), dial(t, addrs.Gateway, 2)}
	rng := rand.New(rand.NewPCG(1, 2))
	const orders = 600
	for i := range orders {
		inst := cfg.Instruments[i%2]
		o := limit(uint64(i+1), wire.Side(1+rng.IntN(2)), inst.ReferencePrice+int64(rng.IntN(9)-4)*inst.TickSize, int64(1+rng.IntN(5)))
		o.Instrument = inst.ID
		traders[i/2%2].NewOrder(o)
	}
	accepted := 0
	for _, c := range traders { // every order answered
		answered := 0
		next(t, c, func(m client.Message) bool {
			switch {
			case m.Type != wire.MessageExecutionReport:
			case m.Report.Kind == wire.ExecKindAccepted:
				accepted++
				answered++
			case m.Report.Kind == wire.ExecKindRejected:
				answered++
			}
			return answered == orders/2
		})
	}
	later := dialMD(t, addrs.MarketData)
	want := map[uint32]*book{}
	for _, inst := range []uint32{1, 2} {
		later.Subscribe(inst)
		m := next(t, later, func(m client.Message) bool { return m.Type == wire.MessageBookSnapshot })
		want[m.Instrument] = fromSnapshot(m)
	}
	updates := 0
	seq := map[uint32]uint64{1: books[1].seq, 2: books[2].seq}
	md.SetReadDeadline(time.Now().Add(10 * time.Second))
	for seq[1] < want[1].seq || seq[2] < want[2].seq {
		m := nextUpdate(t, md, seq)
		updates++
		if m.Type != wire.MessageLevelUpdate {
			continue
		}
		b := books[m.Instrument]
		side := b.asks
		if m.Level.Side == wire.SideBuy {
			side = b.bids
		}
		if m.Level.Quantity <= 0 {
			delete(side, m.Level.Price)
		} else {
			side[m.Level.Price] = m.Level.Quantity
		}
	}
	for _, inst := range []uint32{1, 2} {
		got, w := books[inst], want[inst]
		if !maps.Equal(got.bids, w.bids) || !maps.Equal(got.asks, w.asks) {
			t.Fatalf("instrument %d at md_seq %d: rebuilt bids %v asks %v, snapshot bids %v asks %v",
				inst, seq[inst], got.bids, got.asks, w.bids, w.asks)
		}
	}
	if updates < orders/2 || accepted < orders/2 { // most rest or trade; some are cancelled as self-trades
		t.Fatalf("%d updates for %d accepted of %d orders", updates, accepted, orders)
	}
}

// A market-data subscriber that stops reading is disconnected once
// marketdata.send_buffer_bytes wait for it (counted as slow-consumer);
// a subscriber that reads gets every update, gap-free, and orders are
// still answered.
func TestMarketDataSlowSubscriberDisconnected(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	const sendBuffer = 262144 // above a test ring batch of updates
	cfg.Set("marketdata.send_buffer_bytes", fmt.Sprint(sendBuffer))
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	// The slow subscriber never reads; its small receive window keeps
	// the kernel from absorbing megabytes before the node notices.
	slow := dialSmallWindow(t, addrs.MarketData)
	if _, err := slow.Write(proto.NewEncoder().Subscribe(1, 1)); err != nil {
		t.Fatal(err)
	}
	fast := subscribeMD(t, addrs.MarketData, 1)
	waitUntil(t, func() bool { return n.mdHub.served() == 2 })
	trader := dial(t, addrs.Gateway, 1)
	readAway(trader) // the trader reads its reports: it is not the slow one

	// The subscriber that reads reads throughout, on a goroutine of its
	// own, up to the other trader's order below, counting the updates it
	// has read. Each of the trader's orders is two updates (it rests,
	// then its mass cancel removes it), and the trader keeps at most
	// ahead orders past what that subscriber has read, in flight or not:
	// their updates fill at most a quarter of its send buffer. So a
	// reader descheduled for a while on a loaded machine holds the
	// trader back instead of falling a send buffer behind and being cut
	// as a slow consumer itself (it was, at a load average of 10–12: the
	// trader's orders ran on unpaced, tens of thousands in the kernel's
	// buffers). The slow one is still sent every update: it is cut by
	// how much waits for it, not by how fast it comes.
	in := cfg.Instruments[0]
	price := in.ReferencePrice + 100*in.TickSize
	frame := len(proto.NewEncoder().LevelUpdate(0, proto.LevelUpdate{Instrument: in.ID, MDSeq: 1, Side: wire.SideBuy,
		Price: price, Quantity: 1, Count: 1}))
	ahead := int64(sendBuffer / 4 / (2 * frame))
	var updatesRead atomic.Int64
	progress := make(chan struct{}, 1) // a read since the trader last looked
	read := make(chan error, 1)
	readerEnded := make(chan struct{})
	fast.SetReadDeadline(time.Now().Add(time.Minute))
	go func() {
		defer close(readerEnded)
		seq := map[uint32]uint64{in.ID: 0}
		for {
			m, err := readUpdate(fast, seq)
			if err != nil || m.Level.Price == price && m.Level.Quantity == 3 {
				read <- err
				return
			}
			updatesRead.Add(1)
			select {
			case progress <- struct{}{}:
			default:
			}
		}
	}()
	done := make(chan struct{})
	go func() { // level updates until the slow subscriber is gone
		defer close(done)
		for i := int64(1); n.mdHub.closed[mdSlowConsumer].Load() == 0 && i <= 200_000; i++ {
			for updatesRead.Load() < 2*(i-1-ahead) {
				select {
				case <-progress:
				case <-readerEnded: // failed: the test says why
					return
				}
			}
			if trader.NewOrder(limit(uint64(i%1000+1), wire.SideBuy, in.ReferencePrice-(1+i%50)*in.TickSize, 1)) != nil || trader.MassCancel(1) != nil {
				return
			}
		}
	}()
	// The wait ends at the reader's end as well: it ends before the
	// other trader's order only by failing, and the test then says why
	// at once rather than waiting out its minute for a cut.
	waitWithin(t, time.Minute, func() bool {
		select {
		case <-readerEnded:
			return true
		default:
			return n.mdHub.closed[mdSlowConsumer].Load() > 0
		}
	}, n)
	<-done
	select {
	case err := <-read:
		t.Fatalf("the subscriber that reads, before the other trader's order (slow consumers cut: %d): %v", n.mdHub.closed[mdSlowConsumer].Load(), err)
	default:
	}
	waitUntil(t, func() bool { return n.mdHub.served() <= 1 })
	wantClosed(t, n, mdSlowConsumer, 1)
	other := dial(t, addrs.Gateway, 2)
	other.NewOrder(limit(7, wire.SideSell, price, 3))
	next(t, other, report(wire.ExecKindAccepted))
	if err := <-read; err != nil {
		t.Fatalf("the subscriber that reads: %v", err)
	}
}

// A subscriber that takes nothing written to it for gateway.read_timeout
// is cut as a slow consumer (the outbox's stall time) although what
// waits for it is far below marketdata.send_buffer_bytes: a subscriber
// that stopped reading but keeps its connection alive does not hold its
// slot and its outbox for ever. A subscriber reading beside it is served
// on. (Its trader connects after the cut: at a read timeout of a second,
// a trader sending nothing meanwhile is closed itself.)
func TestMarketDataStalledSubscriberCut(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	setConfig(t, cfg, map[string]string{"marketdata.send_buffer_bytes": fmt.Sprint(32 << 20),
		"gateway.heartbeat_interval": "250ms", "gateway.read_timeout": "1s"})
	n, addrs, _ := startNode(t, cfg)
	_, out := stalledSubscriber(t, n, addrs.MarketData, cfg.Instruments[0].ID)
	streaming := subscribeMD(t, addrs.MarketData, cfg.Instruments[0].ID)
	wantClosed(t, n, mdSlowConsumer, 1)
	if err := out.Err(); !errors.Is(err, output.ErrStalled) {
		t.Fatalf("the subscriber that stopped reading was cut for %v, want its stall (output.ErrStalled)", err)
	}
	waitUntil(t, func() bool { return n.mdHub.served() == 1 })
	newMDFeedCheck(t, cfg, addrs.Gateway).more(streaming)
}

// A fan-out that fell behind takes the backlog in batches of at most
// mdMaxBatch events, so an instrument's feed never gathers more than one
// such batch of frames; the subscriber still gets every update in order.
func TestMarketDataFanOutBatchBounded(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Set("rings.output_slots", "65536") // room for the whole backlog
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	eth := cfg.Instruments[1]
	levels := int(min(eth.PriceBandTicks, 10_000)) // one bid at each, then all cancelled at once
	if levels <= 2*mdMaxBatch {
		t.Fatalf("%d levels do not make a backlog of more than two batches", levels)
	}
	md := subscribeMD(t, addrs.MarketData, eth.ID)
	trader := dial(t, addrs.Gateway, 1) // no message rate, 100 000 open orders
	for k := 1; k <= levels; k++ {
		o := limit(uint64(k), wire.SideBuy, eth.ReferencePrice-int64(k)*eth.TickSize, eth.LotSize)
		o.Instrument = eth.ID
		trader.NewOrder(o)
	}
	next(t, trader, func(m client.Message) bool { return m.Report.ClientOrderID == uint64(levels) })
	seq := map[uint32]uint64{eth.ID: 0}
	md.SetReadDeadline(time.Now().Add(20 * time.Second))
	for range levels { // one bid rests at each
		nextUpdate(t, md, seq)
	}

	h := n.mdHub
	h.mu.Lock() // the fan-out waits here while the engine publishes the cancels
	before := n.md.published()
	trader.MassCancel(eth.ID)
	waitUntil(t, func() bool { return n.md.published() >= before+int64(levels) })
	h.mu.Unlock()
	for range levels { // one removal of each
		if m := nextUpdate(t, md, seq); m.Level.Quantity != 0 {
			t.Fatalf("after the mass cancel: %+v", m.Level)
		}
	}
	h.mu.Lock()
	held := cap(h.feeds[eth.ID].frames)
	h.mu.Unlock()
	frame := len(proto.NewEncoder().LevelUpdate(0, proto.LevelUpdate{Instrument: eth.ID, MDSeq: seq[eth.ID], Side: wire.SideBuy,
		Price: eth.ReferencePrice, Quantity: 0, Count: 0}))
	if held > 2*mdMaxBatch*frame {
		t.Fatalf("the feed held %d bytes of frames; a batch of %d updates is %d", held, mdMaxBatch, mdMaxBatch*frame)
	}
}

// A snapshot is cut into parts of at most partLevels levels, bids before
// asks, each part a whole frame; the parts together are the book, and
// only the last says no more follow.
func TestSnapshotFramesInParts(t *testing.T) {
	bids, asks := []int64{99, 98, 97, 96}, []int64{101, 102, 103, 104, 105}
	h := &mdHub{enc: proto.NewEncoder(), partLevels: 3}
	for _, tc := range []struct {
		bids, asks int
		parts      int
	}{{0, 0, 1}, {3, 0, 1}, {2, 1, 1}, {4, 0, 2}, {4, 5, 3}, {1, 5, 2}} {
		b := output.MDBook{Instrument: 2, Seq: 9, Halted: true, Last: 100}
		for _, p := range bids[:tc.bids] {
			b.Apply(engine.Buy, p, 2*p, 1)
		}
		for _, p := range asks[:tc.asks] {
			b.Apply(engine.Sell, p, 2*p, 1)
		}
		frames, counted := h.snapshotFrames(nil, &b)
		var got proto.BookSnapshot
		var v proto.Msg
		parts := 0
		for len(frames) > 0 {
			n := proto.PrefixSize + int(binary.LittleEndian.Uint32(frames))
			payload := frames[proto.PrefixSize:n]
			frames = frames[n:]
			if err := proto.VerifyMsg(payload, &v); err != nil || v.Type != wire.MessageBookSnapshot {
				t.Fatalf("%+v: part %d: %v %v", tc, parts, v.Type, err)
			}
			s := proto.BookSnapshotAt(payload, v.Pos)
			if k := len(s.Bids) + len(s.Asks); k > h.partLevels || k == 0 && s.More {
				t.Fatalf("%+v: part %d holds %d bids %d asks", tc, parts, len(s.Bids), len(s.Asks))
			}
			if s.Instrument != 2 || s.MDSeq != 9 || !s.Halted || s.LastPrice != 100 {
				t.Fatalf("%+v: part %d: %+v", tc, parts, s)
			}
			got.Bids, got.Asks = append(got.Bids, s.Bids...), append(got.Asks, s.Asks...)
			if parts++; len(frames) > 0 != s.More {
				t.Fatalf("%+v: part %d: more %v with %d bytes after it", tc, parts, s.More, len(frames))
			}
		}
		if parts != tc.parts || counted != parts || len(got.Bids) != tc.bids || len(got.Asks) != tc.asks {
			t.Fatalf("%+v: %d parts (%d counted), %d bids, %d asks", tc, parts, counted, len(got.Bids), len(got.Asks))
		}
		for i, l := range got.Bids {
			if l != (proto.Level{Price: bids[i], Quantity: 2 * bids[i], Count: 1}) {
				t.Fatalf("%+v: bid %d %+v", tc, i, l)
			}
		}
		for i, l := range got.Asks {
			if l != (proto.Level{Price: asks[i], Quantity: 2 * asks[i], Count: 1}) {
				t.Fatalf("%+v: ask %d %+v", tc, i, l)
			}
		}
	}
}

// A book deeper than the client library's default frame limit (1 MiB:
// ~43 000 levels in one frame) reaches a subscriber with default options
// whole, and its updates follow it numbered from the snapshot on.
func TestDeepBookSnapshotReachesADefaultClient(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	eth := &cfg.Instruments[1]
	eth.PriceBandTicks = 0 // nothing bounds the book's depth
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	c := dial(t, addrs.Gateway, 1) // no message rate, 100 000 open orders
	const levels = 50_000          // 1.2 MB of levels
	for k := 1; k <= levels; k++ {
		o := limit(uint64(k), wire.SideBuy, eth.ReferencePrice-int64(k)*eth.TickSize, int64(k)*eth.LotSize)
		o.Instrument = eth.ID
		c.NewOrder(o)
	}
	c.SetReadDeadline(time.Now().Add(60 * time.Second)) // 50 000 orders: ~1.4 s under -race
	for {
		m, err := c.Next()
		if err != nil {
			t.Fatal(err)
		}
		if m.Report.ClientOrderID == levels {
			break
		}
	}

	md := dialMD(t, addrs.MarketData) // client.Options{}: MaxFrameBytes 1 MiB
	md.Subscribe(eth.ID)
	snap := next(t, md, func(m client.Message) bool { return m.Type == wire.MessageBookSnapshot })
	if len(snap.Bids) != levels || len(snap.Asks) != 0 {
		t.Fatalf("snapshot of %d bids, %d asks; want %d bids", len(snap.Bids), len(snap.Asks), levels)
	}
	for i, l := range snap.Bids {
		k := int64(i + 1)
		if l != (proto.Level{Price: eth.ReferencePrice - k*eth.TickSize, Quantity: k * eth.LotSize, Count: 1}) {
			t.Fatalf("bid %d is %+v", i, l)
		}
	}
	o := limit(levels+1, wire.SideBuy, eth.ReferencePrice-eth.TickSize, eth.LotSize)
	o.Instrument = eth.ID
	c.NewOrder(o)
	u := next(t, md, func(m client.Message) bool { return m.Type == wire.MessageLevelUpdate })
	if u.MDSeq != snap.MDSeq+1 || u.Level.Price != o.Price || u.Level.Quantity != 2*eth.LotSize || u.Level.Count != 2 {
		t.Fatalf("update after the snapshot (md_seq %d): %+v", snap.MDSeq, u)
	}
}

// A book's snapshot is encoded once for all the subscribers that come
// while it does not change, and every kind of change — a level, a trade
// (last price, md_seq), a halt, a new image — makes the next one anew:
// what a subscriber is sent always equals a fresh encoding of the book.
func TestSnapshotCacheFollowsTheBook(t *testing.T) {
	n := &Node{cfg: config.Default()}
	var err error
	if n.md, err = newRing[engine.Event]("marketdata", 64, false, waitStrategy(""), nil); err != nil {
		t.Fatal(err)
	}
	h := newMDHub(n)
	f := h.feeds[1]
	seq := int64(-1)
	publish := func(evs ...engine.Event) {
		for _, ev := range evs {
			seq++
			*n.md.slots.At(seq) = ev
		}
		h.fanout(seq-int64(len(evs))+1, seq)
	}
	sent := func(what string) {
		t.Helper()
		got := h.snapshotOf(f)
		if want, _ := h.snapshotFrames(nil, &f.book); !bytes.Equal(got, want) {
			t.Fatalf("%s: the snapshot sent is not the book's", what)
		}
		if !f.snapshotFresh {
			t.Fatalf("%s: the snapshot was not kept", what)
		}
	}
	publish(engine.Event{Type: engine.EvBookClear, Instrument: 1},
		engine.Event{Type: engine.EvBookLevel, Instrument: 1, Side: engine.Buy, Price: 100, Quantity: 5, Count: 1},
		engine.Event{Type: engine.EvBookClear}) // the image is complete
	sent("after the image")
	sent("again, unchanged")
	for _, c := range []struct {
		what string
		ev   engine.Event
	}{
		{"a level", engine.Event{Type: engine.EvBookLevel, Instrument: 1, Side: engine.Sell, Price: 102, Quantity: 3, Count: 1}},
		{"a trade", engine.Event{Type: engine.EvTrade, Instrument: 1, Side: engine.Buy, Price: 102, Quantity: 1, TradeID: 7}},
		{"a halt", engine.Event{Type: engine.EvHalted, Instrument: 1}},
		{"a new image", engine.Event{Type: engine.EvBookClear, Instrument: 1, Price: 99}},
	} {
		publish(c.ev)
		if f.snapshotFresh {
			t.Fatalf("%s kept the snapshot from before it", c.what)
		}
		sent("after " + c.what)
	}
	publish(engine.Event{Type: engine.EvBookLevel, Instrument: 2, Side: engine.Buy, Price: 5, Quantity: 1, Count: 1})
	if !f.snapshotFresh {
		t.Fatal("another instrument's level made instrument 1's snapshot stale")
	}
}

// Subscribes to one instrument repeated before the book image is in
// wait for one snapshot: each was queued, and each staged a whole
// snapshot when the image came — one 40-byte Subscribe sent 40 times made
// 40 (~19 MB of a deep book) for one connection that never read.
func TestRepeatedSubscribeWaitsForOneSnapshot(t *testing.T) {
	h := &mdHub{enc: proto.NewEncoder(), feeds: map[uint32]*mdFeed{1: {}}, subs: map[*subscriber]map[uint32]bool{},
		consumer: &consumer{}} // the port is open, its image not in yet
	sub := &subscriber{}
	for range 5 {
		h.subscribe(sub, 1, true)
	}
	if len(h.pending) != 1 || len(h.feeds[1].followers) != 0 {
		t.Fatalf("%d snapshots waiting, %d followers; want one waiting, no follower before its snapshot", len(h.pending), len(h.feeds[1].followers))
	}
	// Unsubscribed and subscribed again, over and over: still one.
	h.idleGrace = time.Hour // the port stays open through the unsubscribes
	defer func() {
		if h.idleTimer != nil {
			h.idleTimer.Stop()
		}
	}()
	for range 5 {
		h.unsubscribe(sub, 1, false)
		h.subscribe(sub, 1, true)
	}
	if len(h.pending) != 1 || len(h.feeds[1].followers) != 0 {
		t.Fatalf("after unsubscribes: %d snapshots waiting, %d followers; want one waiting, no follower", len(h.pending), len(h.feeds[1].followers))
	}
}

// The last subscriber leaves before the fan-out has consumed the book
// image its Subscribe asked for. closeIfIdle set ready=false, but the
// Remove that follows drains the fan-out, which met the image's end
// (EvBookClear of instrument 0) and set ready=true again with no fan-out
// deployed: every later subscriber was answered from the dead books at
// once, never opened the port, and got no update until a restart. An
// image end drained while the port closes is ignored now.
func TestMarketDataLeaverDuringTheImageStrandsNobody(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Set("marketdata.message_rate", "0")
	cfg.Set("rings.output_slots", "131072") // the image is published at once; the fan-out lags behind it
	eth := &cfg.Instruments[1]
	eth.PriceBandTicks = 0
	n, a := startNodeSnapshotsAtOnce(t, cfg) // mdIdleGrace 0 (production: 5 s — the fan-out must then lag 5 s)
	c := dial(t, a.Gateway, 1)
	const levels = 40_000 // a deep book: a long image
	for k := 1; k <= levels; k++ {
		o := limit(uint64(k), wire.SideBuy, eth.ReferencePrice-int64(k)*eth.TickSize, eth.LotSize)
		o.Instrument = eth.ID
		c.NewOrder(o)
	}
	nextWithin(t, c, time.Minute, func(m client.Message) bool { return m.Report.ClientOrderID == levels })
	in := cfg.Instruments[0]
	for round := range 20 {
		// subscribe and leave at once, before the image reached the fan-out's end
		raw, err := net.Dial("tcp", a.MarketData)
		if err != nil {
			t.Fatal(err)
		}
		raw.Write(proto.NewEncoder().Subscribe(1, in.ID))
		time.Sleep(time.Duration(round%5) * time.Millisecond)
		raw.Close()
		waitUntil(t, func() bool { return n.mdHub.served() == 0 && !n.mdHub.active() })

		md := dialMD(t, a.MarketData)
		md.Subscribe(in.ID)
		next(t, md, func(m client.Message) bool { return m.Type == wire.MessageBookSnapshot })
		id := uint64(levels + 1 + round)
		price := in.ReferencePrice - int64(1+round)*in.TickSize
		c.NewOrder(limit(id, wire.SideBuy, price, 1))
		next(t, c, func(m client.Message) bool { return m.Report.ClientOrderID == id })
		md.SetReadDeadline(time.Now().Add(3 * time.Second))
		for {
			m, err := md.Next()
			if err != nil {
				n.mdHub.mu.Lock()
				ready := n.mdHub.ready
				n.mdHub.mu.Unlock()
				t.Fatalf("round %d: subscriber got its snapshot but no update of the new order: %v (port deployed %v, hub ready %v)",
					round, err, n.mdHub.active(), ready)
			}
			if m.Type == wire.MessageLevelUpdate && m.Level.Price == price {
				break
			}
		}
		md.Close()
		waitUntil(t, func() bool { return n.mdHub.served() == 0 && !n.mdHub.active() })
	}
}

// A book whose snapshot is larger than marketdata.send_buffer_bytes (a
// value validation accepts) is refused with SubscribeReject{BookTooLarge},
// both when the subscription opens the port and when the port is open,
// and the connection serves its other instruments. It was staged
// whole, overflowed the buffer at once, and a subscriber that read
// everything was closed as a slow consumer at every Subscribe.
func TestSnapshotLargerThanTheSendBufferIsRefused(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	if err := cfg.Set("marketdata.send_buffer_bytes", "65536"); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	eth := &cfg.Instruments[1]
	eth.PriceBandTicks = 0
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	c := dial(t, addrs.Gateway, 1)
	const levels = 4000 // ~96 KB of levels
	for k := 1; k <= levels; k++ {
		o := limit(uint64(k), wire.SideBuy, eth.ReferencePrice-int64(k)*eth.TickSize, eth.LotSize)
		o.Instrument = eth.ID
		c.NewOrder(o)
	}
	next(t, c, func(m client.Message) bool { return m.Report.ClientOrderID == levels })
	btc := cfg.Instruments[0].ID
	for _, opening := range []bool{true, false} {
		md := dialMD(t, addrs.MarketData)
		md.Subscribe(eth.ID)
		m := next(t, md, func(m client.Message) bool { return m.Type != wire.MessageHeartbeat })
		if m.Type != wire.MessageSubscribeReject || m.Instrument != eth.ID || m.SubscribeReject != wire.SubscribeRejectReasonBookTooLarge {
			t.Fatalf("port opening %v: %d levels against a 64 KiB buffer: %+v, want SubscribeReject BookTooLarge", opening, levels, m)
		}
		md.Subscribe(btc)
		if m := next(t, md, func(m client.Message) bool { return m.Type != wire.MessageHeartbeat }); m.Type != wire.MessageBookSnapshot || m.Instrument != btc {
			t.Fatalf("port opening %v: after the refusal: %+v, want the snapshot of %d", opening, m, btc)
		}
		if opening {
			defer md.Close() // holds the port open for the second round
		} else {
			md.Close()
		}
	}
	if got := n.mdHub.closed[mdSlowConsumer].Load(); got != 0 {
		t.Fatalf("%d subscribers closed as slow consumers", got)
	}
}

// The market-data port closes a connection that sends a frame over 1024
// bytes, an empty one or one that is not a message, and counts each
// (cause malformed); they were closed uncounted. A subscriber beside
// them keeps its feed.
func TestMarketDataMalformedFramesCounted(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, a, _ := startNode(t, cfg)
	defer n.Stop()
	in := cfg.Instruments[0]
	md := subscribeMD(t, a.MarketData, in.ID)
	frames := [][]byte{
		binary.LittleEndian.AppendUint32(nil, 2000),            // over 1024 bytes
		binary.LittleEndian.AppendUint32(nil, 0),               // empty
		proto.AppendFrame(nil, bytes.Repeat([]byte{0xff}, 40)), // not a message
	}
	for i, f := range frames {
		conn, err := net.Dial("tcp", a.MarketData)
		if err != nil {
			t.Fatal(err)
		}
		conn.Write(f)
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		// Told why (Closing), then closed.
		fr := proto.NewFrameReader(conn, 1024)
		payload, err := fr.Next()
		if err != nil {
			t.Fatalf("frame %d: closed untold: %v", i, err)
		}
		if typ, pos, err := proto.Verify(payload); err != nil || typ != wire.MessageClosing {
			t.Fatalf("frame %d: answered %v, %v; want Closing", i, typ, err)
		} else if cause, _ := proto.ClosingAt(payload, pos); cause != wire.ClosingCauseMalformed {
			t.Fatalf("frame %d: closing for %v, want Malformed", i, cause)
		}
		if _, err := fr.Next(); err == nil {
			t.Fatalf("frame %d: the connection was not closed after its Closing", i)
		}
		conn.Close()
		waitUntil(t, func() bool { return n.mdHub.closed[mdMalformed].Load() == int64(i+1) })
	}
	c := dial(t, a.Gateway, 1)
	c.NewOrder(limit(1, wire.SideBuy, in.ReferencePrice, 1))
	next(t, md, func(m client.Message) bool {
		return m.Type == wire.MessageLevelUpdate && m.Level.Price == in.ReferencePrice
	})
}

// A subscriber whose Subscribe does not say it reads a snapshot in parts
// (a client built before parts) is refused a book that takes more than
// one part — it took the last part for the whole book, far levels and
// wrong best price — and served one that fits a part; one that reads
// parts is served either.
func TestSnapshotInPartsOnlyToSubscribersThatReadThem(t *testing.T) {
	h := newMDHub(&Node{cfg: config.Default(), log: zerolog.Nop()})
	h.ready = true
	h.partLevels = 3
	newSub := func() *subscriber {
		s := &subscriber{out: output.NewOutbox(discardConn{}, 1<<20, 0, nil)}
		t.Cleanup(func() { s.out.Close() })
		return s
	}
	book := &h.feeds[1].book
	for _, p := range []int64{99, 98} {
		book.Apply(engine.Buy, p, 10, 1)
	}
	h.feeds[1].changed()
	old, current := newSub(), newSub()
	h.subscribe(old, 1, false)
	h.subscribe(current, 1, true)
	if !h.subs[old][1] || !h.subs[current][1] {
		t.Fatalf("a book of one part: subscribed %v (old client), %v", h.subs[old][1], h.subs[current][1])
	}
	for _, p := range []int64{97, 96} {
		book.Apply(engine.Buy, p, 10, 1)
	}
	h.feeds[1].changed()
	old2, current2 := newSub(), newSub()
	h.subscribe(old2, 1, false)
	h.subscribe(current2, 1, true)
	if h.subs[old2][1] || !h.subs[current2][1] {
		t.Fatalf("a book of two parts: subscribed %v (old client, want refused), %v", h.subs[old2][1], h.subs[current2][1])
	}
	for _, s := range h.feeds[1].followers {
		if s == old2 {
			t.Fatal("the refused subscriber follows the instrument")
		}
	}
}

// TestUnsubscribedSubscriberIsNotRetained: once a market-data subscriber
// has left (unsubscribe all, outbox closed, connection gone), nothing in
// the hub keeps it — nor its outbox and the send buffers it holds —
// reachable. unfollow removed it from feed.followers with
// append(f[:i], f[i+1:]...), which left the removed tail's pointer in the
// backing array past len: after churn the heap held tens of MiB of closed
// subscribers' buffers the send budget had given back (soak audit).
func TestUnsubscribedSubscriberIsNotRetained(t *testing.T) {
	h := newMDHub(&Node{cfg: config.Default()})
	h.ready = true
	keep := &subscriber{out: output.NewOutbox(discardConn{}, 1<<20, 0, nil)}
	defer keep.out.Close()
	h.subscribe(keep, 1, true)

	// A subscriber that stopped reading: its outbox holds a few MiB.
	srv, cli := net.Pipe()
	defer cli.Close()
	gone := &subscriber{out: output.NewOutbox(srv, 16<<20, 0, nil)}
	h.subscribe(gone, 1, true)
	for range 64 {
		if err := gone.out.Send(make([]byte, 64<<10)); err != nil {
			t.Fatal(err)
		}
	}
	w := weak.Make(gone)
	wo := weak.Make(gone.out)
	h.unsubscribe(gone, 0, true)
	gone.out.Close()
	<-gone.out.Done()
	gone = nil
	if n := len(h.feeds[1].followers); n != 1 {
		t.Fatalf("followers %d, want 1", n)
	}
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) && (w.Value() != nil || wo.Value() != nil) {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if w.Value() != nil || wo.Value() != nil {
		f := h.feeds[1].followers
		t.Fatalf("a subscriber that left is still reachable (followers len %d cap %d, stale slot holds it: %v); its outbox and buffers with it",
			len(f), cap(f), cap(f) > len(f) && f[:cap(f)][len(f)] == w.Value())
	}
}

// TestSubscribersLeavingInReverseAreNotRetained: subscribers leaving last
// first (a burst of disconnects) each stayed reachable through a stale
// slot of feed.followers, with their outboxes' buffers.
func TestSubscribersLeavingInReverseAreNotRetained(t *testing.T) {
	h := newMDHub(&Node{cfg: config.Default()})
	h.ready = true
	const n = 8
	var ws []weak.Pointer[output.Outbox]
	var subs []*subscriber
	for range n {
		s := &subscriber{out: output.NewOutbox(discardConn{}, 1<<20, 0, nil)}
		h.subscribe(s, 1, true)
		subs = append(subs, s)
		ws = append(ws, weak.Make(s.out))
	}
	for i := n - 1; i >= 0; i-- {
		h.unsubscribe(subs[i], 0, true)
		subs[i].out.Close()
		<-subs[i].out.Done()
	}
	subs = nil
	alive := 0
	for range 5 {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	for _, w := range ws {
		if w.Value() != nil {
			alive++
		}
	}
	if alive != 0 {
		t.Fatalf("%d of %d subscribers that left are still reachable from the hub", alive, n)
	}
}

// A subscriber moving between members compares a snapshot's input_seq
// with the updates of that instrument it saw (proto/README.md, "After a
// failover"): two members that applied the same inputs — here two nodes
// fed the same orders, one whose fan-out ran from the start, one whose
// book image was built after the inputs — send the same book with
// input_seqs that may differ (the book's last change, or the engine's
// last input at the image), and both at or above every input_seq of
// that instrument's updates. Compared with the other's snapshot instead,
// a current book would have been refused as older.
func TestSnapshotInputSeqAtOrAfterTheBooksUpdates(t *testing.T) {
	cfgA, cfgB := testConfig(t, t.TempDir()), testConfig(t, t.TempDir())
	a, addrsA, _ := startNode(t, cfgA)
	defer a.Stop()
	b, addrsB, _ := startNode(t, cfgB)
	defer b.Stop()
	early := subscribeMD(t, addrsA.MarketData, 1) // A's fan-out runs from the start
	in1, in2 := cfgA.Instruments[0], cfgA.Instruments[1]
	for _, addr := range []string{addrsA.Gateway, addrsB.Gateway} {
		c := dial(t, addr, 1)
		c.NewOrder(limit(1, wire.SideSell, in1.ReferencePrice, 5)) // changes book 1
		next(t, c, report(wire.ExecKindAccepted))
		for i := uint64(2); i <= 4; i++ { // then book 2 only
			o := limit(i, wire.SideBuy, in2.ReferencePrice-int64(i)*in2.TickSize, 1)
			o.Instrument = in2.ID
			c.NewOrder(o)
			next(t, c, report(wire.ExecKindAccepted))
		}
	}
	update := next(t, early, func(m client.Message) bool { return m.Type == wire.MessageLevelUpdate })
	snapA, snapB := snapshotOf(t, addrsA.MarketData, 1), snapshotOf(t, addrsB.MarketData, 1)
	if !slices.Equal(snapA.Bids, snapB.Bids) || !slices.Equal(snapA.Asks, snapB.Asks) || snapA.LastPrice != snapB.LastPrice {
		t.Fatalf("the two nodes' books of instrument 1 differ: %+v / %+v", snapA, snapB)
	}
	for name, s := range map[string]client.Message{"A": snapA, "B": snapB} {
		if s.InputSeq < update.InputSeq {
			t.Errorf("node %s's snapshot of instrument 1 at input_seq %d, below its update at %d: a current book refused as older", name, s.InputSeq, update.InputSeq)
		}
	}
}

// deepBooks rests levels bids, one lot each a tick apart below the
// reference price, on each of books, and waits for the last report.
func deepBooks(t *testing.T, c *client.Client, books []config.Instrument, levels int) {
	t.Helper()
	id := uint64(0)
	for _, in := range books {
		for k := 1; k <= levels; k++ {
			id++
			o := limit(id, wire.SideBuy, in.ReferencePrice-int64(k)*in.TickSize, in.LotSize)
			o.Instrument = in.ID
			c.NewOrder(o)
		}
	}
	next(t, c, func(m client.Message) bool { return m.Report.ClientOrderID == id })
}

// A subscriber of several books, each of whose snapshot fits
// marketdata.send_buffer_bytes but not all of them together, gets every
// snapshot, then each book's updates from the md_seq after its
// snapshot's — subscribing back to back on a port its Subscribe opens,
// and on one already open. On an opening port the snapshots were staged
// in one batch: they overflowed the buffer, and the subscriber was
// closed as a slow consumer before it could read a byte (audit); on an
// open port the same when the writer had not taken the first snapshot
// yet.
func TestSnapshotsThatEachFitTheSendBufferAllArrive(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	if err := cfg.Set("marketdata.send_buffer_bytes", "65536"); err != nil {
		t.Fatal(err)
	}
	n, addrs := startNodeSnapshotsAtOnce(t, cfg)
	c := dial(t, addrs.Gateway, 1)
	books := cfg.Instruments[1:3]
	deepBooks(t, c, books, 1500) // ~36 KB of snapshot each
	id := uint64(1_000_000)
	for round := range 6 {
		opening := round%2 == 0
		var holder *client.Client
		if !opening { // another subscriber keeps the port open
			holder = subscribeMD(t, addrs.MarketData, cfg.Instruments[0].ID)
		}
		md, err := client.DialMarketData(addrs.MarketData, client.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range books {
			md.Subscribe(in.ID)
		}
		md.Flush() // both Subscribes in one write: back to back
		md.SetReadDeadline(time.Now().Add(5 * time.Second))
		snapshots := map[uint32]uint64{} // md_seq of each book's snapshot
		for len(snapshots) < len(books) {
			m, err := md.Next()
			if err != nil {
				time.Sleep(100 * time.Millisecond) // the port counts its cause
				t.Fatalf("round %d (port opening %v): subscriber closed after %d of %d snapshots (%v); slow-consumer closes %d",
					round, opening, len(snapshots), len(books), err, n.mdHub.closed[mdSlowConsumer].Load())
			}
			switch m.Type {
			case wire.MessageBookSnapshot:
				if len(m.Bids) != 1500 {
					t.Fatalf("round %d: snapshot of %d with %d bids", round, m.Instrument, len(m.Bids))
				}
				snapshots[m.Instrument] = m.MDSeq
			case wire.MessageLevelUpdate, wire.MessageTrade, wire.MessageTradingStatus:
				t.Fatalf("round %d: an update before the snapshots: %+v", round, m)
			}
		}
		// Each book's next change comes as the update after its snapshot.
		for _, in := range books {
			id++
			o := limit(id, wire.SideBuy, in.ReferencePrice-in.TickSize, in.LotSize)
			o.Instrument = in.ID
			c.NewOrder(o)
		}
		for seen := 0; seen < len(books); {
			m, err := md.Next()
			if err != nil {
				t.Fatalf("round %d: waiting for the updates: %v", round, err)
			}
			if m.Type == wire.MessageLevelUpdate {
				if want := snapshots[m.Instrument] + 1; m.MDSeq != want {
					t.Fatalf("round %d: instrument %d: update md_seq %d after a snapshot at %d", round, m.Instrument, m.MDSeq, want-1)
				}
				seen++
			}
		}
		md.Close()
		if holder != nil {
			holder.Close()
		}
		waitUntil(t, func() bool { return !n.mdHub.active() }) // the next round opens the port again, or finds it so
	}
	wantClosed(t, n, mdSlowConsumer, 0)
}

// pipeSubscriber is a subscriber whose connection's writes wait until
// the test reads them (net.Pipe): its outbox's writer cannot take the
// snapshots away as fast as they are sent.
func pipeSubscriber(t *testing.T, limit int) (*subscriber, *proto.FrameReader) {
	t.Helper()
	srv, cli := net.Pipe()
	t.Cleanup(func() { cli.Close() })
	sub := &subscriber{out: output.NewOutbox(srv, limit, 0, nil)}
	t.Cleanup(sub.out.Close)
	cli.SetReadDeadline(time.Now().Add(10 * time.Second))
	return sub, proto.NewFrameReader(cli, 1<<20)
}

// Subscribes back to back on an open port, each book's snapshot under
// the send buffer but not two of them: each snapshot waits for room
// (none waited: the third overflowed the buffer of a subscriber whose
// writer was still on the first, and closed it), in the order asked for
// (the third went while the second waited, 14 runs in 300 under -race:
// the writer had taken the first between the two), and no update of a
// book reaches the subscriber before its snapshot.
func TestBackToBackSnapshotsWaitForRoom(t *testing.T) {
	cfg := config.Default()
	cfg.MarketData.SendBufferBytes = 64 << 10
	h := newMDHub(&Node{cfg: cfg, log: zerolog.Nop()})
	h.ready = true
	for _, f := range h.feeds {
		for k := range int64(1500) { // ~36 KB of snapshot
			f.book.Apply(engine.Buy, 100_000-k, 5, 1)
		}
		f.changed()
	}
	sub, fr := pipeSubscriber(t, cfg.MarketData.SendBufferBytes)
	for inst := uint32(1); inst <= 3; inst++ {
		h.subscribe(sub, inst, true)
	}
	if err := sub.out.Err(); err != nil {
		t.Fatalf("three snapshots subscribed back to back: %v", err)
	}
	// Nothing read yet: the writer is on the first snapshot, the third
	// waits (the second may too). An update of its book now is not for
	// it; one after its snapshot is.
	h.mu.Lock()
	waiting := !h.subs[sub][3] && !slices.Contains(h.feeds[3].followers, sub)
	publishLevel(h, 3, 1)
	h.mu.Unlock()
	if !waiting {
		t.Fatal("the third snapshot did not wait for the first to be written")
	}
	var snapSeq uint64
	for inst := uint32(1); inst <= 3; inst++ {
		payload, err := fr.Next()
		if err != nil {
			t.Fatalf("snapshot %d: %v (outbox: %v)", inst, err, sub.out.Err())
		}
		typ, pos, err := proto.Verify(payload)
		if err != nil || typ != wire.MessageBookSnapshot {
			t.Fatalf("frame %d: %s %v, want snapshot %d", inst, wire.EnumNamesMessage[typ], err, inst)
		}
		if s := proto.BookSnapshotAt(payload, pos); s.Instrument != inst || len(s.Bids) != 1500 {
			t.Fatalf("frame %d: snapshot of %d with %d bids", inst, s.Instrument, len(s.Bids))
		} else {
			snapSeq = s.MDSeq
		}
	}
	h.mu.Lock()
	publishLevel(h, 3, 2)
	h.mu.Unlock()
	payload, err := fr.Next()
	if err != nil {
		t.Fatal(err)
	}
	typ, pos, _ := proto.Verify(payload)
	if u := proto.LevelUpdateAt(payload, pos); typ != wire.MessageLevelUpdate || u.Quantity != 2 || u.MDSeq != snapSeq+1 {
		t.Fatalf("after the snapshot at md_seq %d: %s %+v, want the update after it", snapSeq, wire.EnumNamesMessage[typ], u)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.pending) != 0 || sub.out.Err() != nil {
		t.Fatalf("%d snapshots still waiting; outbox %v", len(h.pending), sub.out.Err())
	}
}

// publishLevel fans out a level update of instrument's book at 100 000
// (qty, one order) to its followers, as a fan-out batch would, and
// commits it. The caller holds h.mu.
func publishLevel(h *mdHub, instrument uint32, qty int64) {
	f := h.feeds[instrument]
	f.book.Seq++
	h.publish(f, h.enc.LevelUpdate(0, proto.LevelUpdate{Instrument: instrument, MDSeq: f.book.Seq, Side: wire.SideBuy, Price: 100_000, Quantity: qty, Count: 1}))
	for _, o := range h.stageFilled(nil) {
		o.Commit(0)
	}
}

// nextMDFrame reads fr's next frame, failing the test on an error or a
// frame that does not verify.
func nextMDFrame(t *testing.T, fr *proto.FrameReader) (wire.Message, []byte, uint32) {
	t.Helper()
	payload, err := fr.Next()
	if err != nil {
		t.Fatal(err)
	}
	typ, pos, err := proto.Verify(payload)
	if err != nil {
		t.Fatal(err)
	}
	return typ, payload, pos
}

// twoSubscribersOfADeepBook returns a hub with its books ready, book 1
// 300 levels deep, and two pipe subscribers of it, each sent its
// snapshot: one beside (its frames returned), and one under test.
func twoSubscribersOfADeepBook(t *testing.T) (h *mdHub, besideFrames *proto.FrameReader, sub *subscriber, fr *proto.FrameReader) {
	t.Helper()
	cfg := config.Default()
	h = newMDHub(&Node{cfg: cfg, log: zerolog.Nop()})
	h.ready = true
	f := h.feeds[1]
	for k := range int64(300) {
		f.book.Apply(engine.Buy, 90_000-k, 5, 1)
	}
	f.changed()
	beside, besideFrames := pipeSubscriber(t, cfg.MarketData.SendBufferBytes)
	sub, fr = pipeSubscriber(t, cfg.MarketData.SendBufferBytes)
	h.subscribe(beside, 1, true)
	h.subscribe(sub, 1, true)
	return h, besideFrames, sub, fr
}

// expectMDFrame reads fr's next frame (nextMDFrame), failing the test
// unless it is a want, and returns its payload and table position.
func expectMDFrame(t *testing.T, fr *proto.FrameReader, want wire.Message) ([]byte, uint32) {
	t.Helper()
	typ, payload, pos := nextMDFrame(t, fr)
	if typ != want {
		t.Fatalf("%s, want a %s", wire.EnumNamesMessage[typ], wire.EnumNamesMessage[want])
	}
	return payload, pos
}

// A Subscribe to a book the connection follows while its last snapshot
// is still unsent draws no new one: that snapshot answers it, and the
// updates follow it with no gap. Each drew a whole snapshot (here 20
// Subscribes of a client that read nothing queued 21 snapshots of 300
// levels). Unsubscribed and subscribed again meanwhile, the new snapshot
// waits until that one is written. A subscriber beside it loses nothing.
func TestSubscribeAgainWhileTheSnapshotIsUnsent(t *testing.T) {
	h, besideFrames, sub, fr := twoSubscribersOfADeepBook(t)
	first, _ := sub.out.Progress()
	for range 20 {
		h.subscribe(sub, 1, true)
	}
	if queued, _ := sub.out.Progress(); queued != first || sub.out.Err() != nil {
		t.Fatalf("20 Subscribes again before the snapshot was read queued %d bytes more (a snapshot is %d); outbox %v", queued-first, first, sub.out.Err())
	}
	h.mu.Lock()
	publishLevel(h, 1, 7)
	h.mu.Unlock()
	for name, r := range map[string]*proto.FrameReader{"the subscriber": fr, "the one beside": besideFrames} {
		typ, payload, pos := nextMDFrame(t, r)
		if typ != wire.MessageBookSnapshot {
			t.Fatalf("%s: %s first, want the snapshot", name, wire.EnumNamesMessage[typ])
		}
		snap := proto.BookSnapshotAt(payload, pos)
		typ, payload, pos = nextMDFrame(t, r)
		if u := proto.LevelUpdateAt(payload, pos); typ != wire.MessageLevelUpdate || u.Quantity != 7 || u.MDSeq != snap.MDSeq+1 {
			t.Fatalf("%s: after the snapshot at md_seq %d: %s %+v, want the update after it", name, snap.MDSeq, wire.EnumNamesMessage[typ], u)
		}
	}

	// Written now: unsubscribed and subscribed again, while the second
	// snapshot is unsent, the third waits for it.
	h.unsubscribe(sub, 1, false)
	h.subscribe(sub, 1, true) // the second, written at once into the pipe's writer
	h.unsubscribe(sub, 1, false)
	second, _ := sub.out.Progress()
	h.subscribe(sub, 1, true)
	h.mu.Lock()
	queued, _ := sub.out.Progress()
	waits := len(h.pending)
	h.mu.Unlock()
	if queued != second || waits != 1 {
		t.Fatalf("subscribed again after an unsubscribe while its snapshot is unsent: %d bytes more queued, %d snapshots waiting; want none queued, one waiting", queued-second, waits)
	}
}

// A subscriber that stops reading is still cut as a slow consumer once
// its updates overflow its buffer, after it asked for books whose
// snapshots go as it has room: pacing the snapshots does not shelter it.
func TestSlowSubscriberOfPacedSnapshotsStillCut(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	if err := cfg.Set("marketdata.send_buffer_bytes", "65536"); err != nil {
		t.Fatal(err)
	}
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	trader := dial(t, addrs.Gateway, 1)
	deepBooks(t, trader, cfg.Instruments[1:3], 1500) // ~36 KB of snapshot each
	readAway(trader)                                 // the trader reads its reports: it is not the slow one
	// Never reads; its small receive window keeps the kernel from
	// absorbing much before the node notices.
	slow := dialSmallWindow(t, addrs.MarketData)
	h := n.mdHub
	follows := func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return len(h.feeds[1].followers) == 1
	}
	enc := proto.NewEncoder()
	for _, in := range cfg.Instruments { // instrument 1, then the deep books once it follows 1
		if _, err := slow.Write(enc.Subscribe(1, in.ID)); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, follows)
	}
	in := cfg.Instruments[0]
	done := make(chan struct{})
	go func() { // level updates of instrument 1 until the subscriber is cut (ids apart from the deep books' resting orders)
		defer close(done)
		for i := uint64(1); n.mdHub.closed[mdSlowConsumer].Load() == 0 && i <= 200_000; i++ {
			if trader.NewOrder(limit(1_000_000+i%1000, wire.SideBuy, in.ReferencePrice-int64(1+i%50)*in.TickSize, 1)) != nil || trader.MassCancel(1) != nil {
				return
			}
		}
	}()
	waitUntil(t, func() bool { return n.mdHub.closed[mdSlowConsumer].Load() == 1 })
	<-done
	waitUntil(t, func() bool { return n.mdHub.served() == 0 })
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.subs) != 0 || len(h.pending) != 0 {
		t.Fatalf("after the cut: %d subscribers, %d snapshots waiting", len(h.subs), len(h.pending))
	}
}

// The pacer offers a subscriber's waiting snapshots in the order asked
// for: a smaller book's that fits does not go ahead of a larger one's
// that still waits for room.
func TestPacedSnapshotsGoInTheirTurn(t *testing.T) {
	cfg := config.Default()
	cfg.MarketData.SendBufferBytes = 64 << 10
	h := newMDHub(&Node{cfg: cfg, log: zerolog.Nop()})
	h.ready = true
	large, small := h.feeds[2], h.feeds[3]
	for k := range int64(1500) { // ~36 KB: over half the buffer with anything unsent
		large.book.Apply(engine.Buy, 100_000-k, 5, 1)
	}
	large.changed()
	small.book.Apply(engine.Buy, 100_000, 5, 1)
	small.changed()
	sub, _ := pipeSubscriber(t, cfg.MarketData.SendBufferBytes)
	// Unsent bytes that stay: nothing reads, so the writer holds the first
	// write once it has taken it, and the second waits queued (sent back
	// to back, the writer took both at once in one CI run: none unsent).
	sub.out.Send(make([]byte, 1000))
	waitUntil(t, func() bool { unsent, _ := sub.out.Pending(); return unsent == 0 })
	sub.out.Send(make([]byte, 1000))
	h.mu.Lock()
	defer h.mu.Unlock()
	h.subs[sub] = map[uint32]bool{2: false, 3: false}
	h.pending = []subscription{{sub: sub, instrument: 2}, {sub: sub, instrument: 3}}
	h.offerPending(time.Now())
	if h.subs[sub][2] || h.subs[sub][3] || len(h.pending) != 2 {
		t.Fatalf("sent: book 2 %v, book 3 %v; %d still waiting — want both waiting, book 3 behind book 2", h.subs[sub][2], h.subs[sub][3], len(h.pending))
	}
	if len(h.behind) != 0 {
		t.Fatalf("offerPending kept %d subscribers in behind", len(h.behind))
	}
}

// A connection is sent at most one snapshot of a book a second
// (snapshotAgainAfter): a client that reads every snapshot and asks
// again in a loop — Subscribe to the book it follows, or Unsubscribe
// and Subscribe — drew a whole book per ask, 100 a second at the
// default message_rate. Its asks within the second draw nothing; the
// snapshot asked for goes when it has passed, the updates after it with
// no gap. Meanwhile a snapshot of another book goes at once, and a
// subscriber beside it loses no update.
func TestSubscribeAgainDrawsOneSnapshotOfABookASecond(t *testing.T) {
	h, besideFrames, sub, fr := twoSubscribersOfADeepBook(t)
	h.mu.Lock()
	h.snapshotAgain = time.Hour // passed only when the test says so
	f := h.feeds[1]
	h.mu.Unlock()
	besideSeq := proto.BookSnapshotAt(expectMDFrame(t, besideFrames, wire.MessageBookSnapshot)).MDSeq
	expectMDFrame(t, fr, wire.MessageBookSnapshot)
	waitUntil(t, func() bool { queued, written := sub.out.Progress(); return written == queued }) // read whole: none unsent answers the next ask
	first, _ := sub.out.Progress()

	const asks = 50
	for i := range int64(asks) {
		if i%2 == 1 {
			h.unsubscribe(sub, 1, false)
		}
		h.subscribe(sub, 1, true)
		h.mu.Lock()
		publishLevel(h, 1, i+1)
		f.changed() // as the fan-out's update would: the next snapshot is as of it
		h.mu.Unlock()
		u := proto.LevelUpdateAt(expectMDFrame(t, besideFrames, wire.MessageLevelUpdate))
		if u.MDSeq != besideSeq+1 || u.Quantity != i+1 {
			t.Fatalf("the subscriber beside: update md_seq %d quantity %d after md_seq %d, want the next, quantity %d", u.MDSeq, u.Quantity, besideSeq, i+1)
		}
		besideSeq = u.MDSeq
	}
	h.mu.Lock()
	queued, _ := sub.out.Progress()
	waits := len(h.pending)
	h.mu.Unlock()
	if queued != first || waits != 1 || sub.out.Err() != nil {
		t.Fatalf("%d asks again within the second after a snapshot that was read: %d bytes more queued (a snapshot is %d), %d snapshots waiting, outbox %v; want none queued, one waiting",
			asks, queued-first, first, waits, sub.out.Err())
	}

	// Another book's snapshot is not held behind the deferred one.
	h.subscribe(sub, 2, true)
	if s := proto.BookSnapshotAt(expectMDFrame(t, fr, wire.MessageBookSnapshot)); s.Instrument != 2 {
		t.Fatalf("a snapshot of book %d, want book 2's at once", s.Instrument)
	}

	// The second passes: the snapshot asked for goes, as of the last
	// update, and the updates follow it.
	h.mu.Lock()
	h.snapshotAgain = 0
	h.startPacer() // wakes it: it sleeps until the deferred snapshot's time
	h.mu.Unlock()
	snap := proto.BookSnapshotAt(expectMDFrame(t, fr, wire.MessageBookSnapshot))
	if snap.Instrument != 1 || snap.MDSeq != besideSeq {
		t.Fatalf("the snapshot asked for: book %d at md_seq %d, want book 1 at %d", snap.Instrument, snap.MDSeq, besideSeq)
	}
	h.mu.Lock()
	publishLevel(h, 1, 7)
	h.mu.Unlock()
	if u := proto.LevelUpdateAt(expectMDFrame(t, fr, wire.MessageLevelUpdate)); u.MDSeq != snap.MDSeq+1 {
		t.Fatalf("after the snapshot at md_seq %d: update at %d", snap.MDSeq, u.MDSeq)
	}
}
