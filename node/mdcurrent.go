package node

import (
	"sync"
	"time"

	"github.com/ringex/ringex/replicator"
	"github.com/rs/zerolog"
)

// A cluster member serves market data from the books its own engine
// rebuilt from the committed inputs it applied. Cut off from the leader
// — a follower on the far side of a network split, a deposed leader — it
// applies nothing more and its books freeze while the market trades on,
// and nothing told its subscribers: no update, no close, and a new
// Subscribe there got the frozen book. A member restarted while the
// others trade restores a book older than theirs, and served it as
// current until it caught up. So:
//
//  1. A member that has not been in touch with a leader for its grace
//     (mdLeaderGrace, or five cluster.election_timeouts if longer) is not
//     current: it closes every market-data
//     subscriber, each of its subscriptions answered SubscribeReject
//     {NotCurrent} first, and answers every Subscribe so, until it is
//     current again. The subscriber moves to another member.
//  2. In touch means leading (the ready leader) or having been sent the
//     leader's commit index within the grace (replicator.Contact:
//     an AppendEntries, every 250–500 ms from a leader in touch).
//  3. It is current again once a leader has been in touch since, and its
//     market-data books reflect every input of the commit index that
//     leader sent it first — what was committed while it was away — or,
//     the ready leader, every input of the entries its barrier applied.
//     Raft's applying an entry only hands its inputs to the input ring:
//     the member waits until its state machine took the entries through
//     that index (replicator.Contact.Applied), then until its engine
//     applied the inputs they held (Contact.Inputs), then until the
//     fan-out consumed the market-data events the engine had published
//     by then — or the market-data port is closed, and the next Subscribe
//     opens it on an image of the engine's books, which hold those
//     inputs (mdProgress). Judged on raft's applied index alone, a member
//     whose engine lagged its raft served the book of its start.
//  4. A member starts not current, as one that lost touch at its start:
//     its restored books may be older than what the others committed
//     while it was down, and it answers every Subscribe NotCurrent until
//     it is current by 3. (A node alone, with no cluster, is always
//     current.) After the whole cluster restarts, that is until a leader
//     is elected and ready, and for a follower until that leader's
//     first commit index reaches it — an idle leader sends one every
//     250–500 ms — and its books reflect it. From the last member's Start
//     returning to every member current, measured in test runs of
//     TestAfterAWholeClusterRestartEveryMemberServesOnceCurrent (three
//     members in one process, under -race): 0.04 to 0.52 s with the
//     default 150 ms election timeout (4 runs), 0.74 to 0.80 s with
//     500 ms (3 runs) — the wait for the idle leader's commit index
//     most of it; 0.47 to 1.01 s with 500 ms beside two CPU-burning
//     loops, the books judged as 3 says (5 runs).
//  5. A member not yet current since its start is catching up, not cut
//     off: a follower restarted after a while waits for the leader's
//     retries, which back off while it is down (up to 10 s apart), and
//     then applies what was committed without it. It says so at info at
//     its start, and warns once if it is still not current mdStartWait
//     after it — no leader in touch, or what the leader committed not
//     yet in its books; the warning of 1 is for a member that was
//     current and lost it.
//
// A normal failover — the leader dies, the others elect one in a few
// hundred milliseconds — closes no follower's subscribers: the grace
// is five election timeouts or more (150 ms each by default: a failover
// takes two to three), and four to eight of
// the leader's commit-index messages (every 250–500 ms), so that a member
// paused for a moment on a loaded machine does not close them either.
const (
	mdLeaderGrace = 2 * time.Second
	// mdContactPoll is how often the member looks (watchLeaderContact);
	// a Subscribe refused NotCurrent looks at once as well.
	mdContactPoll = 100 * time.Millisecond
	// mdStartWait is how long a member may go without being current
	// after its start before it warns (5): two of a leader's retries at
	// their longest backoff, and the time to catch up.
	mdStartWait = 30 * time.Second
)

// leaderContact decides whether the member's market data is current.
// Its fields are under mu, which is taken before mdHub.mu.
type leaderContact struct {
	// grace and started (the member's start) are set by start, before
	// the watch starts, then read only.
	grace   time.Duration
	started time.Time

	mu      sync.Mutex
	current bool
	// touched is when the member was last known in touch with a leader
	// (zero: not since its start).
	touched time.Time
	// served: it has been current since its start; startWarned: it
	// warned it was not yet, mdStartWait after its start (5).
	served, startWarned bool
	// lost is when it stopped being current (zero: it has not been since
	// its start, and any leader heard since its raft opened counts);
	// target the commit index of the first leader heard since (0: none
	// yet).
	lost   time.Time
	target uint64
	// inputs is the last input the books must reflect to be current (3):
	// the last the state machine had handed over once it had taken the
	// target, or when the member was found the ready leader; -1: not yet
	// known. mark is the market-data ring's last published sequence once
	// the engine had applied inputs, every event of those inputs at or
	// below it; -1: the engine has not yet.
	inputs, mark int64
}

// mdProgress is how far the market data a member serves has come. Read
// in the order of its fields (Node.mdProgress): each read is as late as
// the one before or later.
type mdProgress struct {
	engine    int64 // the last input the engine applied
	published int64 // the market-data ring's last published sequence
	// fanout is the fan-out's sequence: the books reflect every event
	// through it. closed: no fan-out is deployed, and the next Subscribe
	// opens the port on an image of the engine's books as they are then.
	fanout int64
	closed bool
}

// booksThrough reports whether the books reflect every input through
// l.inputs, given p, setting mark once the engine applied them.
func (l *leaderContact) booksThrough(p mdProgress) bool {
	if l.mark < 0 {
		if p.engine < l.inputs {
			return false
		}
		l.mark = p.published
	}
	return p.closed || p.fanout >= l.mark
}

// start sets l as at a cluster member's start, at now: not current
// (4), no leader heard yet.
func (l *leaderContact) start(now time.Time, grace time.Duration) {
	l.grace, l.started = grace, now
	l.current, l.touched, l.lost, l.target = false, time.Time{}, time.Time{}, 0
	l.inputs, l.mark = -1, -1
}

// update folds what the member knows at now — of the leader, c; of its
// market data, p — into the decision and reports whether current
// changed.
func (l *leaderContact) update(now time.Time, c replicator.Contact, p mdProgress) bool {
	touch := c.Heard
	if c.Leading {
		touch = now
	}
	if touch.After(l.touched) {
		l.touched = touch
	}
	if l.current {
		if now.Sub(l.touched) < l.grace {
			return false
		}
		l.current, l.lost, l.target = false, now, 0
		l.inputs, l.mark = -1, -1
		return true
	}
	// A leader deposed before its books were current keeps the inputs it
	// awaited as the ready leader (inputs) until a follower's target
	// replaces them. They never make it current too early: deposed, it
	// passes the branch below as any follower must — a leader heard
	// since it was lost, within the grace, and raft applied through the
	// target — and the first time it does with no target, the target is
	// that leader's and the inputs are awaited anew. With a target set
	// before it led (a follower's, its entries not yet applied then),
	// the inputs it awaited as the ready leader cover that target: a
	// ready leader has applied every committed entry, so they are the
	// target's inputs or later ones — a later bound, not an earlier
	// one. A contact heard before it led still counts while within the
	// grace, as it would have had it stayed a follower; and being the
	// ready leader had kept touched up to its deposing, so a member
	// current when deposed stays current as long (TestLeaderContact's
	// deposed cases).
	if !c.Leading {
		if !c.Heard.After(l.lost) || now.Sub(c.Heard) >= l.grace {
			return false // no leader in touch since it was lost
		}
		if l.target == 0 {
			l.target = c.LeaderCommit
			l.inputs, l.mark = -1, -1 // a leader's, and only its, inputs are waited for
		}
		if c.Applied < l.target {
			return false // catching up
		}
	}
	if l.inputs < 0 {
		l.inputs = c.Inputs
	}
	if !l.booksThrough(p) {
		return false // its engine or its fan-out catching up
	}
	l.current, l.served = true, true
	return true
}

// startLeaderContact starts watching the leader contact (cluster only).
// The market-data port is not listening yet: no subscriber is closed.
func (n *Node) startLeaderContact() {
	c := &n.cl.contact // before the goroutine: no lock needed
	c.start(time.Now(), max(mdLeaderGrace, 5*n.cfg.Cluster.ElectionTimeout))
	n.mdHub.setCurrent(false)
	n.log.Info().Msg("market data: not current until a leader is in touch and this member's books reflect what that leader had committed, or it is the ready leader and its books reflect what it applied: Subscribe refused (SubscribeReject NotCurrent) until then")
	n.wg.Add(1)
	go n.watchLeaderContact()
}

func (n *Node) watchLeaderContact() {
	defer n.wg.Done()
	t := time.NewTicker(mdContactPoll)
	defer t.Stop()
	for {
		select {
		case <-n.stopping():
			return
		case <-t.C:
			n.checkLeaderContact()
		}
	}
}

// checkLeaderContact looks at the leader contact and tells the
// market-data port when its books stop or start being current.
func (n *Node) checkLeaderContact() {
	cl := n.cl
	if cl == nil || cl.r == nil {
		return
	}
	l := &cl.contact
	l.mu.Lock()
	defer l.mu.Unlock()
	c := cl.r.Contact() // before the progress: the books are judged against it
	if l.look(time.Now(), c, n.mdProgress(), n.log) {
		n.mdHub.setCurrent(l.current)
	}
}

// mdProgress reads how far the market data n serves has come, in the
// order mdProgress says: a few atomic loads, cheap at every look.
func (n *Node) mdProgress() mdProgress {
	p := mdProgress{engine: n.base + n.stats.engine.Sequence().Load()}
	p.published = n.md.published()
	if seq := n.mdHub.consumerSeq(); seq != nil {
		p.fanout = seq.Load()
	} else {
		p.closed = true
	}
	return p
}

// look folds what the member knows at now into the decision (update),
// logs a change, and reports whether current changed. Under mu.
func (l *leaderContact) look(now time.Time, c replicator.Contact, p mdProgress, log zerolog.Logger) bool {
	if !l.update(now, c, p) {
		if !l.current && !l.served && !l.startWarned && now.Sub(l.started) >= mdStartWait {
			l.startWarned = true
			log.Warn().Dur("since_start_ms", now.Sub(l.started)).Bool("leader_heard", !l.touched.IsZero()).
				Uint64("applied_index", c.Applied).Uint64("leader_commit", l.target).Int64("inputs_awaited", l.inputs).Int64("engine_applied", p.engine).
				Msg("market data: not current yet since the start — no leader in touch, or what it committed not yet in its books: the books may be stale; Subscribe refused (SubscribeReject NotCurrent) until it is")
		}
		return false
	}
	if l.current {
		log.Info().Uint64("applied_index", c.Applied).Uint64("leader_commit", l.target).Int64("books_through_input", l.inputs).Bool("leading", c.Leading).
			Msg("market data: in touch with a leader and caught up: serving subscribers")
		return true
	}
	log.Warn().Dur("no_leader_for_ms", l.grace).
		Msg("market data: no leader in touch: the books may be stale; subscribers closed and Subscribe refused (SubscribeReject NotCurrent) until one is")
	return true
}
