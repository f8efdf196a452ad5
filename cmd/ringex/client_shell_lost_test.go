package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// A piped `client shell --reconnect` whose resend was answered busy and
// whose connection then died: asking again fails on the dead connection,
// and the new logon's catch-up asks for those reports (from input 7 or
// before). The shell exited non-zero for the failed asking again although
// the catch-up brought what it asked for. The reconnect here waits for
// the asking again to have failed, the order a connection that dies just
// before it gives.
func TestClientShellRetryLostWithTheConnectionIsCaughtUp(t *testing.T) {
	caughtUp := make(chan int64, 4)
	addr := serveResends(t, func(reply func(proto.ResendDone), _ int, after int64) {
		caughtUp <- after
		reply(proto.ResendDone{AfterInputSeq: after, FirstInputSeq: after + 1, ThroughInputSeq: after})
	})
	out, w, done := startLostRetryShell(t, addr)
	select {
	case after := <-caughtUp:
		if after > 7 {
			t.Fatalf("the new logon asked for the reports after input %d, not those after 7 that the failed asking again was for:\n%s", after, out.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no catch-up asked for after the new logon:\n%s", out.String())
	}
	waitOutput(t, out, `^resend complete: `)
	io.WriteString(w, "quit\n")
	if err := shellEnd(t, out, done); err != nil {
		t.Fatalf("shell: %v\n%s", err, out.String())
	}
	wantLine(t, out.String(), `^error: asking again for the reports after input 7: `)
	wantLine(t, out.String(), `^the reports after input 7, which asking again failed for, came in the new logon's resend$`)
}

// As above, but the new logon's catch-up never brings the reports: it is
// not answered before the shell ends (quit, nothing heard for wait), or
// answered failed (the node could not read its journal). It exited 0 —
// the failure was forgiven at the new logon, before its catch-up brought
// anything. (It then failed counting a failed command; now the resend
// whose reports did not come, exit status 3.)
func TestClientShellRetryLostNotForgivenUntilCaughtUp(t *testing.T) {
	for _, failed := range []bool{false, true} {
		t.Run(fmt.Sprintf("answered failed %v", failed), func(t *testing.T) { retryLostNotCaughtUp(t, failed) })
	}
}

func retryLostNotCaughtUp(t *testing.T, failed bool) {
	caughtUp := make(chan int64, 4)
	addr := serveResends(t, func(reply func(proto.ResendDone), _ int, after int64) {
		caughtUp <- after
		if failed { // reports of inputs 1..4 resent, then the journal could not be read
			reply(proto.ResendDone{AfterInputSeq: after, FirstInputSeq: 5, ThroughInputSeq: 4, Reason: proto.ResendFailed})
		}
	})
	out, w, done := startLostRetryShell(t, addr)
	select {
	case <-caughtUp:
	case <-time.After(10 * time.Second):
		t.Fatalf("no catch-up asked for after the new logon:\n%s", out.String())
	}
	io.WriteString(w, "quit\n")
	// The catch-up never brought the reports: they are missing.
	err := shellEnd(t, out, done)
	wantReportsMissing(t, out.String(), err, `^the reports after input 7 were not all received: `)
	if strings.Contains(out.String(), "which asking again failed for") {
		t.Fatalf("the shell said the failed asking again was caught up:\n%s", out.String())
	}
}

// The new logon's catch-up cut short past the failed asking again's
// start, its rest asked for and answered in full: the reports came, the
// shell exits 0 and says so.
func TestClientShellRetryLostCaughtUpThroughACutAnswer(t *testing.T) {
	addr := serveResends(t, func(reply func(proto.ResendDone), asked int, after int64) {
		if asked == 1 { // the catch-up, cut short after input 10
			reply(proto.ResendDone{AfterInputSeq: after, FirstInputSeq: after + 1, ThroughInputSeq: 10, Reason: proto.ResendCut})
			return
		}
		reply(proto.ResendDone{AfterInputSeq: after, FirstInputSeq: after + 1, ThroughInputSeq: 12})
	})
	out, w, done := startLostRetryShell(t, addr)
	waitOutput(t, out, `^the reports after input 7, which asking again failed for, came in the new logon's resend$`)
	io.WriteString(w, "quit\n")
	if err := shellEnd(t, out, done); err != nil {
		t.Fatalf("shell: %v\n%s", err, out.String())
	}
}

// The new logon of a `client shell --reconnect` whose asking again
// failed with the connection reaches a node of another history (it
// names no input; the catch-up, from input 7, is answered ahead of its
// last input, 3, where the session had read a report of input 50). The
// shell said the reports after input 7 "came in the new logon's resend"
// and exited 0: they were not resent, and will not come there. It names
// them not received, for that reason, and exits 3.
func TestClientShellRetryLostOntoAnotherHistoryIsNotCaughtUp(t *testing.T) {
	live := &proto.Report{Kind: wire.ExecKindAccepted, Account: 4, Instrument: 1, Side: wire.SideBuy, Price: 60000, Quantity: 1,
		OrderID: 50, ClientOrderID: 1, InputSeq: 50}
	addr := serveResendsAfter(t, live, func(reply func(proto.ResendDone), _ int, after int64) {
		reply(proto.ResendDone{AfterInputSeq: after, FirstInputSeq: after + 1, ThroughInputSeq: 3, Reason: proto.ResendAhead})
	})
	out, w, done := startLostRetryShell(t, addr)
	waitOutput(t, out, `^the node holds another history than this session's `)
	io.WriteString(w, "quit\n")
	err := shellEnd(t, out, done)
	if strings.Contains(out.String(), "came in the new logon's resend") {
		t.Fatalf("the shell said the reports after input 7 came:\n%s", out.String())
	}
	wantReportsMissing(t, out.String(), err, `^the reports after input 7 were not all received: `+whyOtherHistory+`$`)
}

// serveResends is a node that logs every client on and answers resend
// requests: on the first connection busy, then it hangs up (the asking
// again then meets a dead connection); on the later ones through answer,
// given how many resends this connection asked so far (1 for the
// first) and what this one asks after, and reply to send the answer.
func serveResends(t *testing.T, answer func(reply func(proto.ResendDone), asked int, after int64)) string {
	return serveResendsAfter(t, nil, answer)
}

// serveResendsAfter is serveResends whose first connection is sent the
// report live first, once logged on (nil: none).
func serveResendsAfter(t *testing.T, live *proto.Report, answer func(reply func(proto.ResendDone), asked int, after int64)) string {
	var logons atomic.Int32
	return serveLoggedOn(t, func(conn net.Conn, fr *proto.FrameReader, enc *proto.Encoder) {
		first := logons.Add(1) == 1
		if first && live != nil {
			conn.Write(enc.ExecutionReport(0, live))
		}
		for asked := 1; ; asked++ {
			seq, after, err := nextResendRequest(fr)
			if err != nil {
				return
			}
			reply := func(d proto.ResendDone) { conn.Write(enc.ResendDone(seq, d)) }
			if first { // busy, and the connection ends
				reply(proto.ResendDone{AfterInputSeq: after, Reason: proto.ResendBusy})
				return
			}
			answer(reply, asked, after)
		}
	})
}

// startLostRetryShell runs a piped `client shell --reconnect` against
// addr and types `resend 7`: the asking again after the busy answer is
// written to a connection already closed, and the shell logs on again
// once that has failed. It returns the shell's output, its input and its
// end.
func startLostRetryShell(t *testing.T, addr string) (*testkit.SyncBuffer, io.Writer, <-chan error) {
	t.Helper()
	o, s, out := loggedOnShell(t, addr)
	again := func(s *session, within time.Duration) (uint64, error) {
		s.send(func(c *client.Client) error { return c.Close() }) // the write of the asking again fails
		re := "error: asking again for the reports after input 7"
		for end := time.Now().Add(5 * time.Second); !strings.Contains(out.String(), re) && time.Now().Before(end); {
			time.Sleep(10 * time.Millisecond)
		}
		return shellRedial(s, within)
	}
	w, done := runPipedShell(s, o, out, again)
	io.WriteString(w, "resend 7\n")
	return out, w, done
}

// shellEnd waits up to 10 s for the shell's end and returns its error.
func shellEnd(t *testing.T, out *testkit.SyncBuffer, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatalf("the shell did not end:\n%s", out.String())
		return nil
	}
}

// A piped `client shell --reconnect` whose typed `resend 7` met a
// connection that had died (the shell not told yet: its write failed)
// counted a failed command — exit status 1 — although the new logon's
// catch-up asks from input 7 (Redial asks from the start of a resend left
// unanswered; the logon was at input 40) and brought its reports. It
// fails for it only if its reports do not come — and then counted it
// twice: a command failed, and its reports, with the catch-up's, named
// on two lines and counted as 2 resends missing. Once now: the failed
// command, and one line, the catch-up's answer (none) being its.
func TestClientShellTypedResendLostWithTheConnection(t *testing.T) {
	for _, caughtUp := range []bool{true, false} {
		t.Run(fmt.Sprintf("caught up %v", caughtUp), func(t *testing.T) {
			asked := make(chan int64, 4)
			addr := serveLogonsAt40(t, asked, func(_ net.Conn, _ bool, _ int, after int64) (proto.ResendDone, bool) {
				return proto.ResendDone{FirstInputSeq: after + 1, ThroughInputSeq: 50}, caughtUp
			})
			o, s, out := loggedOnShell(t, addr)
			noticed := holdConnectionEnd(s)
			s.send(func(c *client.Client) error { return c.Close() })
			w, done := runPipedShell(s, o, out, shellRedial)
			io.WriteString(w, "resend 7\n")
			waitOutput(t, out, `^error: `) // the write failed
			noticed()
			waitOutput(t, out, `^logged on again `)
			w.Close()
			err := shellEnd(t, out, done)
			wantAsked(t, out.String(), asked, 7)
			if !caughtUp {
				// Counted once, as the command that failed: not again as a
				// resend whose reports did not come (its line says that).
				if err == nil || exitStatus(err) != 1 || !strings.Contains(err.Error(), "1 command(s) failed") || strings.Contains(err.Error(), "resend(s)") {
					t.Fatalf("shell: %v, want 1 command failed and nothing more (exit status 1)\n%s", err, out.String())
				}
				// The catch-up asked for them, from 7: one line, its.
				wantLine(t, out.String(), `^the reports after input 7 were not all received: no answer$`)
				if n := strings.Count(out.String(), "the reports after input 7 were not all received"); n != 1 {
					t.Fatalf("named the reports after input 7 %d times, want once:\n%s", n, out.String())
				}
				return
			}
			if err != nil {
				t.Fatalf("shell: %v, want exit status 0: the catch-up brought the reports\n%s", err, out.String())
			}
			wantLine(t, out.String(), `^the reports after input 7, which resend failed for, came in the new logon's resend$`)
		})
	}
}

// holdConnectionEnd keeps the end of s's connection from its reader's
// user (the shell's printer) until the function returned is called: the
// shell's commands meet the dead connection first, in the order typed.
func holdConnectionEnd(s *session) (noticed func()) {
	msgs, errs := make(chan client.Message), make(chan error, 1)
	s.msgs, s.err = msgs, errs // the reader goroutine sends to the channels it was started with
	return func() { errs <- net.ErrClosed; close(msgs) }
}

// loggedOnShell logs a session of account 4 on at addr, for a shell the
// test runs itself (runPipedShell): its options (short --wait, --timeout
// 5 s), the session (closed at the test's end) and the output.
func loggedOnShell(t *testing.T, addr string) (*clientOptions, *session, *testkit.SyncBuffer) {
	t.Helper()
	out := new(testkit.SyncBuffer)
	o := &clientOptions{addr: addr, account: 4, secret: "s", wait: 300 * time.Millisecond, timeout: 5 * time.Second}
	s, err := o.logon(out)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.close)
	return o, s, out
}

// runPipedShell runs the shell on s, its commands written to the pipe
// returned; done has its result.
func runPipedShell(s *session, o *clientOptions, out io.Writer, reconnect func(*session, time.Duration) (uint64, error)) (in io.WriteCloser, done <-chan error) {
	r, w := io.Pipe()
	d := make(chan error, 1)
	go func() { d <- runShell(s, r, out, o.wait, o.timeout, reconnect) }()
	return w, d
}

// `client shell --reconnect` whose connection ended while it read
// commands gave its new logon at least 15 s, whatever --timeout said —
// the help says within --timeout: a script run with --timeout 5s against
// a node that stays down waited 15 s to be told. It logs on again within
// --timeout.
func TestClientShellReconnectsWithinTimeout(t *testing.T) {
	addr := serveLoggedOn(t, func(net.Conn, *proto.FrameReader, *proto.Encoder) {})
	o, s, out := loggedOnShell(t, addr)
	given := make(chan time.Duration, 1)
	_, done := runPipedShell(s, o, out, func(_ *session, within time.Duration) (uint64, error) {
		given <- within
		return 0, errors.New("no node")
	})
	err := shellEnd(t, out, done)
	if within := <-given; within > o.timeout {
		t.Fatalf("logged on again within %v, want within --timeout (%v)", within, o.timeout)
	}
	if err == nil || exitStatus(err) != 1 || !strings.Contains(err.Error(), "no new logon") {
		t.Fatalf("shell: %v, want the connection's end (exit status 1)\n%s", err, out.String())
	}
}

// Typed at a terminal, `client shell --reconnect` whose connection ended
// in its last wait (after quit) and whose new logon failed printed
// "connection lost …; logging on again" and exited 0 without a word of
// the logon failing: the person was left to think it had logged on and
// that the answers waited for had come. It says so on standard error;
// the exit status stays the terminal's 0 (the help's rule: the person
// has read what came, and now that no new logon took its place).
func TestClientShellNoNewLogonInTheLastWaitAtATerminal(t *testing.T) {
	tty, _ := openPTY(t) // first: it skips the test where there is none
	addr := serveLoggedOn(t, func(_ net.Conn, fr *proto.FrameReader, _ *proto.Encoder) { readAll(fr) })
	o, s, out := loggedOnShell(t, addr)
	printed := make(chan error, 1)
	printed <- io.EOF // the printer's end: the connection ended in the last wait
	var stderr testkit.SyncBuffer
	sh := &shell{s: s}
	err := sh.end(nil, 0, tty, &stderr, o.wait, o.timeout, printed, func(*session, time.Duration) (uint64, error) {
		return 0, errors.New("no node")
	})
	if err != nil {
		t.Fatalf("shell: %v, want exit status 0 at a terminal\n%s", err, out.String())
	}
	wantLine(t, out.String(), `^connection lost \(EOF\); logging on again$`)
	wantLine(t, stderr.String(), `^client: connection closed, and no new logon: no node$`)
}
