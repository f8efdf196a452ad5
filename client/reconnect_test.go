package client

import (
	"errors"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// rawServer accepts one connection on loopback and hands it to script.
func rawServer(t *testing.T, script func(conn net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		script(conn)
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String()
}

// A reader that polls with a read deadline (to send heartbeats when
// idle, as the protocol asks) and whose deadline fires while a frame is
// half arrived keeps the stream: the bytes read before the timeout were
// dropped, and the next Next decoded from the middle of the frame (found
// by an audit helper).
func TestDeadlineMidFrameKeepsStream(t *testing.T) {
	stop := make(chan struct{})
	timedOut := make(chan struct{}) // the reader's deadline fired mid-frame
	addr := rawServer(t, func(conn net.Conn) {
		e := proto.NewEncoder()
		lu := append([]byte(nil), e.LevelUpdate(0, proto.LevelUpdate{Instrument: 1, MDSeq: 1, Side: wire.SideBuy, Price: 100, Quantity: 5, Count: 1})...)
		lu2 := append([]byte(nil), e.LevelUpdate(0, proto.LevelUpdate{Instrument: 1, MDSeq: 2, Side: wire.SideBuy, Price: 101, Quantity: 5, Count: 1})...)
		conn.Write(lu[:10]) // half a frame; the rest once the reader's deadline fired
		select {
		case <-timedOut:
		case <-stop:
			return
		}
		conn.Write(lu[10:])
		conn.Write(lu2)
		select {
		case <-stop:
		case <-time.After(5 * time.Second):
		}
	})
	defer close(stop)
	c, err := DialMarketData(addr, Options{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	_, err = c.Next()
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("first Next: %v, want a deadline error", err)
	}
	close(timedOut)
	// The caller sends its heartbeat and reads on, as with any net.Conn.
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	for want := uint64(1); want <= 2; want++ {
		m, err := c.Next()
		if err != nil || m.Type != wire.MessageLevelUpdate || m.MDSeq != want {
			t.Fatalf("after the deadline: %+v, %v; want LevelUpdate md_seq %d (the stream lost its framing)", m.Type, err, want)
		}
	}
}

// The bound on gathered snapshot parts is over all instruments: per
// instrument, a server that never ended its snapshots, one instrument
// after another, grew the client's memory without end. Parts that carry
// no level count too (a map entry each): the bound was on levels alone,
// and empty parts escaped it.
func TestSnapshotPartsBoundedAcrossInstruments(t *testing.T) {
	defer func(n int) { maxSnapshotLevels = n }(maxSnapshotLevels)
	maxSnapshotLevels = 10
	const instruments = 2000
	for _, tc := range []struct {
		name string
		lv   []proto.Level
	}{
		{"three levels a part", []proto.Level{{Price: 1, Quantity: 1, Count: 1}, {Price: 2, Quantity: 1, Count: 1}, {Price: 3, Quantity: 1, Count: 1}}},
		{"empty parts", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := startGateway(t, func(*proto.Encoder, logon) [][]byte {
				frames := [][]byte{append([]byte(nil), enc().LogonAck(1, 77, 1000, 0)...)}
				for i := range instruments {
					frames = append(frames, append([]byte(nil), enc().BookSnapshot(0, proto.BookSnapshot{Instrument: uint32(10 + i), Bids: tc.lv, More: true})...))
				}
				frames = append(frames, append([]byte(nil), enc().Heartbeat(9)...))
				return frames
			})
			c, err := Dial(g.addr(), 3, "s3", quick)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			m, err := c.Next()
			held := 0
			for _, p := range c.snapshotParts {
				held += len(p.Bids) + len(p.Asks)
			}
			if err == nil {
				t.Fatalf("%d unfinished snapshots (%d levels held, bound %d) and Next returned %v: the bound does not hold",
					len(c.snapshotParts), held, maxSnapshotLevels, wire.EnumNamesMessage[m.Type])
			}
		})
	}
}

// DialCluster(within) gives up once within has passed: one member that
// accepts TCP but never answers (a hung node, a partition that keeps the
// listener) held each round for opts.Timeout.
func TestDialClusterKeepsWithin(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var held []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c) // accepted, never answered
		}
	}()
	start := time.Now()
	_, err = DialCluster([]string{ln.Addr().String()}, 3, "s3", Options{Timeout: time.Minute}, 200*time.Millisecond)
	took := time.Since(start)
	if err == nil {
		t.Fatal("logged on to a silent member")
	}
	// Not a speed bound: waiting out the one-minute logon timeout is the
	// defect; 30 s is 150 times within, which a slow machine does not take.
	if took >= 30*time.Second {
		t.Fatalf("DialCluster(within 200ms) returned after %v, the logon timeout: %v", took.Round(time.Millisecond), err)
	}
}

// A report the new session received live between its logon and Redial's
// resend request is resent too (proto/README.md says so, and that a
// report is identified by input, kind, order, trade): the new client
// returned it twice — a fill counted twice. It returns it once.
func TestRedialLiveThenResentReturnedOnce(t *testing.T) {
	var logons int
	var mu = make(chan struct{}, 1)
	mu <- struct{}{}
	g := startGateway(t, func(e *proto.Encoder, _ logon) [][]byte {
		<-mu
		logons++
		n := logons
		mu <- struct{}{}
		if n == 1 {
			return [][]byte{append([]byte(nil), e.LogonAck(1, 77, 1500, 0)...), cancelledReport(e, 0, 50, 1)}
		}
		// The second session: a fill of input 60 goes out live right after the LogonAck.
		return [][]byte{append([]byte(nil), e.LogonAck(1, 78, 1500, 0)...),
			append([]byte(nil), e.ExecutionReport(0, &proto.Report{Kind: wire.ExecKindFill, InputSeq: 60, OrderID: 1, TradeID: 9, Quantity: 1})...)}
	})
	c, err := Dial(g.addr(), 3, "s3", quick)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Next(); err != nil {
		t.Fatal(err)
	}
	again, tag := g.cutAndRedial(t, c)
	after := g.resendAfter(t)
	conn, e := g.lastConn(), proto.NewEncoder()
	// The resend: input 50's report (c returned it) and input 60's fill (sent live already).
	conn.Write(cancelledReport(e, tag, 50, 1))
	conn.Write(e.ExecutionReport(tag, &proto.Report{Kind: wire.ExecKindFill, InputSeq: 60, OrderID: 1, TradeID: 9, Quantity: 1}))
	conn.Write(e.ResendDone(tag, proto.ResendDone{AfterInputSeq: after, FirstInputSeq: after + 1, ThroughInputSeq: 60, Count: 2}))
	again.SetReadDeadline(time.Now().Add(2 * time.Second))
	fills := 0
	for {
		m, err := again.Next()
		if err != nil {
			t.Fatal(err)
		}
		if m.Type == wire.MessageResendDone {
			break
		}
		if m.Report.Kind == wire.ExecKindFill {
			fills++
		}
	}
	if fills != 1 {
		t.Fatalf("the fill of trade 9 returned %d times (live, then resent)", fills)
	}
}

// With Options' zero value (AutoFlush false) Redial's resend request sat
// in the write buffer: its answer never came unless the caller happened
// to Flush. Redial flushes it.
func TestRedialSendsItsResendWithoutAutoFlush(t *testing.T) {
	g := startGateway(t, ack)
	c, err := Dial(g.addr(), 3, "s3", Options{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	again, _ := g.cutAndRedial(t, c)
	_ = again
	select {
	case <-g.received:
	case <-time.After(time.Second):
		t.Fatal("Redial's ResendReports never left the client (AutoFlush off, no Flush)")
	}
}

// A negative MaxFrameBytes is the default bound, not none: converted to
// an unsigned size it let a server make the client allocate up to 4 GiB
// for one frame.
func TestNegativeMaxFrameBytesIsTheDefault(t *testing.T) {
	wantTooLarge(t, -1, func(*proto.Encoder) []byte { return []byte{0, 0, 0x20, 0} }) // a 2 MiB frame's prefix
}

// DialCluster shortens each attempt's Timeout to what is left of within,
// and the client kept those options for Redial: a client that dialled
// with a short within (or whose dial succeeded near its end) redialled
// with a Timeout of ~that — every attempt then ended before a gateway that
// takes longer to answer the logon could answer, though Options.Timeout
// was 5 s (found by a review helper). within is 1 s, not 100 ms: the
// first dial and logon had to fit in it, which a loaded machine's
// scheduling need not allow; the gateway's later answers take longer
// than within, shorter than Timeout.
func TestRedialKeepsTheCallersTimeout(t *testing.T) {
	var logons atomic.Int32
	g := startGateway(t, func(e *proto.Encoder, l logon) [][]byte {
		if logons.Add(1) > 1 {
			time.Sleep(1500 * time.Millisecond) // the gateway is slower to answer now
		}
		return ack(e, l)
	})
	c, err := DialCluster([]string{g.addr()}, 3, "s3", Options{Timeout: 5 * time.Second, AutoFlush: true}, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.opts.Timeout != 5*time.Second {
		t.Errorf("after DialCluster within 1 s the client keeps Timeout %v, want the caller's 5s", c.opts.Timeout)
	}
	g.hangUp(t, c)
	again, _, err := c.Redial([]string{g.addr()}, 4*time.Second)
	if err != nil {
		t.Fatalf("Redial within 4 s, Options.Timeout 5 s, a gateway answering in 1.5 s: %v (the client's Timeout is now %v)", err, c.opts.Timeout)
	}
	defer again.Close()
	if again.opts.Timeout != 5*time.Second || logons.Load() != 2 {
		t.Errorf("the redialled client has Timeout %v after %d logons, want the caller's 5s after 2", again.opts.Timeout, logons.Load())
	}
}

// After Redial (from input 0: the old client had read nothing) whose
// resend was answered busy, a live refusal of an order (rate-limited:
// input -1, order 0, seq 0) is remembered as a live report; the refusal
// of the resend asked again (from 0: order id 0, input -1, under its tag)
// has the same identity and was swallowed as "already returned live" —
// the caller never heard its Resend was refused, and the client went on
// counting the resend as open (found by a review helper).
func TestRefusedResendAfterALiveRefusalIsReturned(t *testing.T) {
	g, c := dialLoggedOn(t)
	defer c.Close()
	again, tag := g.cutAndRedial(t, c)
	if after := g.resendAfter(t); after != 0 {
		t.Fatalf("resend after %d", after)
	}
	conn, e := g.lastConn(), proto.NewEncoder()
	conn.Write(e.ResendDone(tag, proto.ResendDone{AfterInputSeq: 0, Reason: proto.ResendBusy}))
	conn.Write(e.ExecutionReport(0, &proto.Report{Kind: wire.ExecKindRejected, Reason: uint8(engine.ReasonRateLimited),
		Account: 3, ClientOrderID: 5, InputSeq: -1}))
	again.SetReadDeadline(time.Now().Add(2 * time.Second))
	for range 2 {
		if _, err := again.Next(); err != nil {
			t.Fatal(err)
		}
	}
	tag2, err := again.Resend(0)
	if err != nil {
		t.Fatal(err)
	}
	g.resendAfter(t)
	conn.Write(resendRefusal(e, tag2, 0))
	again.SetReadDeadline(time.Now().Add(time.Second))
	m, err := again.Next()
	if err != nil || m.Type != wire.MessageExecutionReport || m.Seq != tag2 {
		t.Fatalf("the refusal of Resend(0) (tag %d) never returned: %+v %v", tag2, m, err)
	}
}

// A Redial whose new connection logs on and is reset before its resend
// request is written (the node deposed as it took the logon) logs on
// again within its time, and asks there. It failed, having closed c's
// connection and had c's session replaced, where its doc said a failed
// Redial leaves c as it was. Whether the reset comes before the write
// is a race (on loopback it does about 15 times in 16): the scenario
// runs until it has, and a write that won is let be (its client's Next
// fails, and a Redial from it goes on).
func TestRedialLogsOnAgainWhenTheResendIsNotSent(t *testing.T) {
	for try := range 20 {
		if redialPastALostLogon(t) {
			return
		}
		t.Logf("try %d: the resend was written before the reset came", try)
	}
	t.Fatal("the reset never came before the resend's write")
}

// redialPastALostLogon reports whether the reset beat the write: then
// Redial must have logged on again and asked there.
func redialPastALostLogon(t *testing.T) bool {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	asked := make(chan uint64, 4) // the session a ResendReports arrived on
	go func() {
		for i := 0; ; i++ {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func(session uint64, conn net.Conn) {
				defer conn.Close()
				fr := proto.NewFrameReader(conn, 1<<16)
				fr.Next()
				conn.Write(enc().LogonAck(1, session, 1500, 0))
				if session == 8 {
					conn.(*net.TCPConn).SetLinger(0) // lost as soon as it logged on
					return
				}
				conn.SetReadDeadline(time.Now().Add(5 * time.Second)) // c's stays silent
				for {
					p, err := fr.Next()
					if err != nil {
						return
					}
					if typ, _, _ := proto.Verify(p); typ == wire.MessageResendReports {
						asked <- session
					}
				}
			}(uint64(7+i), conn)
		}
	}()
	c, err := Dial(ln.Addr().String(), 1, "s", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := c.Next(); err == nil {
		t.Fatal("no timeout")
	}
	nc, _, err := c.Redial([]string{ln.Addr().String()}, 2*time.Second)
	if err != nil {
		t.Fatalf("Redial with a connection lost after its logon, then one that stays: %v", err)
	}
	defer nc.Close()
	if nc.Session == 8 {
		return false
	}
	select {
	case s := <-asked:
		if s != nc.Session {
			t.Fatalf("Redial returned session %d; the resend was asked on session %d", nc.Session, s)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("session %d was never asked a resend", nc.Session)
	}
	return true
}
