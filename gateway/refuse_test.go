package gateway

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/input"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// A second Logon on a logged-on connection (a client library that logs
// on again, or a session naming another account's credentials) must not
// reach the input ring: the ring is journaled (and replicated), so the
// secret it carries would be written to disk in clear, although the
// gateway keeps only a hash of secrets and proto/README says they are
// never logged.
func TestSecondLogonNotJournaled(t *testing.T) {
	g, ring := startGateway(t, Config{})
	c, err := client.Dial(g.Addr().String(), 1, "one", client.Options{AutoFlush: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SendRaw(proto.NewEncoder().Logon(2, 2, "two")) // another account's secret
	c.NewOrder(order(9))
	frames := ring.waitFor(t, 1)
	// Give the order time to follow the logon, whichever came first.
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		frames = ring.waitFor(t, 0)
		if frames[len(frames)-1].typ == wire.MessageNewOrder {
			break
		}
	}
	for _, f := range frames {
		if f.typ == wire.MessageLogon || bytes.Contains(f.payload, []byte("two")) {
			t.Fatalf("a Logon sent after logon was published to the input ring (journaled) with its secret: %+v", f)
		}
	}
}

// unmarshal/doc.go (contract 7): "Session-level messages that reach the
// ring (Heartbeat, Logout, Subscribe, Unsubscribe — the gateway normally
// keeps them)". The gateway keeps Heartbeat and Logout only: a Subscribe
// on the order-entry port is journaled, the engine runs a no-op for it,
// and the client gets no answer at all.
func TestSubscribeOnOrderPortRefusedByGateway(t *testing.T) {
	g, ring := startGateway(t, Config{})
	c, err := client.Dial(g.Addr().String(), 1, "one", client.Options{AutoFlush: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Subscribe(1)
	c.Unsubscribe(1)
	c.NewOrder(order(9))
	var frames []published
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		frames = ring.waitFor(t, 0)
		if len(frames) > 0 && frames[len(frames)-1].typ == wire.MessageNewOrder {
			break
		}
	}
	for _, f := range frames {
		if f.typ == wire.MessageSubscribe || f.typ == wire.MessageUnsubscribe {
			t.Fatalf("a %v on the order-entry port was published to the input ring (journaled, a no-op for the engine, unanswered)", f.typ)
		}
	}
}

// Counters.Refused says it counts the gateway's refusals by command type
// "so that ringex_orders_total — the reject share's denominator — holds
// them as ringex_rejects_total does" (docs/metrics.md: "so the reject
// share is at most 1"). A refused frame that decodes to CmdNoop (a
// Subscribe above the rate, or from a drop copy) is counted in Rejected
// but in no type ringex_orders_total exports.
func TestRefusalsCountedInOrdersTotal(t *testing.T) {
	g, _ := startGateway(t, Config{RejectRate: 1, DisconnectRate: 1000})
	c, err := client.Dial(g.Addr().String(), 1, "one", client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.NewOrder(order(1)) // takes the one token
	for range 5 {
		c.Subscribe(1) // each refused rate-limited
	}
	c.Flush()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for n := 0; n < 5; {
		m, err := c.Next()
		if err != nil {
			t.Fatal(err)
		}
		if m.Type == wire.MessageExecutionReport && m.Report.Reason == reasonRateLimited {
			n++
		}
	}
	// The types node/metrics.go exports as ringex_orders_total.
	exported := []engine.CommandType{engine.CmdNewOrder, engine.CmdCancel, engine.CmdReplace, engine.CmdMassCancel,
		engine.CmdOrderStatus, engine.CmdResend, engine.CmdInvalid}
	var refused, rejected int64
	for _, typ := range exported {
		refused += g.Counters.Refused[typ].Load()
	}
	for i := range g.Counters.Rejected {
		rejected += g.Counters.Rejected[i].Load()
	}
	if refused != rejected {
		t.Fatalf("gateway refusals: %d in ringex_rejects_total, %d in ringex_orders_total", rejected, refused)
	}
}

// DropSessions (the node stopped leading) marks the sessions registered
// at that moment; a logon already past its standby check registers after
// it, on a connection DropSessions closed. That session ends as "eof",
// not "not_leader", and its cancel-on-disconnect is published — what
// TestDroppedSessionsPublishNoCancelOnDisconnect and gateway/doc.go (5)
// say a leader stepping down does not do. The Standby hook forces the
// interleaving: leadership is lost right after the logon's check.
func TestDropSessionsDuringLogon(t *testing.T) {
	var g *Gateway
	cfg := Config{}
	cfg.Standby = func() (string, bool) {
		g.DropSessions() // the node stops leading just after this logon's check
		return "", false
	}
	g, ring := startGateway(t, cfg)
	conn, err := net.Dial("tcp", g.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write(proto.NewEncoder().Logon(1, 2, "two")) // account 2: cancel-on-disconnect
	for deadline := time.Now().Add(5 * time.Second); g.conns.Load() != 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("connection still open")
		}
	}
	time.Sleep(50 * time.Millisecond)
	for _, f := range ring.waitFor(t, 0) {
		if f.kind == input.KindControl {
			t.Errorf("cancel-on-disconnect published for a session dropped as the node stopped leading: %+v", f.typ)
		}
	}
	if n := g.Counters.Disconnects[CauseNotLeader].Load(); n != 1 {
		t.Errorf("not_leader disconnects %d, want 1 (eof %d)", n, g.Counters.Disconnects[CauseEOF].Load())
	}
}

// Logging on and dropping the connection in a loop journaled an input
// per cycle (the cancel-on-disconnect of an account that has it) past
// any message rate: a logon spends no message of the session's rate.
// gateway.logon_rate bounds the account's logons; the one past it is
// refused TooManyLogons, and other accounts log on as before. The
// clock stands still, so no time refills the bucket.
func TestLogonsPastTheLogonRateRefused(t *testing.T) {
	at := time.Unix(1_000, 0)
	g, ring := startGateway(t, Config{RejectRate: 1, DisconnectRate: 2, LogonRate: 3, Now: func() time.Time { return at }})
	for i := range 4 {
		c, err := client.Dial(g.Addr().String(), 2, "two", client.Options{AutoFlush: true})
		if i == 3 {
			if !errors.Is(err, client.ErrLogonRejected) || !strings.Contains(err.Error(), "TooManyLogons") {
				t.Fatalf("logon %d within the second, at logon_rate 3: %v, want TooManyLogons", i+1, err)
			}
			break
		}
		if err != nil {
			t.Fatalf("logon %d: %v", i+1, err)
		}
		c.Close()
		for deadline := time.Now().Add(5 * time.Second); g.Live() != 0; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("session still live")
			}
		}
	}
	c, err := client.Dial(g.Addr().String(), 1, "one", client.Options{})
	if err != nil {
		t.Fatalf("another account's logon: %v", err)
	}
	c.Close()
	control := 0
	for _, f := range ring.waitFor(t, 0) {
		if f.kind == input.KindControl && f.account == 2 {
			control++
		}
	}
	if control != 3 {
		t.Fatalf("%d cancel-on-disconnect inputs journaled for account 2, want 3 (one per session it was allowed)", control)
	}
	// Counted apart from an address's failed logons: RingexLogonGuessing
	// is about those, and a client reconnecting in a loop is no guesser.
	if n := g.Counters.Disconnects[CauseLogonRate].Load(); n != 1 {
		t.Fatalf("logon_rate disconnects %d, want 1", n)
	}
	if n := g.Counters.Disconnects[CauseLogonThrottled].Load(); n != 0 {
		t.Fatalf("logon_throttled disconnects %d, want 0", n)
	}
}

// A client that sends an oversize frame is answered FrameTooLarge and
// closed (gateway/doc.go 4, proto/README) — also when the frame is large
// enough that its bytes are still arriving: the gateway closes with them
// unread, the kernel answers with a reset instead of a FIN, and the
// client's unread LogonReject may be discarded with it.
func TestOversizeFrameAnsweredWhileItArrives(t *testing.T) {
	g, _ := startGateway(t, Config{MaxFrameBytes: 4096})
	for i := range 5 {
		c, err := client.Dial(g.Addr().String(), 1, "one", client.Options{AutoFlush: true})
		if err != nil {
			t.Fatal(err)
		}
		big := make([]byte, 4<<20)
		go c.SendRaw(proto.AppendFrame(nil, big)) // may fail once the gateway closes
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		m, err := c.Next()
		if err != nil || m.Type != wire.MessageLogonReject || m.LogonReject != wire.LogonRejectReasonFrameTooLarge {
			t.Fatalf("try %d: a 4 MiB frame answered %+v, %v; want LogonReject{FrameTooLarge}", i, m.Type, err)
		}
		c.Close()
	}
}

func TestLogonRejectSurvivesPipelinedBytes(t *testing.T) {
	g, _ := startGateway(t, Config{})
	for i := range 10 {
		raw, err := net.Dial("tcp", g.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		buf := proto.NewEncoder().Logon(1, 1, "wrong")
		buf = append(buf, make([]byte, 4<<20)...)
		go raw.Write(buf)
		raw.SetReadDeadline(time.Now().Add(5 * time.Second))
		p, err := proto.NewFrameReader(raw, 4096).Next()
		if err != nil {
			t.Fatalf("try %d: bad secret then pipelined bytes: %v, want LogonReject", i, err)
		}
		typ, pos, _ := proto.Verify(p)
		if typ != wire.MessageLogonReject || proto.LogonRejectAt(p, pos) != wire.LogonRejectReasonBadSecret {
			t.Fatalf("try %d: %v", i, typ)
		}
		raw.Close()
	}
}

// A connection waiting for its Logon when the gateway closes is counted
// a shutdown, not a failed logon: ringex_disconnects_total{cause=
// "logon_failed"} rose at every stop with clients connecting.
func TestCloseDuringLogonCountedAsShutdown(t *testing.T) {
	g, _ := startGateway(t, Config{})
	conn, err := net.Dial("tcp", g.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	awaitAccepted(t, g)
	g.Close()
	if n := g.Counters.Disconnects[CauseShutdown].Load(); n != 1 {
		t.Fatalf("shutdown disconnects %d, want 1 (logon_failed %d)", n, g.Counters.Disconnects[CauseLogonFailed].Load())
	}
}

// A connection accepted as Close begins — counted in conns, not yet
// live — is closed by the accept loop, counted as a shutdown before Close
// returns. Before, it was closed uncounted, and Close could return before
// the accept loop reached it (TestCloseDuringLogonCountedAsShutdown failed
// in CI when Close fell in that window).
func TestConnectionAcceptedAsCloseBeginsCountedAsShutdown(t *testing.T) {
	g, _ := startGateway(t, Config{})
	// One connection in and out first: the accept loop is running (its
	// start takes mu too).
	warm, err := net.Dial("tcp", g.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	warm.Close()
	for deadline := time.Now().Add(5 * time.Second); g.Counters.Disconnects[CauseLogonFailed].Load() == 0 || g.conns.Load() != 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the first connection never ended")
		}
	}
	g.mu.Lock() // the accept loop stops before the connection is live
	conn, err := net.Dial("tcp", g.Addr().String())
	if err != nil {
		g.mu.Unlock()
		t.Fatal(err)
	}
	defer conn.Close()
	for deadline := time.Now().Add(5 * time.Second); g.conns.Load() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			g.mu.Unlock()
			t.Fatal("connection never accepted")
		}
	}
	closed := make(chan struct{})
	go func() { g.Close(); close(closed) }()
	for !g.closing.Load() {
		time.Sleep(time.Millisecond)
	}
	g.mu.Unlock()
	<-closed
	if n := g.Counters.Disconnects[CauseShutdown].Load(); n != 1 {
		t.Fatalf("shutdown disconnects %d, want 1", n)
	}
	if n := g.conns.Load(); n != 0 {
		t.Fatalf("%d connections counted open after Close, want 0", n)
	}
}

// gateway.logon_rate counts the logons that become sessions: one refused
// TooManySessions (a client retrying while its old session holds the
// account's last slot) spent one, and the logon after the slot freed was
// refused TooManyLogons.
func TestLogonRefusedForMaxSessionsSpendsNoLogonRate(t *testing.T) {
	at := time.Unix(1_000, 0)
	g, _ := startGateway(t, Config{RejectRate: 1, DisconnectRate: 2, LogonRate: 2, MaxSessionsPerAccount: 1, Now: func() time.Time { return at }})
	first, err := client.Dial(g.Addr().String(), 2, "two", client.Options{AutoFlush: true})
	if err != nil {
		t.Fatal(err)
	}
	_, err = client.Dial(g.Addr().String(), 2, "two", client.Options{AutoFlush: true})
	if !errors.Is(err, client.ErrTooManySessions) {
		t.Fatalf("second session at max_sessions_per_account 1: %v, want ErrTooManySessions", err)
	}
	first.Close()
	for deadline := time.Now().Add(5 * time.Second); g.Live() != 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("session still live")
		}
	}
	c, err := client.Dial(g.Addr().String(), 2, "two", client.Options{AutoFlush: true})
	if err != nil {
		t.Fatalf("the account's second successful logon, at logon_rate 2: %v", err)
	}
	c.Close()
}

// A gateway at gateway.max_connections refuses a connection before it
// reads its logon (TooManyConnections), where a cluster follower would
// have redirected it: client.DialCluster takes that member for busy and
// logs on to the next one. Before, it gave up at once, the cluster's
// leader up and free.
func TestDialClusterPassesAMemberAtItsConnectionLimit(t *testing.T) {
	full, _ := startGateway(t, Config{MaxConnections: 1})
	held, err := client.Dial(full.Addr().String(), 1, "one", client.Options{AutoFlush: true})
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	if _, err := client.Dial(full.Addr().String(), 1, "one", client.Options{}); !errors.Is(err, client.ErrTooManyConnections) {
		t.Fatalf("a second connection to the full gateway: %v, want TooManyConnections (test setup)", err)
	}
	other, _ := startGateway(t, Config{})
	c, err := client.DialCluster([]string{full.Addr().String(), other.Addr().String()}, 1, "one", client.Options{AutoFlush: true}, 5*time.Second)
	if err != nil {
		t.Fatalf("DialCluster past a full member: %v", err)
	}
	defer c.Close()
	if c.RemoteAddr() != other.Addr().String() {
		t.Fatalf("logged on to %s, want the member with room, %s", c.RemoteAddr(), other.Addr())
	}
}

// An account at gateway.max_sessions_per_account is refused by the
// leader itself, after its secret is checked (TooManySessions): no other
// member would take the logon — followers redirect to that same leader —
// so the refusal is final until one of the account's sessions ends.
// DialCluster and DialClusterContext return it at once, logging on once.
// Before, it was TooManyConnections, which they took for a busy member:
// they logged on to the leader again every 10ms until within had passed
// (DialClusterContext: until its context was done), each refused and
// counted. (Found in review, as
// TestReviewDialClusterAccountSessionLimitIsNotRetried.)
func TestDialClusterReturnsTheAccountSessionLimitAtOnce(t *testing.T) {
	g, _ := startGateway(t, Config{MaxSessionsPerAccount: 1})
	held, err := client.Dial(g.Addr().String(), 1, "one", client.Options{AutoFlush: true})
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	for _, dial := range []struct {
		name string
		f    func() (*client.Client, error)
	}{
		{"DialCluster", func() (*client.Client, error) {
			return client.DialCluster([]string{g.Addr().String()}, 1, "one", client.Options{}, 3*time.Second)
		}},
		{"DialClusterContext", func() (*client.Client, error) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second) // bounds the test on a retrying client
			defer cancel()
			return client.DialClusterContext(ctx, []string{g.Addr().String()}, 1, "one", client.Options{})
		}},
	} {
		t.Run(dial.name, func(t *testing.T) {
			before := g.Counters.Disconnects[CauseMaxPerAccount].Load()
			c, err := dial.f()
			if c != nil {
				c.Close()
			}
			refusals := g.Counters.Disconnects[CauseMaxPerAccount].Load() - before
			if !errors.Is(err, client.ErrTooManySessions) || !errors.Is(err, client.ErrLogonRejected) {
				t.Fatalf("the account's sessions all in use: %v, want ErrTooManySessions, an ErrLogonRejected", err)
			}
			if refusals != 1 {
				t.Fatalf("the gateway refused %d logons, want 1: a final refusal was retried", refusals)
			}
		})
	}
}

// A connection refused over a limit is answered LogonReject, and those
// bytes count in Counters.BytesOut (ringex_bytes_out_total): what the
// port's connections took, refusals included.
func TestRefusalCountedInBytesOut(t *testing.T) {
	g, _ := startGateway(t, Config{MaxConnections: 1, HeartbeatTimeout: 10 * time.Second, HeartbeatInterval: time.Hour})
	// The slot held by a session (a connection that never logged on would
	// be evicted for the next): its LogonAck, one write, counted first.
	held, err := client.Dial(g.Addr().String(), 1, "one", client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	for deadline := time.Now().Add(5 * time.Second); g.Counters.BytesOut.Load() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the LogonAck never counted")
		}
	}
	ack := g.Counters.BytesOut.Load()
	refused, err := net.Dial("tcp", g.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer refused.Close()
	refused.SetReadDeadline(time.Now().Add(5 * time.Second))
	answer, err := io.ReadAll(refused)
	if err != nil || len(answer) == 0 {
		t.Fatalf("the refused connection read %d bytes, %v; want its LogonReject", len(answer), err)
	}
	g.refuser.Wait()
	if n := g.Counters.BytesOut.Load() - ack; n != int64(len(answer)) {
		t.Fatalf("BytesOut %d more after a refusal of %d bytes", n, len(answer))
	}
}

// awaitAccepted waits up to 5 s for the gateway to have accepted a
// connection (counted in conns, not yet live).
func awaitAccepted(t *testing.T, g *Gateway) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); g.conns.Load() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the connection was never accepted")
		}
	}
}

// A Logon to a standby — answered Redirect with the leader's address, or
// NotLeader while no leader is known — is counted standby, not
// logon_failed: a client trying a cluster's addresses in turn (or
// reconnecting through a failover) reaches a follower as a matter of
// course, and logon_failed is the cause wrong secrets are counted under,
// so every follower showed a steady rate of "failed logons". Before,
// both were counted logon_failed.
func TestLogonToAStandbyCountedStandby(t *testing.T) {
	for _, leader := range []string{"10.0.0.1:7400", ""} {
		t.Run("leader "+leader, func(t *testing.T) {
			cfg := Config{Standby: func() (string, bool) { return leader, true }}
			g, _ := startGateway(t, cfg)
			conn, err := net.Dial("tcp", g.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.Write(proto.NewEncoder().Logon(1, 1, "one"))
			awaitDisconnects(t, g, CauseStandby, 1)
			if n := g.Counters.Disconnects[CauseLogonFailed].Load(); n != 0 {
				t.Fatalf("logon_failed disconnects %d, want 0: the Logon was not checked", n)
			}
		})
	}
}

// A market-data program given this port by mistake
// (client.DialMarketDataLogon, whose Logon is a drop copy's here) is
// refused client.ErrWrongPort whatever the gateway answers that a
// market-data port never does: a LogonAck naming a session, a standby's
// Redirect or NotLeader, TooManyLogons (the account's gateway.logon_rate,
// spent by its traders or by the program's own retries). It was told
// "logon answered with Redirect", ErrNotLeader, or a TooManyLogons
// refusal a program waits out and retries. TooManySessions both ports
// answer (gateway.max_sessions_per_account here,
// marketdata.max_connections_per_account there): ErrTooManySessions,
// its text naming this port's limit and the market-data port's address
// too. The gateway cannot tell the program's Logon from a drop copy's:
// it is counted as one.
func TestMarketDataLogonHereIsToldWrongPort(t *testing.T) {
	at := time.Unix(1_000, 0)
	for _, tc := range []struct {
		name  string
		cfg   Config
		held  bool   // a session of the account logged on first
		wrong bool   // ErrWrongPort; else ErrTooManySessions
		text  string // what the error says besides
	}{
		{"logged on", Config{}, false, true, "(LogonAck with session "},
		{"a standby with a leader", Config{Standby: func() (string, bool) { return "10.0.0.1:7400", true }}, false, true, "(Redirect to 10.0.0.1:7400)"},
		{"a standby with no leader", Config{Standby: func() (string, bool) { return "", true }}, false, true, "(LogonReject NotLeader)"},
		{"logon_rate spent", Config{LogonRate: 1, Now: func() time.Time { return at }}, true, true, "(LogonReject TooManyLogons)"},
		{"max_sessions_per_account", Config{MaxSessionsPerAccount: 1}, true, false,
			"or, if it is an order-entry port (gateway.listen), gateway.max_sessions_per_account sessions logged on"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, _ := startGateway(t, tc.cfg)
			addr := g.Addr().String()
			if tc.held {
				c, err := client.Dial(addr, 1, "one", client.Options{AutoFlush: true})
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
			}
			c, err := client.DialMarketDataLogon(addr, 1, "one", client.Options{AutoFlush: true, Timeout: 5 * time.Second})
			if err == nil {
				c.Close()
				t.Fatal("DialMarketDataLogon logged on at an order-entry port")
			}
			if tc.wrong {
				if !errors.Is(err, client.ErrWrongPort) || !strings.Contains(err.Error(), addr+" answered as an order-entry port") {
					t.Fatalf("DialMarketDataLogon: %v, want ErrWrongPort naming %s", err, addr)
				}
				if why := client.LogonRejectReason(err); why != wire.LogonRejectReasonNone {
					t.Fatalf("DialMarketDataLogon: %v, a refusal %s to wait out", err, why)
				}
			} else if !errors.Is(err, client.ErrTooManySessions) {
				t.Fatalf("DialMarketDataLogon: %v, want ErrTooManySessions", err)
			}
			if !strings.Contains(err.Error(), tc.text) || !strings.Contains(err.Error(), "DialMarketDataLogon wants the market-data port (marketdata.listen)") {
				t.Fatalf("DialMarketDataLogon: %q, want it to say %q and the port it wants", err, tc.text)
			}
		})
	}
}

// A message of a type newer than this build (proto.ErrUnknownType: the
// wire's unions are only appended to) is refused as the other messages
// that are not order entry are — answered unknown-command, counted, never
// journaled — and not published for the unmarshaler to reject
// malformed-frame: journaled, a later build that knows the type would
// apply it when it replays the journal, and the replayed state would not
// be what its sender was told. A drop copy is told the same: it cannot
// know whether the newer type is a query it may send.
func TestNewerTypeRefusedNotJournaled(t *testing.T) {
	for _, tc := range []struct {
		name     string
		dropCopy bool
		then     func(c *client.Client) error // a message that goes to the ring
		thenType wire.Message
	}{
		{"trading", false, func(c *client.Client) error { return c.NewOrder(order(9)) }, wire.MessageNewOrder},
		{"drop copy", true, func(c *client.Client) error { return c.OrderStatus(proto.OrderStatus{OrderID: 1}) }, wire.MessageOrderStatus},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, ring := startGateway(t, Config{})
			c, err := client.Dial(g.Addr().String(), 1, "one", client.Options{AutoFlush: true, DropCopy: tc.dropCopy, Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			newer := wire.Message(250)
			if err := c.SendRaw(proto.NewEncoder().Empty(2, newer)); err != nil {
				t.Fatal(err)
			}
			if err := tc.then(c); err != nil {
				t.Fatal(err)
			}
			// One session's frames are published in the order read: once
			// the message after it is in the ring, the newer one would be.
			var frames []published
			for n := 1; ; n++ {
				frames = ring.waitFor(t, n)
				if frames[n-1].typ == tc.thenType {
					break
				}
			}
			for _, f := range frames {
				if f.typ == newer {
					t.Fatalf("a message of type %d, newer than this build, was published to the input ring (journaled)", newer)
				}
			}
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			for {
				m, err := c.Next()
				if err != nil {
					t.Fatalf("no answer to the newer type: %v", err)
				}
				if m.Type != wire.MessageExecutionReport || m.Report.Kind != wire.ExecKindRejected {
					continue
				}
				if m.Report.Reason != reasonUnknownCommand || m.Report.InputSeq != -1 {
					t.Fatalf("the newer type answered reason %d, input_seq %d; want unknown-command (%d), -1 (refused by the gateway)",
						m.Report.Reason, m.Report.InputSeq, reasonUnknownCommand)
				}
				break
			}
			if n := g.Counters.Rejected[reasonUnknownCommand].Load(); n != 1 {
				t.Errorf("Rejected[unknown-command] %d, want 1", n)
			}
			if n := g.Counters.Refused[engine.CmdInvalid].Load(); n != 1 {
				t.Errorf("Refused[CmdInvalid] %d, want 1", n)
			}
		})
	}
}
