package client

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// gateway is a scripted stand-in for a node's order-entry port on
// loopback. Each connection's Logon is answered with the frames answer
// returns (none: the gateway stays silent); then the gateway hands every
// frame the client sends to received, until the client hangs up.
type gateway struct {
	ln     net.Listener
	answer func(e *proto.Encoder, l logon) [][]byte

	mu       sync.Mutex
	logons   []logon
	conns    []net.Conn
	received chan []byte
}

type logon struct {
	account uint32
	secret  string
}

func startGateway(t *testing.T, answer func(e *proto.Encoder, l logon) [][]byte) *gateway {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return startGatewayOn(t, ln, answer)
}

// startGatewayOn is startGateway on ln (a TLS listener, say).
func startGatewayOn(t *testing.T, ln net.Listener, answer func(e *proto.Encoder, l logon) [][]byte) *gateway {
	t.Helper()
	g := &gateway{ln: ln, answer: answer, received: make(chan []byte, 64)}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			g.mu.Lock()
			g.conns = append(g.conns, conn)
			g.mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				g.serve(conn)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		g.mu.Lock()
		for _, c := range g.conns {
			c.Close()
		}
		g.mu.Unlock()
		wg.Wait()
	})
	return g
}

func (g *gateway) addr() string { return g.ln.Addr().String() }

func (g *gateway) serve(conn net.Conn) {
	fr := proto.NewFrameReader(conn, 1<<16)
	payload, err := fr.Next()
	if err != nil {
		return
	}
	typ, pos, err := proto.Verify(payload)
	if err != nil || typ != wire.MessageLogon {
		return
	}
	var l logon
	l.account, l.secret = proto.LogonAt(payload, pos)
	g.mu.Lock()
	g.logons = append(g.logons, l)
	g.mu.Unlock()
	e := proto.NewEncoder()
	for _, f := range g.answer(e, l) {
		if _, err := conn.Write(f); err != nil {
			return
		}
	}
	for {
		payload, err := fr.Next()
		if err != nil {
			return
		}
		g.received <- append([]byte(nil), payload...)
	}
}

func (g *gateway) logonCount() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.logons)
}

// hangUp closes every connection and sees c's Next fail.
func (g *gateway) hangUp(t *testing.T, c *Client) {
	t.Helper()
	g.closeConns()
	if _, err := c.Next(); err == nil {
		t.Fatal("Next after the gateway hung up")
	}
}

// closeConns closes every connection.
func (g *gateway) closeConns() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, conn := range g.conns {
		conn.Close()
	}
}

// cutAndRedial hangs up on every connection, sees c's Next fail, and
// redials c (the new client is closed with the test).
func (g *gateway) cutAndRedial(t *testing.T, c *Client) (*Client, uint64) {
	t.Helper()
	g.hangUp(t, c)
	again, tag, err := c.Redial([]string{g.addr()}, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { again.Close() })
	return again, tag
}

// resendAfter waits for the next ResendReports the gateway receives and
// returns its after_input_seq.
func (g *gateway) resendAfter(t *testing.T) int64 {
	t.Helper()
	m, payload := g.await(t, wire.MessageResendReports)
	return m.ResendReports(payload)
}

// await waits, 2 s at most, for the next message of type typ the
// gateway receives (those before it let go), and returns it.
func (g *gateway) await(t *testing.T, typ wire.Message) (proto.Msg, []byte) {
	t.Helper()
	for {
		select {
		case payload := <-g.received:
			var m proto.Msg
			if proto.VerifyMsg(payload, &m) == nil && m.Type == typ {
				return m, payload
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("no %s reached the gateway", wire.EnumNamesMessage[typ])
		}
	}
}

// one wraps a single frame (copied: the encoder reuses its buffer).
func one(f []byte) [][]byte { return [][]byte{append([]byte(nil), f...)} }

// enc is a fresh encoder, for a list of frames: the frames one encoder
// returns share its buffer.
func enc() *proto.Encoder { return proto.NewEncoder() }

func ack(e *proto.Encoder, _ logon) [][]byte { return one(e.LogonAck(1, 77, 1500, 0)) }

var quick = Options{Timeout: 2 * time.Second, AutoFlush: true}

func TestDialLogsOn(t *testing.T) {
	g := startGateway(t, ack)
	c, err := Dial(g.addr(), 3, "s3", quick)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Session != 77 || c.HeartbeatEvery != 1500*time.Millisecond {
		t.Fatalf("session %d, heartbeat %v; want 77, 1.5s", c.Session, c.HeartbeatEvery)
	}
	if c.RemoteAddr() != g.addr() {
		t.Fatalf("logged on to %s, want %s", c.RemoteAddr(), g.addr())
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.logons) != 1 || g.logons[0] != (logon{3, "s3"}) {
		t.Fatalf("gateway saw logons %+v", g.logons)
	}
}

func TestDialFollowsRedirect(t *testing.T) {
	leader := startGateway(t, ack)
	follower := startGateway(t, func(e *proto.Encoder, _ logon) [][]byte { return one(e.Redirect(1, leader.addr())) })
	c, err := Dial(follower.addr(), 3, "s3", quick)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.RemoteAddr() != leader.addr() {
		t.Fatalf("logged on to %s, want the leader %s", c.RemoteAddr(), leader.addr())
	}
	if follower.logonCount() != 1 || leader.logonCount() != 1 {
		t.Fatalf("logons: follower %d, leader %d; want 1 each", follower.logonCount(), leader.logonCount())
	}
}

func TestDialStopsFollowingRedirectLoops(t *testing.T) {
	var g *gateway
	g = startGateway(t, func(e *proto.Encoder, _ logon) [][]byte { return one(e.Redirect(1, g.addr())) })
	if _, err := Dial(g.addr(), 3, "s3", quick); !errors.Is(err, ErrRedirects) {
		t.Fatalf("Dial into a redirect loop: %v, want ErrRedirects", err)
	}
	if n := g.logonCount(); n != 4 {
		t.Fatalf("%d logons, want 4 (the first and three redirects)", n)
	}
}

// Redirects are followed within opts.Timeout altogether: a member that
// redirects after 300 ms, against a 500 ms timeout, is logged on to at
// most twice — each hop had the whole timeout (four logons, 1.2 s).
func TestDialRedirectsWithinTheTimeout(t *testing.T) {
	var g *gateway
	g = startGateway(t, func(e *proto.Encoder, _ logon) [][]byte {
		time.Sleep(300 * time.Millisecond)
		return one(e.Redirect(1, g.addr()))
	})
	_, err := Dial(g.addr(), 3, "s3", Options{Timeout: 500 * time.Millisecond})
	if err == nil || errors.Is(err, ErrRedirects) {
		t.Fatalf("Dial: %v, want the timeout", err)
	}
	if n := g.logonCount(); n > 2 {
		t.Fatalf("%d logons within a 500 ms timeout of 300 ms redirects", n)
	}
}

func TestDialReportsRefusals(t *testing.T) {
	for _, tt := range []struct {
		name   string
		answer func(e *proto.Encoder) []byte
		want   error
		text   string
	}{
		{"bad secret", func(e *proto.Encoder) []byte { return e.LogonReject(1, wire.LogonRejectReasonBadSecret) },
			ErrLogonRejected, "BadSecret"},
		{"no leader", func(e *proto.Encoder) []byte { return e.LogonReject(1, wire.LogonRejectReasonNotLeader) },
			ErrNotLeader, ""},
		{"the account's sessions", func(e *proto.Encoder) []byte { return e.LogonReject(1, wire.LogonRejectReasonTooManySessions) },
			ErrTooManySessions, "TooManySessions"},
		// A reason newer than this build (the enum is only appended to)
		// is a rejection that says which; before, its name was "".
		{"a newer reason", func(e *proto.Encoder) []byte { return e.LogonReject(1, wire.LogonRejectReason(200)) },
			ErrLogonRejected, "LogonRejectReason(200)"},
		{"not an answer to a logon", func(e *proto.Encoder) []byte { return e.Heartbeat(1) },
			nil, "logon answered with Heartbeat"},
		// A market-data port answers any Logon so, where it does not
		// require one: taken for a logon, the orders went unanswered.
		{"a market-data port's ack", func(e *proto.Encoder) []byte { return e.LogonAck(1, 0, 5000, 0) },
			ErrWrongPort, "market-data port (LogonAck with session 0): Dial wants the order-entry port"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g := startGateway(t, func(e *proto.Encoder, _ logon) [][]byte { return one(tt.answer(e)) })
			c, err := Dial(g.addr(), 3, "s3", quick)
			if err == nil {
				c.Close()
				t.Fatal("Dial succeeded")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("err %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.text) {
				t.Fatalf("err %q does not say %q", err, tt.text)
			}
		})
	}
}

// A program tells a refusal that waiting mends (TooManyLogons,
// TooManyFailedLogons) from a wrong secret by LogonRejectReason: the
// error named the reason only in its text. Errors that are no refusal
// name none.
func TestLogonRejectReasonSaysWhy(t *testing.T) {
	for _, why := range []wire.LogonRejectReason{wire.LogonRejectReasonBadSecret, wire.LogonRejectReasonTooManyLogons,
		wire.LogonRejectReasonTooManyFailedLogons, wire.LogonRejectReasonTooManyConnections,
		wire.LogonRejectReasonTooManySessions, wire.LogonRejectReasonNotLeader, wire.LogonRejectReason(200)} {
		g := startGateway(t, func(e *proto.Encoder, _ logon) [][]byte { return one(e.LogonReject(1, why)) })
		c, err := Dial(g.addr(), 3, "s3", quick)
		if err == nil {
			c.Close()
			t.Fatalf("%s: Dial succeeded", why)
		}
		if got := LogonRejectReason(err); got != why {
			t.Fatalf("%s: LogonRejectReason(%v) = %s", why, err, got)
		}
		if wrapped := fmt.Errorf("giving up: %w", err); LogonRejectReason(wrapped) != why {
			t.Fatalf("%s: wrapped, LogonRejectReason = %s", why, LogonRejectReason(wrapped))
		}
	}
	for _, err := range []error{nil, io.EOF, ErrHungUpAtLogon, ErrWrongPort} {
		if got := LogonRejectReason(err); got != wire.LogonRejectReasonNone {
			t.Fatalf("LogonRejectReason(%v) = %s, want None", err, got)
		}
	}
}

// Each kind of port's LogonAck tells it from the other: a market-data
// port's names session 0, order entry's a session. Given the wrong one,
// DialMarketDataLogon is refused naming it, and DialCluster returns
// Dial's refusal at once: going round again does not mend the address.
func TestLogonAtTheOtherKindOfPortRefused(t *testing.T) {
	orderEntry := startGateway(t, ack)
	c, err := DialMarketDataLogon(orderEntry.addr(), 3, "s3", quick)
	if err == nil {
		c.Close()
		t.Fatal("DialMarketDataLogon logged on at an order-entry port")
	}
	if !errors.Is(err, ErrWrongPort) || !strings.Contains(err.Error(), orderEntry.addr()+" answered as an order-entry port (LogonAck with session 77)") {
		t.Fatalf("DialMarketDataLogon at an order-entry port: %v", err)
	}
	marketData := startGateway(t, func(e *proto.Encoder, _ logon) [][]byte { return one(e.LogonAck(1, 0, 5000, 0)) })
	if c, err = DialCluster([]string{marketData.addr()}, 3, "s3", quick, 5*time.Second); err == nil {
		c.Close()
		t.Fatal("DialCluster logged on at a market-data port")
	}
	if !errors.Is(err, ErrWrongPort) || marketData.logonCount() != 1 {
		t.Fatalf("DialCluster at a market-data port: %v after %d logons, want ErrWrongPort after 1", err, marketData.logonCount())
	}
}

func TestDialGatewayHangsUp(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { // reads the Logon and closes
		defer close(done)
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		proto.NewFrameReader(conn, 1<<16).Next()
		conn.Close()
	}()
	defer func() { ln.Close(); <-done }()
	if _, err := Dial(ln.Addr().String(), 3, "s3", quick); err == nil || !strings.Contains(err.Error(), "logon") {
		t.Fatalf("Dial to a gateway that hangs up: %v, want a logon error", err)
	}
}

func TestDialTimesOutOnASilentGateway(t *testing.T) {
	g := startGateway(t, func(*proto.Encoder, logon) [][]byte { return nil })
	start := time.Now()
	_, err := Dial(g.addr(), 3, "s3", Options{Timeout: 200 * time.Millisecond})
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Dial to a silent gateway: %v, want a deadline error", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("Dial took %v with a 200ms timeout", took)
	}
}

// A deadline the caller sets still ends a read with a ReadTimeout
// armed: Next armed the timeout's deadline over it, and a heartbeating
// node kept the read going past it for as long as the connection lived.
// The error is the deadline's, not the timeout's "nothing heard".
func TestReadDeadlineBoundsReadsUnderAReadTimeout(t *testing.T) {
	near, far := net.Pipe()
	defer far.Close()
	c := &Client{conn: near, fr: proto.NewFrameReader(near, 1<<12), readTimeout: time.Hour}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	read := make(chan error, 1)
	go func() { _, err := c.Next(); read <- err }()
	select {
	case err := <-read:
		if !errors.Is(err, os.ErrDeadlineExceeded) || strings.Contains(err.Error(), "nothing heard") {
			t.Fatalf("Next past the caller's deadline: %v, want the deadline's error alone", err)
		}
	case <-time.After(10 * time.Second):
		c.Close() // ends the read
		t.Fatalf("Next still reading 10 s after a 50 ms deadline (ReadTimeout 1h)")
	}
}

func TestDialClusterWaitsForALeader(t *testing.T) {
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close()
	var mu sync.Mutex
	electing := 3 // logons refused before the leader is elected
	g := startGateway(t, func(e *proto.Encoder, l logon) [][]byte {
		mu.Lock()
		defer mu.Unlock()
		if electing > 0 {
			electing--
			return one(e.LogonReject(1, wire.LogonRejectReasonNotLeader))
		}
		return ack(e, l)
	})
	c, err := DialCluster([]string{deadAddr, g.addr()}, 3, "s3", quick, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if n := g.logonCount(); n != 4 {
		t.Fatalf("%d logons, want 4 (three refused during the election)", n)
	}
}

func TestDialClusterGivesUp(t *testing.T) {
	refused := startGateway(t, func(e *proto.Encoder, _ logon) [][]byte {
		return one(e.LogonReject(1, wire.LogonRejectReasonNotLeader))
	})
	if _, err := DialCluster([]string{refused.addr()}, 3, "s3", quick, 100*time.Millisecond); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("no leader ever: %v, want ErrNotLeader", err)
	}
	// A refusal that waiting cannot cure comes back at once.
	bad := startGateway(t, func(e *proto.Encoder, _ logon) [][]byte {
		return one(e.LogonReject(1, wire.LogonRejectReasonUnknownAccount))
	})
	if _, err := DialCluster([]string{bad.addr(), refused.addr()}, 3, "s3", quick, 5*time.Second); !errors.Is(err, ErrLogonRejected) {
		t.Fatalf("unknown account: %v, want ErrLogonRejected", err)
	}
	if bad.logonCount() != 1 {
		t.Fatalf("%d logons after a rejection, want 1", bad.logonCount())
	}
	if _, err := DialCluster(nil, 3, "s3", quick, time.Second); err == nil {
		t.Fatal("DialCluster with no addresses succeeded")
	}
}

// A deep book's snapshot, sent in parts, comes out of Next as one
// BookSnapshot with every part's levels in order; the parts themselves
// are not returned.
func TestSnapshotPartsComeBackWhole(t *testing.T) {
	lv := func(p int64) proto.Level { return proto.Level{Price: p, Quantity: p * 10, Count: 1} }
	part := func(seq uint64, inst uint32, bids, asks []proto.Level, more bool) []byte {
		return enc().BookSnapshot(seq, proto.BookSnapshot{Instrument: inst, MDSeq: 40, Bids: bids, Asks: asks,
			Halted: true, LastPrice: 7, More: more})
	}
	level := proto.LevelUpdate{Instrument: 2, MDSeq: 41, Side: wire.SideBuy, Price: 100, Quantity: 1, Count: 1}
	g := startGateway(t, func(*proto.Encoder, logon) [][]byte {
		return [][]byte{enc().LogonAck(1, 77, 1000, 0),
			part(0, 2, []proto.Level{lv(100), lv(99)}, nil, true),
			part(0, 2, []proto.Level{lv(98)}, []proto.Level{lv(101)}, true),
			part(0, 2, nil, []proto.Level{lv(102), lv(103)}, false),
			part(0, 3, []proto.Level{lv(5)}, nil, false), // one part: whole as it is
			enc().LevelUpdate(0, level)}
	})
	dialExpecting(t, g, []Message{
		{Type: wire.MessageBookSnapshot, Instrument: 2, MDSeq: 40, Bids: []proto.Level{lv(100), lv(99), lv(98)},
			Asks: []proto.Level{lv(101), lv(102), lv(103)}, Halted: true, LastPrice: 7},
		{Type: wire.MessageBookSnapshot, Instrument: 3, MDSeq: 40, Bids: []proto.Level{lv(5)}, Halted: true, LastPrice: 7},
		{Type: wire.MessageLevelUpdate, Level: level, Instrument: 2, MDSeq: 41},
	})
}

// A snapshot whose parts never end is an error once it holds
// maxSnapshotLevels levels: a broken or hostile server cannot grow the
// client's memory without end.
func TestSnapshotPartsAreBounded(t *testing.T) {
	defer func(n int) { maxSnapshotLevels = n }(maxSnapshotLevels)
	maxSnapshotLevels = 10
	lv := []proto.Level{{Price: 1, Quantity: 1, Count: 1}, {Price: 2, Quantity: 1, Count: 1}, {Price: 3, Quantity: 1, Count: 1}}
	g := startGateway(t, func(*proto.Encoder, logon) [][]byte {
		frames := [][]byte{append([]byte(nil), enc().LogonAck(1, 77, 1000, 0)...)}
		for range 6 {
			frames = append(frames, append([]byte(nil), enc().BookSnapshot(0, proto.BookSnapshot{Instrument: 2, Bids: lv, More: true})...))
		}
		return frames
	})
	c, err := Dial(g.addr(), 3, "s3", quick)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if m, err := c.Next(); err == nil || !strings.Contains(err.Error(), "over 10 levels") {
		t.Fatalf("endless snapshot: %+v %v", m, err)
	}
}

// dialExpecting logs on to g and reads want from it, message by message;
// the client is closed with the test.
func dialExpecting(t *testing.T, g *gateway, want []Message) *Client {
	t.Helper()
	c, err := Dial(g.addr(), 3, "s3", quick)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for _, w := range want {
		m, err := c.Next()
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(m, w) {
			t.Fatalf("got %+v\nwant %+v", m, w)
		}
	}
	return c
}

// Every server message comes out of Next with its fields, and every
// client message reaches the server as sent, numbered in order.
func TestMessagesBothWays(t *testing.T) {
	report := proto.Report{Kind: wire.ExecKindFill, Reason: 0, Side: wire.SideBuy, Instrument: 2, Account: 3,
		OrderID: 10, ClientOrderID: 11, TradeID: 12, Price: 6000000, Quantity: 5, Leaves: 1, InputSeq: 99, Timestamp: 1234}
	level := proto.LevelUpdate{Instrument: 2, MDSeq: 7, Side: wire.SideSell, Price: 6000100, Quantity: 9, Count: 2}
	trade := proto.Trade{Instrument: 2, MDSeq: 8, TradeID: 12, Price: 6000000, Quantity: 5, Aggressor: wire.SideBuy}
	bids, asks := []proto.Level{{Price: 100, Quantity: 3, Count: 1}}, []proto.Level{{Price: 101, Quantity: 4, Count: 2}}
	g := startGateway(t, func(*proto.Encoder, logon) [][]byte {
		return [][]byte{enc().LogonAck(1, 77, 1000, 0), enc().ExecutionReport(2, &report), enc().LevelUpdate(3, level),
			enc().Trade(4, trade), enc().BookSnapshot(5, proto.BookSnapshot{Instrument: 2, MDSeq: 6, Bids: bids, Asks: asks, Halted: true, LastPrice: 99}),
			enc().SubscribeReject(6, 9, wire.SubscribeRejectReasonUnknownInstrument),
			enc().TradingStatus(7, proto.TradingStatus{Instrument: 2, MDSeq: 7, Halted: false})}
	})
	c := dialExpecting(t, g, []Message{
		{Type: wire.MessageExecutionReport, Seq: 2, Report: report},
		{Type: wire.MessageLevelUpdate, Seq: 3, Level: level, Instrument: 2, MDSeq: 7},
		{Type: wire.MessageTrade, Seq: 4, Trade: trade, Instrument: 2, MDSeq: 8},
		{Type: wire.MessageBookSnapshot, Seq: 5, Instrument: 2, MDSeq: 6, Bids: bids, Asks: asks, Halted: true, LastPrice: 99},
		{Type: wire.MessageSubscribeReject, Seq: 6, Instrument: 9, SubscribeReject: wire.SubscribeRejectReasonUnknownInstrument},
		{Type: wire.MessageTradingStatus, Seq: 7, Instrument: 2, MDSeq: 7},
	})

	order := proto.NewOrder{ClientOrderID: 5, Instrument: 2, Side: wire.SideBuy, Type: wire.OrderTypeLimit,
		TIF: wire.TimeInForceGTC, Price: 6000000, Quantity: 3}
	cancel := proto.Cancel{OrderID: 10, OrigClientOrderID: 5, Instrument: 2}
	replace := proto.Replace{OrderID: 10, OrigClientOrderID: 5, ClientOrderID: 6, Price: 6000001, Quantity: 4, Instrument: 2}
	status := proto.OrderStatus{OrderID: 10, OrigClientOrderID: 5, Instrument: 2, AfterOrderID: 9}
	sends := []struct {
		send  func() error
		check func(payload []byte, pos uint32) bool
		typ   wire.Message
	}{
		{func() error { return c.NewOrder(order) }, func(p []byte, pos uint32) bool { return proto.NewOrderAt(p, pos) == order }, wire.MessageNewOrder},
		{func() error { return c.Cancel(cancel) }, func(p []byte, pos uint32) bool { return proto.CancelAt(p, pos) == cancel }, wire.MessageCancel},
		{func() error { return c.Replace(replace) }, func(p []byte, pos uint32) bool { return proto.ReplaceAt(p, pos) == replace }, wire.MessageReplace},
		{func() error { return c.MassCancel(2) }, func(p []byte, pos uint32) bool { return proto.InstrumentAt(p, pos) == 2 }, wire.MessageMassCancel},
		{func() error { return c.OrderStatus(status) }, func(p []byte, pos uint32) bool { return proto.OrderStatusAt(p, pos) == status }, wire.MessageOrderStatus},
		{func() error { return c.Subscribe(3) }, func(p []byte, pos uint32) bool { return proto.InstrumentAt(p, pos) == 3 }, wire.MessageSubscribe},
		{func() error { return c.Unsubscribe(3) }, func(p []byte, pos uint32) bool { return proto.InstrumentAt(p, pos) == 3 }, wire.MessageUnsubscribe},
		{c.Heartbeat, func([]byte, uint32) bool { return true }, wire.MessageHeartbeat},
		{c.Logout, func([]byte, uint32) bool { return true }, wire.MessageLogout},
	}
	for i, s := range sends {
		if err := s.send(); err != nil {
			t.Fatal(err)
		}
		var payload []byte
		select {
		case payload = <-g.received:
		case <-time.After(5 * time.Second):
			t.Fatalf("the gateway did not get the %s", wire.EnumNamesMessage[s.typ])
		}
		typ, pos, err := proto.Verify(payload)
		if err != nil || typ != s.typ || !s.check(payload, pos) {
			t.Fatalf("gateway got %s (%v), want the %s sent", wire.EnumNamesMessage[typ], err, wire.EnumNamesMessage[s.typ])
		}
		if seq := proto.Seq(payload); seq != uint64(i+2) { // the Logon was 1
			t.Fatalf("%s numbered %d, want %d", wire.EnumNamesMessage[typ], seq, i+2)
		}
	}
}

// Without AutoFlush, messages wait in the buffer until Flush.
func TestFlush(t *testing.T) {
	g := startGateway(t, ack)
	c, err := Dial(g.addr(), 3, "s3", Options{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Heartbeat(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-g.received:
		t.Fatal("a message left before Flush")
	case <-time.After(100 * time.Millisecond):
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-g.received:
	case <-time.After(5 * time.Second):
		t.Fatal("Flush sent nothing")
	}
}

func TestNextRejectsOversizedFrames(t *testing.T) {
	wantTooLarge(t, 256, func(e *proto.Encoder) []byte { return append([]byte(nil), e.Redirect(2, strings.Repeat("x", 400))...) })
}

// wantTooLarge: after the logon, a frame (what big makes) read with
// Options.MaxFrameBytes maxFrame ends Next with ErrFrameTooLarge.
func wantTooLarge(t *testing.T, maxFrame int, big func(*proto.Encoder) []byte) {
	t.Helper()
	g := startGateway(t, func(e *proto.Encoder, l logon) [][]byte { return append(ack(e, l), big(e)) })
	c, err := Dial(g.addr(), 3, "s3", Options{Timeout: 2 * time.Second, MaxFrameBytes: maxFrame})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Next(); !errors.Is(err, proto.ErrFrameTooLarge) {
		t.Fatalf("a frame over the bound (MaxFrameBytes %d): %v, want ErrFrameTooLarge", maxFrame, err)
	}
}

// FuzzNext: whatever a server sends, Next returns messages or an error;
// it never panics, never returns an InstrumentInfo by itself (the list
// comes whole, on its InstrumentsDone), and the answer to a
// ListInstruments as the node encodes it reads back as encoded.
func FuzzNext(f *testing.F) {
	report := proto.Report{Kind: wire.ExecKindAccepted, Instrument: 2, OrderID: 1, Quantity: 1}
	for _, fr := range [][]byte{enc().LogonAck(1, 2, 3, 0), enc().LogonReject(1, wire.LogonRejectReasonBadSecret),
		enc().Redirect(1, "127.0.0.1:7400"), enc().ExecutionReport(1, &report),
		enc().LevelUpdate(1, proto.LevelUpdate{Instrument: 2, Price: 3, Quantity: 4}),
		enc().Trade(1, proto.Trade{Instrument: 2, Price: 3, Quantity: 4}),
		enc().BookSnapshot(1, proto.BookSnapshot{Instrument: 2, MDSeq: 3, Bids: []proto.Level{{Price: 1, Quantity: 2, Count: 3}}}),
		enc().TradingStatus(1, proto.TradingStatus{Instrument: 2, MDSeq: 4, Halted: true}),
		enc().SubscribeReject(1, 2, wire.SubscribeRejectReasonUnknownInstrument),
		enc().Closing(0, wire.ClosingCauseSlowConsumer, "the client did not read its reports fast enough")} {
		f.Add(fr)
	}
	// A snapshot in two parts, then an update.
	f.Add(slices.Concat(enc().BookSnapshot(0, proto.BookSnapshot{Instrument: 2, MDSeq: 3, Bids: []proto.Level{{Price: 2, Quantity: 1, Count: 1}}, More: true}),
		enc().BookSnapshot(0, proto.BookSnapshot{Instrument: 2, MDSeq: 3, Asks: []proto.Level{{Price: 4, Quantity: 1, Count: 1}}}),
		enc().LevelUpdate(0, proto.LevelUpdate{Instrument: 2, MDSeq: 4, Price: 3, Quantity: 4})))
	// The answer to a ListInstruments, and a resend's end.
	listed := []proto.InstrumentInfo{
		{ID: 1, Symbol: "BTC-USD", TickSize: 5, LotSize: 1, PriceDecimals: 2, QtyDecimals: 8, PriceBand: 1000, ReferencePrice: 50000},
		{ID: 7, Symbol: "ETH-USD", TickSize: 1, LotSize: 10, PriceBand: 0, ReferencePrice: -1},
	}
	answer := slices.Concat(enc().InstrumentInfo(0, &listed[0]), enc().InstrumentInfo(0, &listed[1]), enc().InstrumentsDone(0, 2))
	f.Add(answer)
	f.Add(enc().ResendDone(3, proto.ResendDone{AfterInputSeq: 6, FirstInputSeq: 7, ThroughInputSeq: 11, Count: 2}))
	f.Fuzz(func(t *testing.T, stream []byte) {
		c := &Client{fr: proto.NewFrameReader(bytes.NewReader(stream), 1<<12)}
		for range 64 {
			m, err := c.Next()
			if err != nil {
				return
			}
			if m.Type == wire.MessageInstrumentInfo {
				t.Fatalf("Next returned an InstrumentInfo by itself: %+v", m)
			}
			if bytes.Equal(stream, answer) && m.Type == wire.MessageInstrumentsDone && !slices.Equal(m.Instruments, listed) {
				t.Fatalf("the node's list %+v read back as %+v", listed, m.Instruments)
			}
		}
	})
}

// A message type newer than the client is handed over by its type, for
// the caller to skip, and the stream goes on: the protocol only appends
// types, so an old client keeps working against a newer exchange.
func TestNextSkipsNewerMessageTypes(t *testing.T) {
	level := proto.LevelUpdate{Instrument: 2, MDSeq: 8, Side: wire.SideBuy, Price: 5, Quantity: 1, Count: 1}
	g := startGateway(t, func(*proto.Encoder, logon) [][]byte {
		return [][]byte{enc().LogonAck(1, 77, 1000, 0), enc().Empty(2, wire.Message(250)), enc().LevelUpdate(3, level)}
	})
	c, err := Dial(g.addr(), 3, "s3", quick)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	m, err := c.Next()
	if err != nil || m.Type != wire.Message(250) || m.Seq != 2 {
		t.Fatalf("newer message: %+v, %v", m, err)
	}
	if m, err = c.Next(); err != nil || m.Type != wire.MessageLevelUpdate || m.Level != level {
		t.Fatalf("after it: %+v, %v", m, err)
	}
}

// LastInputSeq follows the largest input sequence of the reports read,
// resent ones included, so a reconnecting client knows where to resend
// from; Resend tags its request and the answers carry the tag.
func TestLastInputSeqAndResend(t *testing.T) {
	g := startGateway(t, func(e *proto.Encoder, _ logon) [][]byte {
		var frames [][]byte
		frames = append(frames, one(e.LogonAck(1, 77, 1500, 0))...)
		for _, r := range []struct {
			tag uint64
			seq int64
		}{{0, 5}, {0, 9}, {3, 7}, {3, 11}} {
			frames = append(frames, one(e.ExecutionReport(r.tag, &proto.Report{Kind: wire.ExecKindFill, InputSeq: r.seq}))...)
		}
		frames = append(frames, one(e.ResendDone(3, proto.ResendDone{AfterInputSeq: 6, FirstInputSeq: 7, ThroughInputSeq: 11, Count: 2}))...)
		return frames
	})
	c, err := Dial(g.addr(), 3, "s3", quick)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var last []int64
	var resent []bool
	for {
		m, err := c.Next()
		if err != nil {
			t.Fatal(err)
		}
		if m.Type == wire.MessageResendDone {
			if m.Seq != 3 || m.ResendDone.Count != 2 || m.ResendDone.ThroughInputSeq != 11 {
				t.Fatalf("done %+v tag %d", m.ResendDone, m.Seq)
			}
			break
		}
		last = append(last, c.LastInputSeq)
		resent = append(resent, m.Resent())
	}
	if !slices.Equal(last, []int64{5, 9, 9, 11}) || !slices.Equal(resent, []bool{false, false, true, true}) {
		t.Fatalf("LastInputSeq %v, resent %v", last, resent)
	}
	tag, err := c.Resend(c.LastInputSeq)
	if err != nil || tag == 0 {
		t.Fatalf("tag %d: %v", tag, err)
	}
	payload := <-g.received
	var m proto.Msg
	if err := proto.VerifyMsg(payload, &m); err != nil || m.Type != wire.MessageResendReports || m.Seq != tag || m.ResendReports(payload) != 11 {
		t.Fatalf("sent %v seq %d (tag %d) after %d: %v", m.Type, m.Seq, tag, m.ResendReports(payload), err)
	}
}

// Redial logs on again as the same account and resends from the last
// report read — or from the start of a resend the connection cut short.
func TestRedialResendsWhatWasMissed(t *testing.T) {
	g := startGateway(t, func(e *proto.Encoder, _ logon) [][]byte {
		return [][]byte{append([]byte(nil), e.LogonAck(1, 77, 1500, 0)...),
			append([]byte(nil), e.ExecutionReport(0, &proto.Report{Kind: wire.ExecKindAccepted, InputSeq: 50})...)}
	})
	c, err := Dial(g.addr(), 3, "s3", quick)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if m, err := c.Next(); err != nil || c.LastInputSeq != 50 {
		t.Fatalf("%+v %v, last input %d", m, err, c.LastInputSeq)
	}
	c.Resend(10) // never answered: the connection ends first
	if got := g.resendAfter(t); got != 10 {
		t.Fatalf("resend after %d", got)
	}
	again, tag := g.cutAndRedial(t, c)
	if got := g.resendAfter(t); got != 10 || tag == 0 || again.LastInputSeq != 50 {
		t.Fatalf("after the cut-short resend: resend after %d (want 10), tag %d, last input %d", got, tag, again.LastInputSeq)
	}
	g.mu.Lock()
	account, secret := g.logons[len(g.logons)-1].account, g.logons[len(g.logons)-1].secret
	g.mu.Unlock()
	if account != 3 || secret != "s3" {
		t.Fatalf("Redial logged on as %d/%q", account, secret)
	}
}

// One input caused two reports (a mass cancel of two orders) and the
// connection ended after the first: Redial asks for that input's reports
// again, and the new client returns only the one its predecessor did not
// (the ResendDone counts what it returned). Asked from the input after,
// the second report was lost for good.
func TestRedialCompletesThePartlyReadInput(t *testing.T) {
	cancelled := func(e *proto.Encoder, seq, order uint64) []byte {
		return append([]byte(nil), e.ExecutionReport(seq, &proto.Report{Kind: wire.ExecKindCancelled, InputSeq: 50, OrderID: order})...)
	}
	var logons atomic.Int32
	g := startGateway(t, func(e *proto.Encoder, _ logon) [][]byte {
		if logons.Add(1) > 1 {
			return one(e.LogonAck(1, 78, 1500, 0))
		}
		return [][]byte{append([]byte(nil), e.LogonAck(1, 77, 1500, 0)...), cancelled(e, 0, 1)} // order 2's never came
	})
	c, err := Dial(g.addr(), 3, "s3", quick)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if m, err := c.Next(); err != nil || m.Report.OrderID != 1 {
		t.Fatalf("%+v %v", m, err)
	}
	again, tag := g.cutAndRedial(t, c)
	if after := g.resendAfter(t); after != 49 {
		t.Fatalf("resend after input %d, want 49 (input 50's reports again)", after)
	}
	e := proto.NewEncoder()
	g.mu.Lock()
	conn := g.conns[len(g.conns)-1]
	g.mu.Unlock()
	conn.Write(cancelled(e, tag, 1))
	conn.Write(cancelled(e, tag, 2))
	conn.Write(e.ResendDone(tag, proto.ResendDone{AfterInputSeq: 49, FirstInputSeq: 50, ThroughInputSeq: 50, Count: 2}))
	again.SetReadDeadline(time.Now().Add(2 * time.Second))
	if m, err := again.Next(); err != nil || m.Type != wire.MessageExecutionReport || m.Report.OrderID != 2 {
		t.Fatalf("first message after Redial: %+v %v; want order 2's report (order 1's was read)", m, err)
	}
	if m, err := again.Next(); err != nil || m.Type != wire.MessageResendDone || m.ResendDone.Count != 1 {
		t.Fatalf("then %+v %v; want ResendDone counting 1", m, err)
	}
}
