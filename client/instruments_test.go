package client

import (
	"bufio"
	"net"
	"reflect"
	"testing"
	"time"

	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// Instruments sends ListInstruments and returns the list the answer's
// frames carry; what came before the answer (a report, a trade) Next
// returns afterwards, in order, none lost.
func TestInstrumentsKeepsWhatCameBefore(t *testing.T) {
	near, far := net.Pipe()
	defer far.Close()
	c := &Client{conn: near, w: bufio.NewWriter(near), fr: proto.NewFrameReader(near, 1<<12), enc: proto.NewEncoder(), timeout: 5 * time.Second}
	defer c.Close()
	list := []proto.InstrumentInfo{{ID: 1, Symbol: "A", TickSize: 1, LotSize: 1}, {ID: 9, Symbol: "B", TickSize: 5, LotSize: 10, PriceDecimals: 2, PriceBand: 50}}
	report := proto.Report{Kind: wire.ExecKindFill, OrderID: 3, InputSeq: 7}
	served := make(chan error, 1)
	go func() {
		r := proto.NewFrameReader(far, 1<<12)
		payload, err := r.Next()
		if err == nil {
			if typ, _, verr := proto.Verify(payload); verr != nil || typ != wire.MessageListInstruments {
				t.Errorf("the request: %v %v", typ, verr)
			}
			e := proto.NewEncoder()
			var out []byte
			out = append(out, e.ExecutionReport(0, &report)...)
			out = append(out, e.Trade(0, proto.Trade{Instrument: 9, MDSeq: 4, TradeID: 5})...)
			_, err = far.Write(append(out, proto.InstrumentList(list)...))
		}
		served <- err
	}()
	got, err := c.Instruments()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, list) {
		t.Fatalf("listed %+v, want %+v", got, list)
	}
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	if m, err := c.Next(); err != nil || m.Type != wire.MessageExecutionReport || m.Report != report {
		t.Fatalf("first after the list: %v %+v, want the report read before it", err, m)
	}
	if m, err := c.Next(); err != nil || m.Type != wire.MessageTrade || m.Trade.TradeID != 5 {
		t.Fatalf("second after the list: %v %+v, want the trade read before it", err, m)
	}
	if c.LastInputSeq != 7 {
		t.Fatalf("LastInputSeq %d: the report held was not taken in", c.LastInputSeq)
	}
}

// What Instruments kept before its connection ended (a report, input 7)
// is not lost to a caller that Redials without calling Next: the new
// client returns it first, and Redial asks from its input (the last
// read). Redial left it on the old client, unread.
func TestARedialAfterInstrumentsFailedReturnsWhatItKept(t *testing.T) {
	g, c := dialLoggedOn(t)
	defer c.Close()
	g.lastConn().Write(cancelledReport(proto.NewEncoder(), 0, 7, 7))
	listed := make(chan error, 1)
	go func() {
		_, err := c.Instruments()
		listed <- err
	}()
	g.await(t, wire.MessageListInstruments)
	g.closeConns() // the connection ends before the list
	if err := <-listed; err == nil {
		t.Fatal("Instruments listed on a connection that ended")
	}
	again, _, err := c.Redial([]string{g.addr()}, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if after := g.resendAfter(t); after != 6 {
		t.Errorf("Redial asked after input %d, want 6: the report kept, of input 7, was read", after)
	}
	nextReport(t, again, 7)
}

// What Instruments kept of an answer to a Resend of the old connection
// (a resent report and the ResendDone, under that request's tag), a
// Redial passes on: the new client returns it first, under the old
// request's tag — which names none of the new client's requests. Tags
// began again at each connection, so Redial's own resend took the tag
// the old resend had (2), and a caller matching answers by tag took the
// old connection's ResendDone for the end of the new logon's catch-up,
// and the old report for one resent on it.
func TestARedialPassesOnWhatInstrumentsKeptUnderTagsOfItsOwn(t *testing.T) {
	g, c, conn, e, old := dialResendAsked(t)
	conn.Write(cancelledReport(e, old, 12, 5))
	conn.Write(e.ResendDone(old, proto.ResendDone{AfterInputSeq: 10, FirstInputSeq: 12, ThroughInputSeq: 12, Count: 1}))
	listed := make(chan error, 1)
	go func() {
		_, err := c.Instruments()
		listed <- err
	}()
	g.await(t, wire.MessageListInstruments)
	g.closeConns() // the connection ends before the list, after the answer
	if err := <-listed; err == nil {
		t.Fatal("Instruments listed on a connection that ended")
	}
	again, tag, err := c.Redial([]string{g.addr()}, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	g.resendAfter(t)
	if tag == old {
		t.Errorf("Redial's resend is tagged %d, the tag of the old connection's resend whose answer it passes on", tag)
	}
	m, err := again.Next()
	if err != nil || m.Type != wire.MessageExecutionReport || m.Report.OrderID != 5 || m.Seq != old {
		t.Fatalf("first on the new client: %+v %v; want order 5's report, resent under the old tag %d", m, err, old)
	}
	m, err = again.Next()
	if err != nil || m.Type != wire.MessageResendDone || m.Seq != old {
		t.Fatalf("second on the new client: %+v %v; want the old resend's ResendDone, under its tag %d", m, err, old)
	}
	// Every request of the new client is tagged apart from the old's.
	if next, err := again.Resend(20); err != nil || next == old || next == tag {
		t.Errorf("a Resend on the new client: tag %d (%v); the old resend's is %d, Redial's %d", next, err, old, tag)
	}
}
