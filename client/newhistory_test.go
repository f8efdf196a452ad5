package client

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/internal/testnode"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// bid is account 1's resting bid on the demo config's instrument 3.
func bid(clOrd uint64) proto.NewOrder {
	return proto.NewOrder{ClientOrderID: clOrd, Instrument: 3, Side: wire.SideBuy,
		Type: wire.OrderTypeLimit, TIF: wire.TimeInForceGTC, Price: 19990, Quantity: 1}
}

// dialDemo logs account 1 on to a node of the demo config (closed with
// the test).
func dialDemo(t *testing.T, addr string) *Client {
	t.Helper()
	c, err := Dial(addr, 1, config.Default().Accounts[0].Secret, Options{AutoFlush: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// acceptedOf reads c until the Accepted of clOrd, within 5 s, and
// returns the messages read before it but heartbeats, and that report.
func acceptedOf(t *testing.T, c *Client, clOrd uint64) (before []Message, accepted Message) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	defer c.SetReadDeadline(time.Time{})
	for {
		m, err := c.Next()
		if err != nil {
			t.Fatalf("no Accepted of order %d (read %d messages before: %+v): %v", clOrd, len(before), before, err)
		}
		if m.Type == wire.MessageExecutionReport && m.Report.Kind == wire.ExecKindAccepted && m.Report.ClientOrderID == clOrd {
			return before, m
		}
		if m.Type != wire.MessageHeartbeat {
			before = append(before, m)
		}
	}
}

// A client that read reports of inputs 1…20 from one node and Redials
// onto another started on other data (a node wiped and started again,
// another cluster) gets the reports of the orders it enters there: their
// inputs are at or below the last it read, and Next skipped them as sent
// live again by a new leader (returnedThrough) until that node's inputs
// passed 20 — a trading client lost its fills. The client notices —
// from the LogonAck's input_seq below LastInputSeq, or from the answer
// ahead to Redial's resend when the node says 0 (no input yet) — forgets
// what it held of the other history, and says so on the ResendDone that
// answers Redial's resend (Message.NewHistory).
func TestRedialOntoAnotherHistoryReturnsItsReports(t *testing.T) {
	for _, c := range []struct {
		name      string
		inputs    int // orders entered on the other node before the Redial
		logonSeq  int64
		reason    proto.ResendResult
		redialAsk int64 // Redial's resend's after_input_seq
	}{
		// Its LogonAck says an input below those the client read: Redial
		// asks from it, answered complete.
		{"logon says", 2, 2, proto.ResendComplete, 2},
		// No input yet: its LogonAck says 0, as a node that does not say
		// would. Redial asks from the old history's input, answered ahead.
		{"answered ahead", 0, 0, proto.ResendAhead, 19},
	} {
		t.Run(c.name, func(t *testing.T) {
			sync := map[string]string{"journal.sync": "none"}
			first, other := testnode.Start(t, sync), testnode.Start(t, sync)
			if c.inputs > 0 {
				o := dialDemo(t, other.Gateway)
				for i := range c.inputs {
					o.NewOrder(bid(uint64(500 + i)))
					acceptedOf(t, o, uint64(500+i))
				}
			}
			bot := dialDemo(t, first.Gateway)
			for i := range 20 {
				bot.NewOrder(bid(uint64(1 + i)))
				acceptedOf(t, bot, uint64(1+i))
			}
			if bot.LastInputSeq != 20 {
				t.Fatalf("LastInputSeq %d after 20 orders, want 20", bot.LastInputSeq)
			}
			bot.SetReadDeadline(time.Now()) // the bot gives up on the connection
			if _, err := bot.Next(); err == nil {
				t.Fatal("Next read past its deadline")
			}
			nb, tag, err := bot.Redial([]string{other.Gateway}, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { nb.Close() })
			if nb.LogonInputSeq != c.logonSeq || nb.RedialAfter != c.redialAsk {
				t.Errorf("LogonInputSeq %d, RedialAfter %d; want %d, %d", nb.LogonInputSeq, nb.RedialAfter, c.logonSeq, c.redialAsk)
			}
			nb.NewOrder(bid(900))
			before, m := acceptedOf(t, nb, 900)
			if want := int64(c.inputs + 2); m.Report.InputSeq != want || m.Seq != 0 {
				t.Errorf("order 900's Accepted at input %d (seq %d), want %d, live", m.Report.InputSeq, m.Seq, want)
			}
			if len(before) != 1 || before[0].Type != wire.MessageResendDone || before[0].Seq != tag {
				t.Fatalf("read before the order's report: %+v; want the ResendDone of Redial's resend %d alone", before, tag)
			}
			if d := before[0]; !d.NewHistory || d.ResendDone.Reason != c.reason {
				t.Errorf("Redial's ResendDone %+v (NewHistory %v); want %s, NewHistory", d.ResendDone, d.NewHistory, c.reason)
			}
			if nb.LastInputSeq != m.Report.InputSeq {
				t.Errorf("LastInputSeq %d, want %d: the other history's is forgotten", nb.LastInputSeq, m.Report.InputSeq)
			}
		})
	}
}

// A Redial onto a node whose LogonAck names an input (10) below the last
// the client read (50) asks from that input, and the refusal of its
// resend (rate-limited: no ResendDone follows) says NewHistory. An answer
// ahead to a Resend of the caller's, past the node while the client's
// own numbers are the node's, forgets nothing and says no such thing.
func TestNewHistoryToldOnARefusalNotOnTheCallersAhead(t *testing.T) {
	g, c := readOneReportThenLogonAt(t, 10)
	defer c.Close()
	again, tag := g.cutAndRedial(t, c)
	if after := g.resendAfter(t); after != 10 || again.LastInputSeq != 0 || again.LogonInputSeq != 10 {
		t.Fatalf("Redial asked after %d (LastInputSeq %d, LogonInputSeq %d), want 10 (0, 10): the node's last input is below the client's 50",
			after, again.LastInputSeq, again.LogonInputSeq)
	}
	conn, e := g.lastConn(), proto.NewEncoder()
	conn.Write(resendRefusal(e, tag, 10))
	again.SetReadDeadline(time.Now().Add(2 * time.Second))
	if m, err := again.Next(); err != nil || m.Report.Kind != wire.ExecKindRejected || !m.NewHistory {
		t.Fatalf("%+v %v; want the refusal of Redial's resend, NewHistory", m, err)
	}
	conn.Write(cancelledReport(e, 0, 11, 2)) // live: the node's input 11
	nextReport(t, again, 2)
	ahead, _ := again.Resend(20)
	g.resendAfter(t)
	conn.Write(e.ResendDone(ahead, proto.ResendDone{AfterInputSeq: 20, FirstInputSeq: 21, ThroughInputSeq: 12, Reason: proto.ResendAhead}))
	if m := nextResendDone(t, again); m.NewHistory || again.LastInputSeq != 11 || again.LogonInputSeq != 10 {
		t.Fatalf("%+v (NewHistory %v): LastInputSeq %d, LogonInputSeq %d; want 11, 10 kept, no NewHistory", m.ResendDone, m.NewHistory, again.LastInputSeq, again.LogonInputSeq)
	}
}

// A Redial onto a node holding another history with no input yet (its
// LogonAck says 0, as a node that does not say would) whose resend is
// refused — the account's gateway.status_rate spent, here by a
// ListInstruments — leaves the history undecided: no answer ahead comes.
// Next skipped the live reports of the new client's orders as sent again
// by a new leader (their inputs at or below the old LastInputSeq) until
// an answer ahead arrived; now it returns them, the refusal saying
// nothing of the history. Asked again, the answer ahead says NewHistory
// and the client keeps the input it read a report of since.
func TestRedialRefusedOntoAnotherHistoryReturnsLiveReports(t *testing.T) {
	nb, refusal := redialRefusedOntoAnotherHistory(t)
	if refusal.NewHistory {
		t.Errorf("the refusal says NewHistory: a node that names no input may be one built before LogonAck's input_seq, of this history")
	}
	nb.NewOrder(bid(900))
	_, m := acceptedOf(t, nb, 900)
	if m.Report.InputSeq != 1 || m.Seq != 0 {
		t.Errorf("order 900's Accepted at input %d (seq %d), want 1, live", m.Report.InputSeq, m.Seq)
	}
	// Asked again once the account's rate allows: answered ahead.
	deadline := time.Now().Add(10 * time.Second)
	for {
		tag, err := nb.Resend(int64(refusal.Report.OrderID))
		if err != nil {
			t.Fatal(err)
		}
		nb.SetReadDeadline(deadline)
		m, err := nb.Next()
		if err != nil || m.Seq != tag {
			t.Fatalf("%+v %v; want the answer to the resend %d", m, err, tag)
		}
		if m.Type == wire.MessageResendDone {
			if !m.NewHistory || m.ResendDone.Reason != proto.ResendAhead || nb.LastInputSeq != 1 {
				t.Errorf("%+v (NewHistory %v), LastInputSeq %d; want ahead, NewHistory, 1: the input read since is this node's", m.ResendDone, m.NewHistory, nb.LastInputSeq)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("every resend refused for 10 s")
		}
		time.Sleep(100 * time.Millisecond) // the rate's next request, a second after the last
	}
}

// After a Redial onto a node of another history whose resend was
// refused (undecided), the live reports of the new client's orders are
// returned through the input its predecessor read its last reports of:
// the Accepted of the order at input 20 is the one the bot read last
// from the other node (input 20, Accepted, order id 20), and Next
// skipped it as sent live again by a new leader (skip) until an answer
// ahead came.
func TestRedialRefusedOntoAnotherHistoryReturnsTheLastInputsReports(t *testing.T) {
	nb, _ := redialRefusedOntoAnotherHistory(t)
	for i := range 20 {
		nb.NewOrder(bid(uint64(901 + i)))
		if _, m := acceptedOf(t, nb, uint64(901+i)); m.Report.InputSeq != int64(1+i) {
			t.Fatalf("order %d's Accepted at input %d, want %d", 901+i, m.Report.InputSeq, 1+i)
		}
	}
}

// redialRefusedOntoAnotherHistory has a bot read the Accepteds of its
// orders 1…20 (inputs 1…20) from one node and Redial onto a node of
// another history with no input yet, whose gateway refuses the Redial's
// resend (rate-limited): it returns the new client, the refusal read.
func redialRefusedOntoAnotherHistory(t *testing.T) (*Client, Message) {
	t.Helper()
	sync := map[string]string{"journal.sync": "none"}
	first := testnode.Start(t, sync)
	bot := dialDemo(t, first.Gateway)
	for i := range 20 {
		bot.NewOrder(bid(uint64(1 + i)))
		acceptedOf(t, bot, uint64(1+i))
	}
	bot.SetReadDeadline(time.Now()) // the bot gives up on the connection
	if _, err := bot.Next(); err == nil {
		t.Fatal("Next read past its deadline")
	}
	// The refusal needs the Redial's resend within a second of the
	// ListInstruments that spent the account's one request a second: a
	// node that answered it instead took the resend as its first input
	// (its next LogonAck names it), so each try is on a node of its own.
	var nb *Client
	var refusal Message
	for try := 0; nb == nil; try++ {
		if try == 3 {
			t.Fatal("Redial's resend answered three times: none within a second of the ListInstruments")
		}
		other := testnode.Start(t, map[string]string{"journal.sync": "none", "gateway.status_rate": "1"})
		if _, err := dialDemo(t, other.Gateway).Instruments(); err != nil {
			t.Fatal(err)
		}
		c, tag, err := bot.Redial([]string{other.Gateway}, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		m, err := c.Next()
		if err != nil || m.Seq != tag {
			t.Fatalf("%+v %v; want the answer to Redial's resend %d", m, err, tag)
		}
		if m.Type == wire.MessageExecutionReport && m.Report.Kind == wire.ExecKindRejected && m.Report.Reason == uint8(engine.ReasonRateLimited) {
			nb, refusal = c, m
		}
	}
	return nb, refusal
}

// A Redial onto a node that names no input (LogonAck 0) holds back the
// live reports of inputs at or below what its predecessor read (here
// input 3, below 50) until its resend's answer decides whose they are:
// refused — nothing told — or ahead — another history — they are
// returned once: from the refusal on, after it; before the answer's
// ResendDone, as they came (the caller takes its end for the end of
// what came before it); answered otherwise (the node's inputs past the
// client's), they are reports a new leader sent again, not returned.
// Instruments, reading the answer, keeps the order Next gives. Next
// dropped them, and a client on a node of another history lost the
// reports read before the answer; then returned them after the
// ResendDone; and Instruments kept the refusal after them.
func TestLiveReportsBeforeAnUndecidedAnswerAreReturnedOnceItTells(t *testing.T) {
	for _, tc := range []struct {
		name     string
		answer   func(e *proto.Encoder, tag uint64) []byte
		returned []uint64 // the orders returned, 0: the answer
	}{
		{"refused", func(e *proto.Encoder, tag uint64) []byte { return resendRefusal(e, tag, 49) }, []uint64{0, 3, 70}},
		{"ahead", func(e *proto.Encoder, tag uint64) []byte {
			return e.ResendDone(tag, proto.ResendDone{AfterInputSeq: 49, FirstInputSeq: 50, ThroughInputSeq: 4, Reason: proto.ResendAhead})
		}, []uint64{3, 0, 70}},
		{"complete", func(e *proto.Encoder, tag uint64) []byte {
			return e.ResendDone(tag, proto.ResendDone{AfterInputSeq: 49, FirstInputSeq: 50, ThroughInputSeq: 60, Reason: proto.ResendComplete})
		}, []uint64{0, 70}},
	} {
		for _, listed := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s, read by Instruments %v", tc.name, listed), func(t *testing.T) {
				_, again, tag, conn, e := redialUndecided(t)
				conn.Write(cancelledReport(e, 0, 3, 3)) // live, before the answer
				conn.Write(tc.answer(e, tag))
				if listed {
					conn.Write(proto.InstrumentList([]proto.InstrumentInfo{{ID: 1, Symbol: "A", TickSize: 1, LotSize: 1}}))
					if _, err := again.Instruments(); err != nil {
						t.Fatal(err)
					}
				}
				conn.Write(cancelledReport(e, 0, 70, 70)) // live, the last
				if got, _ := ordersThrough(t, again, tag, 70); !slices.Equal(got, tc.returned) {
					t.Errorf("returned %v (0: the answer), want %v", got, tc.returned)
				}
				if again.LastInputSeq != 70 {
					t.Errorf("LastInputSeq %d, want 70", again.LastInputSeq)
				}
			})
		}
	}
}

// redialUndecided has a client read a report of input 50 and Redial
// onto a node whose LogonAck names no input (undecided), the gateway
// having read its resend. It returns the gateway, the new client, its
// resend's tag, the gateway's side of its connection and an encoder.
func redialUndecided(t *testing.T) (*gateway, *Client, uint64, interface{ Write([]byte) (int, error) }, *proto.Encoder) {
	t.Helper()
	g, c := readOneReportThenLogonAt(t, 0)
	t.Cleanup(func() { c.Close() })
	again, tag := g.cutAndRedial(t, c)
	g.resendAfter(t)
	return g, again, tag, g.lastConn(), proto.NewEncoder()
}

// resendRefusal is the gateway's refusal (rate-limited) of the Resend
// tag from after.
func resendRefusal(e *proto.Encoder, tag uint64, after int64) []byte {
	return e.ExecutionReport(tag, &proto.Report{Kind: wire.ExecKindRejected, Reason: uint8(engine.ReasonRateLimited),
		Account: 3, OrderID: uint64(after), ClientOrderID: tag, InputSeq: -1})
}

// ordersThrough reads c, within 2 s, until the report of order last, and
// returns the orders of the messages read, 0 for those under tag that
// are not reports (the answer to a Resend), and the last of those.
func ordersThrough(t *testing.T, c *Client, tag, last uint64) (got []uint64, answer Message) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	defer c.SetReadDeadline(time.Time{})
	for len(got) == 0 || got[len(got)-1] != last {
		m, err := c.Next()
		if err != nil {
			t.Fatalf("read %v, then %v", got, err)
		}
		if m.Seq == tag && !m.Resent() {
			got, answer = append(got, 0), m
		} else {
			got = append(got, m.Report.OrderID)
		}
	}
	return got, answer
}

// A Redial made while the live reports of an undecided Redial (its node
// named no input) are held back, its resend unanswered, passes them on:
// the node sent them live once, and the new node's resend, asked from
// at or past their inputs, does not bring them again. The new node's
// LogonAck or answer decides whose they are, as for those it holds back
// itself (decide): of another history (answered ahead, or a LogonAck
// below the chain's last input, which returns them at once, in the
// order they came) they are returned; answered from inputs at or past
// the chain's, they are reports a new leader of its history sent again,
// and dropped. Redial dropped them all: a client on a node of another
// history lost the reports read before its connection ended again.
func TestARedialPassesOnTheReportsAnUndecidedOneHeldBack(t *testing.T) {
	ahead := func(e *proto.Encoder, tag uint64) []byte {
		return e.ResendDone(tag, proto.ResendDone{AfterInputSeq: 49, FirstInputSeq: 50, ThroughInputSeq: 4, Reason: proto.ResendAhead})
	}
	complete := func(after, through int64) func(e *proto.Encoder, tag uint64) []byte {
		return func(e *proto.Encoder, tag uint64) []byte {
			return e.ResendDone(tag, proto.ResendDone{AfterInputSeq: after, FirstInputSeq: after + 1, ThroughInputSeq: through})
		}
	}
	for _, tc := range []struct {
		name     string
		logonSeq int64 // the third connection's LogonAck's
		after    int64 // its resend's after_input_seq
		again    bool  // the third node sends the report held back live again
		answer   func(e *proto.Encoder, tag uint64) []byte
		want     []uint64 // the orders returned, 0: the answer
	}{
		{"ahead", 0, 49, false, ahead, []uint64{3, 0, 80}},
		// A new leader of the second node's history sends it again:
		// returned once.
		{"ahead, sent again", 0, 49, true, ahead, []uint64{3, 0, 80}},
		{"logon below", 10, 10, false, complete(10, 12), []uint64{3, 0, 80}},
		{"complete", 0, 49, false, complete(49, 60), []uint64{0, 80}},
		{"logon past", 60, 49, false, complete(49, 60), []uint64{0, 80}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, c := readOneReportThenLogonAt(t, 0, tc.logonSeq)
			defer c.Close()
			again, _ := g.cutAndRedial(t, c)
			g.resendAfter(t)
			conn, e := g.lastConn(), proto.NewEncoder()
			conn.Write(cancelledReport(e, 0, 3, 3)) // live, held back
			conn.Write(e.Heartbeat(0))
			again.SetReadDeadline(time.Now().Add(2 * time.Second))
			if m, err := again.Next(); err != nil || m.Type != wire.MessageHeartbeat {
				t.Fatalf("%+v %v; want the heartbeat after the report held back", m, err)
			}
			third, tag := g.cutAndRedial(t, again)
			if after := g.resendAfter(t); after != tc.after {
				t.Fatalf("the third connection's resend after %d, want %d", after, tc.after)
			}
			conn = g.lastConn()
			if tc.again {
				conn.Write(cancelledReport(e, 0, 3, 3))
			}
			conn.Write(tc.answer(e, tag))
			conn.Write(cancelledReport(e, 0, 80, 80)) // live, the last
			if got, _ := ordersThrough(t, third, tag, 80); !slices.Equal(got, tc.want) {
				t.Errorf("returned %v (0: the answer), want %v", got, tc.want)
			}
		})
	}
}

// A report resent in an undecided Redial's answer and held back (it
// matches one the chain returned: input 5, Cancelled, order 5), that
// answer cut short through input 7, is passed on by a Redial made
// before the answer to asking again: the next Redial asks from 7, where
// the cut answer left off, and no answer on the new connection brings
// input 5 again. Its node decides whose it is, as for the live reports
// passed on: complete through an input below the chain's last (50),
// another history's — returned; through 60, the one returned before —
// dropped. passOnHeldBack passed on the live ones alone, and a client on
// a node of another history lost that node's input 5.
func TestARedialPassesOnAReportHeldBackFromACutAnswer(t *testing.T) {
	for _, tc := range []struct {
		name    string
		through int64 // the third connection's answer's ThroughInputSeq
		want    []uint64
	}{
		{"another history", 7, []uint64{5, 0, 99}},
		{"same history", 60, []uint64{0, 99}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, again, tag, conn, e := redialFromZeroAfterInput5(t)
			conn.Write(cancelledReport(e, tag, 5, 5)) // held back
			conn.Write(e.ResendDone(tag, proto.ResendDone{AfterInputSeq: 0, FirstInputSeq: 1, ThroughInputSeq: 7, Count: 1, Reason: proto.ResendCut}))
			if cut := nextResendDone(t, again); cut.ResendDone.Count != 0 {
				t.Fatalf("%+v: the report held back counted", cut.ResendDone)
			} else if after, ok := cut.ResendAgain(); after != 7 || !ok {
				t.Fatalf("ResendAgain %d %v, want 7 true", after, ok)
			}
			third, tag3 := g.cutAndRedial(t, again)
			if after := g.resendAfter(t); after != 7 {
				t.Fatalf("the third connection's resend after %d, want 7: where the cut answer left off", after)
			}
			conn = g.lastConn()
			conn.Write(e.ResendDone(tag3, proto.ResendDone{AfterInputSeq: 7, FirstInputSeq: 8, ThroughInputSeq: tc.through}))
			conn.Write(cancelledReport(e, 0, 99, 99)) // live, the last
			if got, _ := ordersThrough(t, third, tag3, 99); !slices.Equal(got, tc.want) {
				t.Errorf("returned %v (0: the answer), want %v", got, tc.want)
			}
		})
	}
}

// A Redial that asks from input 0 — its predecessor's Resend(0) was
// unanswered — onto a node naming no input is never answered ahead: the
// node's complete answer says its last input before the request
// (ThroughInputSeq), and one below the last the chain read a report of
// (50) shows another history — the answer says NewHistory, and the live
// reports Next held back meanwhile as those its predecessor returned
// (here the node's own input 50, Cancelled, order 1: the report read
// last) are returned, before its ResendDone. At or past 50, they are a new leader's,
// sent again, and dropped. Next skipped them, and said nothing of the
// history, for ever.
func TestARedialFromZeroOntoAnotherHistoryIsToldByItsAnswer(t *testing.T) {
	for _, tc := range []struct {
		name       string
		through    int64 // the answer's ThroughInputSeq
		newHistory bool
		want       []uint64 // the orders returned, 0: the answer
	}{
		{"another history", 7, true, []uint64{1, 0, 99}},
		{"same history", 60, false, []uint64{0, 99}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, c := readOneReport(t)
			defer c.Close()
			if _, err := c.Resend(0); err != nil {
				t.Fatal(err)
			}
			g.resendAfter(t)
			again, tag := g.cutAndRedial(t, c)
			if after := g.resendAfter(t); after != 0 {
				t.Fatalf("Redial asked after %d, want 0: the Resend(0) unanswered", after)
			}
			conn, e := g.lastConn(), proto.NewEncoder()
			conn.Write(cancelledReport(e, 0, 50, 1)) // live, as the report read last
			conn.Write(e.ResendDone(tag, proto.ResendDone{AfterInputSeq: 0, FirstInputSeq: 1, ThroughInputSeq: tc.through}))
			conn.Write(cancelledReport(e, 0, 99, 99)) // live, the last
			got, done := ordersThrough(t, again, tag, 99)
			if !slices.Equal(got, tc.want) || done.NewHistory != tc.newHistory {
				t.Errorf("returned %v (0: the answer, NewHistory %v), want %v (%v)", got, done.NewHistory, tc.want, tc.newHistory)
			}
		})
	}
}

// An answer to an undecided Redial's resend (its node named no input)
// that tells nothing of the history — busy, cut short, failed — leaves
// it undecided: the live reports held back (here orders 3 and 4, at or
// below the 50 the chain read) stay held until the answer to asking
// again tells — ahead, they are returned before its ResendDone; refused,
// after the refusal; complete from inputs past the chain's, dropped, as
// is the report the predecessor returned (input 50), resent in it, not
// counted. The busy answer dropped them, and a client on a node of
// another history lost orders 3 and 4. The caller asks again as
// ResendAgain says, a failed answer too (from its AfterInputSeq):
// ResendAgain said nothing to ask again after a failed one, and a
// caller following it left the Redial undecided until past maxReturned
// held reports Next failed; asked again, the failed answer had ended
// the skipping of what the predecessor returned, and input 50's report
// came twice.
func TestAnUndecidedRedialAnsweredBusyStaysUndecided(t *testing.T) {
	ahead := func(e *proto.Encoder, tag uint64, after int64) []byte {
		return e.ResendDone(tag, proto.ResendDone{AfterInputSeq: after, FirstInputSeq: after + 1, ThroughInputSeq: 4, Reason: proto.ResendAhead})
	}
	complete := func(e *proto.Encoder, tag uint64, after int64) []byte {
		// Input 50's report again, which the predecessor returned.
		resent := cancelledReport(e, tag, 50, 1)
		return append(resent, e.ResendDone(tag, proto.ResendDone{AfterInputSeq: after, FirstInputSeq: after + 1, ThroughInputSeq: 60, Count: 1})...)
	}
	for _, tc := range []struct {
		name   string
		first  proto.ResendDone // the answer to Redial's resend, after 49
		answer func(e *proto.Encoder, tag uint64, after int64) []byte
		want   []uint64 // the orders returned, 0: an answer
	}{
		{"busy, then ahead", proto.ResendDone{AfterInputSeq: 49, Reason: proto.ResendBusy}, ahead, []uint64{0, 3, 4, 0, 70}},
		{"failed, then refused", proto.ResendDone{AfterInputSeq: 49, FirstInputSeq: 50, ThroughInputSeq: 49, Reason: proto.ResendFailed}, resendRefusal, []uint64{0, 0, 3, 4, 70}},
		{"failed, then ahead", proto.ResendDone{AfterInputSeq: 49, FirstInputSeq: 50, ThroughInputSeq: 49, Reason: proto.ResendFailed}, ahead, []uint64{0, 3, 4, 0, 70}},
		{"cut, then refused", proto.ResendDone{AfterInputSeq: 49, FirstInputSeq: 50, ThroughInputSeq: 55, Reason: proto.ResendCut}, resendRefusal, []uint64{0, 0, 3, 4, 70}},
		{"busy, then complete", proto.ResendDone{AfterInputSeq: 49, Reason: proto.ResendBusy}, complete, []uint64{0, 0, 70}},
		{"failed, then complete", proto.ResendDone{AfterInputSeq: 49, FirstInputSeq: 50, ThroughInputSeq: 49, Reason: proto.ResendFailed}, complete, []uint64{0, 0, 70}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, again, tag, conn, e := redialUndecided(t)
			conn.Write(cancelledReport(e, 0, 3, 3)) // live, held back
			conn.Write(e.ResendDone(tag, tc.first))
			conn.Write(cancelledReport(e, 0, 4, 4)) // live, after the answer that told nothing
			first := nextResendDone(t, again)
			after, ok := first.ResendAgain() // followed to the letter
			want := tc.first.AfterInputSeq
			if tc.first.Reason == proto.ResendCut {
				want = tc.first.ThroughInputSeq // from where it left off
			}
			if !ok || after != want {
				t.Fatalf("ResendAgain of %+v: %d %v; want %d true: the Redial is undecided", first.ResendDone, after, ok, want)
			}
			tag2, err := again.Resend(after)
			if err != nil {
				t.Fatal(err)
			}
			g.resendAfter(t)
			conn.Write(tc.answer(e, tag2, after))
			conn.Write(cancelledReport(e, 0, 70, 70)) // live, the last
			got, done := ordersThrough(t, again, tag2, 70)
			if got = append([]uint64{0}, got...); !slices.Equal(got, tc.want) {
				t.Errorf("returned %v (0: an answer), want %v", got, tc.want)
			}
			if done.Type == wire.MessageResendDone && done.ResendDone.Reason == proto.ResendComplete && done.ResendDone.Count != 0 {
				t.Errorf("%+v: the report returned before counted", done.ResendDone)
			}
		})
	}
}

// A report resent in an undecided Redial's own answer that matches one
// its predecessor returned (input 5, Cancelled, order 5) is held back
// until that answer's end tells whose it is: complete through an input
// below the chain's last (50), another history's — returned before the
// answer's ResendDone, and counted in it; through 60, the one returned before —
// dropped, not counted. It was dropped either way, and the new
// history's input 5 lost (the answer's count 0).
func TestAReportResentInAnUndecidedAnswerIsNotTakenForTheOldHistorys(t *testing.T) {
	for _, tc := range []struct {
		name    string
		through int64
		want    []uint64 // the orders returned, 0: the answer
		count   uint64
	}{
		{"another history", 7, []uint64{5, 0, 99}, 1},
		{"same history", 60, []uint64{0, 99}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, again, tag, conn, e := redialFromZeroAfterInput5(t)
			conn.Write(cancelledReport(e, tag, 5, 5))
			conn.Write(e.ResendDone(tag, proto.ResendDone{AfterInputSeq: 0, FirstInputSeq: 1, ThroughInputSeq: tc.through, Count: 1}))
			conn.Write(cancelledReport(e, 0, 99, 99)) // live, the last
			got, done := ordersThrough(t, again, tag, 99)
			if !slices.Equal(got, tc.want) || done.ResendDone.Count != tc.count {
				t.Errorf("returned %v (0: the answer, count %d), want %v (%d)", got, done.ResendDone.Count, tc.want, tc.count)
			}
		})
	}
}

// redialFromZeroAfterInput5 has a client read a report of input 50,
// ask Resend(0) and read its answer's report of input 5 (Cancelled,
// order 5), then Redial before that answer's end onto a node whose
// LogonAck names no input (undecided): the Redial asks from 0. It
// returns what redialUndecided does.
func redialFromZeroAfterInput5(t *testing.T) (*gateway, *Client, uint64, interface{ Write([]byte) (int, error) }, *proto.Encoder) {
	t.Helper()
	g, c := readOneReport(t)
	t.Cleanup(func() { c.Close() })
	first, err := c.Resend(0)
	if err != nil {
		t.Fatal(err)
	}
	g.resendAfter(t)
	e := proto.NewEncoder()
	g.lastConn().Write(cancelledReport(e, first, 5, 5))
	nextReport(t, c, 5)
	again, tag := g.cutAndRedial(t, c)
	if after := g.resendAfter(t); after != 0 {
		t.Fatalf("Redial asked after %d, want 0: the Resend(0) unanswered", after)
	}
	return g, again, tag, g.lastConn(), e
}

// Past maxReturned reports held back while an undecided Redial's
// resend has not told the node's history, Next fails, naming the report
// it could not keep, instead of dropping it unsaid; a Redial then passes
// on those held (returned here on the answer ahead).
func TestHoldingBackPastTheBoundFails(t *testing.T) {
	defer func(n int) { maxReturned = n }(maxReturned)
	maxReturned = 2
	g, again, _, conn, e := redialUndecided(t)
	for _, input := range []int64{3, 4, 5} { // live, held back: the third past the bound
		conn.Write(cancelledReport(e, 0, input, uint64(input)))
	}
	again.SetReadDeadline(time.Now().Add(2 * time.Second))
	if m, err := again.Next(); err == nil || !strings.Contains(err.Error(), "input 5 lost") {
		t.Fatalf("%+v %v; want an error naming the report of input 5 lost", m, err)
	}
	third, tag := g.cutAndRedial(t, again)
	g.resendAfter(t)
	conn = g.lastConn()
	conn.Write(e.ResendDone(tag, proto.ResendDone{AfterInputSeq: 49, FirstInputSeq: 50, ThroughInputSeq: 5, Reason: proto.ResendAhead}))
	conn.Write(cancelledReport(e, 0, 80, 80))
	if got, _ := ordersThrough(t, third, tag, 80); !slices.Equal(got, []uint64{3, 4, 0, 80}) {
		t.Errorf("returned %v (0: the answer), want [3 4 0 80]", got)
	}
}
