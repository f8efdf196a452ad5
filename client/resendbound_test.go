package client

import (
	"errors"
	"testing"
	"time"

	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// openAsks is how many Resends c keeps as not answered in full.
func openAsks(c *Client) int {
	c.resendMu.Lock()
	defer c.resendMu.Unlock()
	return len(c.resending)
}

// A client asking again after every busy (or cut short) answer, as
// ResendAgain says, keeps one ask: the one asked again ends the one
// answered. Before, each answer left its ask behind until one came
// whole — a thousand in this loop, without bound in a client that kept
// asking. A Redial still asks from where the last answer left off.
func TestResendAskedAgainInALoopStaysBounded(t *testing.T) {
	const rounds = 1000
	for _, tc := range []struct {
		name string
		done func(after int64) proto.ResendDone // the answer to a request from after
		want int64                              // where the Redial after the loop asks from
	}{
		{"busy", func(after int64) proto.ResendDone {
			return proto.ResendDone{AfterInputSeq: after, Reason: proto.ResendBusy}
		}, 10},
		{"cut", func(after int64) proto.ResendDone {
			return proto.ResendDone{AfterInputSeq: after, FirstInputSeq: after + 1, ThroughInputSeq: after + 1, Reason: proto.ResendCut}
		}, 10 + rounds},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, c := dialLoggedOn(t)
			defer c.Close()
			conn, e := g.lastConn(), proto.NewEncoder()
			conn.Write(cancelledReport(e, 0, 5000, 1)) // a Redial would ask from 4999 but for the asks left unsent
			nextReport(t, c, 1)
			after, most := int64(10), 0
			for range rounds {
				tag, err := c.Resend(after)
				if err != nil {
					t.Fatal(err)
				}
				if got := g.resendAfter(t); got != after {
					t.Fatalf("asked after %d, want %d", got, after)
				}
				conn.Write(e.ResendDone(tag, tc.done(after)))
				m := nextResendDone(t, c)
				var ok bool
				if after, ok = m.ResendAgain(); !ok {
					t.Fatalf("%+v: nothing to ask again", m.ResendDone)
				}
				most = max(most, openAsks(c))
			}
			if most > 1 {
				t.Fatalf("%d Resends kept as not answered in full after %d answers asked again, want 1", most, rounds)
			}
			again, _ := g.cutAndRedial(t, c)
			defer again.Close()
			if got := g.resendAfter(t); got != tc.want {
				t.Fatalf("Redial asked after input %d, want %d: where the last answer left off", got, tc.want)
			}
		})
	}
}

// Resends not answered in full that no later one covers — under way, or
// answered busy and asked again from later inputs — are bounded: past
// maxOpenResends Resend sends nothing and returns ErrTooManyResends; a
// Resend from the earliest of them ends the answered ones and is taken.
func TestResendsNotAnsweredInFullAreBounded(t *testing.T) {
	g, c := dialLoggedOn(t)
	defer c.Close()
	conn, e := g.lastConn(), proto.NewEncoder()
	for i := range maxOpenResends {
		tag, err := c.Resend(int64(10 + i))
		if err != nil {
			t.Fatalf("Resend %d: %v", i, err)
		}
		g.resendAfter(t)
		conn.Write(e.ResendDone(tag, proto.ResendDone{AfterInputSeq: int64(10 + i), Reason: proto.ResendBusy}))
		nextResendDone(t, c)
	}
	if _, err := c.Resend(10 + maxOpenResends); !errors.Is(err, ErrTooManyResends) {
		t.Fatalf("Resend with %d answered busy and not asked again: %v, want ErrTooManyResends", maxOpenResends, err)
	}
	if n := openAsks(c); n != maxOpenResends {
		t.Fatalf("%d asks kept, want %d", n, maxOpenResends)
	}
	tag, err := c.Resend(10)
	if err != nil {
		t.Fatalf("Resend from the earliest ask left unsent: %v", err)
	}
	if got := g.resendAfter(t); got != 10 {
		t.Fatalf("asked after %d, want 10 (the refused Resend sent nothing)", got)
	}
	if n := openAsks(c); n != 1 {
		t.Fatalf("%d asks kept after asking from the earliest, want 1", n)
	}
	conn.Write(e.ResendDone(tag, proto.ResendDone{AfterInputSeq: 10, FirstInputSeq: 11, ThroughInputSeq: 99}))
	nextResendDone(t, c)
	if n := openAsks(c); n != 0 || c.resendOpen.Load() {
		t.Fatalf("%d asks kept after a complete answer (open %v), want none", n, c.resendOpen.Load())
	}

	// Under way, none answered: the same bound.
	for i := range maxOpenResends {
		if _, err := c.Resend(int64(i)); err != nil {
			t.Fatalf("Resend %d under way: %v", i, err)
		}
		g.resendAfter(t)
	}
	if _, err := c.Resend(0); !errors.Is(err, ErrTooManyResends) {
		t.Fatalf("Resend with %d under way: %v, want ErrTooManyResends", maxOpenResends, err)
	}
}

// A Resend asked again after a busy answer, and refused (rate-limited),
// keeps the place of the ask it ended: a Redial asks from there. (Ending
// the busy ask and then forgetting the refused one lost it.)
func TestRefusedResendAskedAgainKeepsItsPlace(t *testing.T) {
	g, c, conn, e := dialAnsweredBusy(t)
	tag, _ := c.Resend(10)
	g.resendAfter(t)
	conn.Write(resendRefusal(e, tag, 10))
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if m, err := c.Next(); err != nil || m.Report.Kind != wire.ExecKindRejected {
		t.Fatalf("%+v %v; want the refusal", m, err)
	}
	again, _ := g.cutAndRedial(t, c)
	defer again.Close()
	if got := g.resendAfter(t); got != 10 {
		t.Fatalf("Redial asked after input %d, want 10: the busy answer's reports are still unasked", got)
	}
}

// A Resend asked again after a busy answer, its answer under way when the
// connection ends, loses nothing: the Redial asks from where it asked
// (the busy ask it ended no longer kept), and the new client returns the
// reports the cut answer had not reached, not again those it had.
func TestRedialDuringAResendAskedAgainLosesNothing(t *testing.T) {
	g, c, conn, e := dialAnsweredBusy(t)
	tag, err := c.Resend(10)
	if err != nil {
		t.Fatal(err)
	}
	g.resendAfter(t)
	if n := openAsks(c); n != 1 {
		t.Fatalf("%d asks kept after asking again, want 1", n)
	}
	conn.Write(cancelledReport(e, tag, 11, 11)) // the answer under way: input 11's report, then the connection ends
	nextReport(t, c, 11)
	again, rtag := g.cutAndRedial(t, c)
	if got := g.resendAfter(t); got != 10 {
		t.Fatalf("Redial asked after input %d, want 10: inputs 12 on were never resent", got)
	}
	conn = g.lastConn()
	for _, input := range []int64{11, 12, 5000} {
		conn.Write(cancelledReport(e, rtag, input, map[int64]uint64{11: 11, 12: 12, 5000: 1}[input]))
	}
	conn.Write(e.ResendDone(rtag, proto.ResendDone{AfterInputSeq: 10, FirstInputSeq: 11, ThroughInputSeq: 5000, Count: 3}))
	nextReport(t, again, 12) // 11's and 5000's were returned before the cut: skipped
	if m := nextResendDone(t, again); m.ResendDone.Count != 1 {
		t.Fatalf("%+v: want 1 report counted (12's), the skipped not", m.ResendDone)
	}
}
