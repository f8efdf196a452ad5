package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// errReportsMissing is a piped shell's end when a resend it asked for
// was not answered in full before it ended (exit status
// exitReportsMissing): the reports a script asked for did not all come.
var errReportsMissing = errors.New("client shell: the reports a resend asked for were not all received")

// errResendLost is a typed resend's error when its request could not be
// written — the connection had died: a new logon's catch-up (--reconnect)
// asks for its reports, and the shell counts it as a failed command at
// its end only if they did not come.
var errResendLost = errors.New("resend not sent")

// What failed to ask for an entry's reports (openResend.lost).
const (
	askingAgain = "asking again"
	typedResend = "resend"
)

// openResends follows the resends the shell asks for — a typed `resend
// AFTER`, a new logon's catch-up (--reconnect), and each asking again
// after an answer busy, cut short or refused — through their chains of
// answers, one entry per chain, until answered in full:
//
//  1. An entry is added before its request is written (the answer may be
//     read before Resend returns), on the client it is written to.
//  2. An answer on that client to a resend from the entry's at (a new
//     logon's catch-up: under the tag Redial gave it) is the entry's; one
//     on a later client, to a resend from at or before, is asked after
//     the entry's and covers it. One on that client to another resend
//     from at or before that brought reports (complete, partial, cut short)
//     covers it as far as it goes, whether asked before or after: the
//     reports of the inputs between the two requests came live on the
//     same connection — but its busy, refused or failed answer says
//     nothing of the entry's, still under way. One cut short past at
//     moves at on as the entry's own would (step 3): the entry's request
//     under way, from before, is overtaken, and its answer is then
//     another request's; the entry waits for the asking again from the
//     new at, which is its own.
//  3. Complete or partial (the node sent all it holds) ends the entry;
//     cut short moves at on to where the rest starts; busy, refused
//     for the status rate or failed keep it (print asks again for the
//     first two — on a later client only if its new logon's catch-up
//     does not already ask from as early, and only while an entry waits
//     for that asking — none of its requests under way, nor a typed
//     resend from at on its client asked for since the answer, which is
//     that asking: askingAgain). A
//     partial or cut-short answer
//     whose first input is past at+1 says the node no longer holds the
//     reports of the inputs in between: the entry keeps that (gone), and
//     once ended is kept, done, for step 5 — no later answer changes it.
//  4. An entry is under way from its request's write (each asking again
//     too, and a typed resend from its at on its client: that one's
//     answer is its own as well, step 2) until an answer: each request
//     counted, so the busy answer of one of two under way leaves it under
//     way, not asked again; until its requests are overtaken (step 2), or
//     its old connection's are gone (an answer on a later client). A
//     piped shell's settle waits for it.
//  5. At the shell's end every entry left is a resend whose reports did
//     not all come: report prints a line for each. A typed resend whose
//     request the connection's end lost counts as a failed command then
//     (not as reports missing too), and only then: a later logon's
//     catch-up that covers it (step 2) brought its reports. Entries a
//     catch-up covers wait for its answer: unanswered, they and it are
//     one line.
//
// Its mutex is taken under session.mu (entries are added in a send),
// never the other way.
type openResends struct {
	mu   sync.Mutex
	list []*openResend
	// typed counts the typed resends asked for (asked, tag 0): an
	// asking again scheduled when it was n is superseded by a typed
	// resend from its after on its client numbered past n (askingAgain).
	typed uint64
}

// openResend is one chain of resend requests not answered in full.
type openResend struct {
	from int64          // the after first asked for: what the line at the end names
	at   int64          // the after of the request under way (moved on by answers cut short)
	c    *client.Client // the client it was asked on
	// tag: a new logon's catch-up not answered yet (from and at: its
	// after, client.RedialAfter): its answer is the one under this tag —
	// another request from the same after on its client is not it. 0
	// once answered.
	tag uint64
	why string // what left it open: the last answer, or its asking failing
	// lost: what failed to ask for it on c's connection (askingAgain, or
	// typedResend: the shell's `resend` whose write failed); "" if none.
	// A later logon's catch-up (it asks from the start of c's open
	// resends) says so when it covers the entry.
	lost string
	// underWay counts the requests of the chain written (or about to be)
	// whose answers are not read yet — a piped shell's settle waits for
	// them.
	underWay int
	// typed is the number (openResends.typed) of the last typed resend
	// that was this entry's request; 0 if none.
	typed uint64
	// gone names the reports an answer said the node no longer holds (a
	// partial one, or one cut short past at+1); "" if none.
	gone string
	// done: answered as far as the node holds, gone left (step 3): it
	// waits for nothing and no answer is its.
	done bool
}

const whyNoAnswer = "no answer"

// asked adds an entry for a resend from after about to be written to c
// (tag: a new logon's catch-up, already written, whose answer is not read
// yet), unless the same one is open; the entries on c asking from after
// count it under way, their own request too (step 4). It returns the
// entry added, or nil.
func (o *openResends) asked(c *client.Client, after int64, tag uint64) *openResend {
	after = max(after, 0) // as Resend sends it
	o.mu.Lock()
	defer o.mu.Unlock()
	if tag == 0 {
		o.typed++
	}
	same := false
	for _, e := range o.list {
		if tag == 0 && e.c == c && e.asksFrom(c, after) {
			e.underWay++
			e.typed = o.typed
			same = same || e.from == after
		}
	}
	if same {
		return nil
	}
	if tag != 0 {
		// A new logon's catch-up: the entries of earlier clients it
		// covers (step 2) wait for its answer now, whatever left them
		// open — and, from where it asks, are the same reports for the
		// same reason as its own entry, named once (report).
		for _, e := range o.list {
			if !e.done && e.c != c && after <= e.at {
				e.why = whyNoAnswer
			}
		}
	}
	e := &openResend{from: after, at: after, c: c, tag: tag, why: whyNoAnswer, underWay: 1}
	if tag == 0 {
		e.typed = o.typed
	}
	o.list = append(o.list, e)
	return e
}

// forget drops e (nil: none), added by asked for a resend from after on
// c that was not written after all, and takes that request off the
// entries asked counted it for.
func (o *openResends) forget(c *client.Client, after int64, e *openResend) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.list = slices.DeleteFunc(o.list, func(x *openResend) bool { return x == e })
	for _, x := range o.list {
		if x.c == c && x.asksFrom(c, after) {
			x.underWay = max(x.underWay-1, 0)
		}
	}
}

// covers reports whether an answer read on client on, to the resend
// tagged seq from after, answers e (step 2).
func (e *openResend) covers(on *client.Client, seq uint64, after int64) bool {
	switch {
	case e.done:
		return false
	case e.c != on:
		return after <= e.at
	case e.tag != 0:
		return seq == e.tag
	}
	return after == e.at
}

// answered takes m, read on client on, as an answer to the entries it
// covers: a ResendDone, or the rate-limit refusal of a resend (resendToRetry
// names it: after is the after it refused). It returns a line for each
// entry whose asking had failed on its connection and a later logon's
// resend brought.
func (o *openResends) answered(on *client.Client, m *client.Message, after int64) (caught []string) {
	d := &m.ResendDone
	refused := m.Type != wire.MessageResendDone
	if !refused {
		after = d.AfterInputSeq
	}
	rest, again := m.ResendAgain()
	o.mu.Lock()
	defer o.mu.Unlock()
	left := o.list[:0]
	for _, e := range o.list {
		if !e.covers(on, m.Seq, after) {
			if !e.done && e.c == on && after <= e.at && !refused { // step 2's other answer on e's client, from as early (a catch-up's: not under its tag)
				e.noteGone(d)
				switch {
				case d.Reason == proto.ResendComplete || d.Reason == proto.ResendPartial:
					if !e.end() {
						continue // what e asks for came
					}
				case again && d.Reason != proto.ResendBusy && rest > e.at:
					// It brought e's reports through rest, and is asked
					// again from there for the rest e asks for too
					// (askingAgain marks e): e's own request under way,
					// from an earlier at, is overtaken — its answer now
					// another's (it asks from before e.at) — and what
					// leaves e open is the rest not answered.
					e.cutAt(rest)
				}
			}
			left = append(left, e)
			continue
		}
		if e.tag != 0 && e.c == on { // the catch-up's own answer: its after is Redial's
			e.tag, e.from, e.at = 0, after, after
		}
		if e.c == on {
			e.underWay = max(e.underWay-1, 0) // one answered: any other still to come
		} else {
			e.underWay = 0 // its old connection's requests are gone
		}
		switch {
		case refused:
			e.why = "refused for the account's status rate until the end"
		case d.Reason == proto.ResendFailed:
			e.why = fmt.Sprintf("the node could not read its journal (answered failed; the reports from input %d on did not come)", d.FirstInputSeq)
		case d.Reason == proto.ResendBusy:
			e.why = "answered busy until the end"
		case again: // cut short: the rest is asked for from rest
			e.noteGone(d)
			e.cutAt(rest)
		default: // complete, or partial: all the node holds came
			if e.noteGone(d); !e.end() {
				if e.lost != "" && e.c != on {
					caught = append(caught, fmt.Sprintf("the reports after input %d, which %s failed for, came in the new logon's resend", e.from, e.lost))
				}
				continue
			}
		}
		left = append(left, e)
	}
	clear(o.list[len(left):])
	o.list = left
	return caught
}

// noteGone records in e the reports d, an answer that covers e, says the
// node no longer holds (step 3): the first it says so of.
func (e *openResend) noteGone(d *proto.ResendDone) {
	var how string
	switch d.Reason {
	case proto.ResendPartial:
		how = "answered partial"
	case proto.ResendCut:
		how = "answered cut short"
	}
	if how != "" && d.FirstInputSeq > e.at+1 && e.gone == "" {
		e.gone = fmt.Sprintf("%s: the node no longer holds the reports of inputs %d..%d", how, e.at+1, d.FirstInputSeq-1)
	}
}

// cutAt records in e an answer cut short that brought its reports
// through rest: the rest is asked for from there (print asks again), and
// nothing of e is under way until then.
func (e *openResend) cutAt(rest int64) {
	e.at = max(e.at, rest)
	e.why = fmt.Sprintf("cut short after input %d, and the rest asked for not answered", rest)
	e.underWay = 0
}

// end ends e, answered as far as the node holds: it reports whether e is
// kept, done, for the reports gone.
func (e *openResend) end() (kept bool) {
	if e.gone == "" {
		return false
	}
	e.why, e.done, e.underWay = e.gone, true, 0
	return true
}

// askingAgain counts a resend from after, about to be written to c to
// ask again (after an answer busy, cut short or refused), under way on
// the entries it is for. It reports whether there is any: none, the
// reports came since (another answer covered them), and asking again
// would only have the node send them again. (Whether to ask again was
// decided at the answer: waitsForAsking.) None either when a typed
// resend from after on c was asked for since the answer (typed past
// since, typedSoFar then): that request is the asking again, and its own
// answer says whether to ask once more.
func (o *openResends) askingAgain(c *client.Client, after int64, since uint64) (found bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if slices.ContainsFunc(o.list, func(e *openResend) bool { return e.typed > since && e.c == c && e.asksFrom(c, after) }) {
		return false
	}
	for _, e := range o.list {
		if e.asksFrom(c, after) {
			e.underWay++
			found = true
		}
	}
	return found
}

// typedSoFar is the number of typed resends asked for so far: an asking
// again scheduled now gives it to askingAgain.
func (o *openResends) typedSoFar() uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.typed
}

// waitsForAsking reports whether an entry waits for a resend from after,
// on client c, to ask again for its reports.
func (o *openResends) waitsForAsking(c *client.Client, after int64) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.ContainsFunc(o.list, func(e *openResend) bool { return e.waitsForAsking(c, after) })
}

// waitsForAsking reports whether e waits for a resend from after, on
// client c, to ask again for its reports: one it asks from (asksFrom),
// none of its requests under way.
func (e *openResend) waitsForAsking(c *client.Client, after int64) bool {
	return e.underWay == 0 && e.asksFrom(c, after)
}

// asksFrom reports whether a resend from after, on client c, asks for
// e's reports and its answer is e's own (step 2): one on its client from
// its at, or on a later client from at or before.
func (e *openResend) asksFrom(c *client.Client, after int64) bool {
	return e.tag == 0 && e.covers(c, 0, after)
}

// anyUnderWay reports whether an entry's request is waiting for its answer.
func (o *openResends) anyUnderWay() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, e := range o.list {
		if e.underWay > 0 {
			return true
		}
	}
	return false
}

// askFailed records that what (askingAgain, typedResend) from after on
// client c failed with err, on the entries that request was for; lost: on
// c's connection (a later logon asks again), not refused by the client
// library.
func (o *openResends) askFailed(c *client.Client, after int64, what string, err error, lost bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, e := range o.list {
		if e.asksFrom(c, after) {
			e.why = fmt.Sprintf("%s failed: %v", what, err)
			if lost && e.lost == "" {
				e.lost = what
			}
			e.underWay = max(e.underWay-1, 0)
		}
	}
}

// report prints, on w, a line for each resend not answered in full
// (step 5) and returns how many of them are typed resends the
// connection's end lost (failed commands: a piped shell exits 1 for
// them) and how many are the others (missing: exit status 3) — each
// counted once, in the count that decides the exit. Entries whose lines are
// the same — a resend under way when the connection ended and the new
// logon's catch-up asking from where it did, neither answered — are the
// same reports missing for the same reason: named, and counted, once.
func (o *openResends) report(w io.Writer) (missing, failed int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	said := map[string]bool{}
	for _, e := range o.list {
		why := e.why
		if e.gone != "" && !e.done { // the rest not answered either
			why += "; " + e.gone
		}
		line := fmt.Sprintf("the reports after input %d were not all received: %s\n", e.from, why)
		if said[line] {
			continue
		}
		said[line] = true
		io.WriteString(w, line)
		if e.lost == typedResend {
			failed++
		} else {
			missing++
		}
	}
	return missing, failed
}
