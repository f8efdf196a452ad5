package node

import (
	"fmt"
	"testing"
	"time"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// heldReplays makes every replay of the resend worker wait, once it
// has its job, until the test lets it go on: entered says a job holds
// the worker, each send on proceed lets one go on. Nothing is timed:
// which request holds the worker is known, not raced for. Restored by
// a Cleanup: after the node's Stop (replayingNode's Cleanup, registered
// after it, runs first).
func heldReplays(t *testing.T) (entered <-chan struct{}, proceed chan<- struct{}) {
	t.Helper()
	in, on := make(chan struct{}), make(chan struct{})
	orig := afterSenderBatch
	t.Cleanup(func() { afterSenderBatch = orig })
	afterSenderBatch = func(n *Node) bool {
		select {
		case in <- struct{}{}:
		case <-n.stopCh:
			return false
		}
		select {
		case <-on:
		case <-n.stopCh:
			return false
		}
		return orig(n)
	}
	return in, on
}

// replayingNode starts a node whose every resend is the worker's, by
// replaying the journal (no recent reports), and whose status requests
// are not rate-limited; it stops with the test.
func replayingNode(t *testing.T) (*config.Config, Addrs) {
	t.Helper()
	cfg := testConfig(t, t.TempDir())
	cfg.Gateway.RecentReports = 0
	cfg.Gateway.StatusRate = 0
	n, addrs, _ := startNode(t, cfg)
	t.Cleanup(func() { n.Stop() })
	return cfg, addrs
}

// resendDones reads c's messages on a goroutine of its own and passes on
// each ResendDone; the channel is closed when reading ends.
func resendDones(c *client.Client) <-chan proto.ResendDone {
	dones := make(chan proto.ResendDone, 16)
	go func() {
		defer close(dones)
		for {
			c.SetReadDeadline(time.Now().Add(time.Minute))
			m, err := c.Next()
			if err != nil {
				return
			}
			if m.Type == wire.MessageResendDone {
				dones <- m.ResendDone
			}
		}
	}()
	return dones
}

// awaitDone is the next ResendDone from dones (received's wait).
func awaitDone(t *testing.T, who string, dones <-chan proto.ResendDone) proto.ResendDone {
	t.Helper()
	d, sent := receivedWithin(t, receiveWait, dones, who+": no ResendDone within 10 s")
	if !sent {
		t.Fatalf("%s: the session ended", who)
	}
	return d
}

// awaitEntered waits (received's wait) until a job holds the worker.
func awaitEntered(t *testing.T, who string, entered <-chan struct{}) {
	t.Helper()
	received(t, entered, who+": the worker took no job within 10 s")
}

// One account asking for a replay again as soon as its answer ends does
// not keep the resend worker from another account's requests: the
// accounts take turns. Account 3 asks, and while its replay holds the
// worker account 2 asks and is answered busy; account 3's answer ends
// and it asks again at once. Before, it found the worker free every
// time and account 2 was answered busy in every round (5 here: in
// production each round is a replay of up to ~13 s, for as long as
// account 3 kept asking). Now account 3 is answered busy — account 2
// waited through its turn — and account 2, asking again, is served;
// then account 2, asking again at once, waits for account 3's turn in
// the same way.
func TestResendTurnsBetweenAccounts(t *testing.T) {
	entered, proceed := heldReplays(t)
	cfg, addrs := replayingNode(t)
	in := cfg.Instruments[0]
	a, b := dial(t, addrs.Gateway, 3), dial(t, addrs.Gateway, 2)
	placeAndCancel(t, a, in.ReferencePrice-in.TickSize, in.LotSize, 5)
	placeAndCancel(t, b, in.ReferencePrice-in.TickSize, in.LotSize, 5)
	aDones, bDones := resendDones(a), resendDones(b)

	a.Resend(0)
	awaitEntered(t, "account 3's first replay", entered)
	const rounds = 5
	for round := 1; round <= rounds; round++ {
		b.Resend(0)
		if d := awaitDone(t, "account 2", bDones); d.Reason != proto.ResendBusy {
			t.Fatalf("round %d: account 2 asked while account 3's replay held the worker: %+v, want busy", round, d)
		}
		proceed <- struct{}{}
		if d := awaitDone(t, "account 3", aDones); d.Reason != proto.ResendComplete || d.Count != 10 {
			t.Fatalf("round %d: account 3's answer %+v", round, d)
		}
		a.Resend(0) // at once, as its answer ended
		_, d, took := receivedEither(t, entered, aDones, fmt.Sprintf("round %d: account 3's request neither took the worker nor was answered in 10 s", round))
		if took {
			t.Logf("round %d: account 3 took the worker again as its answer ended; account 2 waits", round)
			continue
		}
		if d.Reason != proto.ResendBusy {
			t.Fatalf("round %d: account 3 asking again: %+v, want busy (account 2's turn)", round, d)
		}

		// Account 2, asking again, has its turn.
		b.Resend(0)
		awaitEntered(t, "account 2's turn", entered)
		proceed <- struct{}{}
		if d := awaitDone(t, "account 2", bDones); d.Reason != proto.ResendComplete || d.Count != 10 {
			t.Fatalf("round %d: account 2's turn: %+v", round, d)
		}
		// Asking again at once, it waits for account 3's turn in the
		// same way: account 3 waited through its turn.
		b.Resend(0)
		if d := awaitDone(t, "account 2", bDones); d.Reason != proto.ResendBusy {
			t.Fatalf("account 2 asking again after its turn, account 3 waiting: %+v, want busy", d)
		}
		a.Resend(0)
		awaitEntered(t, "account 3's turn", entered)
		proceed <- struct{}{}
		if d := awaitDone(t, "account 3", aDones); d.Reason != proto.ResendComplete {
			t.Fatalf("account 3's turn: %+v", d)
		}
		// Account 2 asks again and is served; then, nobody else
		// waiting, account 3 asks again and again and is never held.
		b.Resend(0)
		awaitEntered(t, "account 2's second turn", entered)
		proceed <- struct{}{}
		if d := awaitDone(t, "account 2", bDones); d.Reason != proto.ResendComplete {
			t.Fatalf("account 2's second turn: %+v", d)
		}
		for i := range 3 {
			a.Resend(0)
			if _, d, took := receivedEither(t, entered, aDones, "account 3's request neither took the worker nor was answered in 10 s"); !took {
				t.Fatalf("account 3 asking again (%d), nobody else waiting: %+v, want served", i, d)
			}
			proceed <- struct{}{}
			if d := awaitDone(t, "account 3", aDones); d.Reason != proto.ResendComplete {
				t.Fatalf("account 3 alone (%d): %+v", i, d)
			}
		}
		return
	}
	t.Fatalf("account 2 was answered busy in each of %d rounds: account 3 took the worker again each time its answer ended", rounds)
}

// An account alone at the worker is never held back: asking again at
// once after its answer ends it is served, though a request of its own
// (another session's) was answered busy during the replay — and though
// another account was, once that one has stopped asking for
// resendWaitGone (its client gave up).
func TestResendLoneAccountIsNotHeldBack(t *testing.T) {
	saved := resendWaitGone
	resendWaitGone = 200 * time.Millisecond // read at the node's start
	t.Cleanup(func() { resendWaitGone = saved })
	entered, proceed := heldReplays(t)
	cfg, addrs := replayingNode(t)
	in := cfg.Instruments[0]
	a1, a2, b := dial(t, addrs.Gateway, 3), dial(t, addrs.Gateway, 3), dial(t, addrs.Gateway, 2)
	placeAndCancel(t, a1, in.ReferencePrice-in.TickSize, in.LotSize, 5)
	a1Dones, a2Dones, bDones := resendDones(a1), resendDones(a2), resendDones(b)

	// served asks on c and checks it takes the worker at once and is
	// answered in full.
	served := func(what string, c *client.Client, dones <-chan proto.ResendDone) {
		t.Helper()
		c.Resend(0)
		if _, d, took := receivedEither(t, entered, dones, what+": neither took the worker nor was answered in 10 s"); !took {
			t.Fatalf("%s: %+v, want served", what, d)
		}
		proceed <- struct{}{}
		if d := awaitDone(t, what, dones); d.Reason != proto.ResendComplete || d.Count != 10 {
			t.Fatalf("%s: %+v", what, d)
		}
	}

	a1.Resend(0)
	awaitEntered(t, "account 3's replay", entered)
	a2.Resend(0) // the same account's other session
	if d := awaitDone(t, "account 3's other session", a2Dones); d.Reason != proto.ResendBusy {
		t.Fatalf("another session of account 3 during its replay: %+v, want busy", d)
	}
	proceed <- struct{}{}
	if d := awaitDone(t, "account 3", a1Dones); d.Reason != proto.ResendComplete {
		t.Fatalf("account 3: %+v", d)
	}
	for range 5 {
		served("account 3 asking again at once", a1, a1Dones)
		served("account 3's other session asking again at once", a2, a2Dones)
	}

	// Account 2, answered busy once, gives up.
	a1.Resend(0)
	awaitEntered(t, "account 3's replay", entered)
	b.Resend(0)
	if d := awaitDone(t, "account 2", bDones); d.Reason != proto.ResendBusy {
		t.Fatalf("account 2 during account 3's replay: %+v, want busy", d)
	}
	proceed <- struct{}{}
	if d := awaitDone(t, "account 3", a1Dones); d.Reason != proto.ResendComplete {
		t.Fatalf("account 3: %+v", d)
	}
	time.Sleep(2 * resendWaitGone) // account 2 asks no more
	for range 3 {
		served("account 3, account 2 having given up", a1, a1Dones)
	}
}

// Three accounts asking for replays again and again, the same one always
// first as the worker comes free, the same one always last: each has a
// turn in every three (round-robin). A hold-off of only the account just
// served would have the first two take turns and the last wait for as
// long as they kept asking.
func TestResendTurnsOfThreeAccounts(t *testing.T) {
	entered, proceed := heldReplays(t)
	_, addrs := replayingNode(t)
	type asker struct {
		account uint32
		c       *client.Client
		dones   <-chan proto.ResendDone
	}
	var askers []asker // in the order they ask as the worker comes free
	for _, account := range []uint32{3, 2, 1} {
		c := dial(t, addrs.Gateway, account)
		askers = append(askers, asker{account, c, resendDones(c)})
	}
	// ask has a ask for a replay: true when its request took the worker,
	// false when it was answered busy.
	ask := func(a asker) bool {
		t.Helper()
		a.c.Resend(0)
		_, d, took := receivedEither(t, entered, a.dones, fmt.Sprintf("account %d: its request neither took the worker nor was answered in 10 s", a.account))
		if !took && d.Reason != proto.ResendBusy {
			t.Fatalf("account %d: %+v, want busy or the worker", a.account, d)
		}
		return took
	}

	if !ask(askers[0]) {
		t.Fatal("the first request found the worker busy")
	}
	holder := askers[0]
	var turns []uint32
	for len(turns) < 6 {
		turns = append(turns, holder.account)
		for _, a := range askers { // while the holder's replay holds the worker
			if a != holder && ask(a) {
				t.Fatalf("account %d took the worker while account %d's replay held it", a.account, holder.account)
			}
		}
		proceed <- struct{}{}
		if d := awaitDone(t, "the holder", holder.dones); d.Reason != proto.ResendComplete {
			t.Fatalf("account %d's turn: %+v", holder.account, d)
		}
		next := -1
		for i, a := range askers { // the worker is free: each asks in order until one takes it
			if ask(a) {
				next = i
				break
			}
		}
		if next < 0 {
			t.Fatalf("after %v, each account asking was answered busy, the worker free", turns)
		}
		holder = askers[next]
	}
	proceed <- struct{}{}
	awaitDone(t, "the holder", holder.dones)
	for i := 0; i+3 <= len(turns); i++ {
		if w := turns[i : i+3]; w[0] == w[1] || w[1] == w[2] || w[0] == w[2] {
			t.Fatalf("turns %v: accounts %v in a row, want each of the three in every three", turns, w)
		}
	}
	t.Logf("turns %v", turns)
}

// A request refused the worker while another account's turn is under
// way makes its account wait through that turn, even when the turn ends
// before the refusal is answered (the worker frees itself on its own
// goroutine, the sender answers busy on its): the account whose turn
// ended, asking again at once, is answered busy too. Recorded only when
// the answer was encoded, the wait began after that turn had ended, and
// the account took a second turn before the refused one had its first.
func TestResendTurnRefusedAsTheTurnEnds(t *testing.T) {
	n := &Node{resendJobs: make(chan resendJob, 1), resendTurns: newResendTurns([]config.Account{{ID: 2}, {ID: 3}})}
	enc := proto.NewEncoder()
	a, b := resendJob{account: 3, tag: 1}, resendJob{account: 2, tag: 2}
	if !n.toWorker(a) {
		t.Fatal("account 3's first request refused a free worker")
	}
	<-n.resendJobs // the worker has it
	if n.toWorker(b) {
		t.Fatal("account 2's request given a busy worker")
	}
	n.resendTurns.release() // account 3's turn ends ...
	n.busyAnswer(enc, b)    // ... before account 2's refusal is answered
	if n.toWorker(a) {
		t.Fatal("account 3 took a second turn at once, though account 2 was refused during its first")
	}
	if !n.toWorker(b) {
		t.Fatal("account 2, refused during account 3's turn, refused the free worker")
	}
}

// An account refused the worker whose next request is answered from the
// recent reports waits no more: left waiting, it held back for
// resendWaitGone every account that had a turn, the worker standing free.
func TestResendTurnAnsweredFromMemoryWaitsNoMore(t *testing.T) {
	n := &Node{resendJobs: make(chan resendJob, 1), resendTurns: newResendTurns([]config.Account{{ID: 2}, {ID: 3}})}
	a, b := resendJob{account: 3, tag: 1}, resendJob{account: 2, tag: 2}
	if !n.toWorker(a) {
		t.Fatal("account 3's first request refused a free worker")
	}
	<-n.resendJobs
	if n.toWorker(b) {
		t.Fatal("account 2's request given a busy worker")
	}
	n.resendTurns.release()
	n.resendTurns.answered(b.account) // account 2 asks again, answered from memory
	if !n.toWorker(a) {
		t.Fatal("account 3 held back by account 2, whose request was answered without the worker")
	}
}
