package node

import (
	"slices"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/output"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// A connection's snapshots of books it was sent one of before are
// bounded together (snapshotRepeatEvery, snapshotRepeatBurst), not only
// each book's (snapshotAgainAfter): a client following 40 books, asking
// again for each in a loop, drew all 40 whole books at every round —
// min(N, message_rate) a second. Its first snapshots, one per book, go
// at once however many (a client subscribing to every book at its
// logon); of its repeats, snapshotRepeatBurst go at once and the rest
// are deferred, the asks meanwhile drawing nothing more; a subscriber
// beside it gets its snapshots of every book at once; and the deferred
// snapshots go once the allowance has room, none lost.
func TestARepeatingConnectionsSnapshotsAreBoundedTogether(t *testing.T) {
	const books = 40
	cfg := config.Default()
	h := newMDHub(&Node{cfg: cfg, log: zerolog.Nop()})
	h.ready = true
	h.snapshotAgain = 0       // each book's bound is TestSubscribeAgainDrawsOneSnapshotOfABookASecond's
	h.repeatEvery = time.Hour // the allowance comes back only when the test says so
	ids := make([]uint32, books)
	for i := range ids {
		ids[i] = uint32(1000 + i)
		f := &mdFeed{book: output.MDBook{Instrument: ids[i]}}
		for k := range int64(20) {
			f.book.Apply(engine.Buy, 90_000-k, 5, 1)
		}
		h.feeds[ids[i]] = f
	}
	sub, fr := pipeSubscriber(t, cfg.MarketData.SendBufferBytes)
	snapshots := func(fr *proto.FrameReader, n int) []uint32 {
		t.Helper()
		var got []uint32
		for range n {
			got = append(got, proto.BookSnapshotAt(expectMDFrame(t, fr, wire.MessageBookSnapshot)).Instrument)
		}
		slices.Sort(got)
		return got
	}
	readWhole := func() {
		t.Helper()
		waitUntil(t, func() bool { queued, written := sub.out.Progress(); return written == queued })
	}

	for _, id := range ids {
		h.subscribe(sub, id, true)
	}
	if got := snapshots(fr, books); !slices.Equal(got, ids) {
		t.Fatalf("first snapshots of books %v, want every one of %v at once", got, ids)
	}
	readWhole()

	// Three rounds of asks for every book again.
	for round := range 3 {
		for _, id := range ids {
			h.subscribe(sub, id, true)
		}
		if round == 0 {
			if n := waitingOf(h, sub); n != books-snapshotRepeatBurst {
				t.Fatalf("asked again for all %d books: %d repeats deferred, want %d (%d go at once)", books, n, books-snapshotRepeatBurst, snapshotRepeatBurst)
			}
			if got := snapshots(fr, snapshotRepeatBurst); !slices.Equal(got, ids[:snapshotRepeatBurst]) {
				t.Fatalf("repeats sent at once: books %v, want the first %d asked for", got, snapshotRepeatBurst)
			}
		}
		readWhole()
	}
	h.mu.Lock()
	queued, _ := sub.out.Progress()
	var waiting []uint32
	for _, p := range h.pending {
		if p.sub == sub {
			waiting = append(waiting, p.instrument)
		}
	}
	h.mu.Unlock()
	slices.Sort(waiting)
	if !slices.Equal(waiting, ids) || sub.out.Err() != nil {
		t.Fatalf("after three rounds of asks: books %v waiting, outbox %v; want each book's repeat waiting once, the first %d's asked for again", waiting, sub.out.Err(), snapshotRepeatBurst)
	}

	// A subscriber beside it is not held: every first snapshot at once.
	beside, besideFrames := pipeSubscriber(t, cfg.MarketData.SendBufferBytes)
	for _, id := range ids {
		h.subscribe(beside, id, true)
	}
	if got := snapshots(besideFrames, books); !slices.Equal(got, ids) {
		t.Fatalf("the subscriber beside: snapshots of books %v, want every one at once", got)
	}
	if now, _ := sub.out.Progress(); now != queued {
		t.Fatalf("the repeating connection was sent %d bytes more while its allowance was spent", now-queued)
	}

	// The allowance comes back: every deferred snapshot goes, and the
	// updates follow them.
	h.mu.Lock()
	h.repeatEvery, sub.repeatsDue = 0, time.Time{}
	h.startPacer() // wakes it: it sleeps until the deferred snapshots' time
	h.mu.Unlock()
	if got := snapshots(fr, books); !slices.Equal(got, ids) {
		t.Fatalf("deferred snapshots of books %v, want every book's", got)
	}
	h.mu.Lock()
	publishLevel(h, ids[books-1], 7)
	h.mu.Unlock()
	if u := proto.LevelUpdateAt(expectMDFrame(t, fr, wire.MessageLevelUpdate)); u.Instrument != ids[books-1] || u.Quantity != 7 {
		t.Fatalf("after the deferred snapshots: an update of book %d quantity %d", u.Instrument, u.Quantity)
	}
}

// waitingOf counts sub's snapshots waiting in h.pending.
func waitingOf(h *mdHub, sub *subscriber) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, p := range h.pending {
		if p.sub == sub {
			n++
		}
	}
	return n
}
