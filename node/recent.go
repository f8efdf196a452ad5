package node

import (
	"math"

	"github.com/ringex/ringex/disruptor"
	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/internal/pieces"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// Recent reports. The common resend is a client reconnecting after a
// short outage and asking for the few reports it missed; rebuilding them
// by a journal replay costs seconds of CPU beside live trading
// (resend.go). The execution sender therefore keeps its last
// gateway.recent_reports events that carry resendable reports, and
// answers a request they cover itself, in sequence, without the worker.
//
// One goroutine at a time touches a recentReports: the execution sender
// (which also runs resend steps through it for other goroutines, between
// its batches), or the engine goroutine while the node follows
// (publishReport).
//
// Invariant: the kept events are every resendable report event the
// sender saw with an input sequence above floor, in the order it saw
// them; each account's kept events are linked newest to oldest.

// recentEntry is one kept event and the links of the accounts it reports
// to: link[0] is the previous entry of ev.Account's chain, link[1] of
// ev.MakerAccount's (EvTrade only, and only when another account); -1:
// none.
type recentEntry struct {
	ev   engine.Event
	link [2]int64
}

type recentReports struct {
	entries *disruptor.Ring[recentEntry]
	size    int64
	next    int64 // entry number the next kept event gets; entry k is kept while k >= next-size
	floor   int64 // complete for input sequences above floor
	// floorTime is the receive time (Unix ns) of input floor, or of a
	// later one: how far back in time the kept events reach.
	floorTime int64
	started   bool // an event was seen: floor is set
	// heads[a] is the newest entry of account a's chain, -1 for none,
	// for accounts below len(heads); the others' are in moreHeads.
	heads     []int64
	moreHeads map[uint32]int64
	picking   recentPick      // pick's, reused
	events    []*engine.Event // pick's answer, reused
}

// newRecentReports keeps the last size events; size is a power of two.
// Accounts up to maxAccount find their chain by index (a map lookup and
// store per event were half of keep's cost), others through a map.
func newRecentReports(size int, maxAccount uint32) (*recentReports, error) {
	entries, err := disruptor.NewRing[recentEntry](size)
	if err != nil {
		return nil, err
	}
	heads := make([]int64, min(maxAccount, maxIndexedAccount)+1)
	for i := range heads {
		heads[i] = -1 // no chain yet
	}
	return &recentReports{entries: entries, size: int64(size), heads: heads, moreHeads: make(map[uint32]int64)}, nil
}

// maxIndexedAccount bounds the chain heads kept by index (8 bytes each).
const maxIndexedAccount = 1 << 16

// resendable reports whether a resend repeats ev's reports: every
// execution report but the answers to status requests (a refusal of one
// included) and the end of a mass cancel's (answers to one session's
// request, not changes).
func resendable(ev *engine.Event) bool {
	switch proto.ReportKind(ev.Type) {
	case wire.ExecKindNone, wire.ExecKindStatus, wire.ExecKindStatusDone, wire.ExecKindMassCancelDone:
		return false
	}
	return !ev.Query
}

// keep records ev when it carries resendable reports.
func (r *recentReports) keep(ev *engine.Event) {
	if !r.started {
		// The first event the sender sees: events of its input before it
		// may have been published before the live stage opened.
		r.floor, r.floorTime, r.started = ev.Seq, ev.Timestamp, true
		return
	}
	if !resendable(ev) {
		return
	}
	k := r.next
	e := r.entries.ForWrite(k)
	if k >= r.size && e.ev.Seq > r.floor {
		r.floor, r.floorTime = e.ev.Seq, e.ev.Timestamp // it leaves: an event of its input may be gone
	}
	e.ev = *ev
	e.link[0] = r.link(ev.Account, k)
	e.link[1] = -1
	if ev.Type == engine.EvTrade && ev.MakerAccount != ev.Account {
		e.link[1] = r.link(ev.MakerAccount, k)
	}
	r.next++
}

// link makes entry k the newest of account's chain and returns the one
// before it.
func (r *recentReports) link(account uint32, k int64) int64 {
	if int(account) < len(r.heads) {
		prev := r.heads[account]
		r.heads[account] = k
		return prev
	}
	prev, ok := r.moreHeads[account]
	if !ok {
		prev = -1
	}
	r.moreHeads[account] = k
	return prev
}

// head is the newest entry of account's chain, -1 for none.
func (r *recentReports) head(account uint32) int64 {
	if int(account) < len(r.heads) {
		return r.heads[account]
	}
	if k, ok := r.moreHeads[account]; ok {
		return k
	}
	return -1
}

// recentPick is one request's way through the kept events: it walks the
// account's chain newest to oldest, noting the entries that answer the
// request, then copies them oldest first. The execution sender's own
// answers walk at once and send from the entries (pick); larger ones,
// answered by other goroutines (pickRecent), are walked and copied in
// steps between the sender's batches (step), so a long chain
// never holds up live reports for more than one step.
type recentPick struct {
	account       uint32
	after, before int64 // the inputs asked for: after < seq < before
	begun, walked bool
	next          int64          // the next entry of the chain to walk
	entries       []int64        // walked, newest first
	events        []engine.Event // copied, oldest first
}

// start aims p at a new request, keeping its memory.
func (p *recentPick) start(account uint32, after, before int64) {
	*p = recentPick{account: account, after: after, before: before, entries: p.entries[:0], events: p.events[:0]}
}

// walk follows p's chain for at most *work entries (counting them off
// *work) and notes the ones that answer it; false when the kept events do
// not cover the request or more than most of them would have to be sent.
func (r *recentReports) walk(p *recentPick, work *int, most int) bool {
	if !p.begun {
		if !r.started || p.after < r.floor {
			return false
		}
		p.begun, p.next = true, r.head(p.account)
	}
	for ; !p.walked && *work > 0; *work-- {
		k := p.next
		if k < 0 || k < r.next-r.size {
			// The chain's first event was walked, or this one has left
			// (and every one before it): the inputs up to floor are gone.
			p.walked = true
			return p.after >= r.floor
		}
		e := r.entries.At(k)
		if e.ev.Seq <= p.after {
			p.walked = true
			return true
		}
		if e.ev.Seq < p.before { // later ones came after the request
			if len(p.entries) == most {
				return false
			}
			p.entries = append(p.entries, k)
		}
		if e.ev.Account == p.account {
			p.next = e.link[0]
		} else {
			p.next = e.link[1]
		}
	}
	return true
}

// step walks, then copies, at most work entries of p; done once the
// answer is copied whole, ok false when the kept events do not cover the
// request (or more than most would have to be sent), or when an entry
// left before it was copied. Between steps the kept events may change:
// each step finds out whether what it still needs is there.
//
// A step appends only into the room reserve made: the worker grows p's
// memory on its own goroutine, not on the sender's.
func (r *recentReports) step(p *recentPick, work, most int) (done, ok bool) {
	if !p.walked {
		return false, r.walk(p, &work, most)
	}
	for ; work > 0 && len(p.events) < len(p.entries); work-- {
		k := p.entries[len(p.entries)-1-len(p.events)]
		if k < r.next-r.size {
			return false, false
		}
		p.events = append(p.events, r.entries.At(k).ev)
	}
	return len(p.events) == len(p.entries), true
}

// reserve makes room for what the next step of work entries may add —
// all the copies at once once the walk is done — and touches it, so the
// step neither allocates nor faults pages in.
func (p *recentPick) reserve(work int) {
	if !p.walked {
		p.entries = pieces.Grow(p.entries, work)
	} else {
		p.events = pieces.Grow(p.events, len(p.entries)-len(p.events))
	}
}

// pick lists, oldest first, the kept events that report to account for
// inputs after after — or returns false when the kept events do not
// cover after, or more than most of them would have to be sent. The list
// is valid until the next pick or keep.
func (r *recentReports) pick(account uint32, after int64, most int) ([]*engine.Event, bool) {
	p := &r.picking
	p.start(account, after, math.MaxInt64)
	work := math.MaxInt
	if !r.walk(p, &work, most) {
		return nil, false
	}
	events := r.events[:0]
	for i := len(p.entries) - 1; i >= 0; i-- {
		events = append(events, &r.entries.At(p.entries[i]).ev)
	}
	r.events = events
	return events, true
}

// reportsTo fills reps with the reports ev carries to account, the way
// the execution sender first sent them (the taker's, then the maker's),
// and returns how many.
func reportsTo(ev *engine.Event, account uint32, reps *[2]proto.Report) int {
	var rep proto.Report
	if !resendable(ev) || !proto.ReportOf(ev, &rep) {
		return 0
	}
	n := 0
	if ev.Account == account {
		reps[n] = rep
		n++
	}
	if ev.Type == engine.EvTrade && ev.MakerAccount == account {
		proto.TakerToMaker(ev, &rep)
		reps[n] = rep
		n++
	}
	return n
}
