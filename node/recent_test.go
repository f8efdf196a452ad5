package node

import (
	"errors"
	"fmt"
	"math"
	"math/rand"
	"slices"
	"testing"
	"time"

	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/gateway"
)

// seqsOf is the input sequence of each picked event, or nil when pick
// said the kept events do not cover the request.
func seqsOf(r *recentReports, account uint32, after int64, most int) []int64 {
	events, ok := r.pick(account, after, most)
	if !ok {
		return nil
	}
	seqs := []int64{}
	for _, ev := range events {
		seqs = append(seqs, ev.Seq)
	}
	return seqs
}

// Each account's chain holds exactly the kept events that report to it:
// as taker or maker of a trade, once for a trade with itself; status
// answers are not kept.
func TestRecentReportsChains(t *testing.T) {
	r, err := newRecentReports(16, 2) // account 3 by the map
	if err != nil {
		t.Fatal(err)
	}
	r.keep(&engine.Event{Type: engine.EvAccepted, Seq: 1, Account: 1}) // the first event: sets the floor
	for _, ev := range []engine.Event{
		{Type: engine.EvAccepted, Seq: 2, Account: 1},
		{Type: engine.EvAccepted, Seq: 3, Account: 2},
		{Type: engine.EvOrderStatus, Seq: 4, Account: 1},
		{Type: engine.EvStatusDone, Seq: 4, Account: 1},
		{Type: engine.EvTrade, Seq: 5, Account: 2, MakerAccount: 1},
		{Type: engine.EvTrade, Seq: 5, Account: 2, MakerAccount: 3},
		{Type: engine.EvTrade, Seq: 6, Account: 3, MakerAccount: 3},
		{Type: engine.EvRejected, Seq: 7, Account: 1},
	} {
		r.keep(&ev)
	}
	for _, c := range []struct {
		account uint32
		after   int64
		want    []int64
	}{
		{1, 1, []int64{2, 5, 7}},
		{1, 5, []int64{7}},
		{2, 1, []int64{3, 5, 5}},
		{3, 1, []int64{5, 6}},
		{4, 1, []int64{}},
		{1, 0, nil}, // before the first event: not covered
	} {
		if got := seqsOf(r, c.account, c.after, 100); !slices.Equal(got, c.want) || (got == nil) != (c.want == nil) {
			t.Errorf("account %d after %d: %v, want %v", c.account, c.after, got, c.want)
		}
	}
	if got := seqsOf(r, 1, 1, 2); got != nil {
		t.Errorf("three events for account 1 with at most two allowed: %v", got)
	}
	if got := seqsOf(r, 1, 1, 3); len(got) != 3 {
		t.Errorf("three events allowed: %v", got)
	}
}

// stepSeqs picks in steps of work entries, the way the resend worker
// does, and returns the input sequence of each copied event, or nil when
// a step said the kept events do not cover the request.
func stepSeqs(r *recentReports, account uint32, after, before int64, work, most int) []int64 {
	var p recentPick
	p.start(account, after, before)
	for {
		p.reserve(work)
		done, ok := r.step(&p, work, most)
		if !ok {
			return nil
		}
		if done {
			break
		}
	}
	seqs := []int64{}
	for _, ev := range p.events {
		seqs = append(seqs, ev.Seq)
	}
	return seqs
}

// A pick made in steps finds what a pick at once finds, whatever the
// step, and leaves out the events of inputs after the request's.
func TestRecentReportsStepsFindWhatPickFinds(t *testing.T) {
	r, _ := newRecentReports(64, 4)
	r.keep(&engine.Event{Type: engine.EvAccepted, Seq: 1, Account: 1})
	for seq := int64(2); seq <= 40; seq++ {
		r.keep(&engine.Event{Type: engine.EvTrade, Seq: seq, Account: uint32(seq % 3), MakerAccount: uint32(seq % 5)})
	}
	for account := uint32(0); account < 5; account++ {
		for _, after := range []int64{0, 1, 7, 30, 40} {
			want := seqsOf(r, account, after, 100)
			for _, work := range []int{1, 2, 7, 1000} {
				if got := stepSeqs(r, account, after, math.MaxInt64, work, 100); !slices.Equal(got, want) || (got == nil) != (want == nil) {
					t.Errorf("account %d after %d in steps of %d: %v, want %v", account, after, work, got, want)
				}
			}
		}
	}
	if got, all := stepSeqs(r, 1, 1, 21, 3, 100), seqsOf(r, 1, 1, 100); !slices.Equal(got, all[:slices.Index(all, 21)]) {
		t.Errorf("account 1's events of inputs 2…20: %v (all after 1: %v)", got, all)
	}
	if n := len(seqsOf(r, 1, 1, 100)); stepSeqs(r, 1, 1, math.MaxInt64, 3, n-1) != nil || stepSeqs(r, 1, 1, math.MaxInt64, 3, n) == nil {
		t.Errorf("the bound of %d events", n)
	}
}

// Between two steps newer events may push out the ones a pick still
// needs: the next step finds out, and the request goes to the journal.
func TestRecentReportsStepsLoseLeftEvents(t *testing.T) {
	var seq int64
	keep := func(r *recentReports, count int) {
		for range count {
			seq++
			r.keep(&engine.Event{Type: engine.EvAccepted, Seq: seq, Account: 1})
		}
	}
	steps := func(r *recentReports, p *recentPick, count int) (done, ok bool) {
		for range count {
			if done, ok = r.step(p, 2, 100); done || !ok {
				return done, ok
			}
		}
		return done, ok
	}

	// While walking: the events not yet walked leave.
	seq = 0
	r, _ := newRecentReports(8, 1)
	keep(r, 9) // events 2…9 kept
	var p recentPick
	p.start(1, 2, math.MaxInt64)
	if done, ok := steps(r, &p, 1); done || !ok {
		t.Fatalf("first step: done %v, ok %v", done, ok)
	}
	keep(r, 4) // 2…5 leave: floor 5
	if _, ok := steps(r, &p, 10); ok {
		t.Error("a walk through events that left was taken as whole")
	}
	p.start(1, 6, math.MaxInt64)
	if done, ok := steps(r, &p, 10); !done || !ok || len(p.events) != 7 {
		t.Errorf("after the floor: done %v, ok %v, %d events", done, ok, len(p.events))
	}

	// Walked, then the oldest leave before they are copied.
	p.start(1, 7, math.MaxInt64)
	if done, ok := steps(r, &p, 4); done || !ok || !p.walked { // 8…13, and 7 ends it
		t.Fatalf("walk: done %v, ok %v, walked %v", done, ok, p.walked)
	}
	keep(r, 3) // 6…8 leave
	if _, ok := steps(r, &p, 10); ok {
		t.Error("copied events that had left")
	}
	// Copied before they left: whole.
	p.start(1, 9, math.MaxInt64)
	if done, ok := steps(r, &p, 10); !done || !ok || len(p.events) != 7 || p.events[0].Seq != 10 {
		t.Errorf("after 9: done %v, ok %v, %+v", done, ok, p.events)
	}
	keep(r, 8)
	if p.events[0].Seq != 10 {
		t.Errorf("the copy changed with the kept events: %+v", p.events[0])
	}
}

// The recent reports against a naive reference — every event ever kept,
// in a list — over seeded random events and requests: whenever a pick,
// at once or in steps with events kept between the steps, says it has
// the answer, it is exactly the reference's; when it says it has not,
// the reference agrees that the request reaches back past what is kept
// or is too large.
func TestRecentReportsAgainstAReference(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	const size, accounts = 64, 5
	r, _ := newRecentReports(size, 3) // accounts 4 and 5 by the map
	var all []engine.Event            // the last kept events, oldest first
	floor, seq, started := int64(0), int64(1), false
	keep := func() {
		if rng.Intn(3) > 0 {
			seq++
		}
		ev := engine.Event{Seq: seq, Account: uint32(1 + rng.Intn(accounts))}
		switch rng.Intn(5) {
		case 0:
			ev.Type = engine.EvAccepted
		case 1:
			ev.Type = engine.EvCancelled
		case 2:
			ev.Type = engine.EvOrderStatus // not kept
		default:
			ev.Type, ev.MakerAccount = engine.EvTrade, uint32(1+rng.Intn(accounts))
		}
		r.keep(&ev)
		if !started { // the first event only sets the floor
			floor, started = ev.Seq, true
			return
		}
		if resendable(&ev) {
			all = append(all, ev)
			if len(all) > size {
				floor = max(floor, all[len(all)-size-1].Seq)
			}
			if len(all) > 4*size { // requests reach back 60 inputs at most
				all = append(all[:0], all[len(all)-2*size:]...)
			}
		}
	}
	want := func(account uint32, after, before int64) []int64 {
		seqs := []int64{}
		for _, ev := range all {
			if ev.Seq > after && ev.Seq < before && (ev.Account == account || ev.Type == engine.EvTrade && ev.MakerAccount == account) {
				seqs = append(seqs, ev.Seq)
			}
		}
		return seqs
	}
	picks, answered := 0, 0
	for range 100_000 {
		keep()
		if rng.Intn(4) > 0 {
			continue
		}
		picks++
		account := uint32(1 + rng.Intn(accounts))
		after := seq - 1 - int64(rng.Intn(60))
		most := 1 + rng.Intn(40)
		if rng.Intn(2) == 0 { // at once, as the sender answers
			ref := want(account, after, math.MaxInt64)
			got := seqsOf(r, account, after, most)
			switch {
			case got != nil && !slices.Equal(got, ref):
				t.Fatalf("pick account %d after %d: %v, want %v", account, after, got, ref)
			case got == nil && after >= floor && len(ref) <= most:
				t.Fatalf("pick account %d after %d (floor %d): none, want %v", account, after, floor, ref)
			case got != nil:
				answered++
			}
			continue
		}
		// In steps of 1–8 entries, 0–3 events kept between steps.
		before := seq + 1
		ref := want(account, after, before)
		var p recentPick
		p.start(account, after, before)
		work := 1 + rng.Intn(8)
		var done, ok bool
		for {
			p.reserve(work)
			if done, ok = r.step(&p, work, most); done || !ok {
				break
			}
			for range rng.Intn(4) {
				keep()
			}
		}
		got := []int64{}
		for _, ev := range p.events {
			got = append(got, ev.Seq)
		}
		switch {
		case ok && !slices.Equal(got, ref):
			t.Fatalf("steps account %d after %d: %v, want %v", account, after, got, ref)
		case !ok && after >= floor && len(ref) <= most:
			t.Fatalf("steps account %d after %d (floor %d): refused, want %v", account, after, floor, ref)
		case ok:
			answered++
		}
	}
	if answered < picks/4 {
		t.Fatalf("only %d of %d picks answered: the test reaches too far back", answered, picks)
	}
}

// When an event leaves, the inputs up to its own are no longer covered
// (another event of that input may have left before it).
func TestRecentReportsFloor(t *testing.T) {
	r, _ := newRecentReports(4, 4)
	r.keep(&engine.Event{Type: engine.EvAccepted, Seq: 1, Account: 1})
	for seq := int64(2); seq <= 7; seq++ { // six events into four places: 2 and 3 leave
		r.keep(&engine.Event{Type: engine.EvAccepted, Seq: seq, Account: uint32(seq % 2), Timestamp: 1000 * seq})
	}
	if r.floor != 3 || r.floorTime != 3000 {
		t.Errorf("floor %d at %d, want input 3, received at 3000", r.floor, r.floorTime)
	}
	if got := seqsOf(r, 1, 2, 10); got != nil {
		t.Errorf("after 2, with 3 gone: %v", got)
	}
	if got := seqsOf(r, 1, 3, 10); !slices.Equal(got, []int64{5, 7}) {
		t.Errorf("account 1 after 3: %v", got)
	}
	if got := seqsOf(r, 0, 3, 10); !slices.Equal(got, []int64{4, 6}) {
		t.Errorf("account 0 after 3: %v", got)
	}

}

// Keeping an event costs no allocation once the account is known.
func TestRecentReportsKeepAllocatesNothing(t *testing.T) {
	r, _ := newRecentReports(1024, 1)
	ev := engine.Event{Type: engine.EvTrade, Account: 1, MakerAccount: 2}
	allocs := testing.AllocsPerRun(1000, func() {
		ev.Seq++
		r.keep(&ev)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per kept event", allocs)
	}
}

func BenchmarkRecentReportsKeep(b *testing.B) {
	r, _ := newRecentReports(1<<20, 4)
	evs := []engine.Event{
		{Type: engine.EvAccepted, Account: 1},
		{Type: engine.EvTrade, Account: 2, MakerAccount: 1},
		{Type: engine.EvCancelled, Account: 3},
	}
	b.ReportAllocs()
	for i := range b.N {
		ev := &evs[i%len(evs)]
		ev.Seq = int64(i)
		r.keep(ev)
	}
}

// A cluster member keeps the reports of the inputs it applied while it
// followed — it sends and counts none of them (the engine goroutine
// counts them) — so once it leads, the clients that reconnect get what
// they missed from memory. The engine goroutine takes the memory from
// the sender only once the sender has finished every event published
// before (the race detector watches the hand-overs). Here the test's
// goroutine plays the engine's part; the sender runs on its own.
func TestRecentReportsKeptWhileFollowing(t *testing.T) {
	n := &Node{cfg: testConfig(t, t.TempDir()), cl: &cluster{}}
	n.stats.init(1)
	var err error
	if n.exec, err = newRing[engine.Event]("execution", 64, false, waitStrategy(""), nil); err != nil {
		t.Fatal(err)
	}
	if n.recent, err = newRecentReports(256, 4); err != nil {
		t.Fatal(err)
	}
	if n.gw, err = gateway.New(gateway.Config{}, nil); err != nil {
		t.Fatal(err)
	}
	if n.stats.sender, err = n.exec.add("sender", n.sendBatch); err != nil {
		t.Fatal(err)
	}
	if err := n.exec.start(); err != nil {
		t.Fatal(err)
	}
	defer n.exec.halt()
	// The resend worker's steps through the memory, on the sender's
	// goroutine between its batches, all along.
	stopPicks, picks := make(chan struct{}), make(chan error, 1)
	go func() {
		var p recentPick
		for {
			select {
			case <-stopPicks:
				picks <- nil
				return
			default:
			}
			p.start(1, 1, math.MaxInt64)
			var done, ok bool
			for !done {
				p.reserve(recentStepWork)
				if !n.stats.sender.Do(func() { done, ok = n.recentStep(&p) }) {
					picks <- errors.New("the sender stopped")
					return
				}
				if !ok {
					break // the engine keeps the memory
				}
			}
			for i := range p.events {
				if done && p.events[i].Seq != int64(i+2) {
					picks <- fmt.Errorf("picked %+v at %d", p.events[i], i)
					return
				}
			}
		}
	}()
	seq := int64(0)
	inputs := func(count int, leading bool) {
		n.cl.accepting.Store(leading)
		for range count {
			seq++
			n.publishReport(&engine.Event{Type: engine.EvTrade, Seq: seq, Account: 1, MakerAccount: 2})
		}
	}
	for range 20 { // leading and following by turns, the sender busy or not
		inputs(3, true)
		inputs(2, false)
	}
	inputs(1, true)
	for n.stats.sender.Sequence().Load() < n.exec.published() {
		time.Sleep(time.Millisecond)
	}
	close(stopPicks)
	if err := <-picks; err != nil {
		t.Fatal(err)
	}
	got := seqsOf(n.recent, 1, 1, 1000)
	if len(got) != int(seq-1) || got[0] != 2 || got[len(got)-1] != seq {
		t.Fatalf("account 1's kept events after input 1: %v, want 2…%d", got, seq)
	}
	// Each leading trade's two reports found no session: dropped. The
	// following ones were never sent; the engine counted their trades.
	leading := int64(20*3 + 1)
	if dropped, trades := n.stats.dropped.Load(), n.stats.batchTrades+n.stats.trades.Load(); dropped != 2*leading || trades != leading {
		t.Errorf("the sender dropped %d reports and counted %d trades, want %d and %d", dropped, trades, 2*leading, leading)
	}
	if n.stats.standbyTrades != 40 {
		t.Errorf("the engine counted %d trades while following, want 40", n.stats.standbyTrades)
	}
}

// BenchmarkRecentReportsStep walks and copies an answer through a full
// default-size memory the way the resend worker's steps do: densely
// (every event the account's) and sparsely (one in 8 — every link a
// cache miss). ns/step and max-ns/step are how long the execution
// sender holds up live reports for one step.
func BenchmarkRecentReportsStep(b *testing.B) {
	for _, every := range []int{1, 8} {
		b.Run(fmt.Sprintf("one-in-%d", every), func(b *testing.B) {
			const size = 1 << 20
			r, _ := newRecentReports(size, 16)
			for i := range size + 1 {
				account := uint32(2)
				if i%every == 0 {
					account = 1
				}
				r.keep(&engine.Event{Type: engine.EvAccepted, Seq: int64(i + 1), Account: account})
			}
			answer := min(recentMemoryMost, size/every)
			after := int64(size+1) - int64(answer*every)
			var p recentPick
			var steps int
			var longest, inSteps time.Duration
			for b.Loop() {
				p.start(1, after, math.MaxInt64)
				for {
					p.reserve(recentStepWork) // on the worker
					start := time.Now()
					done, ok := r.step(&p, recentStepWork, recentMemoryMost)
					took := time.Since(start)
					longest, inSteps = max(longest, took), inSteps+took
					steps++
					if !ok {
						b.Fatal("not covered")
					}
					if done {
						break
					}
				}
				if len(p.events) != answer {
					b.Fatalf("copied %d, want %d", len(p.events), answer)
				}
			}
			b.ReportMetric(float64(inSteps.Nanoseconds())/float64(steps), "ns/step")
			b.ReportMetric(float64(longest.Nanoseconds()), "max-ns/step")
		})
	}
}
