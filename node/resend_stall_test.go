package node

import (
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// trickleReader is a session that asks for a resend and reads its answer
// at a trickle — a frame every trickleGap, never slowly enough to be cut
// off as a slow consumer — until fast is set.
type trickleReader struct {
	conn    net.Conn
	fast    atomic.Bool
	answers chan resendAnswered // each ResendDone, with the reports resent since the last
	err     error               // why reading ended, once answers is closed
}

type resendAnswered struct {
	tag    uint64
	done   proto.ResendDone
	resent []proto.Report
}

// trickleGap paces a trickleReader: ~75 KB/s of reports.
const trickleGap = 2 * time.Millisecond

// dialTrickle logs on as account over a connection with a small receive
// buffer (dialNotReading) and reads it at a trickle.
func dialTrickle(t *testing.T, addr string, account uint32, secret string) *trickleReader {
	t.Helper()
	r := &trickleReader{conn: dialNotReading(t, addr, account, secret), answers: make(chan resendAnswered, 16)}
	go func() {
		defer close(r.answers)
		fr := proto.NewFrameReader(r.conn, 1<<20)
		var m proto.Msg
		var resent []proto.Report
		for {
			payload, err := fr.Next()
			if err == nil {
				err = proto.VerifyMsg(payload, &m)
			}
			if err != nil {
				r.err = err
				return
			}
			switch m.Type {
			case wire.MessageExecutionReport:
				var rep proto.Report
				m.ReadReport(payload, &rep)
				if m.Seq != 0 {
					resent = append(resent, rep)
				}
			case wire.MessageResendDone:
				r.answers <- resendAnswered{tag: m.Seq, done: m.ResendDone(payload), resent: resent}
				resent = nil
			}
			if !r.fast.Load() {
				time.Sleep(trickleGap)
			}
		}
	}()
	return r
}

// next is the next answer, waited for up to 20 s (a resend of tens of
// thousands of reports, read at a trickle until fast is set); a failure
// names the fates of members.
func (r *trickleReader) next(t *testing.T, members ...*Node) resendAnswered {
	t.Helper()
	a, sent := receivedWithin(t, 20*time.Second, r.answers, "no ResendDone within 20 s", members...)
	if !sent {
		t.Fatalf("the trickling session ended: %v", r.err)
	}
	return a
}

// A client that asks for a large resend and reads it at a trickle holds
// the resend worker (and the senders of answers from the recent reports)
// no longer than gateway.resend_stall once another client is answered
// busy: its answer ends after a whole input, ResendDone reason cut, and
// the other client's resend is served. The slow client, asking again from
// through_input_seq, gets the rest: every report exactly once in all.
// Before, the other client was answered busy for as long as the slow one
// took to read everything (here ~2 min).
func TestResendSlowReaderIsCutShort(t *testing.T) {
	for _, mode := range []struct {
		name   string
		recent int
		slow   int // clients reading at a trickle: with the recent reports, one per sender beside the worker and the worker's
	}{{"journal", 0, 1}, {"memory", 1 << 17, resendSendersMost + 1}} {
		t.Run(mode.name, func(t *testing.T) {
			cfg := testConfig(t, t.TempDir())
			cfg.Gateway.RecentReports = mode.recent
			cfg.Gateway.SendBufferBytes = 64 << 10 // a resend waits while over 32 KB are unread
			cfg.Gateway.StatusRate = 0
			cfg.Gateway.ResendStall = 100 * time.Millisecond
			cfg.Gateway.ReadTimeout = time.Minute // the slow clients send nothing while the others are read
			n, addrs, _ := startNode(t, cfg)
			defer n.Stop()
			in := cfg.Instruments[0]
			price := in.ReferencePrice - in.TickSize
			c3 := dial(t, addrs.Gateway, 3)
			since := restBuy(t, c3, in, 1<<40).Report.InputSeq
			const orders = 30000 // 60 000 reports, ~9 MB: more than the sockets hold (4 MB send buffers at most here)
			placeAndCancel(t, c3, price, in.LotSize, orders)
			c2 := dial(t, addrs.Gateway, 2)
			since2 := restBuy(t, c2, in, 1<<40).Report.InputSeq
			placeAndCancel(t, c2, price, in.LotSize, 100) // 200 reports: more than half c2's send buffer

			slow := make([]*trickleReader, mode.slow)
			for i := range slow {
				slow[i] = dialTrickle(t, addrs.Gateway, 3, cfg.Accounts[2].Secret)
				slow[i].conn.Write(proto.NewEncoder().ResendReports(2, since))
			}
			waitUntil(t, func() bool { // every one of them is waited for
				waited := 0
				for _, s := range n.gw.RoutesOf(3).Trading {
					if p, limit := s.Out.Pending(); s.ID != c3.Session && p > limit/2 {
						waited++
					}
				}
				return waited == len(slow)
			})

			tag, _ := c2.Resend(since2)
			if _, done, _ := resendAnswer(t, c2, tag); done.Reason != proto.ResendBusy {
				t.Fatalf("with every sender waiting for a slow client: %+v, want busy", done)
			}
			var resent []proto.Report
			var done proto.ResendDone
			waitUntil(t, func() bool { // the slow clients are cut short: served
				tag, _ = c2.Resend(since2)
				resent, done, _ = resendAnswer(t, c2, tag)
				return done.Reason != proto.ResendBusy
			})
			if done.Reason != proto.ResendComplete || len(resent) != 200 {
				t.Fatalf("beside the slow clients: %+v, %d reports", done, len(resent))
			}

			// Each of them is cut short, still reading at a trickle.
			waitUntil(t, func() bool { return n.stats.resends.results[proto.ResendCut].Load() == int64(len(slow)) })
			for _, s := range slow {
				s.fast.Store(true)
			}
			for i, s := range slow {
				first := s.next(t, n)
				if first.done.Reason != proto.ResendCut || len(first.resent) >= 2*orders || first.done.Count != uint64(len(first.resent)) {
					t.Fatalf("slow client %d: %+v after %d reports, want cut short", i, first.done, len(first.resent))
				}
				all, a := first.resent, first
				for a.done.Reason != proto.ResendComplete {
					after := a.done.ThroughInputSeq
					switch a.done.Reason {
					case proto.ResendCut:
					case proto.ResendBusy: // another slow client asking again took the worker
						after = a.done.AfterInputSeq
						time.Sleep(10 * time.Millisecond)
					default:
						t.Fatalf("slow client %d: %+v", i, a.done)
					}
					s.conn.Write(proto.NewEncoder().ResendReports(a.tag+1, after))
					a = s.next(t, n)
					all = append(all, a.resent...)
				}
				if len(all) != 2*orders {
					t.Fatalf("slow client %d: %d reports in all, want %d", i, len(all), 2*orders)
				}
				checkPlacedAndCancelled(t, all) // each once, in order
			}
		})
	}
}
