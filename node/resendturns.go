package node

import (
	"sync"
	"time"

	"github.com/ringex/ringex/config"
)

// Turns at the resend worker (resend.go). The worker counts as free from
// before it sends a job's ResendDone, so a client that asks for a replay
// again as soon as its answer ends finds it free every time, while the
// requests of other accounts — coming at any moment, mostly during its
// replays, each up to ~13 s — are answered busy for as long as it keeps
// asking. So accounts take the worker in turns:
//
//  1. A request refused the worker (take; answered busy) makes its
//     account wait for the worker from then on — unless the worker is
//     serving that account: its turn is under way. (A request whose
//     session logged off before it was answered waits too: it holds
//     the others back no longer than one whose client gave up, 3.)
//  2. An account may take the free worker unless another account waits
//     that began waiting before this one's last turn ended (it waited
//     through that turn): then this one is answered busy, and waits.
//  3. An account stops waiting when its turn begins, when a request of
//     it is answered from the recent reports (answered), or once it has
//     not asked for resendWaitGone (its client gave up, or went away).
//
// Invariant: an account waits only since after its last turn ended (1;
// 3 at a turn's start). So of the waiting accounts, the one whose last
// turn ended first (or that never had one) yields to none (2): the
// worker never stays free with every asker held back, and accounts that
// keep asking take it round-robin — each waiting one before any other
// has a second turn. An account is held back only by another account
// answered busy before its last turn ended, and still asking: a lone
// client is never held back, and for it nothing changes.
//
// The state is one entry per configured account (an account not in the
// config, which no session is of, has none and takes the worker as
// before), under mu, taken a few times per request, never per event.
type resendTurns struct {
	mu sync.Mutex
	// busy: the worker has a job (the only slot of resendJobs is taken
	// or about to be); serving is its account's entry, if it has one.
	busy    bool
	serving *resendTurn
	// tick orders the turns' ends and the waits' starts.
	tick     uint64
	accounts map[uint32]*resendTurn
	// waiting lists the accounts waiting (waitingSince != 0), each once.
	waiting []*resendTurn
	gone    time.Duration // resendWaitGone at the node's start
}

// resendTurn is one account's turns.
type resendTurn struct {
	ended        uint64    // tick its last turn ended; 0: it had none
	waitingSince uint64    // tick it began waiting; 0: not waiting
	asked        time.Time // when its last request was answered busy
}

// resendWaitGone is how long an account waiting for the worker may go
// without asking again and still hold other accounts back: clients ask
// again a little after a busy answer (`ringex client resend` after
// 200 ms), well within it. A waiting account that gave up costs the
// others at most this, once. A variable for tests.
var resendWaitGone = 5 * time.Second

func newResendTurns(accounts []config.Account) *resendTurns {
	t := &resendTurns{accounts: make(map[uint32]*resendTurn, len(accounts)), gone: resendWaitGone}
	for _, a := range accounts {
		t.accounts[a.ID] = new(resendTurn)
	}
	return t
}

// take makes the worker busy with a job of account, unless it is busy
// or account must let another have its turn first (2). Refused, account
// waits from then (1): recorded here, under the lock that saw the
// worker busy — recorded when the busy answer was encoded, after the
// worker (on its own goroutine) had ended the turn under way, the wait
// began after that turn, and its account took a second one at once.
func (t *resendTurns) take(account uint32, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	me := t.accounts[account]
	if t.busy || t.heldBack(me, now) {
		t.wait(me, now)
		return false
	}
	t.busy, t.serving = true, me
	if me != nil && me.waitingSince != 0 {
		me.waitingSince = 0
		t.waiting = deleteTurn(t.waiting, me)
	}
	return true
}

// heldBack reports whether me must let a waiting account have its turn
// first (2). Called with mu held.
func (t *resendTurns) heldBack(me *resendTurn, now time.Time) bool {
	if me == nil || me.ended == 0 {
		return false
	}
	for _, o := range t.waiting {
		if o != me && o.waitingSince < me.ended && now.Sub(o.asked) < t.gone {
			return true
		}
	}
	return false
}

// answered records that a request of account was answered without the
// worker (from the recent reports): the account no longer waits for it.
// Left waiting, it held back for resendWaitGone every account that had
// a turn, while the worker stood free.
func (t *resendTurns) answered(account uint32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if me := t.accounts[account]; me != nil && me.waitingSince != 0 {
		me.waitingSince = 0
		t.waiting = deleteTurn(t.waiting, me)
	}
}

// release frees the worker: the turn under way ends.
func (t *resendTurns) release() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.serving != nil {
		t.tick++
		t.serving.ended = t.tick
	}
	t.busy, t.serving = false, nil
}

// wait records that a request of me was refused the worker (1). Called
// with mu held.
func (t *resendTurns) wait(me *resendTurn, now time.Time) {
	if me == nil || me == t.serving {
		return
	}
	if me.waitingSince == 0 || now.Sub(me.asked) >= t.gone { // a new wait
		if me.waitingSince == 0 {
			t.waiting = append(t.waiting, me)
		}
		t.tick++
		me.waitingSince = t.tick
	}
	me.asked = now
}

// deleteTurn removes turn from list (where it is once).
func deleteTurn(list []*resendTurn, turn *resendTurn) []*resendTurn {
	for i, o := range list {
		if o == turn {
			list[i] = list[len(list)-1]
			list[len(list)-1] = nil
			return list[:len(list)-1]
		}
	}
	return list
}
