package main

import (
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// The watch view follows the trading state: from the snapshot, then from
// TradingStatus messages, which take their place in md_seq like updates.
func TestWatchViewTradingStatus(t *testing.T) {
	cfg := config.Default()
	in := newInstruments(cfg.Instruments)
	v := newBookView(cfg.Instruments[0], in)
	id := cfg.Instruments[0].ID
	render := func() string {
		var b strings.Builder
		v.render(&b, 5)
		return b.String()
	}
	steps := []struct {
		m      client.Message
		ok     bool
		halted bool
	}{
		{client.Message{Type: wire.MessageBookSnapshot, Instrument: id, MDSeq: 4, Halted: true}, true, true},
		{client.Message{Type: wire.MessageTradingStatus, Instrument: id, MDSeq: 5}, true, false},
		{client.Message{Type: wire.MessageTradingStatus, Instrument: id, MDSeq: 6, Halted: true}, true, true},
		{client.Message{Type: wire.MessageTradingStatus, Instrument: id, MDSeq: 8}, false, true}, // a gap: stale until the next snapshot
	}
	for i, s := range steps {
		if ok := v.apply(&s.m); ok != s.ok || v.halted != s.halted {
			t.Fatalf("step %d: apply %v, halted %v; want %v, %v", i, ok, v.halted, s.ok, s.halted)
		}
		if got := strings.Contains(render(), "HALTED"); got != s.halted {
			t.Fatalf("step %d: rendered HALTED %v:\n%s", i, got, render())
		}
	}
}

// levels gives a side's best levels, best first, as sorting the whole
// side would — at every depth, on both sides.
func TestLevelsAreTheBestFirst(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	side := map[int64]proto.Level{}
	for range 500 {
		p := int64(r.IntN(10_000))
		side[p] = proto.Level{Price: p, Quantity: p + 1, Count: 1}
	}
	for _, bids := range []bool{true, false} {
		all := levels(side, bids, 0)
		if len(all) != len(side) {
			t.Fatalf("bids %v: %d of %d levels", bids, len(all), len(side))
		}
		for i := 1; i < len(all); i++ {
			if bids && all[i].Price >= all[i-1].Price || !bids && all[i].Price <= all[i-1].Price {
				t.Fatalf("bids %v: level %d (%d) after %d", bids, i, all[i].Price, all[i-1].Price)
			}
		}
		for _, depth := range []int{1, 2, 10, 499, 500, 501} {
			if got, want := levels(side, bids, depth), all[:min(depth, len(all))]; !slices.Equal(got, want) {
				t.Fatalf("bids %v depth %d: %v…, want %v…", bids, depth, got[:min(3, len(got))], want[:min(3, len(want))])
			}
		}
	}
}

// BenchmarkLevels: the ten best of a side 20 000 levels deep (a watch's
// redraw), against sorting the whole side (depth 0), as every redraw did.
func BenchmarkLevels(b *testing.B) {
	side := map[int64]proto.Level{}
	for p := int64(1); p <= 20_000; p++ {
		side[p] = proto.Level{Price: p, Quantity: 1, Count: 1}
	}
	for _, depth := range []int{10, 0} {
		b.Run("depth="+strconv.Itoa(depth), func(b *testing.B) {
			for b.Loop() {
				levels(side, true, depth)
			}
		})
	}
}

// After a new snapshot (the resubscription a gap asks for) the view's
// last trade is the snapshot's, not the trade it saw before the gap:
// the trades it missed came after that one.
func TestWatchViewLastTradeAfterANewSnapshot(t *testing.T) {
	cfg := config.Default()
	in := newInstruments(cfg.Instruments)
	inst := cfg.Instruments[1] // tick 1, two decimals
	id := inst.ID
	v := newBookView(inst, in)
	steps := []client.Message{
		{Type: wire.MessageBookSnapshot, Instrument: id, MDSeq: 1, LastPrice: 300000,
			Asks: []proto.Level{{Price: 300100, Quantity: 5, Count: 1}}},
		{Type: wire.MessageTrade, Instrument: id, MDSeq: 2, Trade: proto.Trade{Price: 300100, Quantity: 2, Aggressor: wire.SideBuy}},
		{Type: wire.MessageLevelUpdate, Instrument: id, MDSeq: 3, Level: proto.LevelUpdate{Side: wire.SideSell, Price: 300100, Quantity: 3, Count: 1}},
		// md_seq 4..5 lost: a trade at 3,002.00 took the rest of the ask
		{Type: wire.MessageTrade, Instrument: id, MDSeq: 6, Trade: proto.Trade{Price: 300300, Quantity: 1, Aggressor: wire.SideBuy}},
		{Type: wire.MessageBookSnapshot, Instrument: id, MDSeq: 7, LastPrice: 300300},
	}
	for i := range steps {
		v.apply(&steps[i])
	}
	var b strings.Builder
	v.render(&b, 5)
	out := b.String()
	if strings.Contains(out, "3001.00") || !strings.Contains(out, "last trade 3003.00") {
		t.Fatalf("after a new snapshot with last price 3003.00, the view shows:\n%s", out)
	}
}

// watch reads the market-data port (--md-addr) and logs on nowhere:
// given the gateway's --addr alone, it refuses, saying so. It took no
// notice and watched the default --md-addr, 127.0.0.1:7401 — a local
// node's book for the remote one's.
func TestClientWatchRefusesGatewayFlags(t *testing.T) {
	args := []string{"client", "watch", "--instrument", "BTC-USD", "--addr", "127.0.0.1:1", "--timeout", "1s"}
	if out, err := ringex(t, nil, args...); err == nil || !strings.Contains(err.Error(), "--addr is for the gateway: watch reads the market-data port, --md-addr") {
		t.Errorf("ringex %s: %v, want --addr refused\n%s", strings.Join(args[1:], " "), err, out)
	}
}

// A cluster member just started refuses Subscribe NotCurrent until it
// has caught up with its leader (node/mdcurrent.go, 4): watch subscribes
// again, saying so on stderr, and shows the book that follows — it gave
// up at the first refusal. A member that stays not current for
// --not-current-wait fails the watch, naming the refusals.
func TestClientWatchTriesAgainWhileNotCurrent(t *testing.T) {
	addr, subscribes := notCurrentPort(t, 2)
	out, err := ringex(t, nil, "client", "watch", "--md-addr", addr, "--instrument", "BTC-USD", "--updates", "0")
	if err != nil {
		t.Fatalf("watch of a member current at the third Subscribe: %v (Subscribes answered: %d)\n%s", err, len(subscribes), out)
	}
	if n := len(subscribes); n != 3 {
		t.Errorf("%d Subscribes sent, want 3: two refused NotCurrent, then the snapshot", n)
	}
	if !strings.Contains(out, "the node is not current") || !strings.Contains(out, "BTC-USD (instrument 1)  md_seq 1") {
		t.Errorf("watch's output, want the retry said and the book shown:\n%s", out)
	}

	addr, subscribes = notCurrentPort(t, 1<<30)
	out, err = ringex(t, nil, "client", "watch", "--md-addr", addr, "--instrument", "BTC-USD", "--updates", "0", "--not-current-wait", "300ms")
	if err == nil || !strings.Contains(err.Error(), "refused the subscription to instrument 1: NotCurrent") || !strings.Contains(err.Error(), "watch another member") {
		t.Fatalf("watch of a member never current: %v, want the refusals named\n%s", err, out)
	}
	if n := len(subscribes); n < 2 {
		t.Errorf("%d Subscribes sent within --not-current-wait 300ms, want it sent again", n)
	}
}

// snapshotPort serves a market-data port on loopback that answers each
// Subscribe with a snapshot of instrument 1 as of input inputSeq and a
// level update of that input after it — then, if hangUp, closes the
// connection, as a member that died.
func snapshotPort(t *testing.T, inputSeq int64, hangUp bool) string {
	t.Helper()
	return streamPort(t, hangUp, func(enc *proto.Encoder, send func([]byte)) {
		send(enc.BookSnapshot(0, proto.BookSnapshot{Instrument: 1, MDSeq: 1, InputSeq: inputSeq}))
		send(enc.LevelUpdate(0, proto.LevelUpdate{Instrument: 1, MDSeq: 2, Side: wire.SideBuy, Price: 100, Quantity: 1, Count: 1, InputSeq: inputSeq}))
	})
}

// streamPort serves a market-data port on loopback that answers each
// Subscribe with the frames stream encodes and sends, each sent before
// enc encodes the next (it reuses its buffer) — then, if hangUp, closes
// the connection, as a member that died.
func streamPort(t *testing.T, hangUp bool, stream func(enc *proto.Encoder, send func([]byte))) string {
	t.Helper()
	return serveLoopback(t, func(conn net.Conn) {
		defer conn.Close()
		enc := proto.NewEncoder()
		fr := nodeFrames(conn)
		for {
			f, err := fr.Next()
			if err != nil {
				return
			}
			if typ, _, err := proto.Verify(f); err != nil || typ != wire.MessageSubscribe {
				continue
			}
			stream(enc, func(frame []byte) { conn.Write(frame) })
			if hangUp {
				return
			}
		}
	})
}

// watch given several market-data addresses (every cluster member's)
// moves to the next when one refuses NotCurrent, hangs up, or sends a
// book older than the one shown, saying so, and fails once each has
// failed in turn since the last snapshot. It took one address, and a
// member's end ended the watch.
func TestClientWatchMovesToAnotherMember(t *testing.T) {
	watch := func(addrs []string, updates string) (string, error) {
		return ringex(t, nil, "client", "watch", "--md-addr", strings.Join(addrs, ","), "--instrument", "BTC-USD", "--updates", updates)
	}
	notCurrent, _ := notCurrentPort(t, 1<<30)
	out, err := watch([]string{notCurrent, snapshotPort(t, 4, false)}, "1")
	if err != nil || !strings.Contains(out, notCurrent+" is not current") || !strings.Contains(out, "BTC-USD (instrument 1)  md_seq 2") {
		t.Fatalf("watch of a member refusing NotCurrent, then one serving: %v\n%s", err, out)
	}

	dies := snapshotPort(t, 4, true)
	serves := snapshotPort(t, 4, false)
	out, err = watch([]string{dies, serves}, "2") // the update from each
	if err != nil || !strings.Contains(out, "market data at "+dies+": ") || !strings.Contains(out, "moving to "+serves) {
		t.Fatalf("watch of a member that hangs up after its book, then one serving: %v\n%s", err, out)
	}

	hangsUp := func(conn net.Conn) { conn.Close() }
	a, b := serveLoopback(t, hangsUp), serveLoopback(t, hangsUp)
	if out, err = watch([]string{a, b}, "1"); err == nil || !strings.Contains(err.Error(), "every address failed since the last snapshot — "+a+": ") ||
		!strings.Contains(err.Error(), "; "+b+": ") {
		t.Fatalf("watch of two members that hang up: %v, want both named\n%s", err, out)
	}

	// The second's book is as of input 4, the first's update of input 9.
	newer, older := snapshotPort(t, 9, true), snapshotPort(t, 4, false)
	if out, err = watch([]string{newer, older}, "-1"); err == nil || !strings.Contains(err.Error(), older+": its book is as of input 4, older than the one shown (input 9)") {
		t.Fatalf("watch of a member older than the book shown: %v, want it refused\n%s", err, out)
	}
}

// A member moved to sends again the trades of its snapshot's input,
// which the member before sent already (proto/README.md, "After a
// failover"): watch drops a trade at or below the largest trade_id
// shown, and counts and shows each trade once. It counted and showed
// them again.
func TestClientWatchShowsATradeOnceAcrossMembers(t *testing.T) {
	trade := func(enc *proto.Encoder, mdSeq, id uint64, price int64) []byte {
		return enc.Trade(0, proto.Trade{Instrument: 1, MDSeq: mdSeq, TradeID: id, Price: price, Quantity: 1, Aggressor: wire.SideBuy, InputSeq: int64(id >> 16)})
	}
	first := streamPort(t, true, func(enc *proto.Encoder, send func([]byte)) {
		send(enc.BookSnapshot(0, proto.BookSnapshot{Instrument: 1, MDSeq: 1, InputSeq: 4}))
		send(trade(enc, 2, 5<<16, 100))
		send(trade(enc, 3, 5<<16|1, 101))
	})
	// Its snapshot is as of input 5, whose two trades it sends again,
	// then input 6's.
	second := streamPort(t, false, func(enc *proto.Encoder, send func([]byte)) {
		send(enc.BookSnapshot(0, proto.BookSnapshot{Instrument: 1, MDSeq: 1, InputSeq: 5}))
		send(trade(enc, 2, 5<<16, 100))
		send(trade(enc, 3, 5<<16|1, 101))
		send(trade(enc, 4, 6<<16, 102))
	})
	out, err := ringex(t, nil, "client", "watch", "--md-addr", first+","+second, "--instrument", "BTC-USD", "--updates", "5")
	if err != nil || !strings.Contains(out, "moving to "+second) {
		t.Fatalf("watch of a member that hangs up after two trades, then one sending them again: %v\n%s", err, out)
	}
	if last := out[strings.LastIndex(out, "BTC-USD (instrument 1)"):]; !strings.Contains(last, "3 trades seen") || !strings.Contains(last, "md_seq 4") {
		t.Fatalf("the last book shown, want 3 trades seen (two sent again), at md_seq 4:\n%s", out)
	}
}

// Given several addresses, --not-current-wait 0 waits on no member: a
// NotCurrent refusal is that member's failure, and the watch moves on to
// the next at once, failing once every member has failed. It failed at
// the first member's refusal, the others untried.
func TestClientWatchNotCurrentWaitZeroTriesTheOthers(t *testing.T) {
	watch := func(addrs ...string) (string, error) {
		return ringex(t, nil, "client", "watch", "--md-addr", strings.Join(addrs, ","), "--instrument", "BTC-USD", "--updates", "1", "--not-current-wait", "0")
	}
	notCurrent, _ := notCurrentPort(t, 1<<30)
	serves := snapshotPort(t, 4, false)
	out, err := watch(notCurrent, serves)
	if err != nil || !strings.Contains(out, "market data at "+notCurrent+": ") || !strings.Contains(out, "moving to "+serves) ||
		!strings.Contains(out, "BTC-USD (instrument 1)  md_seq 2") {
		t.Fatalf("watch of a member refusing NotCurrent, then one serving, --not-current-wait 0: %v\n%s", err, out)
	}

	other, _ := notCurrentPort(t, 1<<30)
	if out, err = watch(notCurrent, other); err == nil || !strings.Contains(err.Error(), "every address failed since the last snapshot — "+notCurrent+": ") ||
		!strings.Contains(err.Error(), "; "+other+": ") || !strings.Contains(err.Error(), "NotCurrent") {
		t.Fatalf("watch of two members refusing NotCurrent, --not-current-wait 0: %v, want both named\n%s", err, out)
	}
}

// A member that loses touch with its leader during the watch answers
// the subscription SubscribeReject{NotCurrent} and closes
// (node/mdcurrent.go, 1): watch moves to the next member, and shows its
// snapshot's book with its updates — nothing of the levels the first
// member's updates left. The book is the second member's alone.
func TestClientWatchMovesWhenAMemberStopsBeingCurrent(t *testing.T) {
	first := streamPort(t, true, func(enc *proto.Encoder, send func([]byte)) {
		send(enc.BookSnapshot(0, proto.BookSnapshot{Instrument: 1, MDSeq: 1, InputSeq: 4, Bids: []proto.Level{{Price: 100, Quantity: 1, Count: 1}}}))
		send(enc.LevelUpdate(0, proto.LevelUpdate{Instrument: 1, MDSeq: 2, Side: wire.SideBuy, Price: 99, Quantity: 1, Count: 1, InputSeq: 5}))
		send(enc.SubscribeReject(0, 1, wire.SubscribeRejectReasonNotCurrent))
	})
	// Input 6 cancelled the bid at 99 and added to the one at 100.
	second := streamPort(t, false, func(enc *proto.Encoder, send func([]byte)) {
		send(enc.BookSnapshot(0, proto.BookSnapshot{Instrument: 1, MDSeq: 1, InputSeq: 6, Bids: []proto.Level{{Price: 100, Quantity: 2, Count: 2}}}))
		send(enc.LevelUpdate(0, proto.LevelUpdate{Instrument: 1, MDSeq: 2, Side: wire.SideBuy, Price: 98, Quantity: 1, Count: 1, InputSeq: 7}))
	})
	out, err := ringex(t, nil, "client", "watch", "--md-addr", first+","+second, "--instrument", "BTC-USD", "--updates", "2")
	if err != nil || !strings.Contains(out, first+" is not current") {
		t.Fatalf("watch of a member that stops being current after its book, then one serving: %v\n%s", err, out)
	}
	if last := out[strings.LastIndex(out, "BTC-USD (instrument 1)"):]; !strings.Contains(last, "md_seq 2  2 bid / 0 ask levels") {
		t.Fatalf("the last book shown, want the second member's two bids (100 and 98):\n%s", out)
	}
}

// A member refusing NotCurrent within --not-current-wait has not failed:
// beside one that hangs up, watch tries both in turn until the wait is
// over, then fails naming the refusals. It counted the other's failures
// in each round as failures of every address and failed at the second
// round, naming that one twice and the member catching up not at all.
func TestClientWatchWaitsOnAMemberCatchingUpBesideADeadOne(t *testing.T) {
	notCurrent, subscribes := notCurrentPort(t, 1<<30)
	dead := serveLoopback(t, func(conn net.Conn) { conn.Close() })
	out, err := ringex(t, nil, "client", "watch", "--md-addr", notCurrent+","+dead, "--instrument", "BTC-USD", "--updates", "1", "--not-current-wait", "500ms")
	if err == nil || !strings.Contains(err.Error(), "refused the subscription to instrument 1: NotCurrent") {
		t.Fatalf("watch of a member never current beside one that hangs up: %v, want the refusals named after the wait\n%s", err, out)
	}
	if n := len(subscribes); n < 2 {
		t.Errorf("%d Subscribes sent to the member catching up within --not-current-wait 500ms, want it asked again", n)
	}
}

// Members that each send their snapshot and end the connection at once
// are moved between after a pause that doubles: each snapshot starts
// the failures anew, so the watch never fails of them, and it moved at
// once, as fast as the members answered, for as long as it ran.
func TestClientWatchPausesBetweenMembersThatEndAfterTheirSnapshot(t *testing.T) {
	a, b := snapshotPort(t, 4, true), snapshotPort(t, 4, true)
	// One update from each connection: the third ends the watch.
	out, err := ringex(t, nil, "client", "watch", "--md-addr", a+","+b, "--instrument", "BTC-USD", "--updates", "3")
	if err != nil {
		t.Fatalf("watch of two members that hang up after their book: %v\n%s", err, out)
	}
	for _, moved := range []string{"moving to " + b + " in 100ms", "moving to " + a + " in 200ms"} {
		if !strings.Contains(out, moved) {
			t.Errorf("watch's output, want %q:\n%s", moved, out)
		}
	}
}

func TestMoveBackoff(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want time.Duration
	}{{1, 100 * time.Millisecond}, {2, 200 * time.Millisecond}, {3, 400 * time.Millisecond}, {6, 3200 * time.Millisecond}, {7, moveCalm}, {100, moveCalm}} {
		if got := moveBackoff(tc.n); got != tc.want {
			t.Errorf("moveBackoff(%d) = %v, want %v", tc.n, got, tc.want)
		}
	}
}

// Members that refuse NotCurrent in turn (A, B, A again …) are waited on
// together for --not-current-wait, timed from the first refusal, and
// the error names every refusal of every member; one that becomes
// current within the wait is watched.
func TestClientWatchCountsNotCurrentAcrossMembers(t *testing.T) {
	a, atA := notCurrentPort(t, 1<<30)
	b, atB := notCurrentPort(t, 1<<30)
	out, err := ringex(t, nil, "client", "watch", "--md-addr", a+","+b, "--instrument", "BTC-USD", "--updates", "0", "--not-current-wait", "1s")
	// Each connection is refused at its first Subscribe, and the watch
	// has ended every one before it fails.
	refused := len(atA) + len(atB)
	if len(atA) < 2 || len(atB) < 2 {
		t.Errorf("Subscribes refused: %d by A, %d by B; want each asked again within the wait", len(atA), len(atB))
	}
	if want := fmt.Sprintf("NotCurrent, %d time(s)", refused); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("watch of two members never current: %v, want %q\n%s", err, want, out)
	}
	if n := strings.Count(out, "is not current"); n != 1 {
		t.Errorf("the wait said %d times, want once:\n%s", n, out)
	}

	// B refuses, A refuses again, B serves at its second connection's
	// Subscribe.
	a, _ = notCurrentPort(t, 1<<30)
	b = servesAtConnection(t, 2)
	out, err = ringex(t, nil, "client", "watch", "--md-addr", b+","+a, "--instrument", "BTC-USD", "--updates", "0", "--not-current-wait", "5s")
	if err != nil || !strings.Contains(out, "BTC-USD (instrument 1)  md_seq 1") {
		t.Fatalf("watch of a member current at its second connection, beside one never current: %v\n%s", err, out)
	}
}

// servesAtConnection serves a fake market-data port that refuses the
// Subscribes of its first connections NotCurrent and answers those of
// its nth with instrument 1's book snapshot.
func servesAtConnection(t *testing.T, nth int) string {
	t.Helper()
	var conns atomic.Int32
	return serveLoopback(t, func(conn net.Conn) {
		defer conn.Close()
		current := int(conns.Add(1)) >= nth
		enc := proto.NewEncoder()
		fr := nodeFrames(conn)
		for {
			f, err := fr.Next()
			if err != nil {
				return
			}
			if typ, _, err := proto.Verify(f); err != nil || typ != wire.MessageSubscribe {
				continue
			}
			if current {
				conn.Write(enc.BookSnapshot(0, proto.BookSnapshot{Instrument: 1, MDSeq: 1, InputSeq: 4}))
			} else {
				conn.Write(enc.SubscribeReject(0, 1, wire.SubscribeRejectReasonNotCurrent))
			}
		}
	})
}
