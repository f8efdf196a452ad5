package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// A piped shell whose `resend 7` the node answered busy every time it
// asked, until the shell's --timeout ended its wait, exited 0: a script
// reading its exit status took the reports it asked for as received. It
// names the resend and exits 3 (errReportsMissing).
func TestClientShellResendBusyUntilTheEnd(t *testing.T) {
	asked := make(chan int64, 64)
	addr := serveLoggedOn(t, answerResends(asked, func(int, int64) (proto.ResendDone, bool) {
		return proto.ResendDone{Reason: proto.ResendBusy}, true
	}))
	out, err := pipedShell(t, addr, "resend 7\n")
	wantReportsMissing(t, out, err, `^the reports after input 7 were not all received: answered busy until the end$`)
	if len(asked) < 2 {
		t.Fatalf("asked %d time(s), want the busy answer asked again:\n%s", len(asked), out)
	}
}

// A piped shell whose `resend 7` was never answered (the node lost it, or
// replayed past the shell's wait) exited 0 as well.
func TestClientShellResendNeverAnswered(t *testing.T) {
	asked := make(chan int64, 4)
	addr := serveLoggedOn(t, answerResends(asked, func(int, int64) (proto.ResendDone, bool) { return proto.ResendDone{}, false }))
	out, err := pipedShell(t, addr, "resend 7\n")
	wantReportsMissing(t, out, err, `^the reports after input 7 were not all received: no answer$`)
}

// An answer cut short after input 10 leaves the rest to ask for: answered
// in full, the shell exits 0; the rest never answered, it fails naming
// the resend it typed (after 7), not the rest's start.
func TestClientShellResendCutShort(t *testing.T) {
	cut := func(asked int, after int64) (proto.ResendDone, bool) {
		return proto.ResendDone{AfterInputSeq: after, FirstInputSeq: after + 1, ThroughInputSeq: 10, Reason: proto.ResendCut}, true
	}
	t.Run("then complete", func(t *testing.T) {
		asked := make(chan int64, 4)
		addr := serveLoggedOn(t, answerResends(asked, func(n int, after int64) (proto.ResendDone, bool) {
			if n == 1 {
				return cut(n, after)
			}
			return proto.ResendDone{AfterInputSeq: after, FirstInputSeq: after + 1, ThroughInputSeq: 12}, true
		}))
		out, err := pipedShell(t, addr, "resend 7\n")
		if err != nil {
			t.Fatalf("shell: %v\n%s", err, out)
		}
		wantAsked(t, out, asked, 7, 10)
		if strings.Contains(out, "not all received") {
			t.Fatalf("the shell said reports were missing:\n%s", out)
		}
	})
	t.Run("rest never answered", func(t *testing.T) {
		asked := make(chan int64, 4)
		addr := serveLoggedOn(t, answerResends(asked, func(n int, after int64) (proto.ResendDone, bool) {
			if n == 1 {
				return cut(n, after)
			}
			return proto.ResendDone{}, false
		}))
		out, err := pipedShell(t, addr, "resend 7\n")
		wantReportsMissing(t, out, err, `^the reports after input 7 were not all received: cut short after input 10, and the rest asked for not answered$`)
		wantAsked(t, out, asked, 7, 10)
	})
	// A cut-short answer from past input 8 says, as a partial one does,
	// that the node no longer holds the reports before it: the rest
	// answered in full, the shell exited 0 without them.
	t.Run("the start no longer held, then complete", func(t *testing.T) {
		asked := make(chan int64, 4)
		addr := serveLoggedOn(t, answerResends(asked, func(n int, after int64) (proto.ResendDone, bool) {
			if n == 1 {
				return proto.ResendDone{FirstInputSeq: 9, ThroughInputSeq: 10, Reason: proto.ResendCut}, true
			}
			return proto.ResendDone{FirstInputSeq: after + 1, ThroughInputSeq: 12}, true
		}))
		out, err := pipedShell(t, addr, "resend 7\n")
		wantReportsMissing(t, out, err, `^the reports after input 7 were not all received: answered cut short: the node no longer holds the reports of inputs 8\.\.8$`)
		wantAsked(t, out, asked, 7, 10)
	})
}

// `client shell --reconnect` whose new logon's catch-up (asked by the
// shell itself, not typed) is never answered: the reports missed while
// it reconnected never came, and a piped shell exited 0.
func TestClientShellCatchUpNeverAnswered(t *testing.T) {
	first := make(chan struct{})
	addr := serveLoggedOn(t, func(conn net.Conn, fr *proto.FrameReader, enc *proto.Encoder) {
		select {
		case <-first: // a later logon: its resend goes unanswered
			io.Copy(io.Discard, conn)
		default: // the first: the connection ends
			close(first)
		}
	})
	w, out, done := startShell(t, "client", "shell", "--addr", addr, "--account", "4", "--reconnect", "--wait", "300ms", "--timeout", "2s")
	waitOutput(t, out, `^logged on again `)
	w.Close() // the end of the script
	err := shellEnd(t, out, done)
	wantReportsMissing(t, out.String(), err, `^the reports after input 0 were not all received: no answer$`)
}

// wantReportsMissing checks a piped shell's end for reports it asked for
// and did not all receive: exit status 3 and line, a line of out.
func wantReportsMissing(t *testing.T, out string, err error, line string) {
	t.Helper()
	if !errors.Is(err, errReportsMissing) || exitStatus(err) != exitReportsMissing {
		t.Fatalf("shell: %v (exit status %d), want %v (exit status %d)\n%s", err, exitStatus(err), errReportsMissing, exitReportsMissing, out)
	}
	wantLine(t, out, line)
}

// wantAsked checks the afters of the resends the node was asked for.
func wantAsked(t *testing.T, out string, asked <-chan int64, want ...int64) {
	t.Helper()
	var got []int64
	for len(asked) > 0 {
		got = append(got, <-asked)
	}
	if len(got) != len(want) {
		t.Fatalf("asked after %v, want %v:\n%s", got, want, out)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("asked after %v, want %v:\n%s", got, want, out)
		}
	}
}

// pipedShell runs `client shell` against addr with stdin as its piped
// input (ended), a short wait and timeout, and returns its output
// (standard error after standard output) and result.
func pipedShell(t *testing.T, addr, stdin string) (string, error) {
	t.Helper()
	return ringex(t, strings.NewReader(stdin), "client", "shell", "--addr", addr, "--account", "4", "--wait", "300ms", "--timeout", "2s")
}

// answerResends answers each ResendReports a session sends with what
// answer gives for it (n: 1 for the session's first), sending nothing when
// it says !ok; it fills in the request's after_input_seq, which goes to
// asked too.
func answerResends(asked chan<- int64, answer func(n int, after int64) (proto.ResendDone, bool)) func(net.Conn, *proto.FrameReader, *proto.Encoder) {
	return func(conn net.Conn, fr *proto.FrameReader, enc *proto.Encoder) {
		for n := 1; ; {
			seq, after, err := nextResendRequest(fr)
			if err != nil {
				return
			}
			select {
			case asked <- after:
			default: // the test reads only the first few
			}
			d, ok := answer(n, after)
			n++
			if ok {
				d.AfterInputSeq = after
				conn.Write(enc.ResendDone(seq, d))
			}
		}
	}
}

// nextResendRequest reads frames from a session until a ResendReports,
// and returns its tag and after_input_seq — or the read's error.
func nextResendRequest(fr *proto.FrameReader) (seq uint64, after int64, err error) {
	f, m, err := nextOfType(fr, wire.MessageResendReports)
	if err != nil {
		return 0, 0, err
	}
	return proto.Seq(f), m.ResendReports(f), nil
}

// nextOfType reads frames from a session until a message of type typ,
// and returns its frame and message — or the read's error.
func nextOfType(fr *proto.FrameReader, typ wire.Message) ([]byte, proto.Msg, error) {
	for {
		f, err := fr.Next()
		if err != nil {
			return nil, proto.Msg{}, err
		}
		var m proto.Msg
		if proto.VerifyMsg(f, &m) == nil && m.Type == typ {
			return f, m, nil
		}
	}
}

// answerTwoAtOnce answers a session's first two resends once both came
// (made before any answer is read), with first and second in one write,
// and each later one as answerResends does with then; their afters go to
// asked and fill in each answer's after_input_seq.
func answerTwoAtOnce(asked chan<- int64, first, second proto.ResendDone, then func(n int, after int64) (proto.ResendDone, bool)) func(net.Conn, *proto.FrameReader, *proto.Encoder) {
	return func(conn net.Conn, fr *proto.FrameReader, enc *proto.Encoder) {
		var b []byte
		for _, d := range []*proto.ResendDone{&first, &second} {
			seq, after, err := nextResendRequest(fr)
			if err != nil {
				return
			}
			asked <- after
			d.AfterInputSeq = after
			b = append(b, enc.ResendDone(seq, *d)...)
		}
		conn.Write(b)
		answerResends(asked, then)(conn, fr, enc)
	}
}

// The chain rules of openResends, answer by answer: which answer is an
// entry's (its after on its client, its tag for a catch-up, coverage from
// a later client), and what each reason does to it.
func TestShellOpenResends(t *testing.T) {
	c1, c2 := &client.Client{}, &client.Client{}
	done := resendDone
	partial := func(seq uint64, after, first int64, answers ...uint64) *client.Message {
		return &client.Message{Type: wire.MessageResendDone, Seq: seq, ResendAnswers: answers,
			ResendDone: proto.ResendDone{AfterInputSeq: after, FirstInputSeq: first, ThroughInputSeq: 12, Reason: proto.ResendPartial}}
	}
	// twice asks from 7 twice (tags 1 and 2); the first's answer, complete,
	// answers those the library names too.
	twice := func(answers ...uint64) func(o *openResends) []string {
		return func(o *openResends) []string {
			o.asked(c1, 7, 1)
			o.asked(c1, 7, 2)
			return o.answered(c1, done(1, 7, proto.ResendComplete, 12, answers...), 0)
		}
	}
	// olderUnderWay asks from 5 and 3 (tags 1 and 2), 5 answered busy
	// while 3 is under way, then from after (tag 3), answered complete.
	olderUnderWay := func(after int64) func(o *openResends) []string {
		return func(o *openResends) []string {
			o.asked(c1, 5, 1)
			o.asked(c1, 3, 2)
			o.answered(c1, done(1, 5, proto.ResendBusy, 0), 0)
			o.asked(c1, after, 3)
			return o.answered(c1, done(3, after, proto.ResendComplete, 12), 0)
		}
	}
	left := func(o *openResends) string {
		var b strings.Builder
		o.report(&b)
		return b.String()
	}
	for _, tc := range []struct {
		name   string
		run    func(o *openResends) []string // the lines of the entries caught up
		left   string
		caught []string
	}{
		{"busy, cut, then the rest complete", func(o *openResends) []string {
			o.asked(c1, 7, 1)
			o.answered(c1, done(1, 7, proto.ResendBusy, 0), 0)
			o.askedAgain(c1, 7, 2)
			o.answered(c1, done(2, 7, proto.ResendCut, 10), 0)
			o.askedAgain(c1, 10, 3)
			return o.answered(c1, done(3, 10, proto.ResendComplete, 12), 0)
		}, "", nil},
		{"another request's answer on the same client, from later", func(o *openResends) []string {
			o.asked(c1, 7, 1)
			return o.answered(c1, done(2, 9, proto.ResendComplete, 12), 0)
		}, "the reports after input 7 were not all received: no answer\n", nil},
		{"another request's answer on the same client, whole from earlier, answering it", func(o *openResends) []string {
			o.asked(c1, 7, 1)
			return o.answered(c1, done(2, 3, proto.ResendComplete, 12, 1), 0)
		}, "", nil},
		// The library read that answer before the request was made: it
		// is a new request, its own answer to come.
		{"another request's answer on the same client, whole from earlier, not answering it", func(o *openResends) []string {
			o.asked(c1, 7, 2)
			return o.answered(c1, done(1, 3, proto.ResendComplete, 12), 0)
		}, "the reports after input 7 were not all received: no answer\n", nil},
		{"the same resend twice, the second made after the first's answer was read", twice(),
			"the reports after input 7 were not all received: no answer\n", nil},
		{"the same resend twice, the second made before the first's answer was read", twice(2), "", nil},
		{"a whole answer from earlier on the same client", func(o *openResends) []string {
			o.asked(c1, 7, 1)
			o.asked(c1, 7, 2)
			o.answered(c1, done(1, 7, proto.ResendCut, 10), 0)
			return o.answered(c1, done(2, 7, proto.ResendComplete, 12, 1), 0)
		}, "", nil},
		{"busy from earlier on the same client: not the entry's", func(o *openResends) []string {
			o.asked(c1, 7, 1)
			o.answered(c1, done(1, 7, proto.ResendComplete, 12), 0) // another entry's
			o.asked(c1, 9, 2)
			return o.answered(c1, done(3, 7, proto.ResendBusy, 0), 0)
		}, "the reports after input 9 were not all received: no answer\n", nil},
		{"partial from where it asks: all the node holds", func(o *openResends) []string {
			o.asked(c1, 7, 1)
			return o.answered(c1, done(1, 7, proto.ResendPartial, 12), 0)
		}, "", nil},
		{"partial: the reports the node no longer holds named", func(o *openResends) []string {
			o.asked(c1, 7, 1)
			return o.answered(c1, partial(1, 7, 10), 0)
		}, "the reports after input 7 were not all received: answered partial: the node no longer holds the reports of inputs 8..9\n", nil},
		{"partial, then the same resend again: one line", func(o *openResends) []string {
			o.asked(c1, 7, 1)
			o.answered(c1, partial(1, 7, 10), 0)
			o.asked(c1, 7, 2)
			return o.answered(c1, partial(2, 7, 10), 0)
		}, "the reports after input 7 were not all received: answered partial: the node no longer holds the reports of inputs 8..9\n", nil},
		{"another request's partial answer on the same client, from earlier, holding all the entry asks", func(o *openResends) []string {
			o.asked(c1, 7, 1)
			return o.answered(c1, partial(2, 3, 6, 1), 0)
		}, "", nil},
		{"another request's partial answer on the same client, from earlier, not holding all the entry asks", func(o *openResends) []string {
			o.asked(c1, 3, 1)
			o.asked(c1, 7, 2)
			o.answered(c1, partial(1, 3, 10, 2), 0)
			return o.answered(c1, partial(2, 7, 10), 0) // the entry's own: done already
		}, "the reports after input 3 were not all received: answered partial: the node no longer holds the reports of inputs 4..9\n" +
			"the reports after input 7 were not all received: answered partial: the node no longer holds the reports of inputs 8..9\n", nil},
		{"a catch-up partial, covering the old client's", func(o *openResends) []string {
			o.asked(c1, 7, 1)
			o.catchingUp(c2, 6, 9) // Redial chose 4
			return o.answered(c2, partial(9, 4, 10), 0)
		}, "the reports after input 7 were not all received: answered partial: the node no longer holds the reports of inputs 8..9\n" +
			"the reports after input 4 were not all received: answered partial: the node no longer holds the reports of inputs 5..9\n", nil},
		{"another request's answer cut short past where it asks: then its own busy", func(o *openResends) []string {
			o.asked(c1, 3, 1)
			o.asked(c1, 7, 2)
			o.answered(c1, done(1, 3, proto.ResendCut, 10), 0)
			return o.answered(c1, done(2, 7, proto.ResendBusy, 0), 0)
		}, "the reports after input 3 were not all received: cut short after input 10, and the rest asked for not answered\n" +
			"the reports after input 7 were not all received: cut short after input 10, and the rest asked for not answered\n", nil},
		// The request from 3, made once the one from 5 waited to ask
		// again, is its own (step 2): cut short before input 5, it sent
		// none of its reports. The line said "cut short after input 4"
		// for the reports after input 5, as if 5's had come.
		{"a request from earlier, its own, cut short before where it asks", func(o *openResends) []string {
			o.asked(c1, 5, 1)
			o.answered(c1, done(1, 5, proto.ResendBusy, 0), 0)
			o.asked(c1, 3, 2)
			return o.answered(c1, done(2, 3, proto.ResendCut, 4), 0)
		}, "the reports after input 5 were not all received: cut short after input 4, before any report after input 5, and the rest asked for not answered\n" +
			"the reports after input 3 were not all received: cut short after input 4, and the rest asked for not answered\n", nil},
		// `resend 5` answered busy waits on an older request from 3 under
		// way (coveringUnderWay); a complete answer from 4 or 5, to a
		// request written after that one, brings all 5 waits for: it ends
		// there, not waiting on 3's answer to ask once more.
		{"an older request under way, then a whole answer from before at to a newer one", olderUnderWay(4),
			"the reports after input 3 were not all received: no answer\n", nil},
		{"an older request under way, then its own whole answer to a newer one", olderUnderWay(5),
			"the reports after input 3 were not all received: no answer\n", nil},
		{"answered failed", func(o *openResends) []string {
			o.asked(c1, 7, 1)
			return o.answered(c1, done(1, 7, proto.ResendFailed, 9), 0)
		}, "the reports after input 7 were not all received: the node could not read its journal (answered failed; the reports from input 8 on did not come)\n", nil},
		{"refused for the status rate", func(o *openResends) []string {
			o.asked(c1, 7, 1)
			return o.answered(c1, rateRefusal(1, 7), 7)
		}, "the reports after input 7 were not all received: refused for the account's status rate until the end\n", nil},
		{"a catch-up by its tag, covering the old client's", func(o *openResends) []string {
			o.asked(c1, 7, 1)
			o.catchingUp(c2, 6, 9) // Redial chose 4
			return o.answered(c2, done(9, 4, proto.ResendComplete, 12), 0)
		}, "", nil},
		{"a catch-up, and a typed resend from its after answered whole", func(o *openResends) []string {
			o.catchingUp(c2, 6, 9)
			o.asked(c2, 6, 10)
			return o.answered(c2, done(10, 6, proto.ResendComplete, 12, 9), 0)
		}, "", nil},
		{"a catch-up cut short, its rest busy", func(o *openResends) []string {
			o.catchingUp(c2, 6, 9)
			o.answered(c2, done(9, 4, proto.ResendCut, 8), 0)
			o.askedAgain(c2, 8, 10)
			return o.answered(c2, done(10, 8, proto.ResendBusy, 0), 0)
		}, "the reports after input 4 were not all received: answered busy until the end\n", nil},
		{"asking again lost with the connection, caught up", func(o *openResends) []string {
			o.asked(c1, 7, 1)
			o.answered(c1, done(1, 7, proto.ResendBusy, 0), 0)
			o.askedAgain(c1, 7, 2)
			o.askFailed(c1, 7, 2, askingAgain, io.ErrClosedPipe, true)
			return o.answered(c2, done(9, 7, proto.ResendComplete, 12), 0)
		}, "", []string{"the reports after input 7, which asking again failed for, came in the new logon's resend"}},
		{"a typed resend lost with the connection, caught up", func(o *openResends) []string {
			o.asked(c1, 7, 1)
			o.askFailed(c1, 7, 1, typedResend, io.ErrClosedPipe, true)
			o.catchingUp(c2, 7, 9)
			return o.answered(c2, done(9, 7, proto.ResendComplete, 12), 0)
		}, "", []string{"the reports after input 7, which resend failed for, came in the new logon's resend"}},
		{"a typed resend lost with the connection, its catch-up never answered: one line", func(o *openResends) []string {
			o.asked(c1, 7, 1)
			o.askFailed(c1, 7, 1, typedResend, io.ErrClosedPipe, true)
			o.catchingUp(c2, 7, 9)
			return nil
		}, "the reports after input 7 were not all received: no answer\n", nil},
		{"asking again refused by the library", func(o *openResends) []string {
			o.asked(c1, 7, 1)
			o.answered(c1, done(1, 7, proto.ResendBusy, 0), 0)
			o.askFailed(c1, 7, 0, askingAgain, client.ErrTooManyResends, false)
			return nil
		}, "the reports after input 7 were not all received: asking again failed: client: too many resends not answered in full\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var o openResends
			caught := tc.run(&o)
			if got := left(&o); got != tc.left || len(caught) != len(tc.caught) || len(caught) > 0 && caught[0] != tc.caught[0] {
				t.Fatalf("left %q, caught up %v; want %q, %v", got, caught, tc.left, tc.caught)
			}
		})
	}
}

// resendDone is the answer, as Next returns it, to the request tagged seq
// from after; answers, the other requests the library took it to answer
// too (ResendAnswers).
func resendDone(seq uint64, after int64, reason proto.ResendResult, through int64, answers ...uint64) *client.Message {
	return &client.Message{Type: wire.MessageResendDone, Seq: seq, ResendAnswers: answers,
		ResendDone: proto.ResendDone{AfterInputSeq: after, FirstInputSeq: after + 1, ThroughInputSeq: through, Reason: reason}}
}

// rateRefusal is the refusal, for the account's status rate, of the
// resend tagged seq from after.
func rateRefusal(seq uint64, after int64) *client.Message {
	return &client.Message{Type: wire.MessageExecutionReport, Seq: seq,
		Report: proto.Report{Kind: wire.ExecKindRejected, ClientOrderID: seq, OrderID: uint64(after), InputSeq: -1}}
}

// A request from earlier than an entry waiting to ask again asks for
// all it waits for: `resend 3` made once the busy answer to `resend 5`
// was read ends the request the library kept for it (client.Resend),
// and a refusal's the library keeps nothing of. The shell took the
// newer request's answer for the other entry's only by tag or
// ResendAnswers, which name neither: a failed answer left `resend 5`
// to be asked once more, and a busy one had both entries asking again —
// from 5 and from 3, the node replaying twice. The newer request's answer
// is the older entry's own, and its asking again the only one — after a
// failed answer too: its busy answer is the last word on `resend 5`.
func TestShellOpenResendsNewerRequest(t *testing.T) {
	c := &client.Client{}
	const failedLines = "the reports after input 5 were not all received: the node could not read its journal (answered failed; the reports from input 4 on did not come)\n" +
		"the reports after input 3 were not all received: the node could not read its journal (answered failed; the reports from input 4 on did not come)\n"
	for _, tc := range []struct {
		name   string
		first  *client.Message    // the answer to the request from 5 (tag 1)
		second proto.ResendResult // the answer to the one from 3 (tag 2)
		// typedLate: the one from 3 made once first was handled (else
		// before: the library may have read first by then, as here).
		typedLate bool
		then3     bool   // asked again from 3 (tag 3), answered complete
		left      string // report's lines at the end
	}{
		{"busy, then one from earlier failed", resendDone(1, 5, proto.ResendBusy, 0), proto.ResendFailed, true, false, failedLines},
		{"busy, then one from earlier busy", resendDone(1, 5, proto.ResendBusy, 0), proto.ResendBusy, true, true, ""},
		{"busy, one from earlier made before it was handled, busy", resendDone(1, 5, proto.ResendBusy, 0), proto.ResendBusy, false, true, ""},
		{"refused, then one from earlier made before failed", rateRefusal(1, 5), proto.ResendFailed, false, false, failedLines},
		{"failed, then one from earlier made before busy", resendDone(1, 5, proto.ResendFailed, 0), proto.ResendBusy, false, false,
			"the reports after input 5 were not all received: answered busy until the end\n" +
				"the reports after input 3 were not all received: answered busy until the end\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var o openResends
			o.asked(c, 5, 1)
			if !tc.typedLate {
				o.asked(c, 3, 2)
			}
			since := o.typedSoFar() // as print takes it for the asking again tc.first schedules
			o.answered(c, tc.first, 5)
			if tc.typedLate {
				o.asked(c, 3, 2)
			}
			// Made before first was read or after, the request from 3 is
			// the asking again from 5 while it is under way.
			if o.asksAgain(c, c, 5, since, 1) {
				t.Fatal("asks again from 5 with the request from 3 under way")
			}
			since3 := o.typedSoFar()
			o.answered(c, resendDone(2, 3, tc.second, 0), 0)
			if o.asksAgain(c, c, 5, since, 1) {
				t.Fatal("asks again from 5: the request from 3 answered it")
			}
			if tc.then3 {
				if !o.asksAgain(c, c, 3, since3, 2) {
					t.Fatal("asks nothing again from 3")
				}
				o.askedAgain(c, 3, 3)
				o.answered(c, resendDone(3, 3, proto.ResendComplete, 12), 0)
			}
			var b strings.Builder
			o.report(&b)
			if b.String() != tc.left {
				t.Fatalf("left %q, want %q", b.String(), tc.left)
			}
		})
	}
}

// `resend 3` then `resend 5`, the busy answer to 5 read while 3's is to
// come: the request from 3 asks for all 5 waits for, and its answer says
// what comes of 5 (coveringUnderWay counts it, made before 5's or after).
// The shell asked again from 5 beside it — both requests asking, the
// node replaying the reports after input 5 twice, or answering busy
// while it replayed for 3. It asks nothing again from 5: 3's answer
// complete (naming 5's kept request, or not: the shell told the library
// it would not be asked again) ends 5; failed, 5 too (asking again does
// not help); busy, 3's asking again is 5's as well, and its complete
// answer ends both.
func TestShellOpenResendsOlderRequestUnderWay(t *testing.T) {
	c := &client.Client{}
	const failedLines = "the reports after input 3 were not all received: the node could not read its journal (answered failed; the reports from input 4 on did not come)\n" +
		"the reports after input 5 were not all received: the node could not read its journal (answered failed; the reports from input 4 on did not come)\n"
	for _, tc := range []struct {
		name  string
		three *client.Message // the answer to the request from 3 (tag 1)
		again bool            // asked again from 3 (tag 3), answered complete
		left  string          // report's lines at the end
	}{
		{"failed", resendDone(1, 3, proto.ResendFailed, 0), false, failedLines},
		{"complete, naming 5's", resendDone(1, 3, proto.ResendComplete, 12, 2), false, ""},
		{"complete, 5's forgotten", resendDone(1, 3, proto.ResendComplete, 12), false, ""},
		{"busy", resendDone(1, 3, proto.ResendBusy, 0), true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var o openResends
			o.asked(c, 3, 1)
			o.asked(c, 5, 2)
			since := o.typedSoFar()
			o.answered(c, resendDone(2, 5, proto.ResendBusy, 0), 0)
			if o.waitsForAsking(c, 5, 2) || o.asksAgain(c, c, 5, since, 2) {
				t.Fatal("asks again from 5 while the request from 3, made before it, is under way")
			}
			o.answered(c, tc.three, 0)
			if tc.again { // the asking again 3's answer schedules, from 3: 5's too
				if !o.asksAgain(c, c, 3, since, 1) {
					t.Fatal("asks nothing again from 3")
				}
				o.askedAgain(c, 3, 3)
				if o.waitsForAsking(c, 5, 2) {
					t.Fatal("5 waits for an asking again from 5 with the one from 3 under way")
				}
				o.answered(c, resendDone(3, 3, proto.ResendComplete, 12), 0)
			} else if o.asksAgain(c, c, 5, since, 2) {
				t.Fatal("asks again from 5 after the answer from 3")
			}
			var b strings.Builder
			o.report(&b)
			if b.String() != tc.left {
				t.Fatalf("left %q, want %q", b.String(), tc.left)
			}
		})
	}
}

// A piped shell whose resend was answered busy until --timeout ended its
// wait had an asking again scheduled (statusRetry later): the timer fired
// after the shell had ended and logged out, and printed "error: asking
// again for the reports after input 7: …" below the shell's last lines,
// as if a command had failed after the end. Nothing is asked, nor
// printed, once the shell has ended.
func TestClientShellNoAskingAgainAfterTheEnd(t *testing.T) {
	asked := make(chan int64, 64)
	addr := serveLoggedOn(t, answerResends(asked, func(int, int64) (proto.ResendDone, bool) {
		return proto.ResendDone{Reason: proto.ResendBusy}, true
	}))
	w, out, done := startShell(t, "client", "shell", "--addr", addr, "--account", "4", "--wait", "300ms", "--timeout", "1s")
	io.WriteString(w, "resend 7\n")
	w.Close()
	err := shellEnd(t, out, done)
	wantReportsMissing(t, out.String(), err, `^the reports after input 7 were not all received: answered busy until the end$`)
	end := len(out.String())
	time.Sleep(3 * statusRetry) // a timer the shell left fires within statusRetry
	if after := out.String()[end:]; after != "" {
		t.Fatalf("printed after the shell ended:\n%s\n(before it:\n%s)", after, out.String()[:end])
	}
}

// The node may replay its journal for seconds before a resend's first
// report (`client resend` waits up to a minute between two messages): a
// piped shell whose `resend 7` was answered in full 1.2 s later stopped
// after --wait of silence (300ms), before the answer, and exited 3
// naming the resend — a script asking again met the same replay. Piped,
// the shell waits for a resend under way as for the answers to come, up
// to --timeout.
func TestClientShellWaitsForAResendUnderWay(t *testing.T) {
	addr := serveLoggedOn(t, func(conn net.Conn, fr *proto.FrameReader, enc *proto.Encoder) {
		for {
			seq, after, err := nextResendRequest(fr)
			if err != nil {
				return
			}
			time.Sleep(1200 * time.Millisecond) // the replay: four times --wait
			conn.Write(enc.ResendDone(seq, proto.ResendDone{AfterInputSeq: after, FirstInputSeq: after + 1, ThroughInputSeq: 40}))
		}
	})
	out, err := ringex(t, strings.NewReader("resend 7\n"), "client", "shell", "--addr", addr, "--account", "4", "--wait", "300ms", "--timeout", "5s")
	if err != nil || strings.Contains(out, "not all received") {
		t.Fatalf("shell: %v, want it to wait for the answer\n%s", err, out)
	}
	wantLine(t, out, `^resend complete: 0 reports of inputs 8\.\.40$`)
}

// Waiting for a resend under way ends with the connection: no answer can
// come on it. A piped shell whose connection the node closed after
// reading `resend 7` ends naming the resend (exit status 1: the
// connection ended), not after --timeout (30 s here).
func TestClientShellStopsWaitingForAResendWhenTheConnectionEnds(t *testing.T) {
	asked := make(chan int64, 1)
	addr := serveLoggedOn(t, func(conn net.Conn, fr *proto.FrameReader, enc *proto.Encoder) {
		answerResends(asked, func(int, int64) (proto.ResendDone, bool) { conn.Close(); return proto.ResendDone{}, false })(conn, fr, enc)
	})
	w, out, done := startShell(t, "client", "shell", "--addr", addr, "--account", "4", "--wait", "300ms", "--timeout", "30s")
	io.WriteString(w, "resend 7\n")
	select {
	case <-asked:
	case <-time.After(10 * time.Second):
		t.Fatalf("the resend was not asked for:\n%s", out.String())
	}
	w.Close()
	err := shellEnd(t, out, done)
	if err == nil || errors.Is(err, errReportsMissing) || exitStatus(err) != 1 {
		t.Fatalf("shell: %v (exit status %d), want the connection's end (exit status 1)\n%s", err, exitStatus(err), out.String())
	}
	wantLine(t, out.String(), `^the reports after input 7 were not all received: no answer$`)
}

// Which entries a piped shell's settle waits for: a request written and
// not answered — asked, asked again — not one answered busy, failed, or
// whose asking again failed, nor one whose reports another request's
// answer cut short brought up to where the rest is asked for again.
func TestShellOpenResendsUnderWay(t *testing.T) {
	c := &client.Client{}
	busy := func(seq uint64, after int64) *client.Message {
		return &client.Message{Type: wire.MessageResendDone, Seq: seq, ResendDone: proto.ResendDone{AfterInputSeq: after, Reason: proto.ResendBusy}}
	}
	cut := &client.Message{Type: wire.MessageResendDone, Seq: 3, ResendDone: proto.ResendDone{AfterInputSeq: 7, FirstInputSeq: 8, ThroughInputSeq: 12, Reason: proto.ResendCut}}
	var o openResends
	var since, last uint64 // the typed resends when the last answer was read, as print counts them, and its tag
	again := func(after int64, tag uint64) func() {
		return func() {
			if !o.asksAgain(c, c, after, since, last) {
				t.Fatalf("asking again from %d: none waits for it", after)
			}
			o.askedAgain(c, after, tag)
		}
	}
	answer := func(m *client.Message) func() {
		return func() { since, last = o.typedSoFar(), m.Seq; o.answered(c, m, 0) }
	}
	steps := []struct {
		name string
		do   func()
		want bool
	}{
		{"asked", func() { o.asked(c, 7, 1) }, true},
		{"answered busy", answer(busy(1, 7)), false},
		{"asked again", again(7, 2), true},
		{"answered busy again", answer(busy(2, 7)), false},
		{"asked again", again(7, 3), true},
		{"asking again failed", func() { o.askFailed(c, 7, 3, askingAgain, io.ErrClosedPipe, true) }, false},
		{"another asked, from 9", func() { o.asked(c, 9, 4) }, true},
		// The answer from 7 (its write went through) brought the reports
		// through 12: the one from 9 asks for the rest (the asking again
		// from 12), not for its own.
		{"the answer from 7 cut short after 12", answer(cut), false},
		{"asked again from 12", again(12, 5), true},
		// A typed resend from where they ask is their request too: the
		// busy answer of one of the two leaves them under way.
		{"a typed resend from 12", func() { o.asked(c, 12, 6) }, true},
		{"one of the two answered busy", answer(busy(5, 12)), true},
		{"the other answered busy", answer(busy(6, 12)), false},
		// A typed resend from 12 after that answer is the asking again it
		// scheduled: that one, superseded, asks nothing.
		{"a typed resend from 12 after the answer", func() { o.asked(c, 12, 7) }, true},
		{"the asking again superseded", func() {
			if o.asksAgain(c, c, 12, since, last) {
				t.Fatal("asked again after a typed resend from 12 since the answer")
			}
		}, true},
		{"the typed one answered busy", answer(busy(7, 12)), false},
	}
	for _, st := range steps {
		st.do()
		if got := o.anyUnderWay(); got != st.want {
			t.Fatalf("after %s: under way %v, want %v", st.name, got, st.want)
		}
	}
}

// `client shell --reconnect` said which reports its new logon asked for
// from the old client's LastInputSeq, where Redial asks from after the
// start of a resend not answered in full (here `resend 7`, under way
// when the connection ended) and never from before the first logon's
// input sequence (40 here): "from input 0 on" for a catch-up from after
// input 7, and a catch-up never answered was named "after input 40". It
// names where the catch-up asked from — and the reports after input 7
// once, where it named them twice (the typed resend, the catch-up), a
// script told two resends were missing.
func TestClientShellNamesWhereTheCatchUpAsksFrom(t *testing.T) {
	caughtUpAfter := make(chan int64, 1)
	addr := serveLogonsAt40(t, caughtUpAfter, func(conn net.Conn, first bool, n int, after int64) (proto.ResendDone, bool) {
		if first { // the connection ends before the answer
			conn.Close()
		}
		return proto.ResendDone{}, false // the catch-up never answered
	})
	w, out, done := startShell(t, "client", "shell", "--addr", addr, "--account", "4", "--reconnect", "--wait", "300ms", "--timeout", "2s")
	io.WriteString(w, "resend 7\n")
	waitOutput(t, out, `^logged on again `)
	w.Close()
	err := shellEnd(t, out, done)
	wantLine(t, out.String(), `^logged on again \(session 102\); asked for the reports from input 8 on \(resend \d+\)$`)
	wantReportsMissing(t, out.String(), err, `^the reports after input 7 were not all received: no answer$`)
	if strings.Contains(out.String(), "after input 40") {
		t.Fatalf("named a resend after input 40, which was not asked for:\n%s", out.String())
	}
	// The typed resend and the catch-up asking from where it did are
	// the same reports, not received for the same reason: one line.
	if n := strings.Count(out.String(), "the reports after input 7 were not all received"); n != 1 || !strings.Contains(err.Error(), "(1 resend(s)") {
		t.Fatalf("named the reports after input 7 %d times (%v), want once:\n%s", n, err, out.String())
	}
}

// A script that asks twice for the same reports (`resend 7`, `resend 7`)
// whose first answer was cut short after input 10 and whose second came
// whole had every report after input 7 — yet the shell, which follows
// both as one chain keyed by where it asks next (10 after the cut),
// took the whole answer from 7 for another request's, and waited for the
// rest asked again from 10: never answered, it exited 3 naming reports
// it had. On the client they were asked on, an answer whole from as early
// as an entry asks (or earlier) covers it: the reports of the inputs in
// between came live on the same connection.
func TestClientShellSameResendTwiceAnsweredWhole(t *testing.T) {
	asked := make(chan int64, 4)
	addr := serveLoggedOn(t, answerResends(asked, func(n int, after int64) (proto.ResendDone, bool) {
		switch n {
		case 1:
			return proto.ResendDone{FirstInputSeq: after + 1, ThroughInputSeq: 10, Reason: proto.ResendCut}, true
		case 2:
			return proto.ResendDone{FirstInputSeq: after + 1, ThroughInputSeq: 12}, true
		}
		return proto.ResendDone{}, false // the rest asked again from 10
	}))
	out, err := pipedShell(t, addr, "resend 7\nresend 7\n")
	if err != nil || strings.Contains(out, "not all received") {
		t.Fatalf("shell: %v, want exit 0: the second answer brought every report after input 7\n%s", err, out)
	}
}

// The exit statuses main.go documents for a shell's end: piped, 1 when a
// command failed — whether or not reports are missing too (both said) —
// else 3 when reports are missing, else 0; typed at a terminal (a
// pseudo-terminal here), 0 whatever happened, the person having seen
// each line. /dev/null is no terminal: a shell given no input is piped.
func TestShellExitStatus(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	tty, _ := openPTY(t)
	for _, tc := range []struct {
		name            string
		stdin           io.Reader
		failed, missing int
		status          int
		says            []string
	}{
		{"piped, all went through", r, 0, 0, 0, nil},
		{"piped, a command failed", r, 1, 0, 1, []string{"1 command(s) failed"}},
		{"piped, reports missing", r, 0, 2, exitReportsMissing, []string{"not all received (2 resend(s)"}},
		{"piped, both", r, 1, 2, 1, []string{"1 command(s) failed", "the reports of 2 resend(s) were not all received"}},
		{"a reader, not a file: piped", strings.NewReader(""), 0, 1, exitReportsMissing, nil},
		{"at a terminal, both", tty, 1, 2, 0, nil},
		{"from /dev/null: piped", null, 1, 0, 1, []string{"1 command(s) failed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := scriptFailed(tc.stdin, tc.failed, tc.missing)
			status := 0
			if err != nil {
				status = exitStatus(err)
			}
			if status != tc.status || errors.Is(err, errReportsMissing) != (tc.status == exitReportsMissing) {
				t.Fatalf("%v (exit status %d), want exit status %d", err, status, tc.status)
			}
			for _, s := range tc.says {
				if !strings.Contains(err.Error(), s) {
					t.Fatalf("%v, want it to say %q", err, s)
				}
			}
		})
	}
}

// A piped shell with a command that failed and a resend never answered
// exits 1, naming both.
func TestClientShellFailedCommandAndReportsMissing(t *testing.T) {
	asked := make(chan int64, 4)
	addr := serveLoggedOn(t, answerResends(asked, func(int, int64) (proto.ResendDone, bool) { return proto.ResendDone{}, false }))
	out, err := pipedShell(t, addr, "bogus\nresend 7\n")
	if err == nil || errors.Is(err, errReportsMissing) || exitStatus(err) != 1 || !strings.Contains(err.Error(), "1 command(s) failed") {
		t.Fatalf("shell: %v, want 1 command failed (exit status 1)\n%s", err, out)
	}
	wantLine(t, out, `^error: unknown command "bogus" \(type help\)$`)
	wantLine(t, out, `^the reports after input 7 were not all received: no answer$`)
}

// A resend answered cut short after input 10 just before the connection
// ended: the new logon's catch-up asks from 10 (Redial asks from where
// the cut left off), yet the asking again the old connection's printer
// had scheduled fired on the new client too and asked the node for the
// same reports a second time — a second replay, and each of its lines
// printed twice. An asking again on a later client whose catch-up asked
// from as early is not sent.
func TestClientShellNoAskingAgainWhatTheCatchUpAsks(t *testing.T) {
	asked := make(chan int64, 16)
	addr := serveLogonsAt40(t, asked, func(conn net.Conn, first bool, n int, after int64) (proto.ResendDone, bool) {
		if first { // cut short, and the connection ends
			conn.(*closeAfterWrite).hangUp = true
			return proto.ResendDone{FirstInputSeq: after + 1, ThroughInputSeq: 10, Reason: proto.ResendCut}, true
		}
		return proto.ResendDone{FirstInputSeq: after + 1, ThroughInputSeq: 50}, true
	})
	w, out, done := startShell(t, "client", "shell", "--addr", addr, "--account", "4", "--reconnect", "--wait", "300ms", "--timeout", "3s")
	io.WriteString(w, "resend 7\n")
	waitOutput(t, out, `^logged on again \(session 102\); asked for the reports from input 11 on `)
	time.Sleep(3 * statusRetry) // the asking again scheduled at the cut fires within statusRetry
	w.Close()
	if err := shellEnd(t, out, done); err != nil {
		t.Fatalf("shell: %v\n%s", err, out.String())
	}
	wantAsked(t, out.String(), asked, 7, 10)
}

// serveLogonsAt40 is a node that logs each client on (sessions 101,
// 102, … of account 4, at input 40) and answers its resends through
// answer (answerResends), told whether the connection is the first; an
// answer given with conn's hangUp set ends the connection once written.
func serveLogonsAt40(t *testing.T, asked chan<- int64, answer func(conn net.Conn, first bool, n int, after int64) (proto.ResendDone, bool)) string {
	var logons atomic.Int32
	return serveLoopback(t, func(raw net.Conn) {
		conn := &closeAfterWrite{Conn: raw}
		defer conn.Close()
		fr, enc := nodeFrames(conn), proto.NewEncoder()
		if _, err := fr.Next(); err != nil { // the logon
			return
		}
		first := logons.Add(1) == 1
		conn.Write(enc.LogonAck(4, 100+uint64(logons.Load()), 5000, 40))
		answerResends(asked, func(n int, after int64) (proto.ResendDone, bool) {
			return answer(conn, first, n, after)
		})(conn, fr, enc)
	})
}

// closeAfterWrite is a connection that, hangUp set, closes after its
// next write: a node that answers, then its connection ends. With hold
// set it keeps its next write and sends it with the one after: a node
// that answers a request once the next one came.
type closeAfterWrite struct {
	net.Conn
	hangUp, hold bool
	held         []byte
}

func (c *closeAfterWrite) Write(b []byte) (int, error) {
	if c.hold {
		c.held, c.hold = append([]byte(nil), b...), false
		return len(b), nil
	}
	_, err := c.Conn.Write(append(c.held, b...))
	c.held = nil
	if c.hangUp {
		c.Conn.Close()
	}
	return len(b), err
}

// A piped shell's connection that ended while it waited for the last
// answers (after the end of its input) exited 0 — 3 had a resend been
// open — where one that ended a moment earlier, while it read commands,
// exited 1: the help says a connection that ended fails the shell, and
// the answers it waited for (an order's ack, here the orders query's)
// did not come. It ends with the connection's error either way.
func TestClientShellConnectionEndedWhileWaiting(t *testing.T) {
	inputRead := inputEnded(t)
	addr := serveLoggedOn(t, func(conn net.Conn, fr *proto.FrameReader, enc *proto.Encoder) {
		if _, _, err := nextOfType(fr, wire.MessageOrderStatus); err == nil {
			inputRead() // the shell has read the end of its input
		} // the connection ends, unanswered
	})
	out, err := ringex(t, strings.NewReader("orders\n"), "client", "shell", "--addr", addr, "--account", "4", "--wait", "300ms", "--timeout", "2s")
	if err == nil || exitStatus(err) != 1 || !strings.Contains(err.Error(), "connection closed") {
		t.Fatalf("shell: %v, want the connection's end (exit status 1)\n%s", err, out)
	}
}

// inputEnded has the shells the test runs say when they have read the end
// of their commands (shellInputEnded): the function it returns waits for
// the first to, up to 10 s (a node's goroutine calls it, which cannot
// fail the test: the shell's end then says what went wrong).
func inputEnded(t *testing.T) (wait func()) {
	ended := make(chan struct{})
	shellInputEnded = sync.OnceFunc(func() { close(ended) })
	t.Cleanup(func() { shellInputEnded = nil })
	return func() {
		select {
		case <-ended:
		case <-time.After(10 * time.Second):
		}
	}
}

// Typed at a terminal (a pseudo-terminal, Ctrl-D typed at once), a
// connection that ends while the shell waits for the last answers ends
// it as before: exit status 0.
func TestClientShellConnectionEndedWhileWaitingAtATerminal(t *testing.T) {
	tty, typist := openPTY(t) // first: it skips the test where there is none
	inputRead := inputEnded(t)
	addr := serveLoggedOn(t, func(_ net.Conn, fr *proto.FrameReader, _ *proto.Encoder) {
		go readAll(fr) // till the connection ends
		inputRead()    // the shell has read the end of its input: the connection ends
	})
	if _, err := typist.Write([]byte{4}); err != nil { // Ctrl-D: the end of input
		t.Fatal(err)
	}
	out, err := ringex(t, tty, "client", "shell", "--addr", addr, "--account", "4", "--wait", "300ms", "--timeout", "2s")
	if err != nil {
		t.Fatalf("shell: %v, want exit status 0 at a terminal\n%s", err, out)
	}
}

// Typed at a terminal, a command is answered as its answer comes, a
// resend typed before it still under way (here never answered): the
// printer shows every message as it arrives, and a command waits for
// nothing but its write. At quit the shell waits --wait, not for the
// resend (piped only), and names it.
func TestClientShellAnswersACommandWhileAResendIsUnderWay(t *testing.T) {
	tty, typist := openPTY(t) // first: it skips the test where there is none
	addr := serveLoggedOn(t, func(conn net.Conn, fr *proto.FrameReader, enc *proto.Encoder) {
		for { // the resend is left unanswered
			if _, _, err := nextOfType(fr, wire.MessageOrderStatus); err != nil {
				return
			}
			conn.Write(enc.ExecutionReport(0, &proto.Report{Kind: wire.ExecKindStatusDone, InputSeq: 9}))
		}
	})
	out, done := startShellOn(tty, "client", "shell", "--addr", addr, "--account", "4", "--secret", "s", "--wait", "300ms", "--timeout", "5s")
	io.WriteString(typist, "resend 7\norders\n")
	waitOutput(t, out, `^statusdone .* 0 live order\(s\)  seq 9$`)
	io.WriteString(typist, "quit\n")
	if err := shellEnd(t, out, done); err != nil {
		t.Fatalf("shell: %v, want exit status 0 at a terminal\n%s", err, out.String())
	}
	wantLine(t, out.String(), `^the reports after input 7 were not all received: no answer$`)
}

// `client shell --reconnect` whose connection ended while it waited for
// the last answers (after quit; here the node hung up on reading `resend
// 7`) did not log on again: it failed with the connection's end (exit
// status 1), the resend's reports never asked for again. It logs on
// again, within --timeout, and the catch-up (from input 7: Redial asks
// from a resend left unanswered) brings them: exit status 0.
func TestClientShellReconnectsWhileWaiting(t *testing.T) {
	asked := make(chan int64, 4)
	addr := serveLogonsAt40(t, asked, func(conn net.Conn, first bool, n int, after int64) (proto.ResendDone, bool) {
		if first { // the shell has read quit: it ends in its last wait
			conn.Close()
			return proto.ResendDone{}, false
		}
		return proto.ResendDone{FirstInputSeq: after + 1, ThroughInputSeq: 50}, true
	})
	out, err := ringex(t, strings.NewReader("resend 7\nquit\n"), "client", "shell", "--addr", addr, "--account", "4", "--reconnect", "--wait", "300ms", "--timeout", "5s")
	if err != nil || strings.Contains(out, "not all received") {
		t.Fatalf("shell: %v, want exit status 0: the new logon's catch-up brought the reports\n%s", err, out)
	}
	wantLine(t, out, `^logged on again \(session 102\); asked for the reports from input 8 on `)
	wantLine(t, out, `^resend complete: 0 reports of inputs 8\.\.50$`)
	wantAsked(t, out, asked, 7, 7)
}

// A piped shell whose `resend 7` was answered partial — the node no
// longer holds the reports of inputs 8..11 (older than its oldest kept
// snapshot, or past gateway.resend_window) — exited 0, the loss said only
// in the answer's line among the reports. It names the resend on standard
// error and exits 3, as for reports that did not come.
func TestClientShellResendPartial(t *testing.T) {
	asked := make(chan int64, 4)
	addr := serveLoggedOn(t, answerResends(asked, func(int, int64) (proto.ResendDone, bool) {
		return proto.ResendDone{FirstInputSeq: 12, ThroughInputSeq: 50, Reason: proto.ResendPartial}, true
	}))
	out, err := pipedShell(t, addr, "resend 7\n")
	wantReportsMissing(t, out, err, `^the reports after input 7 were not all received: answered partial: the node no longer holds the reports of inputs 8\.\.11$`)
}

// `resend 3` answered cut short after input 10 brought the reports of
// inputs 8..10 that `resend 7`, under way, asked for too: the shell then
// waited for the rest from 10 for both, and no longer knew `resend 7`'s
// own answer (from 7) — busy here — for its: the resend stayed under way
// and was named "no answer", though the node had answered it. Both are
// named for the rest asked for again from 10, never answered.
func TestClientShellResendOvertakenByAnotherCutShort(t *testing.T) {
	asked := make(chan int64, 4)
	addr := serveLoggedOn(t, func(conn net.Conn, fr *proto.FrameReader, enc *proto.Encoder) {
		// The first answer is held until the second request came: the
		// shell has written both when it reads the cut.
		answerResends(asked, func(n int, after int64) (proto.ResendDone, bool) {
			switch n {
			case 1:
				return proto.ResendDone{FirstInputSeq: after + 1, ThroughInputSeq: 10, Reason: proto.ResendCut}, true
			case 2:
				return proto.ResendDone{Reason: proto.ResendBusy}, true
			}
			return proto.ResendDone{}, false // the rest, asked again from 10
		})(&closeAfterWrite{Conn: conn, hold: true}, fr, enc)
	})
	out, err := pipedShell(t, addr, "resend 3\nresend 7\n")
	wantReportsMissing(t, out, err, `^the reports after input 7 were not all received: cut short after input 10, and the rest asked for not answered$`)
	wantLine(t, out, `^the reports after input 3 were not all received: cut short after input 10, and the rest asked for not answered$`)
	wantAsked(t, out, asked, 3, 7, 10)
}

// As above, then the connection ends: the shell asked nothing again for
// the second `resend 7`'s busy answer, yet the client library kept that
// request as left unsent, and the new logon's catch-up asked from input
// 7 again — every report after it replayed a second time — where the
// logon (at input 40) is as far back as it needs to go. The shell tells
// the library it will not ask again (client.ForgetResend).
func TestClientShellCatchUpNotFromAResendNotAskedAgain(t *testing.T) {
	asked := make(chan int64, 4)
	addr := serveLogonsAt40(t, asked, func(conn net.Conn, first bool, n int, after int64) (proto.ResendDone, bool) {
		switch {
		case first && n == 1: // held until the second request came
			conn.(*closeAfterWrite).hold = true
		case first: // busy, and the connection ends
			conn.(*closeAfterWrite).hangUp = true
			return proto.ResendDone{Reason: proto.ResendBusy}, true
		}
		return proto.ResendDone{FirstInputSeq: after + 1, ThroughInputSeq: 50}, true
	})
	w, out, done := startShell(t, "client", "shell", "--addr", addr, "--account", "4", "--reconnect", "--wait", "300ms", "--timeout", "3s")
	io.WriteString(w, "resend 7\nresend 7\n")
	waitOutput(t, out, `(?s)^logged on again .*^resend complete: `) // the catch-up's answer
	w.Close()
	if err := shellEnd(t, out, done); err != nil {
		t.Fatalf("shell: %v\n%s", err, out.String())
	}
	wantLine(t, out.String(), `^logged on again \(session 102\); asked for the reports from input 41 on `)
	wantAsked(t, out.String(), asked, 7, 7, 40)
}

// A piped shell given a line over 64 KiB (a binary file, a generated
// line gone wrong) ended with "bufio.Scanner: token too long", naming
// neither the line nor the limit. No command is that long: it refuses
// the line by its number, with the limit (exit status 1).
func TestClientShellRefusesALineOverTheLimit(t *testing.T) {
	addr := serveLoggedOn(t, func(_ net.Conn, fr *proto.FrameReader, _ *proto.Encoder) { readAll(fr) })
	out, err := pipedShell(t, addr, "help\n"+strings.Repeat("x", maxCommandLine)+"\nquit\n")
	if err == nil || exitStatus(err) != 1 || err.Error() != "client shell: line 2 of the commands is 64 KiB or longer — no command is: refused" {
		t.Fatalf("shell: %v, want line 2 refused for its length (exit status 1)\n%s", err, out)
	}
}

// `resend 7` typed twice, the second before the first's answer was read:
// the first's complete answer covers the second (client.Client.Resend),
// whichever order the node answers them in — the reports of the inputs
// between the two requests came live. Complete first, the second's busy
// answer once had the shell ask a third time: the node replayed them
// again and the shell printed each twice (this case was
// TestClientShellNoAskingAgainWhatCameSince, which answered the first at
// once and so passed or failed by whether the shell read the answer
// before the second line). Busy first — a real node's
// usual order, the second arriving while it replays for the first — the
// shell took the busy answer for its one entry's, no longer under way,
// and asked a third time when the first's answer was slow to come (here
// held until a third request, or 3 asking-again delays). Typed once the
// first's answer was read, the second is a request of its own: its busy
// answer is asked again.
func TestClientShellSameResendTwiceCoveredInEitherOrder(t *testing.T) {
	for _, tc := range []struct {
		name      string
		busyFirst bool
		typedLate bool // the second typed once the first's answer was printed
		want      []int64
	}{
		{"busy first", true, false, []int64{7, 7}},
		{"complete first", false, false, []int64{7, 7}},
		{"the second typed after the first's answer", false, true, []int64{7, 7, 7}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			asked := make(chan int64, 4)
			addr := serveLoggedOn(t, func(conn net.Conn, fr *proto.FrameReader, enc *proto.Encoder) {
				answerTwoResends(conn, fr, enc, asked, tc.busyFirst, tc.typedLate)
			})
			o, s, out := loggedOnShell(t, addr)
			w, done := runPipedShell(s, o, out, nil)
			io.WriteString(w, "resend 7\n")
			if tc.typedLate {
				waitOutput(t, out, `^resend complete: `)
			}
			io.WriteString(w, "resend 7\n")
			if tc.typedLate {
				waitOutput(t, out, `(?s)^resend busy: .*^resend complete: `)
			}
			w.Close()
			if err := shellEnd(t, out, done); err != nil || strings.Contains(out.String(), "not all received") {
				t.Fatalf("shell: %v, want exit 0: every report after input 7 came\n%s", err, out.String())
			}
			wantAsked(t, out.String(), asked, tc.want...)
		})
	}
}

// answerTwoResends answers a session's resends (their afters to asked):
// the first complete and the second busy, both once the second came —
// busyFirst, the busy answer at once and the complete one at a third
// request or after 3 asking-again delays, whichever comes first; typedLate,
// the first at once. Any later one it answers complete.
func answerTwoResends(conn net.Conn, fr *proto.FrameReader, enc *proto.Encoder, asked chan<- int64, busyFirst, typedLate bool) {
	requests := resendRequests(fr)
	complete := func(r resendRequest) []byte {
		return append([]byte(nil), enc.ResendDone(r.seq, proto.ResendDone{AfterInputSeq: r.after, FirstInputSeq: r.after + 1, ThroughInputSeq: 12})...)
	}
	var first []byte
	for n := 1; ; n++ {
		r, ok := <-requests
		if !ok {
			return
		}
		asked <- r.after
		switch {
		case n == 1 && typedLate:
			conn.Write(complete(r))
		case n == 1:
			first = complete(r)
		case n == 2 && typedLate:
			conn.Write(enc.ResendDone(r.seq, proto.ResendDone{AfterInputSeq: r.after, Reason: proto.ResendBusy}))
		case n == 2 && busyFirst:
			conn.Write(enc.ResendDone(r.seq, proto.ResendDone{AfterInputSeq: r.after, Reason: proto.ResendBusy}))
			select {
			case r, ok := <-requests: // asked a third time: answered once the first is
				conn.Write(first)
				if ok {
					asked <- r.after
					conn.Write(complete(r))
				}
			case <-time.After(3 * statusRetry):
				conn.Write(first)
			}
		case n == 2:
			busy := enc.ResendDone(r.seq, proto.ResendDone{AfterInputSeq: r.after, Reason: proto.ResendBusy})
			conn.Write(append(first, busy...))
		default:
			conn.Write(complete(r))
		}
	}
}

// resendRequest is a resend request a fake gateway read: its tag and
// after_input_seq.
type resendRequest struct {
	seq   uint64
	after int64
}

// resendRequests reads a session's resend requests (nextResendRequest)
// on a goroutine of its own, a gateway waiting for one with a deadline;
// the channel is closed when the reads end.
func resendRequests(fr *proto.FrameReader) <-chan resendRequest {
	requests := make(chan resendRequest)
	go func() {
		defer close(requests)
		for {
			seq, after, err := nextResendRequest(fr)
			if err != nil {
				return
			}
			requests <- resendRequest{seq, after}
		}
	}()
	return requests
}

// `resend 5` and `resend 3`, both made before either answer was read,
// both answered busy — the second only after the first's asking again
// was due (a node slow to answer it; here held until a third request or
// 3 asking-again delays). The request from 3, made after the one from 5,
// asks for all it does, and the client library ends, or names in its
// answer, the request it kept for the busy one: its answer, and its
// asking again, are `resend 5`'s too. The shell asked again from 5 while
// it was under way, then from 3 at its busy answer: asked 5, 3, 5, 3, the
// node replaying the reports after input 5 twice. It asks again from 3
// alone.
func TestClientShellNewerResendUnderWayIsTheOlderOnesAskingAgain(t *testing.T) {
	asked := make(chan int64, 8)
	addr := serveLoggedOn(t, answerOneHeld(asked, 0, proto.ResendBusy))
	out, err := pipedShell(t, addr, "resend 5\nresend 3\n")
	wantAsked(t, out, asked, 5, 3, 3)
	wantEnd(t, out, err, "")
}

// `resend 3` then `resend 5`, made before either answer was read, 5
// answered busy at once and 3 held (a node replaying for it; here until
// a third request or 3 asking-again delays): the request from 3, made
// before 5's, asks for all it does, and its answer is `resend 5`'s too
// (coveringUnderWay). The shell asked again from 5 beside it — asked 3,
// 5, 5, the node replaying the reports after input 5 twice, or answering
// busy again while it replayed for 3 — and a failed answer from 3 left 5
// to be asked again from 5, though asking again does not help. It asks
// nothing more: 3 complete, every report came (exit 0); failed, both are
// named (exit 3).
func TestClientShellOlderResendUnderWayIsTheNewerOnesAnswer(t *testing.T) {
	for _, tc := range []struct {
		name  string
		three proto.ResendResult
		left  string // the line naming 5's reports; "": exit 0
	}{
		{"complete", proto.ResendComplete, ""},
		{"failed", proto.ResendFailed, `^the reports after input 5 were not all received: the node could not read its journal \(answered failed; the reports from input 4 on did not come\)$`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			asked := make(chan int64, 8)
			addr := serveLoggedOn(t, answerOneHeld(asked, 1, tc.three))
			out, err := pipedShell(t, addr, "resend 3\nresend 5\n")
			wantAsked(t, out, asked, 5, 3)
			wantEnd(t, out, err, tc.left)
		})
	}
}

// answerOneHeld answers the first two resends of a session (their afters
// to asked): the one numbered busy (0 or 1) busy at once, the other held
// until a third request came (answered once it is, complete) or 3
// asking-again delays passed, then answered held. Any later one it
// answers complete.
func answerOneHeld(asked chan<- int64, busy int, held proto.ResendResult) func(net.Conn, *proto.FrameReader, *proto.Encoder) {
	return func(conn net.Conn, fr *proto.FrameReader, enc *proto.Encoder) {
		requests := resendRequests(fr)
		reply := func(r resendRequest, reason proto.ResendResult) {
			asked <- r.after
			through := int64(12)
			if reason == proto.ResendBusy {
				through = 0
			}
			conn.Write(enc.ResendDone(r.seq, proto.ResendDone{AfterInputSeq: r.after, FirstInputSeq: r.after + 1, ThroughInputSeq: through, Reason: reason}))
		}
		var two [2]resendRequest
		for i := range two {
			var ok bool
			if two[i], ok = <-requests; !ok {
				return
			}
		}
		reply(two[busy], proto.ResendBusy)
		select {
		case r, ok := <-requests: // asked again with the other under way
			reply(two[1-busy], held)
			if ok {
				reply(r, proto.ResendComplete)
			}
		case <-time.After(3 * statusRetry):
			reply(two[1-busy], held)
		}
		for r := range requests {
			reply(r, proto.ResendComplete)
		}
	}
}

// `resend 5` and `resend 3`, then `resend 2` typed once 5's busy answer
// was printed: the one from 5 answered busy takes the one from 3 as its
// asking again (coveringUnderWay), and the one from 2 is cut short after
// input 4 — past where the one from 3 asks, which it overtakes on that
// resend's own entry: both wait for the rest, asked again from 4 and
// answered complete. Then the one from 3 is answered busy: it is the
// request `resend 5` waits on, and its answer `resend 5`'s own, but no
// entry asks from 3 any more — the shell dropped that asking again, and
// `resend 5`, whose own asking again the request from 3 had superseded,
// had nothing left to ask: named "answered busy until the end" (exit 3),
// the request the library kept for it forgotten. The entry that took the
// answer as its own asks again from 3 (coveredBy: its own request).
// Typed before any answer was read, `resend 2` is under way when 5's busy
// answer is taken, and counted on it too: its answer cut short is 5's,
// whose rest the asking again from 4 brings — nothing asked from 3 again.
// Typed once 5 was answered, it is not counted on 5, which waits on the
// request from 3 alone — until the complete answer from 4, written after
// that request and asking from before 5, brings all 5 waits for: 5 ends
// there, and 3's busy answer after it is no entry's. 5 waited on for 3's
// busy answer and asked again from 3 (asked 5 3 2 4 3), the node
// replaying reports that had all come.
func TestClientShellBusyAnswerOfAnOvertakenRequestIsAskedAgain(t *testing.T) {
	for _, tc := range []struct {
		name  string
		typed []string // the commands; "…" waits for 5's busy answer
		asked []int64
	}{
		{"2 typed once 5 was answered", []string{"resend 5", "resend 3", "…", "resend 2"}, []int64{5, 3, 2, 4}},
		{"2 typed first", []string{"resend 2", "resend 5", "resend 3"}, []int64{2, 5, 3, 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			asked := make(chan int64, 8)
			addr := serveLoggedOn(t, func(conn net.Conn, fr *proto.FrameReader, enc *proto.Encoder) {
				answerOvertaken(conn, resendRequests(fr), enc, asked)
			})
			o, s, out := loggedOnShell(t, addr)
			w, done := runPipedShell(s, o, out, nil)
			for _, c := range tc.typed {
				if c == "…" {
					waitOutput(t, out, `^resend busy: `)
					continue
				}
				io.WriteString(w, c+"\n")
			}
			w.Close()
			if err := shellEnd(t, out, done); err != nil {
				t.Fatalf("shell: %v, want exit 0\n%s", err, out.String())
			}
			wantAsked(t, out.String(), asked, tc.asked...)
		})
	}
}

// answerOvertaken answers resends from 5, 3 and 2 (their afters to
// asked, the first few): 5 busy once 3's came, 2 cut short after input 4
// once 5 was answered (in the same write when it came before), 3 held
// until the asking again from 4, then answered busy behind its complete
// answer; any other complete.
func answerOvertaken(conn net.Conn, requests <-chan resendRequest, enc *proto.Encoder, asked chan<- int64) {
	answer := func(r resendRequest, d proto.ResendDone) []byte {
		d.AfterInputSeq = r.after
		return append([]byte(nil), enc.ResendDone(r.seq, d)...)
	}
	busy := proto.ResendDone{Reason: proto.ResendBusy}
	complete := func(r resendRequest) []byte {
		return answer(r, proto.ResendDone{FirstInputSeq: r.after + 1, ThroughInputSeq: 12})
	}
	came := map[int64]resendRequest{} // the first request from each after
	busySent := false
	for r := range requests {
		select {
		case asked <- r.after:
		default: // the test reads only the first few
		}
		if _, again := came[r.after]; again || r.after == 4 {
			if r.after == 4 { // the rest of 2's, asked again: then 3's busy answer
				conn.Write(append(complete(r), answer(came[3], busy)...))
			} else {
				conn.Write(complete(r))
			}
			continue
		}
		came[r.after] = r
		var write []byte
		five, ok5 := came[5]
		if _, ok3 := came[3]; ok3 && ok5 && !busySent {
			write, busySent = answer(five, busy), true
		}
		if two, ok := came[2]; ok && busySent && (r.after == 2 || len(write) > 0) {
			write = append(write, answer(two, proto.ResendDone{FirstInputSeq: 3, ThroughInputSeq: 4, Reason: proto.ResendCut})...)
		}
		conn.Write(write)
	}
}

// `resend 7` answered busy schedules an asking again (statusRetry
// later); `resend 7` typed before it fires asks for the same reports, and
// its own answer says whether to ask again: the asking again is
// superseded. It fired all the same when the typed one's answer was
// slow (here held 3 asking-again delays), and the node was asked a third
// time, a replay more.
func TestClientShellTypedResendSupersedesTheAskingAgain(t *testing.T) {
	asked := make(chan int64, 4)
	addr := serveLoggedOn(t, answerResends(asked, func(n int, after int64) (proto.ResendDone, bool) {
		if n == 1 {
			return proto.ResendDone{Reason: proto.ResendBusy}, true
		}
		if n == 2 {
			time.Sleep(3 * statusRetry) // slow: an asking again left scheduled fires meanwhile
		}
		return proto.ResendDone{FirstInputSeq: after + 1, ThroughInputSeq: 12}, true
	}))
	o, s, out := loggedOnShell(t, addr)
	w, done := runPipedShell(s, o, out, nil)
	io.WriteString(w, "resend 7\n")
	waitOutput(t, out, `^resend busy: `)
	io.WriteString(w, "resend 7\n")
	w.Close()
	if err := shellEnd(t, out, done); err != nil {
		t.Fatalf("shell: %v, want exit 0\n%s", err, out.String())
	}
	wantAsked(t, out.String(), asked, 7, 7)
}

// `resend 7` answered complete, the client library's Next having read
// that answer, then `resend 7` typed again before the printer handled it:
// the library takes the second for a new request — asked after the
// answer was read, it is not covered by it — and keeps it to be asked
// again when answered busy; the shell counted it as the first's, ended
// both at the complete answer and dropped the second (ForgetResend): the
// node was asked twice where, typed once the answer was printed, it is
// asked three times — and a second answer partial, saying reports are
// gone, named nothing and the piped shell exited 0. The library decides,
// as it reads each answer, which requests it covers; the shell follows
// it, whenever its printer gets there.
func TestClientShellTypedResendAfterTheAnswerWasRead(t *testing.T) {
	for _, tc := range []struct {
		name   string
		second proto.ResendDone // the second request's answer; any later one complete
		asked  []int64
		gone   string // the line naming the reports gone; "": exit 0
	}{
		{"the second busy", proto.ResendDone{Reason: proto.ResendBusy}, []int64{7, 7, 7}, ""},
		{"the second partial", proto.ResendDone{FirstInputSeq: 10, ThroughInputSeq: 12, Reason: proto.ResendPartial}, []int64{7, 7},
			`^the reports after input 7 were not all received: answered partial: the node no longer holds the reports of inputs 8\.\.9$`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			asked := make(chan int64, 4)
			addr := serveLoggedOn(t, answerResends(asked, func(n int, after int64) (proto.ResendDone, bool) {
				if n == 2 {
					return tc.second, true
				}
				return proto.ResendDone{FirstInputSeq: after + 1, ThroughInputSeq: 12}, true
			}))
			out, err := typedOnceRead(t, addr, "resend 7", proto.ResendComplete, "resend 7", tc.second.Reason)
			wantAsked(t, out, asked, tc.asked...)
			wantEnd(t, out, err, tc.gone)
		})
	}
}

// typedOnceRead runs a piped shell at addr whose commands are first,
// then second once the client library has read first's answer (a
// ResendDone answered firstRead) — the printer held back until second's
// (secondRead) was read too — and returns its output and end.
func typedOnceRead(t *testing.T, addr, first string, firstRead proto.ResendResult, second string, secondRead proto.ResendResult) (string, error) {
	t.Helper()
	o, s, out := loggedOnShell(t, addr)
	read, release := holdPrinter(t, s)
	w, done := runPipedShell(s, o, out, nil)
	io.WriteString(w, first+"\n")
	waitRead(t, read, firstRead) // read by the library, not printed
	io.WriteString(w, second+"\n")
	waitRead(t, read, secondRead)
	release()
	w.Close()
	err := shellEnd(t, out, done)
	return out.String(), err
}

// wantEnd checks a piped shell's end: exit 0 if line is "", else reports
// missing, line a line of out (wantReportsMissing).
func wantEnd(t *testing.T, out string, err error, line string) {
	t.Helper()
	if line != "" {
		wantReportsMissing(t, out, err, line)
	} else if err != nil {
		t.Fatalf("shell: %v, want exit 0\n%s", err, out)
	}
}

// `resend 5`, `resend 3` and `resend 7`, all made before the node's
// answers were read: the complete answer from 5 covers the resend from 7
// (the library names it in ResendAnswers), the one from 3 is cut short
// after input 7, and the resend from 7 is refused for the account's
// status rate. The cut-short answer asks again from 7, once; the refusal
// is of a request already answered, and asks nothing — but the shell,
// finding an entry waiting to ask from 7 (the one from 3, cut short),
// asked a second time, one request more against the status rate. The
// library says the refusal's request was covered (ResendCovered).
func TestClientShellNoAskingAgainAfterACoveredRefusal(t *testing.T) {
	asked := make(chan int64, 8)
	addr := serveLoggedOn(t, func(conn net.Conn, fr *proto.FrameReader, enc *proto.Encoder) {
		var seqs [3]uint64
		for i := range seqs { // all three made before any answer is read
			seq, after, err := nextResendRequest(fr)
			if err != nil {
				return
			}
			seqs[i] = seq
			asked <- after
		}
		var b []byte
		b = append(b, enc.ResendDone(seqs[0], proto.ResendDone{AfterInputSeq: 5, FirstInputSeq: 6, ThroughInputSeq: 12})...)
		b = append(b, enc.ResendDone(seqs[1], proto.ResendDone{AfterInputSeq: 3, FirstInputSeq: 4, ThroughInputSeq: 7, Reason: proto.ResendCut})...)
		b = append(b, enc.ExecutionReport(seqs[2], &proto.Report{Kind: wire.ExecKindRejected, Reason: uint8(engine.ReasonRateLimited),
			Account: 4, OrderID: 7, ClientOrderID: seqs[2], InputSeq: -1})...)
		conn.Write(b)
		answerResends(asked, func(int, int64) (proto.ResendDone, bool) {
			time.Sleep(3 * statusRetry) // slow: an asking again more, scheduled with the first, is sent meanwhile
			return proto.ResendDone{FirstInputSeq: 8, ThroughInputSeq: 12}, true
		})(conn, fr, enc)
	})
	out, err := pipedShell(t, addr, "resend 5\nresend 3\nresend 7\n")
	if err != nil {
		t.Fatalf("shell: %v, want exit 0\n%s", err, out)
	}
	wantAsked(t, out, asked, 5, 3, 7, 7)
}

// holdPrinter keeps the messages s's reader delivers from the shell's
// printer until release is called (at the test's end at the latest);
// each goes on read too as the client library's Next returns it. Call it
// before the shell starts.
func holdPrinter(t *testing.T, s *session) (read <-chan client.Message, release func()) {
	in, out := s.msgs, make(chan client.Message)
	s.msgs = out // the reader goroutine sends to the channel it was started with
	r, held, released := make(chan client.Message, 64), make(chan client.Message, cap(in)), make(chan struct{})
	go func() {
		defer close(held)
		for m := range in {
			select {
			case r <- m:
			default: // the test reads only the first few
			}
			held <- m
		}
	}()
	go func() {
		defer close(out)
		<-released
		for m := range held {
			out <- m
		}
	}()
	release = sync.OnceFunc(func() { close(released) })
	t.Cleanup(release)
	return r, release
}

// waitRead waits up to 5 s for the client library to read a ResendDone
// answered why.
func waitRead(t *testing.T, read <-chan client.Message, why proto.ResendResult) {
	t.Helper()
	waitReadOf(t, read, fmt.Sprintf("ResendDone answered %v", why), func(m *client.Message) bool {
		return m.Type == wire.MessageResendDone && m.ResendDone.Reason == why
	})
}

// waitReadOf waits up to 5 s for the client library to read a message
// that is what (want says which).
func waitReadOf(t *testing.T, read <-chan client.Message, what string, want func(*client.Message) bool) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case m := <-read:
			if want(&m) {
				return
			}
		case <-deadline:
			t.Fatalf("no %s read", what)
		}
	}
}

// `resend 5` and `resend 3`, both made before any answer was read, the
// first answered busy and the second failed (the node could not read its
// journal from input 4): the failed answer ends the busy one's request,
// which the client library kept (it names it in ResendAnswers) — asking
// again does not help — but the shell, ending an entry waiting to ask
// again only on a complete or partial answer, asked from 5 once more
// when the busy answer's asking again fired. It asks nothing more, and
// names both resends as failed.
func TestClientShellNoAskingAgainAfterAFailedAnswer(t *testing.T) {
	asked := make(chan int64, 4)
	addr := serveLoggedOn(t, answerTwoAtOnce(asked, proto.ResendDone{Reason: proto.ResendBusy},
		proto.ResendDone{FirstInputSeq: 4, Reason: proto.ResendFailed},
		func(_ int, after int64) (proto.ResendDone, bool) {
			return proto.ResendDone{FirstInputSeq: after + 1, Reason: proto.ResendFailed}, true
		}))
	out, err := pipedShell(t, addr, "resend 5\nresend 3\n")
	wantAsked(t, out, asked, 5, 3)
	wantReportsMissing(t, out, err, `^the reports after input 5 were not all received: the node could not read its journal \(answered failed; the reports from input 4 on did not come\)$`)
}

// `resend 5` answered busy and `resend 3` cut short after input 5, both
// read before the printer got to them, schedule two askings again from 5
// for the same reports: the first asked for them, and the second, firing
// before that request's answer (slow here) was read, asked again — the
// node was asked twice for one entry. A request under way from where the
// entries ask is the asking again for them: the second asks nothing.
func TestClientShellOneAskingAgainForTwoAnswersAtTheSameInput(t *testing.T) {
	asked := make(chan int64, 8)
	addr := serveLoggedOn(t, answerTwoAtOnce(asked, proto.ResendDone{Reason: proto.ResendBusy},
		proto.ResendDone{FirstInputSeq: 4, ThroughInputSeq: 5, Reason: proto.ResendCut},
		func(int, int64) (proto.ResendDone, bool) {
			time.Sleep(3 * statusRetry) // slow: the second asking again fires meanwhile
			return proto.ResendDone{FirstInputSeq: 6, ThroughInputSeq: 12}, true
		}))
	out, err := pipedShell(t, addr, "resend 5\nresend 3\n")
	if err != nil {
		t.Fatalf("shell: %v, want exit 0\n%s", err, out)
	}
	wantAsked(t, out, asked, 5, 3, 5)
}

// `resend 5` answered busy, and `resend 3` typed once the client library
// had read that answer (the printer held back): the library ended the
// request it kept for `resend 5` at once, `resend 3` asking for all of
// it. Answered failed, `resend 3` named nothing else, and the shell asked
// from 5 once more when the busy answer's asking again fired; answered
// busy, both asked again, from 5 and from 3. The answer from 3 is the
// other's too, and its asking again the only one.
func TestClientShellNewerResendEndsTheOlderOnesAsking(t *testing.T) {
	for _, tc := range []struct {
		name   string
		second proto.ResendDone // the answer to `resend 3`; any later one complete
		asked  []int64
		line   string // the line naming `resend 5`; "": exit 0
	}{
		{"failed", proto.ResendDone{FirstInputSeq: 4, Reason: proto.ResendFailed}, []int64{5, 3},
			`^the reports after input 5 were not all received: the node could not read its journal \(answered failed; the reports from input 4 on did not come\)$`},
		{"busy", proto.ResendDone{Reason: proto.ResendBusy}, []int64{5, 3, 3}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			asked := make(chan int64, 8)
			addr := serveLoggedOn(t, answerResends(asked, func(n int, after int64) (proto.ResendDone, bool) {
				switch n {
				case 1:
					return proto.ResendDone{Reason: proto.ResendBusy}, true
				case 2:
					return tc.second, true
				}
				return proto.ResendDone{FirstInputSeq: after + 1, ThroughInputSeq: 12}, true
			}))
			out, err := typedOnceRead(t, addr, "resend 5", proto.ResendBusy, "resend 3", tc.second.Reason)
			wantAsked(t, out, asked, tc.asked...)
			wantEnd(t, out, err, tc.line)
		})
	}
}
