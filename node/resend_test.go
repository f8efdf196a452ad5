package node

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
	"unsafe"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/gateway"
	"github.com/ringex/ringex/input"
	"github.com/ringex/ringex/output"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// resendAnswer collects the answer to the Resend tagged tag: the resent
// reports in order, then the ResendDone; live reports in between are
// returned apart. It waits up to 10 s.
func resendAnswer(t *testing.T, c *client.Client, tag uint64) (resent []proto.Report, done proto.ResendDone, live []proto.Report) {
	t.Helper()
	return resendAnswerWithin(t, c, tag, 10*time.Second)
}

// resendAnswerWithin is resendAnswer with its bound: a replay of tens of
// thousands of inputs takes seconds under -race, over 10 s on a loaded
// machine.
func resendAnswerWithin(t *testing.T, c *client.Client, tag uint64, within time.Duration) (resent []proto.Report, done proto.ResendDone, live []proto.Report) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(within))
	for {
		m, err := c.Next()
		if err != nil {
			t.Fatalf("waiting for the resend's answer: %v", err)
		}
		switch {
		case m.Type == wire.MessageResendDone:
			if m.Seq != tag {
				t.Fatalf("ResendDone tagged %d, want %d", m.Seq, tag)
			}
			return resent, m.ResendDone, live
		case m.Resent():
			if m.Seq != tag {
				t.Fatalf("resent report tagged %d, want %d", m.Seq, tag)
			}
			resent = append(resent, m.Report)
		case m.Type == wire.MessageExecutionReport:
			live = append(live, m.Report)
		}
	}
}

// waitSnapshot takes a snapshot and waits until it is on disk; it
// returns the snapshot's input. It counts the snapshots written, not the
// files listed: with snapshot.keep the one before may be pruned as soon
// as the new one is written, and the list was as long as before (a test
// polling for a longer list missed the moment, and failed under load).
func waitSnapshot(t *testing.T, n *Node) int64 {
	t.Helper()
	written := &n.stats.snapshots[snapshotWritten]
	before := written.Load()
	if err := n.RequestSnapshot(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { return written.Load() > before })
	return n.stats.lastSnapshotSeq.Load()
}

// A trader whose resting order traded while it was logged off asks for
// what it missed and gets exactly its reports of those inputs — the same
// reports a logged-on session got, tagged as resent — while other
// accounts' reports stay private; the replay starts from a snapshot.
func TestResendReports(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Gateway.RecentReports = 0 // every resend by the worker
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	in := cfg.Instruments[0]
	price := in.ReferencePrice

	// Account 3 watches live what account 4 will miss: it trades the
	// same way against account 2 (both rest a buy, account 2 sells into
	// them), so its live reports are the reference.
	c2, c3 := dial(t, addrs.Gateway, 2), dial(t, addrs.Gateway, 3)
	c2.NewOrder(limit(20, wire.SideBuy, price-5*in.TickSize, 1)) // account 2's own, never account 4's business
	next(t, c2, report(wire.ExecKindAccepted))
	snap := waitSnapshot(t, n) // before the last input account 4 will see: the replay starts here
	seen := missTwoFills(t, n, addrs.Gateway, in, c2)
	c2.Cancel(proto.Cancel{OrigClientOrderID: 20, Instrument: 1})
	next(t, c2, report(wire.ExecKindCancelled))

	c4 := dial(t, addrs.Gateway, 4)
	tag, err := c4.Resend(seen)
	if err != nil {
		t.Fatal(err)
	}
	resent, done, _ := resendAnswer(t, c4, tag)
	checkTwoFills(t, resent, seen, in)
	request := resent[1].InputSeq + 2 // the cancel, then the request
	if done != (proto.ResendDone{AfterInputSeq: seen, FirstInputSeq: seen + 1, ThroughInputSeq: request - 1, Count: 2}) {
		t.Fatalf("done %+v", done)
	}
	if got := n.stats.resends.replayed.Load(); snap >= seen || got != request-1-snap {
		t.Fatalf("replayed %d inputs: want those after the snapshot at %d (account 4 saw %d) to %d", got, snap, seen, request-1)
	}

	// The same trades, seen live by account 3, resent to it: equal.
	c3.NewOrder(limit(30, wire.SideBuy, price, 4*in.LotSize))
	since := next(t, c3, report(wire.ExecKindAccepted)).Report.InputSeq - 1
	c2.NewOrder(limit(23, wire.SideSell, price-in.TickSize, 10*in.LotSize)) // fills account 4's 5 lots first, then 3's 4
	liveFill := next(t, c3, report(wire.ExecKindFill)).Report
	replayedBefore := n.stats.resends.replayed.Load()
	tag3, _ := c3.Resend(since)
	resent3, done3, _ := resendAnswer(t, c3, tag3)
	// The worker kept the engine of the last replay (at the input before
	// account 4's request), so this one replays only the inputs since.
	if got := n.stats.resends.replayed.Load() - replayedBefore; got != done3.ThroughInputSeq-(request-1) {
		t.Fatalf("second resend replayed %d inputs, want the %d since the first one's", got, done3.ThroughInputSeq-(request-1))
	}
	if len(resent3) != 2 || resent3[0].Kind != wire.ExecKindAccepted || resent3[0].ClientOrderID != 30 || resent3[1] != liveFill {
		t.Fatalf("account 3's resend %+v, live fill %+v", resent3, liveFill)
	}
	if done3.Count != 2 || done3.FirstInputSeq != since+1 {
		t.Fatalf("account 3's done %+v", done3)
	}

	// From the start: everything of account 4's, from the empty state,
	// including the accept it had seen and the last fill.
	tag, _ = c4.Resend(0)
	resent, done, _ = resendAnswer(t, c4, tag)
	kinds := []wire.ExecKind{}
	for _, r := range resent {
		kinds = append(kinds, r.Kind)
	}
	wantKinds := []wire.ExecKind{wire.ExecKindAccepted, wire.ExecKindFill, wire.ExecKindFill, wire.ExecKindFill}
	if !slices.Equal(kinds, wantKinds) || done.FirstInputSeq != 1 || done.Reason != proto.ResendComplete {
		t.Fatalf("resend from 0: kinds %v, done %+v", kinds, done)
	}
	if n.stats.resends.results[proto.ResendComplete].Load() != 3 || n.stats.resends.reports.Load() != 8 {
		t.Fatalf("resend metrics: complete %d, reports %d", n.stats.resends.results[proto.ResendComplete].Load(),
			n.stats.resends.reports.Load())
	}

	// A negative after is the start too, and the answer names 0 (sent
	// raw: the Go client's Resend takes a negative one as 0 itself).
	const rawTag = 1 << 40
	c4.SendRaw(proto.NewEncoder().ResendReports(rawTag, -7))
	resent, done, _ = resendAnswer(t, c4, rawTag)
	if len(resent) != len(wantKinds) || done.AfterInputSeq != 0 || done.FirstInputSeq != 1 || done.Reason != proto.ResendComplete {
		t.Fatalf("resend after -7: %d reports, done %+v; want the %d from the start, after 0", len(resent), done, len(wantKinds))
	}

	// Asking past what happened: nothing, ahead (TestResendFromAheadSaysSo).
	tag, _ = c4.Resend(1 << 40)
	resent, done, _ = resendAnswer(t, c4, tag)
	if len(resent) != 0 || done.Count != 0 || done.Reason != proto.ResendAhead {
		t.Fatalf("resend of the future: %+v %+v", resent, done)
	}

	// Seq 0 cannot tag an answer: refused.
	c4.SendRaw(proto.NewEncoder().ResendReports(0, 0))
	m := next(t, c4, report(wire.ExecKindRejected))
	if m.Report.Reason != uint8(engine.ReasonInvalidSequence) {
		t.Fatalf("untagged resend: %+v", m.Report)
	}
}

// missTwoFills rests a buy of 10 lots for account 4, logs it off, and
// has c (account 2) sell 3 lots, then 2, into it: account 4 misses two
// fills. It returns the input of the accept account 4 saw.
func missTwoFills(t *testing.T, n *Node, addr string, in config.Instrument, c *client.Client) (seen int64) {
	t.Helper()
	return missTwoFillsOf(t, n, in, dial(t, addr, 4), 4, c)
}

// missTwoFillsOf is missTwoFills for account, logged on as missing: the
// only session of the account, which c's is not.
func missTwoFillsOf(t *testing.T, n *Node, in config.Instrument, missing *client.Client, account uint32, c *client.Client) (seen int64) {
	t.Helper()
	missing.NewOrder(limit(1, wire.SideBuy, in.ReferencePrice, 10*in.LotSize))
	seen = next(t, missing, report(wire.ExecKindAccepted)).Report.InputSeq
	missing.Logout()
	missing.Close()
	waitUntil(t, func() bool { return len(n.gw.RoutesOf(account).Trading) == 0 })
	for i, lots := range []int64{3, 2} {
		id := uint64(21 + i)
		c.NewOrder(limit(id, wire.SideSell, in.ReferencePrice, lots*in.LotSize))
		next(t, c, func(m client.Message) bool { return m.Report.ClientOrderID == id && m.Report.Leaves == 0 })
	}
	return seen
}

// checkTwoFills checks resent is the two fills missTwoFills made.
func checkTwoFills(t *testing.T, resent []proto.Report, seen int64, in config.Instrument) {
	t.Helper()
	checkTwoFillsOf(t, resent, 4, seen, in)
}

// checkTwoFillsOf checks resent is the two fills missTwoFillsOf made
// account miss.
func checkTwoFillsOf(t *testing.T, resent []proto.Report, account uint32, seen int64, in config.Instrument) {
	t.Helper()
	if len(resent) != 2 {
		t.Fatalf("resent %d reports, want account %d's two fills: %+v", len(resent), account, resent)
	}
	for i, want := range []int64{7, 5} {
		r := resent[i]
		if r.Kind != wire.ExecKindFill || r.Account != account || r.ClientOrderID != 1 || r.Leaves != want*in.LotSize ||
			r.InputSeq <= seen || r.Timestamp == 0 || r.TradeID == 0 {
			t.Fatalf("resent report %d: %+v", i, r)
		}
	}
}

// gateway.resend_window bounds how far back a replay may start: beyond
// it the answer says from where it resent (partial), here nothing.
func TestResendWindow(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Gateway.ResendWindow = 5
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	in := cfg.Instruments[0]
	c := dial(t, addrs.Gateway, 4)
	for i := range 8 {
		restBuy(t, c, in, uint64(i+1))
	}
	tag, _ := c.Resend(0)
	resent, done, _ := resendAnswer(t, c, tag)
	if len(resent) != 0 || done.Reason != proto.ResendPartial || done.FirstInputSeq != 9 || done.ThroughInputSeq != 8 {
		t.Fatalf("beyond the window: %d resent, done %+v", len(resent), done)
	}
}

// A resend far larger than the session's send buffer is paced to the
// client's reading: all of it arrives, and the client is not cut off as
// a slow reader.
func TestResendLargerThanTheSendBuffer(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Gateway.SendBufferBytes = 64 << 10
	cfg.Gateway.StatusRate = 0
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	in := cfg.Instruments[0]
	c := dial(t, addrs.Gateway, 3) // no message rate limit
	const orders = 1500            // placed and cancelled: 3000 reports of ~150 bytes, 7 send buffers
	placeAndCancel(t, c, in.ReferencePrice-in.TickSize, in.LotSize, orders)
	tag, _ := c.Resend(0)
	resent, done, _ := resendAnswer(t, c, tag)
	if len(resent) != 2*orders || done.Count != 2*orders || done.Reason != proto.ResendComplete {
		t.Fatalf("%d resent, done %+v", len(resent), done)
	}
	checkPlacedAndCancelled(t, resent)
}

// The resend sink waits while the client's unread bytes are above half
// its send buffer instead of overflowing it: over a connection with no
// buffer at all (net.Pipe), 2 000 reports through a 4 KiB outbox all
// arrive, in order, and the outbox stays open.
func TestResendPacesToTheReader(t *testing.T) {
	server, clientEnd := net.Pipe()
	defer clientEnd.Close()
	out := output.NewOutbox(server, 4096, 0, nil)
	defer out.Close()
	sink := &resendSink{n: &Node{stopCh: make(chan struct{})}}
	sink.aim(out, proto.NewEncoder(), resendJob{account: 7, tag: 3})
	sink.first = 1
	const reports = 2000
	go func() {
		for i := range reports {
			sink.Emit(&engine.Event{Type: engine.EvAccepted, Seq: int64(i + 1), Account: 7, ClientOrderID: uint64(i + 1)})
		}
		out.Flush()
	}()
	fr := proto.NewFrameReader(clientEnd, 1024)
	var m proto.Msg
	for i := range reports {
		clientEnd.SetReadDeadline(time.Now().Add(5 * time.Second))
		payload, err := fr.Next()
		if err != nil {
			t.Fatalf("report %d: %v (outbox: %v)", i, err, out.Err())
		}
		if err := proto.VerifyMsg(payload, &m); err != nil || m.Seq != 3 || m.Report(payload).ClientOrderID != uint64(i+1) {
			t.Fatalf("report %d: %v, seq %d, %+v", i, err, m.Seq, m.Report(payload))
		}
		if i%500 == 0 {
			time.Sleep(20 * time.Millisecond) // a slow but reading client
		}
	}
	if sink.gone || sink.count != reports {
		t.Fatalf("sink gone %v after %d reports", sink.gone, sink.count)
	}
}

// One replay at a time: while the worker serves a client that does not
// read (it waits for it), another request for a replay is answered busy
// at once and nothing else is held up — a large answer from the recent
// reports is still sent. The client keeps its session alive with
// heartbeats, but takes nothing for gateway.read_timeout: the node cuts
// it off as a slow consumer, and the next request is served. (With
// gateway.resend_stall its answer would be cut short before that:
// TestResendSlowReaderIsCutShort.) The reading client heartbeats while it
// waits, as clients must: the short read_timeout closed it once, waiting
// for a replay that took over 3 s on a loaded machine.
func TestResendBusy(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Gateway.SendBufferBytes = 64 << 10
	cfg.Gateway.StatusRate = 0
	cfg.Gateway.ResendStall = 0 // never cut short
	cfg.Gateway.HeartbeatInterval, cfg.Gateway.ReadTimeout = time.Second, 3*time.Second
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	in := cfg.Instruments[0]
	c3 := dial(t, addrs.Gateway, 3)
	const orders = 30000 // placed and cancelled: 60 000 reports, ~9 MB — more than the sockets hold (4 MB send buffers at most here)
	placeAndCancel(t, c3, in.ReferencePrice-in.TickSize, in.LotSize, orders)
	c2 := dial(t, addrs.Gateway, 2)
	since2 := restBuy(t, c2, in, 1<<40).Report.InputSeq
	placeAndCancel(t, c2, in.ReferencePrice-in.TickSize, in.LotSize, 200) // 400 reports, kept: more than half c2's send buffer
	slow := n.gw.Counters.Disconnects[gateway.CauseSlowConsumer].Load()
	// A client that logs on, asks for all of it and never reads.
	stuck := dialNotReading(t, addrs.Gateway, 3, cfg.Accounts[2].Secret)
	stuck.Write(proto.NewEncoder().ResendReports(2, 0))
	stopBeating := make(chan struct{})
	defer close(stopBeating)
	go func() {
		enc := proto.NewEncoder()
		for {
			select {
			case <-stopBeating:
				return
			case <-time.After(200 * time.Millisecond):
				stuck.Write(enc.Heartbeat(3))
			}
		}
	}()
	stopC2 := keepBeating(c2)
	waitUntil(t, func() bool {
		for _, s := range n.gw.RoutesOf(3).Trading {
			if p, limit := s.Out.Pending(); s.ID != c3.Session && p > limit/2 {
				return true // the worker waits for this one
			}
		}
		return false
	})
	stopC2()

	resent, done := resendBeating(t, c2, since2, 10*time.Second)
	if len(resent) != 400 || done.Reason != proto.ResendComplete || n.stats.resends.fromMemory.Load() != 1 {
		t.Fatalf("from memory while the worker is busy: %d resent, done %+v", len(resent), done)
	}
	resent, done = resendBeating(t, c2, 0, 10*time.Second)
	if len(resent) != 0 || done.Reason != proto.ResendBusy {
		t.Fatalf("a replay while the worker is busy: %d resent, done %+v", len(resent), done)
	}
	restBuy(t, c2, in, 1000) // trading goes on

	// The next step needs the stuck client gone: waited for, not polled
	// for within 10 s by asking (on a loaded machine its cut came 6–10 s
	// after this point, and the test failed when it came later).
	stopC2 = keepBeating(c2)
	waitWithin(t, time.Minute, func() bool { return n.gw.Counters.Disconnects[gateway.CauseSlowConsumer].Load() > slow }, n)
	stopC2()
	// The worker lets go of it once its wait for that reader sees the
	// session ended: a request just before is still answered busy. Once
	// served, the answer is a replay of all 60 000 inputs: 2.5–9.6 s
	// under -race on a loaded machine, where a 10 s bound failed.
	waitUntil(t, func() bool {
		_, done = resendBeating(t, c2, 0, time.Minute)
		return done.Reason != proto.ResendBusy
	})
	if done.Reason != proto.ResendComplete || done.Count != 402 {
		t.Fatalf("after the stuck client was cut off: %+v", done)
	}
	if got := n.gw.Counters.Disconnects[gateway.CauseSlowConsumer].Load(); got != slow+1 {
		t.Fatalf("slow consumers disconnected: %d, want %d", got, slow+1)
	}
	if got := n.stats.resends.results[proto.ResendBusy].Load(); got < 1 {
		t.Fatalf("busy answers counted: %d", got)
	}
}

// keepBeating sends c a Heartbeat every c.HeartbeatEvery, as a client
// must, until stop is called: a test that waits (for a condition, for a
// long answer) would otherwise leave c silent past a short
// gateway.read_timeout on a loaded machine, and the node would close it.
// Nothing else may send on c until stop returns (a Client's sends are
// not safe for concurrent use); reading is fine.
func keepBeating(c *client.Client) (stop func()) {
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(c.HeartbeatEvery)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				c.Heartbeat()
			}
		}
	}()
	return func() { close(done); <-stopped }
}

// resendBeating asks c for its reports after after and collects the
// answer (resendAnswerWithin), keeping c's session alive meanwhile.
func resendBeating(t *testing.T, c *client.Client, after int64, within time.Duration) ([]proto.Report, proto.ResendDone) {
	t.Helper()
	tag, err := c.Resend(after)
	if err != nil {
		t.Fatal(err)
	}
	stop := keepBeating(c)
	defer stop()
	resent, done, _ := resendAnswerWithin(t, c, tag, within)
	return resent, done
}

// The worker keeps its last replay's engine for the next request, and
// lets go of it after resendCacheIdle without a request: the next
// resend replays from the start again. Nothing is timed: the engine is
// kept under an idle time of an hour, and let go of under one of a
// millisecond once the worker says its idle time passed (resendIdled).
// (Both on one node, with an idle time of 2 s that an order and a resend
// had to fit in under -race, and a 4.5 s sleep past it: at 200 ms, CI's
// once did not fit.)
func TestResendCacheReleasedWhenIdle(t *testing.T) {
	savedIdle, savedIdled := resendCacheIdle, resendIdled
	t.Cleanup(func() { resendCacheIdle, resendIdled = savedIdle, savedIdled }) // after the nodes stopped
	idled := make(chan struct{}, 16)
	awaitIdle := func() {
		t.Helper()
		received(t, idled, fmt.Sprintf("the resend worker's idle time of %v has not passed in 10 s", resendCacheIdle))
	}
	// run starts a node whose worker idles after idle, and returns it
	// with its place (an order, its input) and resend (the inputs its
	// answer replayed).
	run := func(idle time.Duration) (*Node, func(id uint64) int64, func(after int64) int64) {
		resendCacheIdle = idle
		resendIdled = func() { idled <- struct{}{} }
		cfg := testConfig(t, t.TempDir())
		cfg.Gateway.RecentReports = 0 // every resend by the worker
		n, addrs, _ := startNode(t, cfg)
		in := cfg.Instruments[0]
		c := dial(t, addrs.Gateway, 3)
		place := func(id uint64) int64 {
			return restBuy(t, c, in, id).Report.InputSeq
		}
		resend := func(after int64) (replayed int64) {
			before := n.stats.resends.replayed.Load()
			tag, _ := c.Resend(after)
			resendAnswer(t, c, tag)
			return n.stats.resends.replayed.Load() - before
		}
		return n, place, resend
	}

	n, place, resend := run(time.Hour)
	for i := range 5 {
		place(uint64(i + 1))
	}
	resend(0) // inputs 1–5, leaving the engine at 5
	seq := place(6)
	if got := resend(seq - 1); got != 2 { // inputs 6 and the first request
		t.Fatalf("with the engine kept: replayed %d inputs, want 2", got)
	}
	n.Stop()

	n, place, resend = run(time.Millisecond)
	defer n.Stop()
	awaitIdle() // from the worker's start: nothing kept yet
	for i := range 5 {
		place(uint64(i + 1))
	}
	resend(0)
	awaitIdle() // the first after the request: its engine let go of
	seq = place(6)
	if got := resend(seq - 1); got != seq {
		t.Fatalf("after the idle time: replayed %d inputs, want all %d from the start", got, seq)
	}
}

// The copies made by answers from memory beside the worker are released
// resendCacheIdle after the last answer, as the worker's cache is. The
// release came only from the worker's idle timer, re-armed only by a job
// of the worker's own: once it had fired (a minute after the start, on a
// node whose resends were answered from memory) up to four copies of
// 2^18 events, 36 MiB each, stayed for good.
func TestResendFromMemoryCopiesReleasedWhenIdle(t *testing.T) {
	savedIdle, savedIdled := resendCacheIdle, resendIdled
	resendCacheIdle = 300 * time.Millisecond
	idled := make(chan struct{}, 16)
	resendIdled = func() { idled <- struct{}{} }
	t.Cleanup(func() { resendCacheIdle, resendIdled = savedIdle, savedIdled })
	cfg := testConfig(t, t.TempDir())
	cfg.Gateway.RecentReports = 16384
	cfg.Gateway.SendBufferBytes = 64 << 10 // an answer over 32 KB goes beside the worker
	cfg.Gateway.StatusRate = 0
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	in := cfg.Instruments[0]
	price := in.ReferencePrice - in.TickSize
	c := dial(t, addrs.Gateway, 3)
	since := restBuy(t, c, in, 1<<40).Report.InputSeq
	placeAndCancel(t, c, price, in.LotSize, 1000) // 2 000 reports, ~300 KB
	// The worker's idle timer fires, with nothing to release: waited
	// for (a sleep of three idle times, on a loaded machine not always
	// past the worker taking it, left the timer armed, and the test
	// passed on an answer beside the worker that does not re-arm it).
	received(t, idled, "the resend worker's idle time has not passed in 10 s")

	tag, _ := c.Resend(since)
	resent, done, _ := resendAnswer(t, c, tag)
	if len(resent) != 2000 || done.Reason != proto.ResendComplete || n.stats.resends.replayed.Load() != 0 {
		t.Fatalf("setup: %d resent, done %+v, %d inputs replayed: want 2000 from memory", len(resent), done, n.stats.resends.replayed.Load())
	}
	held := func() (bytes int) {
		eachFree(n.asidePicks, resendSendersMost, func(p *recentPick) bool {
			bytes += cap(p.events)*int(unsafe.Sizeof(engine.Event{})) + cap(p.entries)*8
			return true
		})
		return bytes
	}
	waitUntil(t, func() bool { return len(n.asidePicks) == resendSendersMost && held() == 0 })
}

// A resend is answered only to a session of the account it was asked
// for. Every live report is routed by account first, but a resend's
// answer went to the input's session id whatever its account: in a
// cluster, a ResendReports its old leader committed is applied by the new
// leader once it takes sessions, one of which may carry the old
// session's id (ids start from each node's clock). Published here on one
// node: account 3's request under the id of account 2's session.
func TestResendAnsweredOnlyToItsAccount(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Gateway.StatusRate = 0
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	in := cfg.Instruments[0]
	c3 := dial(t, addrs.Gateway, 3)
	c3.NewOrder(limit(32, wire.SideBuy, in.ReferencePrice-in.TickSize, in.LotSize))
	c3.NewOrder(limit(33, wire.SideBuy, in.ReferencePrice-in.TickSize, in.LotSize))
	accepted := next(t, c3, func(m client.Message) bool { return m.Report.ClientOrderID == 33 }).Report.InputSeq
	c2 := dial(t, addrs.Gateway, 2)
	// From the recent reports (which keep no event of a start's first
	// input): answered by the sender, before the reports of later inputs.
	frame := proto.NewEncoder().ResendReports(77, accepted-1)
	if err := n.Publish(input.KindClient, c2.Session, 3, time.Now().UnixNano(), frame[proto.PrefixSize:]); err != nil {
		t.Fatal(err)
	}
	// Then account 2's own order: its report comes after anything the
	// request could have sent it.
	c2.NewOrder(limit(22, wire.SideBuy, in.ReferencePrice-in.TickSize, in.LotSize))
	for {
		m := next(t, c2, func(client.Message) bool { return true })
		switch {
		case m.Type == wire.MessageExecutionReport && m.Report.Account == 3:
			t.Fatalf("account 2's session got account 3's report: %s of order %d (client order id %d), tag %d",
				m.Report.Kind, m.Report.OrderID, m.Report.ClientOrderID, m.Seq)
		case m.Type == wire.MessageResendDone:
			t.Fatalf("account 2's session got the ResendDone of account 3's request: %+v", m.ResendDone)
		case m.Type == wire.MessageExecutionReport && m.Report.ClientOrderID == 22:
			return
		}
	}
}

// The worker is free from before a ResendDone goes out: a client asking
// again as soon as it has the answer is served, never answered busy
// (the cache test met that once, under the race detector).
func TestResendAgainAtOnce(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Gateway.RecentReports = 0 // every resend by the worker
	cfg.Gateway.StatusRate = 0
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	c := dial(t, addrs.Gateway, 3)
	placeAndCancel(t, c, cfg.Instruments[0].ReferencePrice-cfg.Instruments[0].TickSize, cfg.Instruments[0].LotSize, 5)
	for i := range 50 {
		tag, _ := c.Resend(int64(i % 10))
		if _, done, _ := resendAnswer(t, c, tag); done.Reason != proto.ResendComplete {
			t.Fatalf("resend %d, asked at once after the one before: %+v", i, done)
		}
	}
}

// checkPlacedAndCancelled checks resent is placeAndCancel's reports in
// order: order 1 accepted, cancelled, order 2 accepted, …
func checkPlacedAndCancelled(t *testing.T, resent []proto.Report) {
	t.Helper()
	for i, r := range resent {
		if r.ClientOrderID != uint64(i/2+1) || r.Kind != []wire.ExecKind{wire.ExecKindAccepted, wire.ExecKindCancelled}[i%2] {
			t.Fatalf("report %d: %s of order %d, out of order", i, r.Kind, r.ClientOrderID)
		}
	}
}

// placeAndCancel places and cancels n orders (client ids 1…n), two
// reports each, reading as it goes so its send buffer never fills.
func placeAndCancel(t *testing.T, c *client.Client, price, qty int64, n int) {
	t.Helper()
	for i := range n {
		c.NewOrder(limit(uint64(i+1), wire.SideBuy, price, qty))
		c.Cancel(proto.Cancel{OrigClientOrderID: uint64(i + 1), Instrument: 1})
		if i%100 == 99 || i == n-1 {
			next(t, c, func(m client.Message) bool {
				return m.Report.ClientOrderID == uint64(i+1) && m.Report.Kind == wire.ExecKindCancelled
			})
		}
	}
}

// Reports resent after a restart under changed limits are the reports
// that were sent, or none: a replay from the journal's start is a replay
// from the snapshot at input 0, whose rules are checked like any other's.
// It was an empty engine under the new limits, which turned an order that
// was accepted (and is live) into a max-open-orders reject, "complete".
func TestResendAfterARulesChangeResendsWhatWasSent(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	in := cfg.Instruments[0]
	n, addrs, _ := startNode(t, cfg)
	c := dial(t, addrs.Gateway, 4) // no cancel-on-disconnect
	var sent []proto.Report
	for i := uint64(1); i <= 12; i++ {
		c.NewOrder(limit(i, wire.SideBuy, in.ReferencePrice-int64(i)*in.TickSize, 1))
		m := next(t, c, func(m client.Message) bool { return m.Type == wire.MessageExecutionReport })
		sent = append(sent, m.Report)
		if i == 5 {
			waitSnapshot(t, n)
		}
	}
	c.Close()
	if err := n.Stop(); err != nil { // a clean stop: snapshot at the journal's end
		t.Fatal(err)
	}

	tight := testConfig(t, dir)
	tight.Accounts[3].MaxOpenOrders = 8 // changed across a clean stop, as the docs allow
	n2, addrs2, rec := startNode(t, tight)
	defer n2.Stop()
	_ = rec
	c2 := dial(t, addrs2.Gateway, 4)
	tag, _ := c2.Resend(0)
	resent, done, _ := resendAnswer(t, c2, tag)
	if done.Reason == proto.ResendComplete && len(resent) != len(sent) {
		t.Fatalf("done %+v with %d of %d reports", done, len(resent), len(sent))
	}
	for i, r := range resent {
		if r.InputSeq > sent[len(sent)-1].InputSeq {
			break
		}
		var orig *proto.Report
		for j := range sent {
			if sent[j].InputSeq == r.InputSeq {
				orig = &sent[j]
			}
		}
		if orig == nil || *orig != r {
			t.Fatalf("resent report %d differs from the one sent:\n resent %+v\n   sent %+v", i, r, orig)
		}
	}
}

// A data directory with no snapshot of the empty state at input 0 (made
// before such snapshots were written, or a member installed at input 0)
// still resends from the journal's start, on an empty engine under the
// config, as its recovery replays that journal.
func TestResendFromTheStartWithoutASnapshotAtZero(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	in := cfg.Instruments[0]
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	c := dial(t, addrs.Gateway, 4)
	var sent []proto.Report
	for i := uint64(1); i <= 5; i++ {
		c.NewOrder(limit(i, wire.SideBuy, in.ReferencePrice-int64(i)*in.TickSize, 1))
		sent = append(sent, next(t, c, report(wire.ExecKindAccepted)).Report)
	}
	if err := os.Remove(filepath.Join(cfg.SnapshotDir(), fmt.Sprintf("%020d.snap", 0))); err != nil {
		t.Fatal(err)
	}
	tag, _ := c.Resend(0)
	resent, done, _ := resendAnswer(t, c, tag)
	if done.Reason != proto.ResendComplete || len(resent) != len(sent) {
		t.Fatalf("done %+v, %d of %d reports", done, len(resent), len(sent))
	}
	for i := range sent {
		if resent[i] != sent[i] {
			t.Fatalf("resent %+v, sent %+v", resent[i], sent[i])
		}
	}
}

// Limits changed across a clean stop (rules A to B) and changed back
// across another (B to A): the snapshot of input 0 and the newest agree
// with the config again, but the inputs between were decided under B. A
// resend replayed them under A and resent an order refused under B
// (max open orders) as accepted, marked complete. Now the snapshot of B
// — or, once snapshot.keep pruned it, the rules mark it left — refuses
// that start point, and the answer is partial, with nothing resent
// that was not sent.
func TestResendAcrossRulesChangedAndBack(t *testing.T) {
	for _, keep := range []int{2, 1} {
		t.Run(fmt.Sprintf("keep=%d", keep), func(t *testing.T) {
			dir := t.TempDir()
			in := testConfig(t, dir).Instruments[0]
			place := func(c *client.Client, id uint64) proto.Report {
				c.NewOrder(limit(id, wire.SideBuy, in.ReferencePrice-int64(id)*in.TickSize, 1))
				return next(t, c, func(m client.Message) bool { return m.Type == wire.MessageExecutionReport }).Report
			}
			run := func(maxOpen int64, ids ...uint64) []proto.Report {
				cfg := testConfig(t, dir)
				cfg.Gateway.RecentReports = 0
				cfg.Snapshot.Keep = keep
				cfg.Snapshot.JournalRetention = config.RetentionKeep
				if maxOpen > 0 {
					cfg.Accounts[3].MaxOpenOrders = maxOpen
				}
				n, addrs, _ := startNode(t, cfg)
				c := dial(t, addrs.Gateway, 4)
				var sent []proto.Report
				for _, id := range ids {
					sent = append(sent, place(c, id))
				}
				c.Close()
				if err := n.Stop(); err != nil {
					t.Fatal(err)
				}
				return sent
			}
			sent := run(0, 1, 2, 3)           // A: three orders rest
			sent = append(sent, run(3, 4)...) // B: at most three open; the fourth is refused
			if sent[3].Kind != wire.ExecKindRejected {
				t.Fatalf("under B the fourth order was %s, want rejected", sent[3].Kind)
			}
			cfg := testConfig(t, dir) // A again
			cfg.Gateway.RecentReports = 0
			cfg.Snapshot.Keep = keep
			cfg.Snapshot.JournalRetention = config.RetentionKeep
			n, addrs, _ := startNode(t, cfg)
			defer n.Stop()
			seqs, _ := n.snaps.List()
			t.Logf("snapshots %v", seqs)
			c := dial(t, addrs.Gateway, 4)
			tag, err := c.Resend(0)
			if err != nil {
				t.Fatal(err)
			}
			resent, done, _ := resendAnswer(t, c, tag)
			for _, r := range resent {
				for _, s := range sent {
					if s.InputSeq == r.InputSeq && s != r {
						t.Errorf("input %d: resent %s (order %d, reason %d), but what was sent was %s (reason %d)",
							r.InputSeq, r.Kind, r.ClientOrderID, r.Reason, s.Kind, s.Reason)
					}
				}
			}
			if done.Reason != proto.ResendPartial {
				t.Errorf("resend across a change of rules and back: %+v, want partial", done)
			}
		})
	}
}

// A client logged off across a clean restart asks for what it missed
// and gets its fill, as without the restart: the clean stop's snapshot
// was the only one besides input 0's, and the journal before it was
// archived at once (keep 2), so the fill was not resent (partial),
// though well within gateway.resend_window.
func TestResendAfterTheFirstRestart(t *testing.T) {
	for _, restarts := range []int{0, 1} {
		cfg := testConfig(t, t.TempDir())
		for i := range cfg.Accounts {
			cfg.Accounts[i].CancelOnDisconnect = false
		}
		in := cfg.Instruments[0]
		n, a, _ := startNode(t, cfg)
		buyer, seller := dial(t, a.Gateway, 1), dial(t, a.Gateway, 2)
		buyer.NewOrder(limit(1, wire.SideBuy, in.ReferencePrice, 1))
		next(t, buyer, report(wire.ExecKindAccepted))
		buyer.Close() // the buyer goes away; its order rests
		seller.NewOrder(limit(2, wire.SideSell, in.ReferencePrice, 1))
		fill := next(t, seller, report(wire.ExecKindFill))
		mm := dial(t, a.Gateway, 3)
		restBids(t, mm, in, 1, 12000) // a few MiB of journal: more than one segment
		for range restarts {
			if err := n.Stop(); err != nil {
				t.Fatal(err)
			}
			n, a, _ = startNode(t, cfg)
		}
		c := dial(t, a.Gateway, 1)
		tag, err := c.Resend(0)
		if err != nil {
			t.Fatal(err)
		}
		resent, done, _ := resendAnswer(t, c, tag)
		got := 0
		for _, r := range resent {
			if r.Kind == wire.ExecKindFill && r.TradeID == fill.Report.TradeID {
				got++
			}
		}
		seqs, _ := n.snaps.List()
		segs, _ := filepath.Glob(filepath.Join(cfg.JournalDir(), "*"))
		arch, _ := filepath.Glob(filepath.Join(cfg.ArchiveDir(), "*"))
		t.Logf("journal %v archive %v", segs, arch)
		t.Logf("%d restarts: snapshots %v, resend %+v, %d reports", restarts, seqs, done, len(resent))
		n.Stop()
		if got != 1 || done.Reason != proto.ResendComplete {
			t.Errorf("after %d restarts the buyer's fill (input %d) is not resent: %+v", restarts, fill.Report.InputSeq, done)
		}
	}
}

// A resend from the start reads the journal segments the retention moved
// to the archive (snapshot.journal_retention: archive, the default), as
// ringex replay does: the snapshot of input 0 is kept for it. Before, a
// young node's resend from 0 answered partial once the first segment was
// archived, though the node held every input.
func TestResendFromTheStartReadsTheArchive(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	for k, v := range map[string]string{"gateway.recent_reports": "0", "snapshot.journal_retention": "archive", "snapshot.keep": "2",
		"gateway.status_rate": "0"} {
		if err := cfg.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	n, a, _ := startNode(t, cfg)
	defer n.Stop()
	in := cfg.Instruments[0]
	mm := dial(t, a.Gateway, 3)
	restBids(t, mm, in, 1, 12000) // more than one 1 MiB segment
	waitSnapshot(t, n)
	restBids(t, mm, in, 12001, 16000)
	waitSnapshot(t, n)
	waitUntil(t, func() bool {
		arch, _ := filepath.Glob(filepath.Join(cfg.ArchiveDir(), "*.journal"))
		return len(arch) > 0
	})
	dc := dialDropCopy(t, a.Gateway, 3, 0)
	for {
		tag, _ := dc.Resend(0)
		resent, done, _ := resendAnswer(t, dc, tag)
		if done.Reason == proto.ResendBusy {
			continue
		}
		if done.Reason != proto.ResendComplete || len(resent) != 16000 {
			t.Fatalf("resend from 0 with the journal's start archived: %+v, %d of 16000 reports", done, len(resent))
		}
		return
	}
}

// A resend whose replay ends before the input the request came after —
// the journal's newest segment gone from the directory (removed by
// hand, a disk that lost it) — answers ResendFailed through the last
// input read, not ResendComplete for reports it never rebuilt.
func TestResendOfAJournalEndingEarlyFails(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	for k, v := range map[string]string{"gateway.recent_reports": "0", "gateway.status_rate": "0"} {
		if err := cfg.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	n, a, _ := startNode(t, cfg)
	defer n.Stop()
	mm := dial(t, a.Gateway, 3)
	restBids(t, mm, cfg.Instruments[0], 1, 12000) // more than one 1 MiB segment
	segs, _ := filepath.Glob(filepath.Join(cfg.JournalDir(), "*.journal"))
	if len(segs) < 2 {
		t.Fatalf("setup: %d segments", len(segs))
	}
	if err := os.Remove(segs[len(segs)-1]); err != nil { // the journal writes on through its open file
		t.Fatal(err)
	}
	for {
		tag, _ := mm.Resend(0)
		resent, done, _ := resendAnswer(t, mm, tag)
		if done.Reason == proto.ResendBusy {
			continue
		}
		if done.Reason != proto.ResendFailed || done.ThroughInputSeq >= 12000 || int64(len(resent)) > done.ThroughInputSeq {
			t.Fatalf("resend from 0 with the journal's newest segment gone: %+v after %d reports, want failed through the last input read", done, len(resent))
		}
		return
	}
}
