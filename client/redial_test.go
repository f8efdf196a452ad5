package client

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// lastConn is the gateway's newest connection.
func (g *gateway) lastConn() interface{ Write([]byte) (int, error) } {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.conns[len(g.conns)-1]
}

func cancelledReport(e *proto.Encoder, seq uint64, input int64, order uint64) []byte {
	return append([]byte(nil), e.ExecutionReport(seq, &proto.Report{Kind: wire.ExecKindCancelled, InputSeq: input, OrderID: order})...)
}

// dialLoggedOn dials a gateway that answers every logon with a LogonAck
// alone.
func dialLoggedOn(t *testing.T) (*gateway, *Client) {
	t.Helper()
	g := startGateway(t, func(e *proto.Encoder, _ logon) [][]byte { return one(e.LogonAck(1, 77, 1500, 0)) })
	c, err := Dial(g.addr(), 3, "s3", quick)
	if err != nil {
		t.Fatal(err)
	}
	return g, c
}

// dialResendAsked dials a logged-on client (closed at the test's end)
// that has asked for the reports after input 10, the gateway having read
// the request. It returns the gateway, the client, the gateway's side of
// the connection, an encoder for it and the Resend's tag.
func dialResendAsked(t *testing.T) (*gateway, *Client, interface{ Write([]byte) (int, error) }, *proto.Encoder, uint64) {
	t.Helper()
	g, c := dialLoggedOn(t)
	t.Cleanup(func() { c.Close() })
	conn, e := g.lastConn(), proto.NewEncoder()
	tag, _ := c.Resend(10)
	g.resendAfter(t)
	return g, c, conn, e, tag
}

// readOneReport dials a gateway whose first session gets one report (a
// cancel of order 1, input 50) and whose later ones get only their
// LogonAck, and reads that report.
func readOneReport(t *testing.T) (*gateway, *Client) {
	t.Helper()
	return readOneReportThenLogonAt(t, 0)
}

// readOneReportThenLogonAt is readOneReport whose later LogonAcks name
// the inputs logonSeqs, in turn, the last for every one after.
func readOneReportThenLogonAt(t *testing.T, logonSeqs ...int64) (*gateway, *Client) {
	t.Helper()
	var logons atomic.Int32
	g := startGateway(t, func(e *proto.Encoder, _ logon) [][]byte {
		if n := int(logons.Add(1)); n > 1 {
			return one(e.LogonAck(1, 78, 1500, logonSeqs[min(n-2, len(logonSeqs)-1)]))
		}
		return [][]byte{append([]byte(nil), e.LogonAck(1, 77, 1500, 0)...), cancelledReport(e, 0, 50, 1)}
	})
	c, err := Dial(g.addr(), 3, "s3", quick)
	if err != nil {
		t.Fatal(err)
	}
	if m, err := c.Next(); err != nil || m.Report.OrderID != 1 {
		t.Fatalf("%+v %v", m, err)
	}
	return g, c
}

// Redial's resend answered busy and asked again: the reports the old
// client returned are still skipped.
func TestRedialBusyThenResendKeepsSkipping(t *testing.T) {
	g, c := readOneReport(t)
	defer c.Close()
	again, tag := g.cutAndRedial(t, c)
	defer again.Close()
	if after := g.resendAfter(t); after != 49 || again.RedialAfter != after {
		t.Fatalf("resend after %d (RedialAfter %d)", after, again.RedialAfter)
	}
	conn, e := g.lastConn(), proto.NewEncoder()
	conn.Write(e.ResendDone(tag, proto.ResendDone{AfterInputSeq: 49, Reason: proto.ResendBusy}))
	again.SetReadDeadline(time.Now().Add(2 * time.Second))
	m, err := again.Next()
	if err != nil || m.Type != wire.MessageResendDone || m.ResendDone.Reason != proto.ResendBusy {
		t.Fatalf("%+v %v", m, err)
	}
	tag2, err := again.Resend(m.ResendDone.AfterInputSeq)
	if err != nil {
		t.Fatal(err)
	}
	if after := g.resendAfter(t); after != 49 {
		t.Fatalf("asked again after %d", after)
	}
	conn.Write(cancelledReport(e, tag2, 50, 1))
	conn.Write(cancelledReport(e, tag2, 50, 2))
	conn.Write(e.ResendDone(tag2, proto.ResendDone{AfterInputSeq: 49, FirstInputSeq: 50, ThroughInputSeq: 50, Count: 2}))
	if m, err := again.Next(); err != nil || m.Type != wire.MessageExecutionReport || m.Report.OrderID != 2 {
		t.Fatalf("first of the resend asked again: %+v %v; want order 2's report (order 1's the old client returned)", m.Report, err)
	}
	if m, err := again.Next(); err != nil || m.Type != wire.MessageResendDone || m.ResendDone.Count != 1 {
		t.Fatalf("then %+v %v; want its ResendDone counting the one report returned", m, err)
	}
}

// A resend answered busy and then asked again, answered: a later Redial
// asks from the last report read, not from the busy request.
func TestBusyResendAnsweredIsForgotten(t *testing.T) {
	g, c, conn, e, tag1 := dialResendAsked(t)
	conn.Write(e.ResendDone(tag1, proto.ResendDone{AfterInputSeq: 10, Reason: proto.ResendBusy}))
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if m, err := c.Next(); err != nil || m.Type != wire.MessageResendDone {
		t.Fatalf("%+v %v", m, err)
	}
	tag2, _ := c.Resend(10)
	g.resendAfter(t)
	conn.Write(e.ExecutionReport(tag2, &proto.Report{Kind: wire.ExecKindAccepted, InputSeq: 20, OrderID: 1}))
	conn.Write(e.ResendDone(tag2, proto.ResendDone{AfterInputSeq: 10, FirstInputSeq: 11, ThroughInputSeq: 99, Count: 1}))
	conn.Write(e.ExecutionReport(0, &proto.Report{Kind: wire.ExecKindAccepted, InputSeq: 500, OrderID: 2}))
	readThrough(t, c, 500)
	again, _ := g.cutAndRedial(t, c)
	defer again.Close()
	if after := g.resendAfter(t); after != 499 || again.RedialAfter != after {
		t.Fatalf("Redial asked after input %d (RedialAfter %d), want 499: everything from 11 on comes again", after, again.RedialAfter)
	}
}

// The connection ends twice during Redial's resend: no report is
// returned twice across the three clients.
func TestRedialTwiceDuringTheResend(t *testing.T) {
	g, c := readOneReport(t)
	defer c.Close()
	seen := map[uint64]int{1: 1}
	c2, tag := g.cutAndRedial(t, c)
	defer c2.Close()
	g.resendAfter(t)
	conn, e := g.lastConn(), proto.NewEncoder()
	conn.Write(cancelledReport(e, tag, 50, 1)) // skipped: c returned it
	conn.Write(cancelledReport(e, tag, 50, 2))
	conn.Write(cancelledReport(e, tag, 51, 3))
	c2.SetReadDeadline(time.Now().Add(2 * time.Second))
	for range 2 {
		m, err := c2.Next()
		if err != nil {
			t.Fatal(err)
		}
		seen[m.Report.OrderID]++
	}
	c3, tag3 := g.cutAndRedial(t, c2) // before the ResendDone
	defer c3.Close()
	after := g.resendAfter(t)
	conn = g.lastConn()
	for _, r := range []struct {
		input int64
		order uint64
	}{{50, 1}, {50, 2}, {51, 3}, {52, 4}} {
		if r.input > after {
			conn.Write(cancelledReport(e, tag3, r.input, r.order))
		}
	}
	conn.Write(e.ResendDone(tag3, proto.ResendDone{AfterInputSeq: after, FirstInputSeq: after + 1, ThroughInputSeq: 52, Count: 4}))
	c3.SetReadDeadline(time.Now().Add(2 * time.Second))
	for {
		m, err := c3.Next()
		if err != nil {
			t.Fatal(err)
		}
		if m.Type == wire.MessageResendDone {
			if m.ResendDone.Count != 1 {
				t.Errorf("ResendDone counts %d reports, want the 1 returned", m.ResendDone.Count)
			}
			break
		}
		seen[m.Report.OrderID]++
	}
	for order := uint64(1); order <= 4; order++ {
		if seen[order] != 1 {
			t.Errorf("order %d's report returned %d times across the clients (Redial asked after input %d)", order, seen[order], after)
		}
	}
}

// A Resend the gateway refuses (rate-limited: a Rejected, no ResendDone)
// is forgotten: the client stopped remembering the reports it returned
// and a later Redial asks from the last report read — the refused request
// stayed open for good, every report was remembered without bound, and
// every Redial asked from its point.
func TestRefusedResendIsForgotten(t *testing.T) {
	g, c, conn, e, tag := dialResendAsked(t)
	conn.Write(resendRefusal(e, tag, 10))
	const live = 1000
	for i := range live {
		conn.Write(e.ExecutionReport(0, &proto.Report{Kind: wire.ExecKindAccepted, InputSeq: int64(100 + i), OrderID: uint64(i + 1)}))
	}
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	readThrough(t, c, 100+live-1)
	if n := len(c.returned); n > 0 {
		t.Errorf("the client remembers %d reports after its only resend was refused", n)
	}
	again, _ := g.cutAndRedial(t, c)
	defer again.Close()
	if after := g.resendAfter(t); after != 100+live-2 {
		t.Errorf("Redial asked after input %d, want %d: the refused resend still counted as cut short", after, 100+live-2)
	}
}

// A refused Resend from a negative input is forgotten too: the refusal
// names the request's input as the exchange read it, 0, and the client,
// which kept -1, remembered every report it returned from then on (up to
// 2^20) and asked each Redial from that point.
func TestRefusedResendFromBeforeTheStartIsForgotten(t *testing.T) {
	g, c := dialLoggedOn(t)
	defer c.Close()
	conn, e := g.lastConn(), proto.NewEncoder()
	tag, _ := c.Resend(-1)
	if after := g.resendAfter(t); after != 0 {
		t.Fatalf("Resend(-1) asked after input %d, want 0", after)
	}
	conn.Write(resendRefusal(e, tag, 0))
	conn.Write(e.ExecutionReport(0, &proto.Report{Kind: wire.ExecKindAccepted, InputSeq: 100, OrderID: 1}))
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	readThrough(t, c, 100)
	if n := len(c.returned); n > 0 || c.resendOpen.Load() {
		t.Errorf("after its only resend was refused the client remembers %d reports (a resend open: %v)", n, c.resendOpen.Load())
	}
}

// An order's refusal (rate-limited, under seq 0) whose client order id
// equals an open resend's tag does not end that resend: taken for its
// refusal, the client stopped tracking it and a Redial asked from the
// last report read, losing the rest of the resend's reports.
func TestOrderRejectDoesNotForgetAResend(t *testing.T) {
	g, c := dialLoggedOn(t)
	defer c.Close()
	conn, e := g.lastConn(), proto.NewEncoder()
	tag, _ := c.Resend(0)
	g.resendAfter(t)
	conn.Write(e.ExecutionReport(0, &proto.Report{Kind: wire.ExecKindRejected, Reason: uint8(engine.ReasonRateLimited),
		Account: 3, Instrument: 1, Side: wire.SideBuy, Price: 100, Quantity: 1, ClientOrderID: tag, InputSeq: -1}))
	conn.Write(e.ExecutionReport(tag, &proto.Report{Kind: wire.ExecKindAccepted, InputSeq: 5, OrderID: 5}))   // the resend under way
	conn.Write(e.ExecutionReport(0, &proto.Report{Kind: wire.ExecKindAccepted, InputSeq: 100, OrderID: 100})) // a live report
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	readThrough(t, c, 100)
	again, _ := g.cutAndRedial(t, c)
	defer again.Close()
	if after := g.resendAfter(t); after != 0 {
		t.Errorf("Redial asked after input %d, want 0: the resend from 0 was cut short after input 5", after)
	}
}

// readThrough reads c until it has read a report of input seq.
func readThrough(t *testing.T, c *Client, seq int64) {
	t.Helper()
	for c.LastInputSeq != seq {
		if _, err := c.Next(); err != nil {
			t.Fatal(err)
		}
	}
}

// A client that read no report before its connection died asks Redial's
// resend from the input its LogonAck named, not from 0: from 0 the
// account's whole history came back, and a bot that reuses client order
// ids from day to day read yesterday's fills as fills of today's orders.
// The floor passes down a chain of Redials.
func TestRedialBeforeAnyReportResendsFromTheLogon(t *testing.T) {
	var logons atomic.Int32
	g := startGateway(t, func(e *proto.Encoder, _ logon) [][]byte {
		return one(e.LogonAck(1, uint64(76+logons.Add(1)), 1500, 1000+int64(logons.Load())))
	})
	c, err := Dial(g.addr(), 3, "s3", quick)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.LogonInputSeq != 1001 {
		t.Fatalf("LogonInputSeq %d, want the LogonAck's 1001", c.LogonInputSeq)
	}
	again, _ := g.cutAndRedial(t, c)
	if after := g.resendAfter(t); after != 1001 {
		t.Fatalf("Redial with no report read asked for reports after input %d, want 1001 (the logon's)", after)
	}
	third, _ := g.cutAndRedial(t, again)
	if after := g.resendAfter(t); after != 1001 || third.LogonInputSeq != 1001 {
		t.Fatalf("the second Redial asked after %d (floor %d), want 1001: the first logon's", after, third.LogonInputSeq)
	}
}

// A Redial chain's floor is its lowest logon's input_seq, not its first's:
// a client first told 1000 (by a leader that had published inputs it
// never committed: the next leader gives those sequences to other inputs)
// and then 900 by the new leader sent an order that became input 950 and
// read its acceptance; its next Redial asked after 1000, and every report
// of inputs 950…1000 — its own orders' — was never resent. (The node
// answers the committed input in a cluster now, too.)
func TestRedialFloorIsTheChainsLowestLogon(t *testing.T) {
	var logons atomic.Int32
	g := startGateway(t, func(e *proto.Encoder, _ logon) [][]byte {
		switch logons.Add(1) {
		case 1:
			return one(e.LogonAck(1, 77, 1500, 1000)) // the old leader, inputs 901…1000 uncommitted
		case 2:
			return [][]byte{append([]byte(nil), e.LogonAck(1, 78, 1500, 900)...), // the new leader
				append([]byte(nil), e.ExecutionReport(0, &proto.Report{Kind: wire.ExecKindAccepted, InputSeq: 950, OrderID: 5})...)}
		}
		return one(e.LogonAck(1, 79, 1500, 960))
	})
	c, err := Dial(g.addr(), 3, "s3", quick)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	again, _ := g.cutAndRedial(t, c)
	g.resendAfter(t) // the first Redial's
	again.SetReadDeadline(time.Now().Add(2 * time.Second))
	if m, err := again.Next(); err != nil || m.Report.InputSeq != 950 {
		t.Fatalf("%+v %v", m, err)
	}
	if again.LastInputSeq != 950 {
		t.Fatalf("LastInputSeq %d", again.LastInputSeq)
	}
	g.cutAndRedial(t, again)
	if after := g.resendAfter(t); after > 949 {
		t.Fatalf("second Redial asked for reports after input %d; its own order's report (input 950) and any after it up to %d are never resent (want ≤ 949)", after, after)
	}
}

// nextReport reads the next message and wants it the report of order.
func nextReport(t *testing.T, c *Client, order uint64) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if m, err := c.Next(); err != nil || m.Type != wire.MessageExecutionReport || m.Report.OrderID != order {
		t.Fatalf("%+v %v; want order %d's report", m, err, order)
	}
}

// resendTwoReturnedOneNew writes the answer to the Resend tag of the
// reports after input after: orders 2 and 3 (inputs 30 and 40), which the
// client before the Redial returned, and order 4 (input 41). It wants c
// to return order 4's report alone, and the ResendDone to count it alone.
func resendTwoReturnedOneNew(t *testing.T, c *Client, conn interface{ Write([]byte) (int, error) }, e *proto.Encoder, tag uint64, after int64) {
	t.Helper()
	conn.Write(cancelledReport(e, tag, 30, 2))
	conn.Write(cancelledReport(e, tag, 40, 3))
	conn.Write(cancelledReport(e, tag, 41, 4))
	conn.Write(e.ResendDone(tag, proto.ResendDone{AfterInputSeq: after, FirstInputSeq: after + 1, ThroughInputSeq: 41, Count: 3}))
	nextReport(t, c, 4)
	if m := nextResendDone(t, c); m.ResendDone.Count != 1 {
		t.Fatalf("%+v; want the one report returned counted", m.ResendDone)
	}
}

// nextResendDone reads the next message and wants it a ResendDone.
func nextResendDone(t *testing.T, c *Client) Message {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	m, err := c.Next()
	if err != nil || m.Type != wire.MessageResendDone {
		t.Fatalf("%+v %v; want a ResendDone", m, err)
	}
	return m
}

// A resend cut short (the client read too slowly while another waited)
// resent the reports through its through_input_seq: ResendAgain says to
// ask from there, and a Redial before that asks from there — not from
// the last report read, past the inputs between, whose reports would be
// lost — and does not return again what was returned meanwhile.
func TestResendCutShortRedialAsksFromWhereItStopped(t *testing.T) {
	g, c, conn, e, tag := dialResendAsked(t)
	conn.Write(cancelledReport(e, tag, 20, 1))
	conn.Write(e.ResendDone(tag, proto.ResendDone{AfterInputSeq: 10, FirstInputSeq: 11, ThroughInputSeq: 20, Count: 1, Reason: proto.ResendCut}))
	conn.Write(cancelledReport(e, 0, 30, 2)) // live
	conn.Write(cancelledReport(e, 0, 40, 3))
	nextReport(t, c, 1)
	if m := nextResendDone(t, c); m.ResendDone.Reason != proto.ResendCut {
		t.Fatalf("%+v", m.ResendDone)
	} else if after, ok := m.ResendAgain(); after != 20 || !ok {
		t.Fatalf("ResendAgain of a cut answer: %d %v, want 20", after, ok)
	}
	nextReport(t, c, 2)
	nextReport(t, c, 3)
	again, tag2 := g.cutAndRedial(t, c)
	defer again.Close()
	if after := g.resendAfter(t); after != 20 {
		t.Fatalf("Redial asked after input %d, want 20: the cut answer resent no report of an input after it", after)
	}
	conn = g.lastConn()
	resendTwoReturnedOneNew(t, again, conn, e, tag2, 20)
}

// Redial's resend cut short and asked again from where it stopped: the
// reports the old client returned are still skipped in the answer asked
// again, and its ResendDone ends the skipping.
func TestRedialCutShortThenAskedAgainKeepsSkipping(t *testing.T) {
	g, c, conn, e, tag := dialResendAsked(t)
	conn.Write(cancelledReport(e, tag, 20, 1))
	conn.Write(cancelledReport(e, 0, 30, 2)) // live
	conn.Write(cancelledReport(e, 0, 40, 3))
	for _, order := range []uint64{1, 2, 3} {
		nextReport(t, c, order)
	}
	again, tag2 := g.cutAndRedial(t, c) // before the ResendDone
	defer again.Close()
	if after := g.resendAfter(t); after != 10 {
		t.Fatalf("Redial asked after input %d, want 10", after)
	}
	conn = g.lastConn()
	conn.Write(cancelledReport(e, tag2, 20, 1)) // skipped: c returned it
	conn.Write(cancelledReport(e, tag2, 25, 5))
	conn.Write(e.ResendDone(tag2, proto.ResendDone{AfterInputSeq: 10, FirstInputSeq: 11, ThroughInputSeq: 25, Count: 2, Reason: proto.ResendCut}))
	nextReport(t, again, 5)
	m := nextResendDone(t, again)
	after, ok := m.ResendAgain()
	if m.ResendDone.Count != 1 || after != 25 || !ok {
		t.Fatalf("%+v: ask again after %d (%v); want 25, the one report returned counted", m.ResendDone, after, ok)
	}
	tag3, _ := again.Resend(after)
	if got := g.resendAfter(t); got != 25 {
		t.Fatalf("asked again after %d", got)
	}
	resendTwoReturnedOneNew(t, again, conn, e, tag3, 25) // c returned orders 2 and 3
	// The resend is over: a live report of an input the old client saw
	// is not skipped.
	conn.Write(cancelledReport(e, 0, 40, 6))
	nextReport(t, again, 6)
}

// ResendAgain: what a ResendDone left unsent, and from where to ask.
func TestResendAgain(t *testing.T) {
	for _, c := range []struct {
		name  string
		done  proto.ResendDone
		after int64
		ok    bool
	}{
		{"complete", proto.ResendDone{AfterInputSeq: 10, FirstInputSeq: 11, ThroughInputSeq: 40}, 0, false},
		{"partial", proto.ResendDone{AfterInputSeq: 10, FirstInputSeq: 21, ThroughInputSeq: 40, Reason: proto.ResendPartial}, 0, false},
		{"failed", proto.ResendDone{AfterInputSeq: 10, FirstInputSeq: 11, ThroughInputSeq: 30, Reason: proto.ResendFailed}, 0, false},
		{"busy", proto.ResendDone{AfterInputSeq: 10, Reason: proto.ResendBusy}, 10, true},
		{"cut", proto.ResendDone{AfterInputSeq: 10, FirstInputSeq: 11, ThroughInputSeq: 30, Reason: proto.ResendCut}, 30, true},
		{"ahead", proto.ResendDone{AfterInputSeq: 50, FirstInputSeq: 51, ThroughInputSeq: 40, Reason: proto.ResendAhead}, 0, false},
		{"newer, through", proto.ResendDone{AfterInputSeq: 10, FirstInputSeq: 11, ThroughInputSeq: 30, Reason: proto.ResendAhead + 1}, 30, true},
		{"newer, nothing", proto.ResendDone{AfterInputSeq: 10, Reason: proto.ResendAhead + 1}, 10, true},
	} {
		m := Message{Type: wire.MessageResendDone, ResendDone: c.done}
		if after, ok := m.ResendAgain(); after != c.after || ok != c.ok {
			t.Errorf("%s: %d %v, want %d %v", c.name, after, ok, c.after, c.ok)
		}
	}
	if _, ok := (&Message{Type: wire.MessageExecutionReport}).ResendAgain(); ok {
		t.Error("ResendAgain of a report")
	}
}

// After a failover the new leader's engine may still be applying inputs
// the old leader committed and reported when the client logs on to it:
// their reports come live again, before Redial's resend (the node test
// TestRedialAfterFailoverSkipsReportsTheOldLeaderSent builds this in a
// cluster). Those the old client read are not returned again — of an
// input before the last it read as well as of that input — and the
// ResendDone counts the resent reports returned, not the live ones
// skipped. Before, input 50's report came back, and the count was 0.
func TestRedialAfterFailoverSkipsLiveReportsReadBefore(t *testing.T) {
	var logons atomic.Int32
	g := startGateway(t, func(e *proto.Encoder, _ logon) [][]byte {
		if logons.Add(1) > 1 {
			return one(e.LogonAck(1, 78, 1500, 0))
		}
		return [][]byte{append([]byte(nil), e.LogonAck(1, 77, 1500, 0)...), cancelledReport(e, 0, 50, 1), cancelledReport(e, 0, 51, 2)}
	})
	c, err := Dial(g.addr(), 3, "s3", quick)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	readThrough(t, c, 51)
	again, tag := g.cutAndRedial(t, c)
	if after := g.resendAfter(t); after != 50 {
		t.Fatalf("resend after %d, want 50", after)
	}
	conn, e := g.lastConn(), proto.NewEncoder()
	conn.Write(cancelledReport(e, 0, 50, 1)) // live: the new leader applying what the old one reported
	conn.Write(cancelledReport(e, 0, 51, 2))
	conn.Write(cancelledReport(e, tag, 51, 2)) // the resend
	conn.Write(cancelledReport(e, tag, 52, 3))
	conn.Write(e.ResendDone(tag, proto.ResendDone{AfterInputSeq: 50, FirstInputSeq: 51, ThroughInputSeq: 52, Count: 2}))
	conn.Write(cancelledReport(e, 0, 53, 4)) // live, after the request
	again.SetReadDeadline(time.Now().Add(2 * time.Second))
	for _, want := range []struct {
		typ   wire.Message
		order uint64
		count uint64
	}{{wire.MessageExecutionReport, 3, 0}, {wire.MessageResendDone, 0, 1}, {wire.MessageExecutionReport, 4, 0}} {
		m, err := again.Next()
		if err != nil {
			t.Fatal(err)
		}
		if m.Type != want.typ || m.Report.OrderID != want.order || m.ResendDone.Count != want.count {
			t.Fatalf("read %s of order %d (input %d, seq %d, count %d); want %s of order %d (count %d)",
				wire.EnumNamesMessage[m.Type], m.Report.OrderID, m.Report.InputSeq, m.Seq, m.ResendDone.Count,
				wire.EnumNamesMessage[want.typ], want.order, want.count)
		}
	}
}
