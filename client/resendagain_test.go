package client

import (
	"testing"
	"time"

	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// Resend's doc: "When it leaves some unsent — answered busy, or cut short
// … — Message.ResendAgain says from where to ask again; the reports this
// client returned meanwhile are not returned again then." A plain Resend
// (no Redial) answered busy, a live report read meanwhile, asked again:
// the answer asked again resends that live report, and it must not be
// returned a second time.
func TestResendAskedAgainAfterBusySkipsLiveReturnedMeanwhile(t *testing.T) {
	g, c := dialLoggedOn(t)
	defer c.Close()
	conn, e := g.lastConn(), proto.NewEncoder()
	tag1, _ := c.Resend(10)
	g.resendAfter(t)
	conn.Write(e.ResendDone(tag1, proto.ResendDone{AfterInputSeq: 10, Reason: proto.ResendBusy}))
	conn.Write(cancelledReport(e, 0, 30, 2)) // live, after the first request
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	m := nextResendDone(t, c)
	after, ok := m.ResendAgain()
	if !ok || after != 10 {
		t.Fatalf("ResendAgain %d %v", after, ok)
	}
	nextReport(t, c, 2)
	tag2, _ := c.Resend(after)
	g.resendAfter(t)
	conn.Write(cancelledReport(e, tag2, 20, 1))
	conn.Write(cancelledReport(e, tag2, 30, 2)) // returned live meanwhile
	conn.Write(e.ResendDone(tag2, proto.ResendDone{AfterInputSeq: 10, FirstInputSeq: 11, ThroughInputSeq: 30, Count: 2}))
	nextReport(t, c, 1)
	m, err := c.Next()
	if err != nil || m.Type != wire.MessageResendDone {
		t.Fatalf("after order 1's resent report read %s of order %d (input %d, seq %d) %v; want the ResendDone: order 2's report, returned live, came again",
			wire.EnumNamesMessage[m.Type], m.Report.OrderID, m.Report.InputSeq, m.Seq, err)
	}
}

// The same after a cut: the rest asked for from through_input_seq holds
// the live reports read meanwhile.
func TestResendAskedAgainAfterCutSkipsLiveReturnedMeanwhile(t *testing.T) {
	g, c := dialLoggedOn(t)
	defer c.Close()
	conn, e := g.lastConn(), proto.NewEncoder()
	tag1, _ := c.Resend(10)
	g.resendAfter(t)
	conn.Write(cancelledReport(e, tag1, 20, 1))
	conn.Write(e.ResendDone(tag1, proto.ResendDone{AfterInputSeq: 10, FirstInputSeq: 11, ThroughInputSeq: 20, Count: 1, Reason: proto.ResendCut}))
	conn.Write(cancelledReport(e, 0, 40, 2)) // live, after the first request
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	nextReport(t, c, 1)
	m := nextResendDone(t, c)
	after, ok := m.ResendAgain()
	if !ok || after != 20 {
		t.Fatalf("ResendAgain %d %v", after, ok)
	}
	nextReport(t, c, 2)
	tag2, _ := c.Resend(after)
	g.resendAfter(t)
	conn.Write(cancelledReport(e, tag2, 30, 3))
	conn.Write(cancelledReport(e, tag2, 40, 2)) // returned live meanwhile
	conn.Write(e.ResendDone(tag2, proto.ResendDone{AfterInputSeq: 20, FirstInputSeq: 21, ThroughInputSeq: 40, Count: 2}))
	nextReport(t, c, 3)
	m, err := c.Next()
	if err != nil || m.Type != wire.MessageResendDone {
		t.Fatalf("after order 3's resent report read %s of order %d (input %d, seq %d) %v; want the ResendDone: order 2's report, returned live, came again",
			wire.EnumNamesMessage[m.Type], m.Report.OrderID, m.Report.InputSeq, m.Seq, err)
	}
}
