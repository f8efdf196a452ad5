package gateway

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/output"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// closedBy reads c until its connection ends (within 5 s) and returns
// the cause the node gave ("" for none).
func closedBy(t *testing.T, c *client.Client) string {
	t.Helper()
	return client.ClosedBy(testkit.ReadToEnd(t, c, "the connection"))
}

// A session the node ends itself is told why, over a real connection:
// the client's error names the cause the gateway counts.
func TestSessionToldWhyTheNodeClosesIt(t *testing.T) {
	logon := func(t *testing.T, g *Gateway, opts client.Options) *client.Client {
		t.Helper()
		c, err := client.Dial(g.Addr().String(), 1, "one", opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	for _, tc := range []struct {
		cause Cause
		cfg   Config
		end   func(t *testing.T, g *Gateway, c *client.Client)
	}{
		{CauseRateLimit, Config{RejectRate: 20, DisconnectRate: 60}, func(t *testing.T, g *Gateway, c *client.Client) {
			for i := range 200 {
				c.NewOrder(order(uint64(i)))
			}
			c.Flush()
		}},
		{CauseFrameTooLarge, Config{MaxFrameBytes: 256}, func(t *testing.T, g *Gateway, c *client.Client) {
			c.SendRaw(proto.AppendFrame(nil, make([]byte, 300)))
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			// Its LogonReject first, as before the Closing.
			if m, err := c.Next(); err != nil || m.Type != wire.MessageLogonReject || m.LogonReject != wire.LogonRejectReasonFrameTooLarge {
				t.Fatalf("oversize frame: %+v %v", m, err)
			}
		}},
		{CauseHeartbeatTimeout, Config{HeartbeatTimeout: 300 * time.Millisecond}, func(*testing.T, *Gateway, *client.Client) {}},
		{CauseOperator, Config{}, func(t *testing.T, g *Gateway, c *client.Client) {
			if !g.CloseSession(c.Session) {
				t.Fatal("session not live")
			}
		}},
		{CauseReplaced, Config{}, func(t *testing.T, g *Gateway, c *client.Client) {
			logon(t, g, client.Options{ReplacesSession: c.Session})
		}},
		{CauseNotLeader, Config{}, func(t *testing.T, g *Gateway, c *client.Client) { g.DropSessions() }},
		{CauseShutdown, Config{}, func(t *testing.T, g *Gateway, c *client.Client) { g.Close() }},
	} {
		t.Run(tc.cause.String(), func(t *testing.T) {
			g, _ := startGateway(t, tc.cfg)
			c := logon(t, g, client.Options{AutoFlush: true})
			tc.end(t, g, c)
			if got := closedBy(t, c); got != tc.cause.String() {
				t.Fatalf("the client was told %q, want %q", got, tc.cause)
			}
			awaitDisconnects(t, g, tc.cause, 1)
		})
	}
}

// A session the gateway ends for crossing a limit is told which limit,
// with its setting and value: the send buffer or the node's send budget
// for a slow consumer (one sentence said these and the stall time, whose
// cut TestStalledClientToldWhyLast reads), the disconnect rate (the
// gateway's, or its account's own), the frame size or a frame of length
// 0 (one text said both: frame_too_large's cause is the same), the read
// timeout.
func TestClosingNamesTheLimitCrossed(t *testing.T) {
	const buffer = 64 << 10
	// flood sends n orders at once: a few over a disconnect rate, not so
	// many that the gateway closes the connection with much of them unread
	// (a reset, which may go before the Closing).
	flood := func(n int) func(t *testing.T, g *Gateway, c *client.Client) {
		return func(t *testing.T, g *Gateway, c *client.Client) {
			for i := range n {
				c.NewOrder(order(uint64(i)))
			}
			c.Flush()
		}
	}
	for _, tc := range []struct {
		name string
		cfg  Config
		end  func(t *testing.T, g *Gateway, c *client.Client)
		says string // how its text ends
	}{
		{"send buffer", Config{SendBufferBytes: buffer}, func(t *testing.T, g *Gateway, c *client.Client) {
			cutOutbox(t, g.Session(c.Session), buffer)
		}, "more than gateway.send_buffer_bytes (65536 bytes) waited unsent"},
		{"send budget", Config{SendBudget: output.NewBudget(4096, 1024)}, func(t *testing.T, g *Gateway, c *client.Client) {
			if err := g.Session(c.Session).Out.Send(make([]byte, 8192)); !errors.Is(err, output.ErrOverBudget) {
				t.Fatalf("a frame over the budget: %v, want the outbox cut (ErrOverBudget)", err)
			}
		}, "node.send_budget_bytes (4096 bytes), was spent, and it held among the most unsent"},
		{"disconnect rate", Config{RejectRate: 20, DisconnectRate: 60}, flood(70), "gateway.disconnect_rate (60)"},
		{"account's disconnect rate", Config{Accounts: []Account{{ID: 1, Secret: "one", RejectRate: 10, DisconnectRate: 30}}}, flood(40),
			"its account's disconnect_rate (30)"},
		{"frame size", Config{MaxFrameBytes: 256}, func(t *testing.T, g *Gateway, c *client.Client) {
			c.SendRaw(proto.AppendFrame(nil, make([]byte, 300)))
		}, "a frame over gateway.max_frame_bytes (256 bytes)"},
		{"frame of length 0", Config{MaxFrameBytes: 256}, func(t *testing.T, g *Gateway, c *client.Client) {
			c.SendRaw(make([]byte, proto.PrefixSize))
		}, "a frame of length 0"},
		{"read timeout", Config{HeartbeatTimeout: 300 * time.Millisecond}, func(*testing.T, *Gateway, *client.Client) {},
			"gateway.read_timeout (300ms)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, _ := startGateway(t, tc.cfg)
			c, _ := logOnSession(t, g)
			tc.end(t, g, c)
			err := testkit.ReadToEnd(t, c, "the connection")
			if ce, ok := errors.AsType[*client.ClosedError](err); !ok || !strings.HasSuffix(ce.Text, tc.says) {
				t.Fatalf("the client read %v, want a Closing ending %q", err, tc.says)
			}
		})
	}
}

// A session that logs out, or closes its connection, is told nothing:
// it ended it.
func TestLogoutToldNothing(t *testing.T) {
	g, _ := startGateway(t, Config{})
	c, err := client.Dial(g.Addr().String(), 1, "one", client.Options{AutoFlush: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Logout()
	if got := closedBy(t, c); got != "" {
		t.Fatalf("a logout was told %q", got)
	}
}

// A Logout ends the connection, told nothing and counted logout,
// wherever it comes: as the message over the disconnect rate, and before
// a Logon. It was counted rate_limit and told so, and logon_failed,
// answered LogonReject{NotLoggedOn}: the client's own end taken for a
// cut, or for a failed logon (the market-data port counts it so too).
// The clock stands still, so no time refills the rate.
func TestLogoutCountedLogoutAtAnyRateAndBeforeALogon(t *testing.T) {
	at := time.Unix(1_000, 0)
	for _, tc := range []struct {
		name string
		// leave ends a connection to g with a Logout.
		leave func(t *testing.T, g *Gateway) error
	}{
		{"over the disconnect rate", func(t *testing.T, g *Gateway) error {
			c, err := client.Dial(g.Addr().String(), 1, "one", client.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			for range 2 { // the disconnect rate's second spent: the Logout is over it
				c.Heartbeat()
			}
			c.Logout() // flushes all three in one write
			return testkit.ReadToEnd(t, c, "a session that logged out")
		}},
		{"before a logon", func(t *testing.T, g *Gateway) error {
			c, err := client.DialMarketData(g.Addr().String(), client.Options{}) // a connection, no logon
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			c.Logout()
			m, err := c.Next()
			for err == nil {
				t.Errorf("a connection that logged out before its logon was answered %s", wire.EnumNamesMessage[m.Type])
				m, err = c.Next()
			}
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, _ := startGateway(t, Config{RejectRate: 1, DisconnectRate: 2, Now: func() time.Time { return at }})
			if why := client.ClosedBy(tc.leave(t, g)); why != "" {
				t.Fatalf("a client that logged out was told %q", why)
			}
			awaitDisconnects(t, g, CauseLogout, 1)
			for cause := range numCauses {
				if cause != CauseLogout {
					if n := g.Counters.Disconnects[cause].Load(); n != 0 {
						t.Errorf("%s disconnects %d, want 0", cause, n)
					}
				}
			}
		})
	}
}

// Every cause the gateway sends a Closing for is named on the wire as
// the gateway's metrics name it.
func TestClosingNamesTheCause(t *testing.T) {
	for cause, c := range closings(Config{}) {
		if got := proto.ClosingCauseName(c.Cause); got != cause.String() {
			t.Errorf("%s is sent as %s", cause, got)
		}
	}
}

// A connection that sends part of its Logon frame and stalls is counted
// logon_timeout, not idle (it did not stay silent), and still answered
// NotLoggedOn.
func TestHalfSentLogonCountedLogonTimeout(t *testing.T) {
	g, _ := startGateway(t, Config{HeartbeatTimeout: 200 * time.Millisecond})
	conn, err := net.Dial("tcp", g.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	frame := proto.NewEncoder().Logon(1, 1, "one")
	if _, err := conn.Write(frame[:len(frame)/2]); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	fr := proto.NewFrameReader(conn, 1024)
	payload, err := fr.Next()
	if err != nil {
		t.Fatal(err)
	}
	if typ, pos, err := proto.Verify(payload); err != nil || typ != wire.MessageLogonReject || proto.LogonRejectAt(payload, pos) != wire.LogonRejectReasonNotLoggedOn {
		t.Fatalf("answer %v, %v; want LogonReject NotLoggedOn", typ, err)
	}
	awaitDisconnects(t, g, CauseLogonTimeout, 1)
	if n := g.Counters.Disconnects[CauseIdle].Load(); n != 0 {
		t.Fatalf("idle %d, want 0", n)
	}
}

// Between a shutdown's halves a session still takes the reports of the
// inputs its reader published (the node drains its rings there): they
// reach the client, then Closing{shutdown}.
func TestShutdownSendsTheReportsOwedThenClosing(t *testing.T) {
	g, _ := startGateway(t, Config{})
	c, s := logOnSession(t, g)
	g.StopTaking()
	owed := proto.NewEncoder().Heartbeat(7) // a frame the node owes it, sent after StopTaking
	if err := s.Out.Send(owed); err != nil {
		t.Fatalf("a session's outbox refused a frame between StopTaking and Close: %v", err)
	}
	g.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		m, err := c.Next()
		if err != nil {
			t.Fatalf("the connection ended (%v) before the frame sent after StopTaking", err)
		}
		if m.Type == wire.MessageHeartbeat && m.Seq == 7 {
			break
		}
	}
	if got := closedBy(t, c); got != CauseShutdown.String() {
		t.Fatalf("after its reports the client was told %q, want %q", got, CauseShutdown)
	}
}

// logOnSession logs account 1 on to g, its client flushing each
// message, and returns the client (closed when the test ends) and its
// session.
func logOnSession(t *testing.T, g *Gateway) (*client.Client, *Session) {
	t.Helper()
	c, err := client.Dial(g.Addr().String(), 1, "one", client.Options{AutoFlush: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, g.Session(c.Session)
}

// heldPublishing starts a gateway of cfg and logs a session on
// (logOnSession) whose reader then waits to publish its first order at a
// full ring.
func heldPublishing(t *testing.T, cfg Config) (*Gateway, *fakeRing, *client.Client, *Session) {
	t.Helper()
	g, ring := startGateway(t, cfg)
	c, s := logOnSession(t, g)
	ring.setBlocked(true)
	c.NewOrder(order(1))
	ring.awaitWaiting(t)
	return g, ring, c, s
}

// cutOutbox cuts s's outbox, of buffer bytes, as a slow consumer: a
// frame over its send buffer.
func cutOutbox(t *testing.T, s *Session, buffer int) {
	t.Helper()
	if err := s.Out.Send(make([]byte, buffer+1)); !errors.Is(err, output.ErrOverflow) {
		t.Fatalf("a frame over the send buffer: %v, want the outbox cut (ErrOverflow)", err)
	}
}

// nodeEnd is one way the node ends a session, and the cause it gives.
type nodeEnd struct {
	cause Cause
	end   func(t *testing.T, g *Gateway, c *client.Client)
}

// A session cut as a slow consumer before the node ends it is counted
// slow_consumer however late its reader comes to count it: here the
// reader waits on a full ring while the outbox is cut and the node ends
// the session — StopTaking, an operator's close, a replacing logon,
// DropSessions — and ends once the ring takes its frame. It was counted
// under the node's later end, the cause its reader found at its end, not
// the one that ended its connection. One not cut is counted under the
// node's end, as before, and told it.
//
// A session the node ends twice meanwhile (an operator's close, then
// DropSessions, a replacing logon or StopTaking; DropSessions, then an
// operator's close) is counted under the first end, the one its client
// is told: the second end sends no Closing. It was counted under
// the flag its reader found first at its end (not_leader, replaced,
// shutdown, then operator), whatever the order of the ends.
func TestSessionCutBeforeTheNodeEndsItCountedSlowConsumer(t *testing.T) {
	stop := nodeEnd{CauseShutdown, func(t *testing.T, g *Gateway, c *client.Client) {
		go g.StopTaking() // it waits for the reader, held on the ring
		for deadline := time.Now().Add(5 * time.Second); !g.closing.Load(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("StopTaking not begun after 5 s")
			}
		}
	}}
	operator := nodeEnd{CauseOperator, func(t *testing.T, g *Gateway, c *client.Client) {
		if !g.CloseSession(c.Session) {
			t.Fatal("session not live")
		}
	}}
	replaced := nodeEnd{CauseReplaced, replaceSession}
	notLeader := nodeEnd{CauseNotLeader, func(t *testing.T, g *Gateway, c *client.Client) { g.DropSessions() }}
	for _, ends := range [][]nodeEnd{
		{stop}, {operator}, {replaced}, {notLeader},
		{operator, notLeader}, {operator, replaced}, {operator, stop}, {notLeader, operator},
	} {
		var names []string
		causes := []Cause{CauseSlowConsumer}
		for _, e := range ends {
			names = append(names, e.cause.String())
			causes = append(causes, e.cause)
		}
		for _, cut := range []bool{true, false} {
			want, name := ends[0].cause, strings.Join(names, "+")+"/not cut"
			if cut {
				want, name = CauseSlowConsumer, strings.Join(names, "+")+"/cut"
			}
			t.Run(name, func(t *testing.T) {
				const buffer = 64 << 10
				g, ring, c, s := heldPublishing(t, Config{SendBufferBytes: buffer})
				if cut {
					cutOutbox(t, s, buffer)
				}
				for _, e := range ends {
					e.end(t, g, c)
				}
				ring.setBlocked(false)
				if !cut {
					// A shutdown's Closing is sent by Close, and a session
					// the shutdown left open for the drain counted by it.
					g.Close()
				}
				counted := func() (n int64) {
					for _, cause := range causes {
						n += g.Counters.Disconnects[cause].Load()
					}
					return n
				}
				for deadline := time.Now().Add(5 * time.Second); counted() == 0; time.Sleep(time.Millisecond) {
					if time.Now().After(deadline) {
						t.Fatal("the session not counted 5 s after the ring took its reader's frame")
					}
				}
				wantCountedOnce(t, g, want, causes...)
				if cut {
					return // a cut client is told only if its socket takes the Closing at once
				}
				if told := closedBy(t, c); told != want.String() {
					t.Errorf("the client was told %q, counted %s", told, want)
				}
			})
		}
	}
}

// Close returns once every session's writer is done — what its outbox
// held and the Closing written, or the close grace spent on a client
// that stopped reading — so that a process exiting after it cuts none
// short; such a client holds it no longer than that grace. That holds
// for a session that ended before Close too (here closed by an
// operator, its reader gone and the session unregistered): its writer
// still writes within its grace, and Close returned without it.
func TestCloseWaitsForTheSessionsWriters(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  func(t *testing.T, g *Gateway, s *Session)
	}{
		{"open", func(*testing.T, *Gateway, *Session) {}},
		{"ended before", func(t *testing.T, g *Gateway, s *Session) {
			g.CloseSession(s.ID)
			for deadline := time.Now().Add(5 * time.Second); g.Session(s.ID) != nil; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("the session closed by the operator still registered after 5 s")
				}
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, _ := startGateway(t, Config{SendBufferBytes: 32 << 20})
			c, err := client.Dial(g.Addr().String(), 1, "one", client.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			s := g.Session(c.Session)
			fillPastTheSocket(s)
			tc.end(t, g, s)
			closed := make(chan struct{})
			go func() { g.Close(); close(closed) }()
			select {
			case <-closed:
			case <-time.After(10 * time.Second):
				t.Fatal("Close still waiting 10 s on a client that stopped reading, past the outbox's close grace")
			}
			select {
			case <-s.Out.Done():
			default:
				t.Fatal("Close returned with the session's writer still writing")
			}
		})
	}
}

// A session that ends itself — a heartbeat timeout, a logout — while the
// node ends it is counted under the end recorded first, the one its
// client is told. An operator's close landing after its reader chose its
// cause, before it recorded it, is the first: the client is told and
// counted operator (before, its reader counted its own cause while the
// client was told operator, the Closing of the close that came first to
// its outbox). One landing after the reader recorded its own, before it
// closed the outbox, is not: the client is told and counted its own
// cause (a logout, no Closing), the operator's close sending nothing.
func TestSessionEndingItselfCountedTheEndItIsTold(t *testing.T) {
	for _, tc := range []struct {
		own Cause
		end func(c *client.Client)
	}{
		{CauseHeartbeatTimeout, func(*client.Client) {}}, // silent past gateway.read_timeout
		{CauseLogout, func(c *client.Client) { c.Logout() }},
	} {
		for _, recorded := range []bool{false, true} {
			want, name := CauseOperator, tc.own.String()+"/closed before it is recorded"
			if recorded {
				want, name = tc.own, tc.own.String()+"/closed after it is recorded"
			}
			t.Run(name, func(t *testing.T) {
				// The hook hands the ending session to the test, which
				// closes it, and waits for that close.
				ending, closed := make(chan *Session), make(chan struct{})
				testHookReaderEnd = func(s *Session, at bool) {
					if at == recorded {
						ending <- s
						<-closed
					}
				}
				defer func() { testHookReaderEnd = nil }()
				g, _ := startGateway(t, Config{HeartbeatTimeout: 300 * time.Millisecond})
				c, err := client.Dial(g.Addr().String(), 1, "one", client.Options{AutoFlush: true})
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				tc.end(c)
				select {
				case s := <-ending:
					if !g.CloseSession(s.ID) {
						t.Error("the session ending itself not live for the operator's close")
					}
					close(closed)
				case <-time.After(5 * time.Second):
					t.Fatal("the session's reader not at its end after 5 s")
				}
				for deadline := time.Now().Add(5 * time.Second); g.Counters.Disconnects[tc.own].Load()+g.Counters.Disconnects[CauseOperator].Load() == 0; time.Sleep(time.Millisecond) {
					if time.Now().After(deadline) {
						t.Fatal("the session not counted 5 s after its reader's end")
					}
				}
				wantCountedOnce(t, g, want, tc.own, CauseOperator)
				wantTold := want.String()
				if g.closingOf(nil, want) == nil {
					wantTold = "" // a logout is told nothing
				}
				if told := closedBy(t, c); told != wantTold {
					t.Errorf("the client was told %q, want %q", told, wantTold)
				}
			})
		}
	}
}

// A session whose outbox was cut as a slow consumer and whose client
// then logged out is counted slow_consumer, the first end of its
// connection (its client was sent Closing{slow_consumer} if its socket
// took it): the reader's own cause counted before.
func TestSessionCutThenLoggedOutCountedSlowConsumer(t *testing.T) {
	const buffer = 64 << 10
	g, ring, c, s := heldPublishing(t, Config{SendBufferBytes: buffer})
	cutOutbox(t, s, buffer)
	c.Logout()
	ring.setBlocked(false)
	for deadline := time.Now().Add(5 * time.Second); g.Counters.Disconnects[CauseSlowConsumer].Load()+g.Counters.Disconnects[CauseLogout].Load() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the session not counted 5 s after its logout")
		}
	}
	wantCountedOnce(t, g, CauseSlowConsumer, CauseLogout, CauseSlowConsumer)
}

// A session the node ends between a shutdown's halves, while the node
// drains — an operator's close, a cut as a slow consumer — is counted
// under that end, the one its client is told; one left alone, or that
// DropSessions finds with its reader gone, is ended by Close, told and
// counted shutdown. Before, StopTaking's reader counted it shutdown
// whatever ended it after, and the client of an operator's close was
// told operator, the one cut slow_consumer.
func TestSessionEndedDuringTheDrainCountedTheEndItIsTold(t *testing.T) {
	const buffer = 64 << 10
	for _, tc := range []struct {
		name string
		want Cause
		end  func(t *testing.T, g *Gateway, s *Session)
	}{
		{"operator", CauseOperator, func(t *testing.T, g *Gateway, s *Session) {
			if !g.CloseSession(s.ID) {
				t.Fatal("the session left open for the drain not live for the operator's close")
			}
		}},
		{"cut", CauseSlowConsumer, func(t *testing.T, g *Gateway, s *Session) {
			cutOutbox(t, s, buffer)
		}},
		{"left alone", CauseShutdown, func(*testing.T, *Gateway, *Session) {}},
		{"DropSessions", CauseShutdown, func(t *testing.T, g *Gateway, s *Session) { g.DropSessions() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, _ := startGateway(t, Config{SendBufferBytes: buffer})
			c, s := logOnSession(t, g)
			g.StopTaking()
			tc.end(t, g, s)
			g.Close() // every session is counted once it returns
			wantCountedOnce(t, g, tc.want, CauseOperator, CauseSlowConsumer, CauseShutdown, CauseNotLeader)
			if told := closedBy(t, c); told != tc.want.String() {
				t.Errorf("the client was told %q, counted %s", told, tc.want)
			}
		})
	}
}
