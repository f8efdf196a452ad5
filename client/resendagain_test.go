package client

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// Resend's doc: "When it leaves some unsent — answered busy, or cut short
// … — Message.ResendAgain says from where to ask again; the reports this
// client returned meanwhile are not returned again then." A plain Resend
// (no Redial) answered busy or cut short, a live report read meanwhile,
// asked again: the answer asked again resends that live report, and it
// must not be returned a second time.
func TestResendAskedAgainSkipsLiveReturnedMeanwhile(t *testing.T) {
	type report struct {
		input int64
		order uint64
	}
	for _, tc := range []struct {
		name      string
		first     []report // resent before the first answer ends
		firstDone proto.ResendDone
		live      report // after the first request
		again     []report
		againDone proto.ResendDone
	}{
		{"busy", nil, proto.ResendDone{AfterInputSeq: 10, Reason: proto.ResendBusy},
			report{30, 2}, []report{{20, 1}, {30, 2}},
			proto.ResendDone{AfterInputSeq: 10, FirstInputSeq: 11, ThroughInputSeq: 30, Count: 2}},
		{"cut", []report{{20, 1}}, proto.ResendDone{AfterInputSeq: 10, FirstInputSeq: 11, ThroughInputSeq: 20, Count: 1, Reason: proto.ResendCut},
			report{40, 2}, []report{{30, 3}, {40, 2}},
			proto.ResendDone{AfterInputSeq: 20, FirstInputSeq: 21, ThroughInputSeq: 40, Count: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, c := dialLoggedOn(t)
			defer c.Close()
			conn, e := g.lastConn(), proto.NewEncoder()
			tag1, _ := c.Resend(10)
			g.resendAfter(t)
			for _, r := range tc.first {
				conn.Write(cancelledReport(e, tag1, r.input, r.order))
			}
			conn.Write(e.ResendDone(tag1, tc.firstDone))
			conn.Write(cancelledReport(e, 0, tc.live.input, tc.live.order))
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			for _, r := range tc.first {
				nextReport(t, c, r.order)
			}
			m := nextResendDone(t, c)
			after, ok := m.ResendAgain()
			if !ok || after != tc.againDone.AfterInputSeq {
				t.Fatalf("ResendAgain %d %v, want %d", after, ok, tc.againDone.AfterInputSeq)
			}
			nextReport(t, c, tc.live.order)
			tag2, _ := c.Resend(after)
			g.resendAfter(t)
			for _, r := range tc.again {
				conn.Write(cancelledReport(e, tag2, r.input, r.order))
			}
			conn.Write(e.ResendDone(tag2, tc.againDone))
			for _, r := range tc.again {
				if r != tc.live {
					nextReport(t, c, r.order)
				}
			}
			m, err := c.Next()
			if err != nil || m.Type != wire.MessageResendDone {
				t.Fatalf("read %s of order %d (input %d, seq %d) %v; want the ResendDone: order %d's report, returned live, came again",
					wire.EnumNamesMessage[m.Type], m.Report.OrderID, m.Report.InputSeq, m.Seq, err, tc.live.order)
			}
		})
	}
}

// `resend 7` twice, the first answered whole and the second busy: the
// second's reports came (the first brought them, the later ones came
// live on the same connection), and the caller does not ask again — but
// the client kept it as an ask left unsent, so a Redial asked from input
// 7 again, and it counted toward maxOpenResends. ForgetResend drops it
// once its answer is over; not while it is under way.
func TestForgetResend(t *testing.T) {
	g, c, conn, e := dialReadThrough5000(t)
	tag1, _ := c.Resend(7)
	g.resendAfter(t)
	conn.Write(e.ResendDone(tag1, proto.ResendDone{AfterInputSeq: 7, FirstInputSeq: 8, ThroughInputSeq: 5000}))
	if m := nextResendDone(t, c); m.ResendAnswers != nil {
		t.Fatalf("the first answer answers %v too, want none", m.ResendAnswers)
	}
	tag2, _ := c.Resend(7)
	g.resendAfter(t)
	if c.ForgetResend(tag2) {
		t.Fatal("dropped a Resend under way")
	}
	conn.Write(e.ResendDone(tag2, proto.ResendDone{AfterInputSeq: 7, Reason: proto.ResendBusy}))
	if m := nextResendDone(t, c); m.ResendCovered {
		t.Fatal("the busy answer's Resend, made after the complete answer was read, said covered")
	}
	if n := openAsks(c); n != 1 {
		t.Fatalf("%d Resends kept, want the busy one", n)
	}
	if !c.ForgetResend(tag2) || openAsks(c) != 0 || c.ForgetResend(tag2) {
		t.Fatalf("ForgetResend of the busy answer's: %d kept, want none (and a second call dropping nothing)", openAsks(c))
	}
	g.cutAndRedial(t, c)
	if got := g.resendAfter(t); got != 4999 {
		t.Fatalf("Redial asked after input %d, want 4999: the busy ask was dropped", got)
	}
}

// `resend 7` twice, the second made before the first's complete answer
// was read: that answer covers it (Resend's doc) — its reports came, the
// later ones live on this connection — whichever order the two answers
// come in. Busy first is a real node's usual order (the second arrives
// while it replays for the first): the client ended only the Resends
// made before the answered one (tag < Seq), kept the later one as left
// unsent, and a Redial asked from input 7 again. Complete first, the
// second's busy answer, read next, was kept so too. A Resend made after
// the answer was read is a new request: its busy answer is kept
// (TestForgetResend). The complete answer names the second in its
// ResendAnswers; read first, it makes the busy answer ResendCovered.
func TestACompleteAnswerCoversTheResendsMadeBeforeItWasRead(t *testing.T) {
	for _, busyFirst := range []bool{true, false} {
		t.Run(fmt.Sprintf("busy first %v", busyFirst), func(t *testing.T) {
			g, c, conn, e := dialReadThrough5000(t)
			tag1, _ := c.Resend(7)
			g.resendAfter(t)
			tag2, _ := c.Resend(7)
			g.resendAfter(t)
			complete := append([]byte(nil), e.ResendDone(tag1, proto.ResendDone{AfterInputSeq: 7, FirstInputSeq: 8, ThroughInputSeq: 5000})...)
			busy := e.ResendDone(tag2, proto.ResendDone{AfterInputSeq: 7, Reason: proto.ResendBusy})
			if busyFirst {
				conn.Write(busy)
				conn.Write(complete)
			} else {
				conn.Write(complete)
				conn.Write(busy)
			}
			m1, m2 := nextResendDone(t, c), nextResendDone(t, c)
			if busyFirst {
				m1, m2 = m2, m1
			}
			if !slices.Equal(m1.ResendAnswers, []uint64{tag2}) || m2.ResendCovered != !busyFirst {
				t.Fatalf("the complete answer answers %v too, the busy one covered %v; want [%d], %v", m1.ResendAnswers, m2.ResendCovered, tag2, !busyFirst)
			}
			if n := openAsks(c); n != 0 {
				t.Fatalf("%d Resends kept, want none: the complete answer covers the second", n)
			}
			g.cutAndRedial(t, c)
			if got := g.resendAfter(t); got != 4999 {
				t.Fatalf("Redial asked after input %d, want 4999", got)
			}
		})
	}
}

// A Resend from 7 refused for the account's status rate after a
// complete answer from 5 was read that answered it (ResendAnswers) — made
// after the one from 5, or before it: the refusal said nothing of that,
// and a caller handling answers later (the shell's printer) asked again
// for reports that had come. The refusal says so (ResendCovered); one of
// a Resend no answer covered does not.
func TestARefusalOfACoveredResendSaysSo(t *testing.T) {
	for _, tc := range []struct {
		name         string
		coveredFirst bool // the Resend from 7 made before the one from 5
		complete     bool // the answer from 5 complete; else busy, covering nothing
	}{
		{"made after the covering one", false, true},
		{"made before the covering one", true, true},
		{"not covered", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, c, conn, e := dialReadThrough5000(t)
			var from5, from7 uint64
			if tc.coveredFirst {
				from7, _ = c.Resend(7)
				g.resendAfter(t)
			}
			from5, _ = c.Resend(5)
			g.resendAfter(t)
			if !tc.coveredFirst {
				from7, _ = c.Resend(7)
				g.resendAfter(t)
			}
			d := proto.ResendDone{AfterInputSeq: 5, Reason: proto.ResendBusy}
			if tc.complete {
				d = proto.ResendDone{AfterInputSeq: 5, FirstInputSeq: 6, ThroughInputSeq: 5000}
			}
			conn.Write(e.ResendDone(from5, d))
			conn.Write(resendRefusal(e, from7, 7))
			if m := nextResendDone(t, c); tc.complete != slices.Equal(m.ResendAnswers, []uint64{from7}) {
				t.Fatalf("the answer from 5 answers %v too", m.ResendAnswers)
			}
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			m, err := c.Next()
			if err != nil || m.Report.Kind != wire.ExecKindRejected {
				t.Fatalf("%+v %v; want the refusal", m, err)
			}
			if m.ResendCovered != tc.complete {
				t.Fatalf("the refusal says covered %v, want %v", m.ResendCovered, tc.complete)
			}
		})
	}
}

// dialReadThrough5000 dials a logged-on client (closed at the test's end)
// that has read a report of input 5000 — a Redial asks from 4999 when no
// Resend is kept — and returns its gateway, the gateway's side of the
// connection and an encoder for it.
func dialReadThrough5000(t *testing.T) (*gateway, *Client, interface{ Write([]byte) (int, error) }, *proto.Encoder) {
	t.Helper()
	g, c := dialLoggedOn(t)
	t.Cleanup(func() { c.Close() })
	conn, e := g.lastConn(), proto.NewEncoder()
	conn.Write(cancelledReport(e, 0, 5000, 1))
	nextReport(t, c, 1)
	return g, c, conn, e
}

// dialAnsweredBusy is dialReadThrough5000 with a Resend of the reports
// after input 10 asked and answered busy, its ResendDone read.
func dialAnsweredBusy(t *testing.T) (*gateway, *Client, interface{ Write([]byte) (int, error) }, *proto.Encoder) {
	t.Helper()
	g, c, conn, e := dialReadThrough5000(t)
	tag, _ := c.Resend(10)
	g.resendAfter(t)
	conn.Write(e.ResendDone(tag, proto.ResendDone{AfterInputSeq: 10, Reason: proto.ResendBusy}))
	nextResendDone(t, c)
	return g, c, conn, e
}
