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
//  1. An entry is added, or a request counted on it, once its request is
//     written, under the tag Resend returned, on the client it is written
//     to; answers are taken (answered) under the session's mutex too, so
//     none is taken before its request is counted.
//  2. Which requests an answer on the entry's client answers is the
//     client library's decision, made as its Next read the answer
//     (Message.ResendAnswers: the covering rule), not the printer's,
//     which may get to the answer after more requests were typed: the
//     answer under the tag of one of the entry's requests under way is
//     its own, and so is one whose ResendAnswers names one of them, or
//     the request whose busy or cut-short answer left the entry to ask
//     again, which the library kept until then (kept). One
//     on a later client, to a resend from at or before, is asked after
//     the entry's and covers it. A request on its client from before at,
//     made once the entry waits to ask again (none of its requests under
//     way, step 3), is its own too (coveredBy), and so is one under way
//     when the answer that left the entry open (kept) is taken, made
//     after that request or before it, on an entry from at or before the
//     entry's at: counted on the entry then (coveringUnderWay). Each asks
//     for all the entry waits for — the library ends the request it keeps
//     for it (Resend), or names it in that request's answer
//     (ResendAnswers), or, the request made before, is told it will not
//     be asked again (ForgetResend) — its answer says what comes of the
//     entry, and its asking again is the entry's (asksAgain); the entry
//     asks nothing again while it is under way. Of an entry with none of its requests
//     under way, waiting to ask again (step 3) — or none but older ones,
//     written before the answer's own request (outrun) — a complete or partial
//     answer on its client from at or before covers it, as the library
//     ends the ask it keeps: the reports of the inputs since came live on
//     the same connection. One cut short past at (not ResendCovered)
//     moves at on as the entry's own would (step 3): the entry's request
//     under way, from before, is overtaken, and its answer is then
//     another request's; the entry waits for the asking again from the
//     new at, which is its own.
//  3. Complete or partial (the node sent all it holds) ends the entry
//     once none of its requests is under way but those written before
//     the answer's own request, whose answers can bring it nothing more
//     (outrun) — one asked after the answer was read is a request of its
//     own, not answered by it;
//     cut short moves at on to where the rest starts, never back (an
//     answer from before at cut short before it brought none of the
//     entry's reports: cutAt); busy, refused
//     for the status rate or failed keep it (print asks again for the
//     first two — on a later client only if its new logon's catch-up
//     does not already ask from as early, and only while an entry waits
//     for that asking, one from its at or, after an answer of its own,
//     from before (waitsForAsking) — none of its requests under way, nor
//     a typed resend from at on its client asked for since the answer,
//     which is that asking: asksAgain; and not when the library says
//     an answer read before answered the request, ResendCovered; after
//     failed, which asking again does not help, an asking again
//     scheduled before is not its either, until a request of its own is
//     counted on it).
//     A partial or cut-short answer whose first input is past at+1 says
//     the node no longer holds the reports of the inputs in between: the
//     entry keeps that (gone), and once ended is kept, done, for step
//     5 — no later answer changes it. An answer saying its node holds
//     another history (client.Message.NewHistory) does that to every
//     entry of an earlier client: what it waits for will not come there,
//     and an answer that covers it brings that node's reports, not its.
//  4. An entry is under way from its request's write (each asking again
//     too, and a typed resend from its at on its client: that one's
//     answer is its own as well, step 2) until its answer, or another
//     answering it (ResendAnswers): each request counted, by its tag, so
//     the busy answer of one of two under way leaves it under way, not
//     asked again; until its requests are overtaken (step 2), or its old
//     connection's are gone (an answer on a later client). A piped
//     shell's settle waits for it.
//  5. At the shell's end every entry left is a resend whose reports did
//     not all come: report prints a line for each. A typed resend whose
//     request the connection's end lost counts as a failed command then
//     (not as reports missing too), and only then: a later logon's
//     catch-up that covers it (step 2) brought its reports. Entries a
//     catch-up covers wait for its answer: unanswered, they and it are
//     one line.
//
// Its mutex is taken under session.mu (requests are counted, and answers
// taken, in a send), never the other way.
type openResends struct {
	mu   sync.Mutex
	list []*openResend
	// typed counts the typed resends asked for (asked): an asking again
	// scheduled when it was n is superseded by a typed resend from its
	// after on its client numbered past n (asksAgain).
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
	// asks are the tags of the chain's requests written whose answers
	// are not taken yet, nor named in another answer's ResendAnswers — a
	// piped shell's settle waits for them.
	asks []uint64
	// typed is the number (openResends.typed) of the last typed resend
	// that was this entry's request; 0 if none.
	typed uint64
	// kept is the tag of the request whose answer — busy, cut short,
	// refused for the status rate or failed — left the entry open, or 0.
	// The library keeps the first two until asked again: an answer whose
	// ResendAnswers names it is the entry's own (step 2), the library
	// having ended that request with it. A request on its client from at
	// or before asks for all the entry waits for (step 2, coveredBy and
	// coveringUnderWay): its answer is the entry's own too, and kept moves
	// on to it — an asking again scheduled at another answer is then not
	// the entry's (asksAgain).
	kept uint64
	// failed: the last answer that was the entry's own was failed — the
	// node could not read its journal, and asking again does not help:
	// no asking again is for it (waitsForAsking) until a request of its
	// own is counted on it (underWay, coveringUnderWay).
	failed bool
	// gone names the reports an answer said the node no longer holds (a
	// partial one, or one cut short past at+1); "" if none.
	gone string
	// done: answered as far as the node holds, gone left (step 3): it
	// waits for nothing and no answer is its.
	done bool
}

const whyNoAnswer = "no answer"

// whyOtherHistory is what an entry of an earlier client waits for once
// a new logon's node says it holds another history (newHistoryLine).
const whyOtherHistory = "the new logon's node holds another history, in which they will not come"

// asked adds an entry for a typed resend from after written to c under
// tag, unless the same one is open; the entries on c asking from after
// count it under way, their own request too (step 4).
func (o *openResends) asked(c *client.Client, after int64, tag uint64) {
	after = max(after, 0) // as Resend sends it
	o.mu.Lock()
	defer o.mu.Unlock()
	o.typed++
	if !o.underWay(c, after, tag, o.typed) {
		o.list = append(o.list, &openResend{from: after, at: after, c: c, why: whyNoAnswer, asks: []uint64{tag}, typed: o.typed})
	}
}

// catchingUp adds an entry for a new logon's catch-up from after, written
// to c under tag (client.Redial). The entries of earlier clients it
// covers (step 2) wait for its answer now, whatever left them open — and,
// from where it asks, are the same reports for the same reason as its
// own entry, named once (report).
func (o *openResends) catchingUp(c *client.Client, after int64, tag uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, e := range o.list {
		if !e.done && e.c != c && after <= e.at {
			e.why = whyNoAnswer
		}
	}
	o.list = append(o.list, &openResend{from: after, at: after, c: c, tag: tag, why: whyNoAnswer, asks: []uint64{tag}})
}

// take takes, of the requests of e under way, the one an answer tagged
// seq is to and those its ResendAnswers names (step 2): it reports
// whether there was any.
func (e *openResend) take(seq uint64, answers []uint64) bool {
	n := len(e.asks)
	e.asks = slices.DeleteFunc(e.asks, func(t uint64) bool { return t == seq || slices.Contains(answers, t) })
	return len(e.asks) < n
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
	whole := !refused && (d.Reason == proto.ResendComplete || d.Reason == proto.ResendPartial)
	if m.NewHistory {
		// on's node holds another history than the earlier clients'
		// (step 3): what their entries wait for is of inputs it does not
		// hold, and no answer there brings it — one that covers them
		// brings that node's reports of its own inputs, or none.
		for _, e := range o.list {
			if !e.done && e.c != on {
				e.why, e.done, e.asks = whyOtherHistory, true, nil
			}
		}
	}
	left := o.list[:0]
	var keeping []*openResend // the entries m's request is now kept for
	for _, e := range o.list {
		own := false
		switch {
		case e.done: // waits for nothing
		case e.c != on: // asked after e's, on a later client
			own = after <= e.at
		default: // the library's verdict (step 2)
			own = e.take(m.Seq, m.ResendAnswers) || e.kept != 0 && slices.Contains(m.ResendAnswers, e.kept)
		}
		if !own {
			if !e.done && e.c == on && after <= e.at && !refused { // step 2's other answer on e's client, from as early
				switch {
				case whole && e.outrun(m.Seq):
					// e waits to ask again, none of its requests under way
					// but older ones this answer outran (outrun): its
					// reports, after at, came in this answer, and those
					// of the inputs since live. Not by tag: the library may
					// keep no request of e's (a refusal is forgotten; an
					// answer cut short past at, another request's, moved at
					// on, step 2), or have folded the one it kept into a
					// Resend from before at (Resend ends a kept ask it
					// covers) whose own answer is yet to come. Where it
					// keeps one, its after is at — an answer busy leaves it
					// where it was asked, one cut short moves both to rest
					// — and it ends that ask by this same rule (a complete
					// or partial answer from its after or earlier, made
					// before it was read, as every kept ask was).
					if e.noteGone(d); !e.end() {
						continue // what e asks for came
					}
				case again && d.Reason != proto.ResendBusy && !m.ResendCovered && rest > e.at:
					// It brought e's reports through rest, and is asked
					// again from there for the rest e asks for too
					// (askedAgain counts it on e): e's own request under way,
					// from an earlier at, is overtaken — its answer now
					// another's (it asks from before e.at) — and what
					// leaves e open is the rest not answered.
					e.noteGone(d)
					e.cutAt(rest)
					e.kept = m.Seq // the library keeps this answer's request, from rest
					keeping = append(keeping, e)
				}
			}
			left = append(left, e)
			continue
		}
		if e.c != on {
			e.asks = nil // its old connection's requests are gone
		} else if e.tag != 0 {
			if e.tag == m.Seq { // the catch-up's own answer: its after is Redial's
				e.from, e.at = after, after
			}
			e.tag = 0
		}
		switch {
		case refused:
			e.why = "refused for the account's status rate until the end"
			e.kept = m.Seq
			keeping = append(keeping, e)
		case d.Reason == proto.ResendFailed:
			e.failed, e.kept = true, m.Seq
			e.why = fmt.Sprintf("the node could not read its journal (answered failed; the reports from input %d on did not come)", d.FirstInputSeq)
			keeping = append(keeping, e)
		case d.Reason == proto.ResendBusy:
			e.why = "answered busy until the end"
			e.kept = m.Seq
			keeping = append(keeping, e)
		case again: // cut short: the rest is asked for from rest
			e.noteGone(d)
			e.cutAt(rest)
			e.kept = m.Seq
			keeping = append(keeping, e)
		default: // complete, or partial: all the node holds came
			if e.noteGone(d); !e.outrun(m.Seq) {
				break // one asked after the answer was read (step 3): its own answer is to come
			}
			if !e.end() {
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
	for _, e := range keeping { // once m is taken on every entry: the requests still under way
		o.coveringUnderWay(e, on)
	}
	return caught
}

// outrun drops from e's requests under way those written before the
// request tagged seq, whose answer, complete or partial on e's client
// from at or before e's at, brought every report e waits for — and
// reports whether none is left. Not named in that answer's
// ResendAnswers (the library names each one from its after or later),
// each asks from before its after: a request from before e's at counted
// on e (coveringUnderWay, coveredBy), whose answer can bring e nothing
// more, and whose busy answer, waited for, had e asked again for
// reports that all came. One written after (a larger tag) is a request
// of e's own, its answer to come (step 3). A later client's request
// counted on e (step 4), numbered apart, may go with them: e's reports
// came all the same. Called with mu held.
func (e *openResend) outrun(seq uint64) bool {
	e.asks = slices.DeleteFunc(e.asks, func(t uint64) bool { return t < seq })
	return len(e.asks) == 0
}

// coveringUnderWay counts on e, whose open request (kept) an answer on
// client on has just become — busy, cut short, refused for the status
// rate or failed — the requests of on under way on another entry of on
// from at or before e's at (step 2), made after kept or before it. Each
// asks for all e waits for, and its answer says what comes of e:
//
//   - one made after kept: the library ends the request it keeps for e
//     at its write, if it had read kept's answer by then (Resend), else
//     names kept in its answer when that answer ends it (ResendAnswers);
//   - one made before (`resend 3` then `resend 5`, the busy answer to 5
//     read while 3's is to come): complete or partial, its answer brought
//     every report e waits for, and failed, the node could not read its
//     journal there (asking again does not help); busy, cut short or
//     refused, it is asked again from its after (or, cut short, from
//     where it stopped), at or before e's at: that asking again is e's
//     (coveredBy), or, past e's at, the overtaken rest e asks from too.
//     The library, which keeps kept until asked again, is told at once
//     that it will not be (print: no entry waits for kept's asking
//     again): its verdict stays the shell's, and a Redial asks from the
//     older request, no later.
//
// Counted now, e asks nothing again meanwhile — asking from at beside it
// had the node replay the same reports twice, or answer busy each time
// while it replayed for the other — and, kept failed, its answer says
// whether to ask again. One written later is counted as it is written
// (underWay: coveredBy). Called with mu held.
func (o *openResends) coveringUnderWay(e *openResend, on *client.Client) {
	if e.tag != 0 {
		return // a catch-up's own answer is to come
	}
	for _, other := range o.list {
		if other == e || other.c != on || other.done || other.at > e.at {
			continue
		}
		for _, t := range other.asks {
			if !slices.Contains(e.asks, t) {
				e.asks = append(e.asks, t)
				e.failed = false // its answer says whether to ask again
			}
		}
	}
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
// nothing of e is under way until then. An answer of e's own to a
// request from before its at (step 2) may be cut short before at: it
// brought none of the reports e still waits for, and the line says so —
// "cut short after input N" alone, N below the input the line names,
// read as if the reports through N had come.
func (e *openResend) cutAt(rest int64) {
	e.why = fmt.Sprintf("cut short after input %d, and the rest asked for not answered", rest)
	if rest < e.at {
		e.why = fmt.Sprintf("cut short after input %d, before any report after input %d, and the rest asked for not answered", rest, e.at)
	}
	e.at = max(e.at, rest)
	e.asks = nil
}

// end ends e, answered as far as the node holds: it reports whether e is
// kept, done, for the reports gone.
func (e *openResend) end() (kept bool) {
	if e.gone == "" {
		return false
	}
	e.why, e.done, e.asks = e.gone, true, nil
	return true
}

// asksAgain reports whether a resend from after, to be written to c to
// ask again after the answer tagged tag on client on (busy, cut short or
// refused), is for any entry, one waiting for it (waitsForAsking, as
// decided at the answer): none, the reports came since (another answer
// covered them), and asking again would only have the node send them
// again. None either when a request from after on c is under way on every
// entry it asks for — the asking again scheduled at another answer from
// there, which fired first: its answer, not yet read, says whether to ask
// once more — or a typed resend from after on c was asked for since the
// answer (typed past since, typedSoFar then): that request is the asking
// again. Nor for an entry whose open request is newer than tag (kept): a
// newer request from as early answered it since, and that one's asking
// again is the entry's.
func (o *openResends) asksAgain(c, on *client.Client, after int64, since, tag uint64) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if slices.ContainsFunc(o.list, func(e *openResend) bool { return e.typed > since && e.c == c && e.asksFrom(c, after) }) {
		return false
	}
	return slices.ContainsFunc(o.list, func(e *openResend) bool {
		return e.waitsForAsking(c, on, after, tag) && (e.c != on || e.kept <= tag)
	})
}

// askedAgain counts the asking again from after, written to c under tag,
// under way on the entries it is for (step 4).
func (o *openResends) askedAgain(c *client.Client, after int64, tag uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.underWay(c, after, tag, 0)
}

// underWay counts the request from after written to c under tag under way
// on the entries it asks for — a typed resend (typed: its number; 0 for an
// asking again) on those of c only — and reports whether one of them asks
// from after and was first asked from there. Called with mu held.
func (o *openResends) underWay(c *client.Client, after int64, tag, typed uint64) (same bool) {
	for _, e := range o.list {
		from := e.asksFrom(c, after)
		if from && (typed == 0 || e.c == c) || e.coveredBy(c, after) {
			e.asks = append(e.asks, tag)
			e.failed = false // its answer says whether to ask again
			if typed != 0 {
				e.typed = typed
			}
			same = same || from && e.from == after
		}
	}
	return same
}

// coveredBy reports whether a request from after, written to c, is e's
// own though e asks from later: e is of c and waits to ask again, none of
// its requests under way. The request asks for all e waits for, and the
// library ends the request it keeps for e (Resend): the newer request's
// answer says what comes of e, and its asking again is e's (step 2).
func (e *openResend) coveredBy(c *client.Client, after int64) bool {
	return e.c == c && !e.done && e.tag == 0 && len(e.asks) == 0 && after < e.at
}

// typedSoFar is the number of typed resends asked for so far: an asking
// again scheduled now gives it to asksAgain.
func (o *openResends) typedSoFar() uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.typed
}

// waitsForAsking reports whether an entry waits for a resend from after,
// on client on, to ask again for its reports after the answer tagged tag
// read on on.
func (o *openResends) waitsForAsking(on *client.Client, after int64, tag uint64) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.ContainsFunc(o.list, func(e *openResend) bool { return e.waitsForAsking(on, on, after, tag) })
}

// waitsForAsking reports whether e waits for a resend from after, on
// client c, to ask again for its reports after the answer tagged tag on
// client on: none of its requests under way — whose answer says whether
// to ask again — its last answer not failed, and the resend one it asks
// from (asksFrom) or, the answer e's own (kept: a request from before at
// counted on it, step 2), one that covers it (coveredBy). That answer's
// request may be no other entry's any more — the entry it was written
// for overtaken by an answer cut short past it, which moved its at on —
// and its asking again, from before e's at, is then e's alone: the
// asking again of e's own, from at, was superseded by that request.
func (e *openResend) waitsForAsking(c, on *client.Client, after int64, tag uint64) bool {
	return !e.failed && (len(e.asks) == 0 && e.asksFrom(c, after) || e.c == on && e.kept == tag && e.coveredBy(c, after))
}

// asksFrom reports whether a resend from after, on client c, asks for
// e's reports and its answer is e's own (step 2): one on its client from
// its at, or on a later client from at or before.
func (e *openResend) asksFrom(c *client.Client, after int64) bool {
	switch {
	case e.done || e.tag != 0:
		return false
	case e.c != c:
		return after <= e.at
	}
	return after == e.at
}

// anyUnderWay reports whether an entry's request is waiting for its answer.
func (o *openResends) anyUnderWay() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, e := range o.list {
		if len(e.asks) > 0 {
			return true
		}
	}
	return false
}

// askFailed records that what (askingAgain, typedResend) from after on
// client c failed with err, on the entries that request was for (its
// tag, if any, no longer under way); lost: on c's connection (a later
// logon asks again), not refused by the client library.
func (o *openResends) askFailed(c *client.Client, after int64, tag uint64, what string, err error, lost bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, e := range o.list {
		// One that covers e (coveredBy) was counted on it: its failing is
		// e's too, but the reports lost are named, and a lost typed
		// resend counted as a failed command, once — on the entries it
		// asks from.
		from := e.asksFrom(c, after)
		if took := tag != 0 && e.take(tag, nil); !took && !from {
			continue
		}
		e.why = fmt.Sprintf("%s failed: %v", what, err)
		if lost && from && e.lost == "" {
			e.lost = what
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
