package node

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/gateway"
	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// mdFeedCheck follows the updates of a streaming subscriber: each call
// to more rests another buy at instrument 1's reference price and checks
// that every subscriber given gets the level's new total next, with no
// md_seq gap since its last.
type mdFeedCheck struct {
	t      *testing.T
	cfg    *config.Config
	trader *client.Client
	total  int64
	clOrd  uint64
	seqs   map[*client.Client]map[uint32]uint64
}

func newMDFeedCheck(t *testing.T, cfg *config.Config, gateway string) *mdFeedCheck {
	return &mdFeedCheck{t: t, cfg: cfg, trader: dial(t, gateway, 1), seqs: map[*client.Client]map[uint32]uint64{}}
}

func (f *mdFeedCheck) more(subs ...*client.Client) {
	f.t.Helper()
	f.clOrd++
	f.total += 2
	f.trader.NewOrder(limit(f.clOrd, wire.SideBuy, f.cfg.Instruments[0].ReferencePrice, 2))
	next(f.t, f.trader, report(wire.ExecKindAccepted))
	for i, sub := range subs {
		if f.seqs[sub] == nil {
			f.seqs[sub] = map[uint32]uint64{1: 0}
		}
		u := nextUpdate(f.t, sub, f.seqs[sub])
		if u.Type != wire.MessageLevelUpdate || u.Level.Quantity != f.total {
			f.t.Fatalf("streaming subscriber %d got %s %+v, want the level's total %d", i, wire.EnumNamesMessage[u.Type], u.Level, f.total)
		}
	}
}

// startWithFeedCheck starts a node of testConfig with settings, and an
// mdFeedCheck trading on it.
func startWithFeedCheck(t *testing.T, settings map[string]string) (*Node, Addrs, *mdFeedCheck) {
	t.Helper()
	cfg := testConfig(t, t.TempDir())
	setConfig(t, cfg, settings)
	n, addrs, _ := startNode(t, cfg)
	return n, addrs, newMDFeedCheck(t, cfg, addrs.Gateway)
}

// wantLogonReject reads c until a LogonReject and checks its reason, then
// that the node closes c.
func wantLogonReject(t *testing.T, c *client.Client, why wire.LogonRejectReason, what string) {
	t.Helper()
	m := next(t, c, func(m client.Message) bool { return m.Type == wire.MessageLogonReject })
	if m.LogonReject != why {
		t.Fatalf("%s: LogonReject %s, want %s", what, m.LogonReject, why)
	}
	expectClosed(t, c, what)
}

// mdLogon logs on to the market-data port as account.
func mdLogon(t *testing.T, addr string, account uint32) *client.Client {
	t.Helper()
	c, err := client.DialMarketDataLogon(addr, account, config.Default().Accounts[account-1].Secret, client.Options{AutoFlush: true})
	if err != nil {
		t.Fatalf("market-data logon of account %d: %v", account, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// subscribed subscribes c to instrument 1 and waits for its snapshot.
func subscribed(t *testing.T, c *client.Client) *client.Client {
	t.Helper()
	c.Subscribe(1)
	next(t, c, func(m client.Message) bool { return m.Type == wire.MessageBookSnapshot })
	return c
}

// Connections that never subscribe — the cheapest way to hold the
// port's slots — give theirs up: with marketdata.max_connections held, a
// new connection takes the slot of the oldest connection subscribed to
// nothing (one that unsubscribed from everything too), which is told
// LogonReject{TooManyConnections} and closed. With every slot held by a
// subscriber, the new one is refused. A subscriber streaming meanwhile
// gets every update, in order. Before, the idle connections kept every
// newcomer out until gateway.read_timeout.
func TestMarketDataIdleConnectionsMakeRoom(t *testing.T) {
	n, addrs, feed := startWithFeedCheck(t, map[string]string{"marketdata.max_connections": "3"})
	streaming := subscribeMD(t, addrs.MarketData, 1)
	feed.more(streaming)

	left := subscribeMD(t, addrs.MarketData, 1) // subscribes, then follows nothing
	left.Unsubscribe(1)
	idle := dialMD(t, addrs.MarketData)
	waitUntil(t, func() bool { return n.mdHub.served() == 3 && n.mdHub.waiting.Listed() == 2 })

	newcomer := subscribed(t, dialMD(t, addrs.MarketData))
	wantLogonReject(t, left, wire.LogonRejectReasonTooManyConnections, "the oldest connection following nothing")
	feed.more(streaming, newcomer)
	second := subscribed(t, dialMD(t, addrs.MarketData))
	wantLogonReject(t, idle, wire.LogonRejectReasonTooManyConnections, "the idle connection")
	wantClosed(t, n, mdEvicted, 2)

	refused := dialMD(t, addrs.MarketData)
	wantLogonReject(t, refused, wire.LogonRejectReasonTooManyConnections, "a connection with every slot subscribed")
	wantClosed(t, n, mdMaxConnections, 1)
	feed.more(streaming, newcomer, second)
	waitUntil(t, func() bool { return n.mdHub.served() == 3 })
}

// With marketdata.require_logon, a Subscribe before a Logon is answered
// LogonReject{NotLoggedOn} and closed; a wrong secret LogonReject
// {BadSecret}, its failure spent from the same failed-logon allowance as
// order entry's (gateway.failed_logons_per_minute): the next logon from
// the address, on either port, is refused TooManyFailedLogons. A logon
// with the right secret is acknowledged and its Subscribe served.
func TestMarketDataRequiresLogon(t *testing.T) {
	n, addrs, feed := startWithFeedCheck(t, map[string]string{"marketdata.require_logon": "true", "gateway.failed_logons_per_minute": "2"})
	streaming := subscribed(t, mdLogon(t, addrs.MarketData, 1))
	feed.more(streaming)

	stranger := dialMD(t, addrs.MarketData)
	stranger.Subscribe(1)
	wantLogonReject(t, stranger, wire.LogonRejectReasonNotLoggedOn, "a Subscribe before a Logon")
	wantClosed(t, n, mdNotLoggedOn, 1)

	for i, want := range []wire.LogonRejectReason{wire.LogonRejectReasonBadSecret, wire.LogonRejectReasonBadSecret, wire.LogonRejectReasonTooManyFailedLogons} {
		_, err := client.DialMarketDataLogon(addrs.MarketData, 1, "not-the-secret", client.Options{AutoFlush: true})
		if client.LogonRejectReason(err) != want {
			t.Fatalf("wrong secret %d: %v, want LogonReject %s", i+1, err, want)
		}
	}
	wantClosed(t, n, mdLogonFailed, 2)
	wantClosed(t, n, mdLogonThrottled, 1)
	// The same guard: order entry from this address is throttled too.
	if _, err := client.Dial(addrs.Gateway, 2, config.Default().Accounts[1].Secret, client.Options{}); client.LogonRejectReason(err) != wire.LogonRejectReasonTooManyFailedLogons {
		t.Fatalf("order-entry logon after the market-data port's failed ones: %v, want TooManyFailedLogons", err)
	}
	feed.more(streaming)
}

// Failed logons alternating between the two ports spend one allowance,
// not one each: with gateway.failed_logons_per_minute 2, a wrong secret
// on order entry and one on market data leave the address none, and its
// next logon on either port — the right secret included — is refused
// unchecked (logon-throttled on market data). Both ports check through
// the gateway's one guard (Gateway.CheckLogon).
func TestFailedLogonsShareOneAllowanceAcrossPorts(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Set("marketdata.require_logon", "true")
	cfg.Set("gateway.failed_logons_per_minute", "2")
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	secret := config.Default().Accounts[0].Secret
	opts := client.Options{AutoFlush: true, Timeout: 5 * time.Second}
	if _, err := client.Dial(addrs.Gateway, 1, "not-the-secret", opts); client.LogonRejectReason(err) != wire.LogonRejectReasonBadSecret {
		t.Fatalf("order entry, wrong secret: %v, want BadSecret", err)
	}
	if _, err := client.DialMarketDataLogon(addrs.MarketData, 1, "not-the-secret", opts); client.LogonRejectReason(err) != wire.LogonRejectReasonBadSecret {
		t.Fatalf("market data, wrong secret: %v, want BadSecret", err)
	}
	if _, err := client.DialMarketDataLogon(addrs.MarketData, 1, secret, opts); client.LogonRejectReason(err) != wire.LogonRejectReasonTooManyFailedLogons {
		t.Fatalf("market data, right secret, the allowance spent on both ports: %v, want TooManyFailedLogons", err)
	}
	if _, err := client.Dial(addrs.Gateway, 1, secret, opts); client.LogonRejectReason(err) != wire.LogonRejectReasonTooManyFailedLogons {
		t.Fatalf("order entry, right secret, the allowance spent on both ports: %v, want TooManyFailedLogons", err)
	}
	wantClosed(t, n, mdLogonFailed, 1)
	wantClosed(t, n, mdLogonThrottled, 1)
	if got := n.gw.Counters.Disconnects[gateway.CauseLogonThrottled].Load(); got != 1 {
		t.Fatalf("order entry logon_throttled closes: %d, want 1", got)
	}
}

// With marketdata.require_logon, a connection that has not logged on
// gives its slot up first — before an older one logged on but following
// nothing, which goes next — and a subscriber logged on and following an
// instrument never does: with every slot held so, a newcomer is refused.
// A Subscribe without a Logon holds no slot: it is refused. The
// streaming subscriber gets every update in order throughout.
func TestMarketDataEvictsConnectionsNotLoggedOnFirst(t *testing.T) {
	n, addrs, feed := startWithFeedCheck(t, map[string]string{"marketdata.require_logon": "true", "marketdata.max_connections": "3"})
	streaming := subscribed(t, mdLogon(t, addrs.MarketData, 1))
	feed.more(streaming)

	loggedOn := mdLogon(t, addrs.MarketData, 2) // older, follows nothing
	silent := dialMD(t, addrs.MarketData)       // never logs on
	waitUntil(t, func() bool { return n.mdHub.served() == 3 && n.mdHub.waiting.Listed() == 2 })

	newcomer := subscribed(t, mdLogon(t, addrs.MarketData, 1))
	wantLogonReject(t, silent, wire.LogonRejectReasonTooManyConnections, "the connection not logged on")
	feed.more(streaming, newcomer)
	second := subscribed(t, mdLogon(t, addrs.MarketData, 2))
	wantLogonReject(t, loggedOn, wire.LogonRejectReasonTooManyConnections, "the connection following nothing")
	wantClosed(t, n, mdEvicted, 2)

	if _, err := client.DialMarketDataLogon(addrs.MarketData, 1, config.Default().Accounts[0].Secret, client.Options{}); !errors.Is(err, client.ErrTooManyConnections) {
		t.Fatalf("a logon with every slot subscribed: %v, want ErrTooManyConnections", err)
	}
	wantClosed(t, n, mdMaxConnections, 1)
	feed.more(streaming, newcomer, second)
}

// With marketdata.require_logon, one account holds at most
// marketdata.max_connections_per_account connections: the next logon of
// the account is answered LogonReject{TooManySessions} and closed, its
// connections streaming on; another account is not affected, and a
// connection that ends gives its account's place back.
func TestMarketDataConnectionsPerAccount(t *testing.T) {
	n, addrs, feed := startWithFeedCheck(t, map[string]string{"marketdata.require_logon": "true", "marketdata.max_connections_per_account": "2"})
	first := subscribed(t, mdLogon(t, addrs.MarketData, 1))
	idle := mdLogon(t, addrs.MarketData, 1) // logged on, following nothing: counted too
	feed.more(first)

	if _, err := client.DialMarketDataLogon(addrs.MarketData, 1, config.Default().Accounts[0].Secret, client.Options{}); !errors.Is(err, client.ErrTooManySessions) {
		t.Fatalf("account 1's third connection: %v, want ErrTooManySessions", err)
	}
	wantClosed(t, n, mdMaxPerAccount, 1)
	other := subscribed(t, mdLogon(t, addrs.MarketData, 2))
	feed.more(first, other)

	idle.Close()
	waitUntil(t, func() bool { return n.mdHub.served() == 2 })
	again := subscribed(t, mdLogon(t, addrs.MarketData, 1))
	feed.more(first, other, again)
}

// A connection whose Subscribe is refused after its reader saw it
// subscribed — at the end of the image the port was waiting for, or by
// the pacer (BookTooLarge) — follows nothing: it gives its slot up to a
// newcomer as one that never subscribed does, however it keeps its
// connection alive. Before, it had left the waitlist with its Subscribe
// and only its next Subscribe or Unsubscribe listed it again: sending
// Heartbeats, it held its slot for as long as it liked, and the newcomer
// was refused.
func TestMarketDataConnectionRefusedLaterMakesRoom(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	setConfig(t, cfg, map[string]string{"marketdata.send_buffer_bytes": "65536", "gateway.read_timeout": "1m", "marketdata.max_connections": "2"})
	eth := &cfg.Instruments[1]
	eth.PriceBandTicks = 0
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	deepBooks(t, dial(t, addrs.Gateway, 2), []config.Instrument{*eth}, 4000) // ~96 KB of levels; account 2: the feed check's orders are account 1's
	feed := newMDFeedCheck(t, cfg, addrs.Gateway)
	streaming := subscribeMD(t, addrs.MarketData, 1)
	feed.more(streaming)

	// The books not ready, as between the port's opening and its image's
	// end: the Subscribe waits for them, and the reader sees it subscribed.
	h := n.mdHub
	h.mu.Lock()
	h.ready = false
	h.mu.Unlock()
	refused := dialMD(t, addrs.MarketData)
	refused.Subscribe(eth.ID)
	// A Logon (not required) answered: the reader is done with the
	// Subscribe before it.
	refused.SendRaw(proto.NewEncoder().Logon(1, 1, config.Default().Accounts[0].Secret))
	next(t, refused, func(m client.Message) bool { return m.Type == wire.MessageLogonAck })
	if got := h.waiting.Listed(); got != 0 {
		t.Fatalf("%d connections listed, want none: both subscribed", got)
	}
	h.mu.Lock() // the image's end
	h.ready = true
	h.offerPending(time.Now())
	h.mu.Unlock()
	m := next(t, refused, func(m client.Message) bool { return m.Type != wire.MessageHeartbeat })
	if m.Type != wire.MessageSubscribeReject || m.SubscribeReject != wire.SubscribeRejectReasonBookTooLarge {
		t.Fatalf("%+v, want SubscribeReject BookTooLarge", m)
	}
	refused.Heartbeat() // alive, following nothing
	waitUntil(t, func() bool { return h.waiting.Listed() == 1 })

	newcomer := subscribed(t, dialMD(t, addrs.MarketData))
	wantLogonReject(t, refused, wire.LogonRejectReasonTooManyConnections, "the connection whose Subscribe was refused")
	wantClosed(t, n, mdEvicted, 1)
	feed.more(streaming, newcomer)
}

// Without marketdata.require_logon the port is open, and a Logon on it is
// answered LogonAck unchecked: checking it would let anyone test secrets
// at every cluster member's market-data port, with an allowance of failed
// logons of its own. A wrong secret is acknowledged, counts no failed
// logon, and the subscription then works; the address stays free to log
// on at order entry.
func TestMarketDataLogonNotRequiredIsNotChecked(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Set("gateway.failed_logons_per_minute", "1")
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	for i := range 3 {
		c, err := client.DialMarketDataLogon(addrs.MarketData, 1, "not-the-secret", client.Options{AutoFlush: true})
		if err != nil {
			t.Fatalf("logon %d with a wrong secret where none is required: %v, want LogonAck", i+1, err)
		}
		defer subscribed(t, c).Close()
	}
	wantClosed(t, n, mdLogonFailed, 0)
	wantClosed(t, n, mdLogonThrottled, 0)
	c, err := client.Dial(addrs.Gateway, 2, config.Default().Accounts[1].Secret, client.Options{})
	if err != nil {
		t.Fatalf("order-entry logon after the market-data port's: %v", err)
	}
	c.Close()
}

// A connection refused at its Logon (a wrong secret) whose client keeps
// sending past the answer holds its slot until its connection is
// closed: the lingering close after the answer (the outbox's, within
// its close grace) drops what the client sends, and the reader gives
// the slot back only once it ends — as the order-entry port's refusals
// hold theirs. It gave the slot back at once, the close lingering on
// after it: each such refusal held a descriptor past
// marketdata.max_connections and max_connections_per_address for up to
// a second. Once the port no longer counts it, its client's writes
// fail: the connection is closed.
func TestMarketDataRefusedConnectionHoldsItsSlotUntilClosed(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Set("marketdata.require_logon", "true")
	n, addrs, _ := startNode(t, cfg)
	conn, err := net.Dial("tcp", addrs.MarketData)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	enc := proto.NewEncoder()
	if _, err := conn.Write(enc.Logon(1, 1, "not-the-secret")); err != nil {
		t.Fatal(err)
	}
	heartbeat := bytes.Clone(enc.Heartbeat(0))
	defer testkit.KeepSending(conn, heartbeat)()
	wantClosed(t, n, mdLogonFailed, 1)
	waitUntil(t, func() bool { return n.mdHub.served() == 0 })
	// Closed before: the reset its unread bytes drew is in the client's
	// socket, or answers this write. The close's grace (a second) is
	// longer than this wait.
	conn.SetWriteDeadline(time.Now().Add(250 * time.Millisecond))
	for {
		_, err := conn.Write(heartbeat)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatal("the port gave back the slot of a refused connection still open")
		}
		if err != nil {
			break
		}
	}
}

// With marketdata.require_logon, a connection that sends part of its
// Logon frame and not the rest within gateway.read_timeout is closed,
// counted logon-timeout (not idle), and told nothing but the end of
// the stream, as order entry's logon_timeout is; a subscriber streaming
// meanwhile is served on. (Its trader connects after: at a read timeout
// of a second, a trader sending nothing meanwhile is closed itself.)
func TestMarketDataStalledLogonClosed(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	setConfig(t, cfg, map[string]string{"marketdata.require_logon": "true", "gateway.heartbeat_interval": "250ms", "gateway.read_timeout": "1s"})
	n, addrs, _ := startNode(t, cfg)
	streaming := subscribed(t, mdLogon(t, addrs.MarketData, 1))
	stalled := silentPlain(t, addrs.MarketData)
	logon := proto.NewEncoder().Logon(1, 2, config.Default().Accounts[1].Secret)
	if _, err := stalled.Write(logon[:len(logon)/2]); err != nil {
		t.Fatal(err)
	}
	if told := mdFramesToEnd(t, stalled); len(told) != 0 {
		t.Fatalf("the stalled Logon was sent %d frames but Heartbeats, want none", len(told))
	}
	wantClosed(t, n, mdLogonTimeout, 1)
	wantClosed(t, n, mdIdle, 0)
	newMDFeedCheck(t, cfg, addrs.Gateway).more(streaming)
}

// An account whose secret makes its Logon longer than the market-data
// port's 1024 bytes — order entry takes it, up to gateway.max_frame_bytes
// (4096 by default), and the config is valid — logs on to the
// market-data port with marketdata.require_logon too, and subscribes. The
// port closed its Logon as malformed (a frame over 1024 bytes): the
// account could never follow the market there.
func TestMarketDataLogonWithALongSecret(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Set("marketdata.require_logon", "true")
	secret := strings.Repeat("s", 1500)
	cfg.Accounts[1].Secret = secret
	if err := cfg.Validate(); err != nil {
		t.Fatalf("an account with a secret of %d bytes: %v", len(secret), err)
	}
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	dialWith(t, addrs.Gateway, 2, secret).Close() // order entry takes it
	c, err := client.DialMarketDataLogon(addrs.MarketData, 2, secret, client.Options{AutoFlush: true})
	if err != nil {
		t.Fatalf("a market-data logon of the account: %v, want LogonAck", err)
	}
	defer c.Close()
	subscribed(t, c)
	wantClosed(t, n, mdMalformed, 0)

	// The limit is its Logon's, and still a limit.
	limit := n.mdHub.maxFrame
	if limit < len(proto.NewEncoder().DropCopyLogon(1, 2, secret)) {
		t.Fatalf("the port reads frames of %d bytes at most, fewer than the account's Logon", limit)
	}
	big := dialMD(t, addrs.MarketData)
	big.SendRaw(proto.AppendFrame(nil, make([]byte, limit+1)))
	err = expectClosed(t, big, "a frame over the port's limit")
	wantToldWhy(t, err, "malformed")
	if want := fmt.Sprintf("a frame over %d bytes", limit); !strings.Contains(err.Error(), want) {
		t.Fatalf("told %v, want %q", err, want)
	}
	wantClosed(t, n, mdMalformed, 1)
}
