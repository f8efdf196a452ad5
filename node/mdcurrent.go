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
//  3. It is current again once a leader has been in touch since, and it
//     has applied the commit index that leader sent it first — what was
//     committed while it was away — or once it is the ready leader (its
//     barrier applied every earlier entry).
//  4. A member starts not current, as one that lost touch at its start:
//     its restored books may be older than what the others committed
//     while it was down, and it answers every Subscribe NotCurrent until
//     it is current by 3. (A node alone, with no cluster, is always
//     current.) After the whole cluster restarts, that is until a leader
//     is elected and ready, and for a follower until that leader's
//     first commit index reaches it — an idle leader sends one every
//     250–500 ms — and is applied. From the last member's Start
//     returning to every member current, measured in test runs of
//     TestAfterAWholeClusterRestartEveryMemberServesOnceCurrent (three
//     members in one process, under -race): 0.04 to 0.52 s with the
//     default 150 ms election timeout (4 runs), 0.74 to 0.80 s with
//     500 ms (3 runs) — the wait for the idle leader's commit index
//     most of it.
//  5. A member not yet current since its start is catching up, not cut
//     off: a follower restarted after a while waits for the leader's
//     retries, which back off while it is down (up to 10 s apart), and
//     then applies what was committed without it. It says so at info at
//     its start, and warns once if it is still not current mdStartWait
//     after it — no leader in touch, or what the leader committed not
//     yet applied; the warning of 1 is for a member that was current
//     and lost it.
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
}

// start sets l as at a cluster member's start, at now: not current
// (4), no leader heard yet.
func (l *leaderContact) start(now time.Time, grace time.Duration) {
	l.grace, l.started = grace, now
	l.current, l.touched, l.lost, l.target = false, time.Time{}, time.Time{}, 0
}

// update folds what the member knows at now into the decision and
// reports whether current changed.
func (l *leaderContact) update(now time.Time, c replicator.Contact) bool {
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
		return true
	}
	if !c.Leading {
		if !c.Heard.After(l.lost) || now.Sub(c.Heard) >= l.grace {
			return false // no leader in touch since it was lost
		}
		if l.target == 0 {
			l.target = c.LeaderCommit
		}
		if c.Applied < l.target {
			return false // catching up
		}
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
	n.log.Info().Msg("market data: not current until a leader is in touch and this member has applied what it had committed, or it is the ready leader: Subscribe refused (SubscribeReject NotCurrent) until then")
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
	if l.look(time.Now(), cl.r.Contact(), n.log) {
		n.mdHub.setCurrent(l.current)
	}
}

// look folds what the member knows at now into the decision (update),
// logs a change, and reports whether current changed. Under mu.
func (l *leaderContact) look(now time.Time, c replicator.Contact, log zerolog.Logger) bool {
	if !l.update(now, c) {
		if !l.current && !l.served && !l.startWarned && now.Sub(l.started) >= mdStartWait {
			l.startWarned = true
			log.Warn().Dur("since_start_ms", now.Sub(l.started)).Bool("leader_heard", !l.touched.IsZero()).
				Uint64("applied_index", c.Applied).Uint64("leader_commit", l.target).
				Msg("market data: not current yet since the start — no leader in touch, or what it committed not yet applied: the books may be stale; Subscribe refused (SubscribeReject NotCurrent) until it is")
		}
		return false
	}
	if l.current {
		log.Info().Uint64("applied_index", c.Applied).Uint64("leader_commit", l.target).Bool("leading", c.Leading).
			Msg("market data: in touch with a leader and caught up: serving subscribers")
		return true
	}
	log.Warn().Dur("no_leader_for_ms", l.grace).
		Msg("market data: no leader in touch: the books may be stale; subscribers closed and Subscribe refused (SubscribeReject NotCurrent) until one is")
	return true
}
