package node

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/gateway"
	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// Sessions crossing the order-entry limits — a frame over
// gateway.max_frame_bytes, a logon past max_sessions_per_account, a flood
// past the account's rate_limit and then its disconnect_rate — are each
// refused or ended for that limit, told why; status requests past
// gateway.status_rate are rejected rate-limited, their session kept. Each
// costs a session trading
// beside them nothing: every one of its orders, sent around each
// offence, is accepted in order with no other report, and a market-data
// subscriber sees each of its levels. The gateway's own tests cross each
// limit beside sessions whose frames reach a fake ring; here their
// reports and the book's updates come back through the whole node.
func TestOrderEntryLimitsCostOthersNothing(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	setConfig(t, cfg, map[string]string{"gateway.max_frame_bytes": "256", "gateway.max_sessions_per_account": "1"})
	cfg.Accounts[1].RateLimit, cfg.Accounts[1].DisconnectRate = 20, 60
	n, addrs, _ := startNode(t, cfg)
	in := cfg.Instruments[0]
	calm := newCalmTrader(t, cfg, addrs)

	calm.trade()
	big := dial(t, addrs.Gateway, 2)
	big.SendRaw(proto.AppendFrame(nil, make([]byte, 300)))
	if m := next(t, big, func(m client.Message) bool { return m.Type == wire.MessageLogonReject }); m.LogonReject != wire.LogonRejectReasonFrameTooLarge {
		t.Fatalf("a frame over max_frame_bytes: refused %v, want FrameTooLarge", m.LogonReject)
	}
	// Its session is unregistered before its client reads its end: the
	// next logon of account 2 is not refused TooManySessions.
	expectClosed(t, big, "a session that sent a frame over max_frame_bytes")

	calm.trade()
	flood := dial(t, addrs.Gateway, 2)
	if _, err := client.Dial(addrs.Gateway, 2, cfg.Accounts[1].Secret, client.Options{}); !errors.Is(err, client.ErrTooManySessions) {
		t.Fatalf("a second session of account 2 (max_sessions_per_account 1): %v", err)
	}

	calm.trade()
	go func() { // IOC sells above the bids: nothing rests, nothing trades
		for i := range uint64(1000) { // bounded: the node ends it after ~80
			o := limit(1000+i, wire.SideSell, in.ReferencePrice+in.TickSize, 1)
			o.TIF = wire.TimeInForceIOC
			if flood.NewOrder(o) != nil {
				return
			}
		}
	}()
	rateLimited := 0
	flood.SetReadDeadline(time.Now().Add(10 * time.Second))
	err := testkit.EachReport(flood, func(r proto.Report) {
		if r.Kind == wire.ExecKindRejected && r.Reason == uint8(engine.ReasonRateLimited) {
			rateLimited++
		}
	})
	wantToldWhy(t, err, "rate_limit")
	if rateLimited == 0 {
		t.Fatal("the flooding session was ended with none of its orders rejected for rate_limit first")
	}

	calm.trade()
	status := dial(t, addrs.Gateway, 4)
	const asked = 30 // past the burst of status_rate 20
	for range asked {
		if err := status.OrderStatus(proto.OrderStatus{}); err != nil {
			t.Fatal(err)
		}
	}
	answered, statusLimited := 0, 0
	for answered+statusLimited < asked {
		switch r := next(t, status, func(m client.Message) bool { return m.Type == wire.MessageExecutionReport }).Report; {
		case r.Kind == wire.ExecKindStatusDone:
			answered++
		case r.Kind == wire.ExecKindRejected && r.Reason == uint8(engine.ReasonRateLimited):
			statusLimited++
		default:
			t.Fatalf("after %d status requests answered and %d rate-limited: %+v", answered, statusLimited, r)
		}
	}
	if statusLimited == 0 {
		t.Fatalf("all %d status requests answered at status_rate 20", asked)
	}
	// Its session stays up: its order goes through (an IOC above the
	// bids: nothing rests, nothing trades).
	ioc := limit(1, wire.SideSell, in.ReferencePrice+in.TickSize, 1)
	ioc.TIF = wire.TimeInForceIOC
	status.NewOrder(ioc)
	if r := next(t, status, func(m client.Message) bool { return m.Type == wire.MessageExecutionReport }).Report; r.Kind == wire.ExecKindRejected {
		t.Fatalf("the order of the session whose status requests were rejected: %+v", r)
	}

	calm.trade()
	calm.check()
	for cause, want := range map[gateway.Cause]int64{gateway.CauseFrameTooLarge: 1, gateway.CauseMaxPerAccount: 1, gateway.CauseRateLimit: 1} {
		if got := n.gw.Counters.Disconnects[cause].Load(); got != want {
			t.Errorf("disconnects for cause %d: %d, want %d", cause, got, want)
		}
	}
}

// calmTrader is a session of account 1 trading beside the limits a test
// crosses, and a market-data subscriber watching its book: trade rests
// ten bids, each at a price level of its own below the reference price;
// check reads back every bid traded accepted, in order, with no other
// report between, and each level's update on the market data.
type calmTrader struct {
	t    *testing.T
	in   config.Instrument
	c    *client.Client
	md   *client.Client
	sent uint64
}

func newCalmTrader(t *testing.T, cfg *config.Config, addrs Addrs) *calmTrader {
	in := cfg.Instruments[0]
	return &calmTrader{t: t, in: in, c: dial(t, addrs.Gateway, 1), md: subscribeMD(t, addrs.MarketData, in.ID)}
}

func (c *calmTrader) trade() {
	c.t.Helper()
	for range 10 {
		c.sent++
		if err := c.c.NewOrder(limit(c.sent, wire.SideBuy, c.in.ReferencePrice-int64(c.sent)*c.in.TickSize, 1)); err != nil {
			c.t.Fatal(err)
		}
	}
}

func (c *calmTrader) check() {
	c.t.Helper()
	for i := uint64(1); i <= c.sent; i++ {
		m := next(c.t, c.c, func(m client.Message) bool { return m.Type == wire.MessageExecutionReport })
		if r := m.Report; r.Kind != wire.ExecKindAccepted || r.ClientOrderID != i {
			c.t.Fatalf("the calm session's report %d: %+v, want its order %d accepted", i, r, i)
		}
		u := next(c.t, c.md, func(m client.Message) bool { return m.Type == wire.MessageLevelUpdate })
		if want := c.in.ReferencePrice - int64(i)*c.in.TickSize; u.Level.Price != want || u.Level.Quantity != 1 {
			c.t.Fatalf("level update %d: %+v, want 1 at %d", i, u.Level, want)
		}
	}
}

// Connections crossing the order-entry port's connection limits — one
// past gateway.max_connections_per_address, one past max_connections
// with every slot logged on, an address past failed_logons_per_minute,
// an account past failed_logons_per_account_per_minute (its client let
// in from an address it logged on from before), an account past
// logon_rate — are each answered the LogonReject of that limit, closed
// and counted for it, and cost a session trading
// beside them nothing (calmTrader). The gateway's own tests cross each
// beside sessions whose frames reach a fake ring; here the calm
// session's reports and its book's updates come back through the whole
// node, and every connection comes from an address of its own
// (testkit.LogonFrom) but the calm session's, 127.0.0.1.
func TestOrderEntryConnectionLimitsCostOthersNothing(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	setConfig(t, cfg, map[string]string{"gateway.max_connections": "6", "gateway.max_connections_per_address": "2",
		"gateway.failed_logons_per_minute": "2", "gateway.failed_logons_per_account_per_minute": "2", "gateway.logon_rate": "3"})
	n, addrs, _ := startNode(t, cfg)
	calm := newCalmTrader(t, cfg, addrs)
	gw := addrs.Gateway
	secret := func(account uint32) string { return cfg.Accounts[account-1].Secret }
	var held []net.Conn
	acked := func(from string, account uint32) {
		t.Helper()
		ok, why, conn := testkit.LogonFrom(t, gw, from, account, secret(account))
		if !ok {
			t.Fatalf("logon of account %d from %s: refused %v", account, from, why)
		}
		held = append(held, conn)
	}
	refused := func(from string, account uint32, pass string, want wire.LogonRejectReason, what string) {
		t.Helper()
		ok, why, conn := testkit.LogonFrom(t, gw, from, account, pass)
		if ok || why != want {
			t.Fatalf("%s: acked %v, refused %v, want refused %v", what, ok, why, want)
		}
		wantEnded(t, conn, what)
	}

	calm.trade()
	acked("127.0.0.2", 2)
	acked("127.0.0.2", 3)
	refused("127.0.0.2", 4, secret(4), wire.LogonRejectReasonTooManyConnections, "a third connection of 127.0.0.2 (max_connections_per_address 2)")

	calm.trade()
	acked("127.0.0.3", 4)
	acked("127.0.0.4", 2)
	acked("127.0.0.5", 3) // six logged on, the calm session's among them
	refused("127.0.0.6", 4, secret(4), wire.LogonRejectReasonTooManyConnections, "a seventh connection (max_connections 6, every slot logged on)")
	for cause, want := range map[gateway.Cause]int64{gateway.CauseMaxPerAddress: 1, gateway.CauseMaxConnections: 1} {
		if got := n.gw.Counters.Disconnects[cause].Load(); got != want {
			t.Errorf("disconnects for cause %v: %d, want %d", cause, got, want)
		}
	}
	for _, c := range held {
		c.Close()
	}

	calm.trade()
	for range 2 {
		refusedWithRoom(t, gw, "127.0.0.7", 4, "not-its-secret", wire.LogonRejectReasonBadSecret, "a wrong secret from 127.0.0.7")
	}
	refusedWithRoom(t, gw, "127.0.0.7", 4, secret(4), wire.LogonRejectReasonTooManyFailedLogons,
		"the right secret from 127.0.0.7, after its failed_logons_per_minute 2")

	// Account 3's failures, one from each of two addresses, spend its
	// failed_logons_per_account_per_minute 2: the right secret is
	// refused from an address new to it, and taken from 127.0.0.5, where
	// it logged on above.
	calm.trade()
	refusedWithRoom(t, gw, "127.0.0.8", 3, "not-its-secret", wire.LogonRejectReasonBadSecret, "a wrong secret for account 3 from 127.0.0.8")
	refusedWithRoom(t, gw, "127.0.0.9", 3, "not-its-secret", wire.LogonRejectReasonBadSecret, "a wrong secret for account 3 from 127.0.0.9")
	refusedWithRoom(t, gw, "127.0.0.10", 3, secret(3), wire.LogonRejectReasonTooManyFailedLogons,
		"account 3's right secret from a new address, after its failed_logons_per_account_per_minute 2")
	if ok, why, conn := logonWithRoom(t, gw, "127.0.0.5", 3, secret(3)); !ok {
		t.Fatalf("account 3 from 127.0.0.5, where it logged on before: refused %v", why)
	} else {
		conn.Close()
	}

	// Account 2 has logged on twice; its third logon within the burst
	// of logon_rate 3 is acked, and at most one more a third of a second
	// after it: one of the next is refused.
	calm.trade()
	for i := 0; ; i++ {
		ok, why, conn := logonWithRoom(t, gw, fmt.Sprintf("127.0.1.%d", i+1), 2, secret(2))
		if !ok {
			if why != wire.LogonRejectReasonTooManyLogons {
				t.Fatalf("a logon of account 2 refused %v, want TooManyLogons (logon_rate 3)", why)
			}
			wantEnded(t, conn, "a logon past logon_rate")
			break
		}
		if i == 20 {
			t.Fatal("21 logons of account 2 acked at logon_rate 3")
		}
		conn.Close()
	}

	calm.trade()
	calm.check()
	for cause, want := range map[gateway.Cause]int64{gateway.CauseLogonFailed: 4, gateway.CauseLogonThrottled: 2, gateway.CauseLogonRate: 1} {
		if got := n.gw.Counters.Disconnects[cause].Load(); got != want {
			t.Errorf("disconnects for cause %v: %d, want %d", cause, got, want)
		}
	}
}

// logonWithRoom is testkit.LogonFrom once the port has room for the
// connection: the connections of sessions the test ended give their
// slots back as their readers end, after the sessions are unregistered.
// It logs on again while the answer is TooManyConnections, 5 s at most.
func logonWithRoom(t *testing.T, gw, from string, account uint32, secret string) (acked bool, why wire.LogonRejectReason, conn net.Conn) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		acked, why, conn = testkit.LogonFrom(t, gw, from, account, secret)
		if acked || why != wire.LogonRejectReasonTooManyConnections {
			return acked, why, conn
		}
		conn.Close()
		if time.Now().After(deadline) {
			t.Fatalf("logon of account %d from %s: still no room after 5 s", account, from)
		}
	}
}

// refusedWithRoom logs on (logonWithRoom), checks that the logon is
// refused want, and that the node closes the connection.
func refusedWithRoom(t *testing.T, gw, from string, account uint32, secret string, want wire.LogonRejectReason, what string) {
	t.Helper()
	ok, why, conn := logonWithRoom(t, gw, from, account, secret)
	if ok || why != want {
		t.Fatalf("%s: acked %v, refused %v, want refused %v", what, ok, why, want)
	}
	wantEnded(t, conn, what)
}

// wantEnded reads conn until the node closes it (cleanly, or with a
// reset: a refusal's close may discard what the client had not read),
// and fails if it is still open after 5 s.
func wantEnded(t *testing.T, conn net.Conn, what string) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.Copy(io.Discard, conn); errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("%s: still open after 5 s", what)
	}
}

// A logged-on session that sends nothing for gateway.read_timeout is
// closed, told heartbeat_timeout, and counted; a session trading beside
// it — heartbeating between its orders, as clients must — loses nothing
// (calmTrader), nor does its market-data subscriber, which need not
// heartbeat. The gateway's tests end a silent session beside a fake
// ring; here the calm session's reports come through the whole node.
func TestSilentSessionEndedAtTheReadTimeoutCostsOthersNothing(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	setConfig(t, cfg, map[string]string{"gateway.heartbeat_interval": "250ms", "gateway.read_timeout": "1s"})
	n, addrs, _ := startNode(t, cfg)
	calm := newCalmTrader(t, cfg, addrs)

	calm.trade()
	silent := dial(t, addrs.Gateway, 2)
	stopBeating := keepBeating(calm.c) // not beside its orders: a Client's sends are not concurrent
	wantToldWhy(t, expectClosed(t, silent, "a session silent for read_timeout"), "heartbeat_timeout")
	stopBeating()
	calm.trade()
	calm.check()
	if got := n.gw.Counters.Disconnects[gateway.CauseHeartbeatTimeout].Load(); got != 1 {
		t.Errorf("heartbeat-timeout disconnects: %d, want 1 (the silent session's alone)", got)
	}
}
