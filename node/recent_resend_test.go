package node

import (
	"net"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// A trader back after a short outage gets what it missed from the
// execution sender's recent reports — no replay — and they are the very
// reports the worker rebuilds from the journal.
func TestResendFromMemory(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	in := cfg.Instruments[0]
	price := in.ReferencePrice

	c2 := dial(t, addrs.Gateway, 2)
	c2.NewOrder(limit(20, wire.SideBuy, price-5*in.TickSize, 1))
	// The first event the sender saw: the kept events cover the inputs after it.
	first := next(t, c2, report(wire.ExecKindAccepted)).Report.InputSeq
	seen := missTwoFills(t, n, addrs.Gateway, in, c2)

	c4 := dial(t, addrs.Gateway, 4)
	tag, err := c4.Resend(seen)
	if err != nil {
		t.Fatal(err)
	}
	c4.NewOrder(limit(2, wire.SideBuy, price-in.TickSize, in.LotSize)) // right behind the request
	resent, done, live := resendAnswer(t, c4, tag)
	checkTwoFills(t, resent, seen, in)
	if len(live) != 0 {
		t.Fatalf("live reports inside the answer from memory: %+v", live)
	}
	next(t, c4, report(wire.ExecKindAccepted))
	request := resent[1].InputSeq + 1
	if done != (proto.ResendDone{AfterInputSeq: seen, FirstInputSeq: seen + 1, ThroughInputSeq: request - 1, Count: 2}) {
		t.Fatalf("done %+v", done)
	}
	if since := n.stats.recentSince.Load(); since <= 0 || since > time.Now().UnixNano() {
		t.Fatalf("recent reports reach back to %d", since)
	}
	if got, replayed := n.stats.resends.fromMemory.Load(), n.stats.resends.replayed.Load(); got != 1 || replayed != 0 {
		t.Fatalf("answered from memory %d times, %d inputs replayed; want once and none", got, replayed)
	}

	// From before the kept events: the worker replays the journal, and
	// its reports of the inputs after seen are the same ones.
	tag, _ = c4.Resend(first - 1)
	all, done, _ := resendAnswer(t, c4, tag)
	if done.Reason != proto.ResendComplete || n.stats.resends.replayed.Load() == 0 || n.stats.resends.fromMemory.Load() != 1 {
		t.Fatalf("resend from %d: done %+v, %d inputs replayed, %d from memory", first-1, done,
			n.stats.resends.replayed.Load(), n.stats.resends.fromMemory.Load())
	}
	var rebuilt []proto.Report
	for _, r := range all {
		if r.InputSeq > seen && r.InputSeq < request {
			rebuilt = append(rebuilt, r)
		}
	}
	if len(rebuilt) != len(resent) || rebuilt[0] != resent[0] || rebuilt[1] != resent[1] {
		t.Fatalf("from memory %+v, rebuilt by the worker %+v", resent, rebuilt)
	}
}

// The sender keeps only its last gateway.recent_reports events: a resend
// of inputs they no longer cover is rebuilt from the journal; one they
// cover but too large for half the session's send buffer is sent by the
// worker from a copy of them. Both get everything.
func TestResendBeyondMemory(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Gateway.RecentReports = 16
	cfg.Gateway.SendBufferBytes = 64 << 10 // half of it: fewer than 120 events of reports
	cfg.Gateway.StatusRate = 0
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	in := cfg.Instruments[0]
	c := dial(t, addrs.Gateway, 3)
	var accepted []int64 // input of each order's accept
	for i := range 20 {
		accepted = append(accepted, restBuy(t, c, in, uint64(i+1)).Report.InputSeq)
		c.Cancel(proto.Cancel{OrigClientOrderID: uint64(i + 1), Instrument: 1})
		next(t, c, report(wire.ExecKindCancelled))
	}
	resend := func(after int64) (resent []proto.Report, done proto.ResendDone, replayed, fromMemory int64) {
		replayedBefore, memoryBefore := n.stats.resends.replayed.Load(), n.stats.resends.fromMemory.Load()
		tag, _ := c.Resend(after)
		resent, done, _ = resendAnswer(t, c, tag)
		return resent, done, n.stats.resends.replayed.Load() - replayedBefore, n.stats.resends.fromMemory.Load() - memoryBefore
	}
	// 40 events into 16 places: orders 19 and 20 are still kept.
	resent, done, replayed, fromMemory := resend(accepted[18] - 1)
	if len(resent) != 4 || done.Reason != proto.ResendComplete || replayed != 0 || fromMemory != 1 {
		t.Fatalf("last two orders: %d resent, done %+v, %d replayed, %d from memory", len(resent), done, replayed, fromMemory)
	}
	resent, done, replayed, fromMemory = resend(accepted[4] - 1)
	if len(resent) != 32 || resent[0].ClientOrderID != 5 || done.Reason != proto.ResendComplete || replayed == 0 || fromMemory != 0 {
		t.Fatalf("from order 5: %d resent, done %+v, %d replayed, %d from memory", len(resent), done, replayed, fromMemory)
	}

	// Kept, but more than half the send buffer: the worker sends a copy
	// of the events, paced to the client (seven send buffers of reports).
	cfg.Gateway.RecentReports = 4096
	n.Stop()
	n2, addrs2, _ := startNode(t, cfg)
	defer n2.Stop()
	n, c = n2, dial(t, addrs2.Gateway, 3)
	since := restBuy(t, c, in, 10000).Report.InputSeq // the new node's first event
	const orders = 1500
	placeAndCancel(t, c, in.ReferencePrice-in.TickSize, in.LotSize, orders)
	resent, done, replayed, fromMemory = resend(since)
	if len(resent) != 2*orders || done.Reason != proto.ResendComplete || done.FirstInputSeq != since+1 || replayed != 0 || fromMemory != 1 {
		t.Fatalf("%d reports: %d resent, done %+v, %d replayed, %d from memory", 2*orders, len(resent), done, replayed, fromMemory)
	}
	checkPlacedAndCancelled(t, resent)
	// Again, through the copy's memory kept from the first.
	again, done, replayed, fromMemory := resend(since + 2*orders/3)
	if len(again) != 2*orders-2*orders/3 || done.Reason != proto.ResendComplete || replayed != 0 || fromMemory != 1 ||
		again[len(again)-1] != resent[len(resent)-1] {
		t.Fatalf("again: %d resent, done %+v, %d replayed, %d from memory", len(again), done, replayed, fromMemory)
	}
}

// A market maker whose session drops has its resting orders cancelled
// at once (cancel-on-disconnect): one input, thousands of reports. Back
// on, it asks for what it missed; the answer, many send buffers large and
// more events than one step of the sender walks, comes from memory — the
// worker's steps — and is the one the journal replay gives.
func TestResendAfterMassCancel(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Gateway.RecentReports = 16384
	cfg.Gateway.SendBufferBytes = 64 << 10
	cfg.Gateway.StatusRate = 0
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	in := cfg.Instruments[0]
	price := in.ReferencePrice - in.TickSize
	const orders = 3000 // 6000 events: six steps' walk
	c := dial(t, addrs.Gateway, 3)
	c.NewOrder(limit(orders+1, wire.SideBuy, price, in.LotSize))
	since := next(t, c, report(wire.ExecKindAccepted)).Report.InputSeq // the node's first event
	for i := range orders {
		c.NewOrder(limit(uint64(i+1), wire.SideBuy, price, in.LotSize))
		if i%100 == 99 {
			next(t, c, func(m client.Message) bool {
				return m.Report.ClientOrderID == uint64(i+1) && m.Report.Kind == wire.ExecKindAccepted
			})
		}
	}
	// The gauge is stored only when a scrape's read of the book completes
	// (it gives up after bookGaugesWait): see the resting level stored
	// first, so the zero waited for below is read after the close.
	waitUntil(t, func() bool { n.bookGauges(); return n.stats.depth[0][0].Load() == 1 })
	c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for n.bookGauges(); n.stats.depth[0][0].Load() != 0; n.bookGauges() {
		if time.Now().After(deadline) {
			t.Fatalf("%d buy levels left after the market maker's session ended", n.stats.depth[0][0].Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	// A session of the account logged on before the execution sender has
	// sent the cancels would get them live too, beside the resend: more
	// than its 64 KiB send buffer, and it is cut as a slow consumer.
	waitUntil(t, func() bool { return n.stats.sender.Sequence().Load() >= n.exec.published() })

	c = dial(t, addrs.Gateway, 3)
	tag, _ := c.Resend(since)
	resent, done, _ := resendAnswer(t, c, tag)
	if len(resent) != 2*orders+1 || done.Reason != proto.ResendComplete || done.FirstInputSeq != since+1 ||
		n.stats.resends.replayed.Load() != 0 || n.stats.resends.fromMemory.Load() != 1 {
		t.Fatalf("%d resent, done %+v, %d inputs replayed, %d from memory", len(resent), done,
			n.stats.resends.replayed.Load(), n.stats.resends.fromMemory.Load())
	}
	cancelled := map[uint64]bool{}
	for i, r := range resent {
		switch {
		case i < orders && (r.Kind != wire.ExecKindAccepted || r.ClientOrderID != uint64(i+1)):
			t.Fatalf("report %d: %s of order %d, want the accept of order %d", i, r.Kind, r.ClientOrderID, i+1)
		case i >= orders && (r.Kind != wire.ExecKindCancelled || r.InputSeq != resent[orders].InputSeq):
			t.Fatalf("report %d: %s of order %d at input %d, want one cancel input", i, r.Kind, r.ClientOrderID, r.InputSeq)
		case i >= orders:
			cancelled[r.ClientOrderID] = true
		}
	}
	if len(cancelled) != orders+1 {
		t.Fatalf("%d orders cancelled, want %d", len(cancelled), orders+1)
	}
	// The copy was made into memory the next answer reuses, until the
	// worker, idle, lets it go.
	waitUntil(t, func() bool { return len(n.asidePicks) == resendSendersMost })
	kept := func() (most int) {
		for range resendSendersMost {
			p := <-n.asidePicks
			most = max(most, cap(p.events))
			n.asidePicks <- p
		}
		return most
	}
	if got := kept(); got < 2*orders+1 {
		t.Fatalf("the largest kept copy holds %d events, want at least %d", got, 2*orders+1)
	}
	n.releaseAsidePicks()
	if got := kept(); got != 0 {
		t.Fatalf("after release a copy holds %d events", got)
	}

	// From before the kept events: the journal replay's answer is the same.
	tag, _ = c.Resend(since - 1)
	all, done, _ := resendAnswer(t, c, tag)
	if done.Reason != proto.ResendComplete || n.stats.resends.replayed.Load() == 0 {
		t.Fatalf("from the journal: done %+v, %d replayed", done, n.stats.resends.replayed.Load())
	}
	if !slices.Equal(all[1:], resent) {
		t.Fatalf("from memory and from the journal differ: %d and %d reports", len(resent), len(all)-1)
	}
}

// A copy of recent reports is sent by a goroutine of its own, so a client
// that reads slowly holds up nobody else's resend: with four such clients
// waited for, another client's large resend from memory is still served.
// A fifth the worker sends itself; only then is a request answered busy.
func TestResendFromMemoryWhileOthersWait(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Gateway.RecentReports = 1 << 17
	cfg.Gateway.SendBufferBytes = 64 << 10 // half of it: fewer than 140 events of reports
	cfg.Gateway.StatusRate = 0
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	in := cfg.Instruments[0]
	price := in.ReferencePrice - in.TickSize
	c3 := dial(t, addrs.Gateway, 3)
	since := restBuy(t, c3, in, 1<<40).Report.InputSeq // the node's first event
	// 60 000 reports, ~9 MB: more than the sockets hold.
	placeAndCancel(t, c3, price, in.LotSize, 30000)
	c2 := dial(t, addrs.Gateway, 2)
	since2 := restBuy(t, c2, in, 1<<40).Report.InputSeq
	placeAndCancel(t, c2, price, in.LotSize, 200) // 400 reports: more than half c2's send buffer

	waited := func() (count int) { // account 3's sessions a resend waits for
		for _, s := range n.gw.RoutesOf(3).Trading {
			if p, limit := s.Out.Pending(); s.ID != c3.Session && p > limit/2 {
				count++
			}
		}
		return count
	}
	for i := range resendSendersMost {
		stuck := dialNotReading(t, addrs.Gateway, 3, cfg.Accounts[2].Secret)
		stuck.Write(proto.NewEncoder().ResendReports(2, since))
		waitUntil(t, func() bool { return waited() == i+1 })
	}
	tag, _ := c2.Resend(since2)
	resent, done, _ := resendAnswer(t, c2, tag)
	if len(resent) != 400 || done.Reason != proto.ResendComplete || n.stats.resends.replayed.Load() != 0 {
		t.Fatalf("beside %d clients waited for: %d resent, done %+v, %d replayed", resendSendersMost, len(resent), done, n.stats.resends.replayed.Load())
	}
	checkPlacedAndCancelled(t, resent)

	// The worker sends the next copy itself: it waits too.
	stuck := dialNotReading(t, addrs.Gateway, 3, cfg.Accounts[2].Secret)
	stuck.Write(proto.NewEncoder().ResendReports(2, since))
	waitUntil(t, func() bool { return waited() == resendSendersMost+1 })
	tag, _ = c2.Resend(since2)
	if _, done, _ = resendAnswer(t, c2, tag); done.Reason != proto.ResendBusy {
		t.Fatalf("with the worker waiting too: done %+v, want busy", done)
	}
}

// dialSmallWindow connects to addr with a 4 KiB receive buffer, so a
// reader that does not read is noticed before the kernel absorbs
// megabytes; the connection is closed when the test ends.
func dialSmallWindow(t *testing.T, addr string) net.Conn {
	t.Helper()
	small := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { _ = testkit.SetReceiveBuffer(fd, 4096) })
	}}
	conn, err := small.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// dialNotReading logs on as account over a connection with a small
// receive buffer (this VM's loopback autotunes one to 32 MB) whose reader
// never reads; it is closed when the test ends.
func dialNotReading(t *testing.T, addr string, account uint32, secret string) net.Conn {
	t.Helper()
	conn := dialSmallWindow(t, addr)
	if _, err := conn.Write(proto.NewEncoder().Logon(1, account, secret)); err != nil {
		t.Fatal(err)
	}
	return conn
}
