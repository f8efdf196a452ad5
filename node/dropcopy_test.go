package node

import (
	"encoding/binary"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// A drop-copy session sees every report of its account — the ones routed
// to the account's trading session and the fills of its resting orders —
// while the trading session still gets each of its reports once; it may
// not trade; and it does not keep the account's orders alive: when the
// last trading session goes, cancel-on-disconnect cancels them, and the
// drop copy sees the cancels.
func TestDropCopySession(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	in := cfg.Instruments[0]
	copy1 := dialDropCopy(t, addrs.Gateway, 1, 0)
	c1, c2 := dial(t, addrs.Gateway, 1), dial(t, addrs.Gateway, 2)

	c1.NewOrder(limit(1, wire.SideBuy, in.ReferencePrice, 5*in.LotSize))
	c1.NewOrder(limit(2, wire.SideBuy, in.ReferencePrice-in.TickSize, in.LotSize))
	next(t, c1, func(m client.Message) bool { return m.Report.ClientOrderID == 2 })
	c2.NewOrder(limit(9, wire.SideSell, in.ReferencePrice, 2*in.LotSize)) // fills account 1's order 1
	next(t, c2, report(wire.ExecKindFill))
	fill := next(t, c1, report(wire.ExecKindFill)).Report

	// The drop copy: both accepts and the maker fill, in order, nothing of
	// account 2's.
	var seen []proto.Report
	for len(seen) < 3 {
		m := next(t, copy1, func(m client.Message) bool { return m.Type == wire.MessageExecutionReport })
		seen = append(seen, m.Report)
	}
	if seen[0].ClientOrderID != 1 || seen[1].ClientOrderID != 2 || seen[2] != fill {
		t.Fatalf("drop copy saw %+v; the fill was %+v", seen, fill)
	}
	for _, r := range seen {
		if r.Account != 1 {
			t.Fatalf("drop copy of account 1 saw account %d's report", r.Account)
		}
	}

	// It may not trade; each refusal names what it refused.
	for _, try := range []struct {
		send          func() error
		clientOrderID uint64
	}{
		{func() error { return copy1.NewOrder(limit(3, wire.SideBuy, in.ReferencePrice, in.LotSize)) }, 3},
		{func() error { return copy1.Cancel(proto.Cancel{OrigClientOrderID: 2, Instrument: 1}) }, 2},
		{func() error { return copy1.MassCancel(0) }, 0},
	} {
		try.send()
		m := next(t, copy1, report(wire.ExecKindRejected))
		if m.Report.Reason != uint8(engine.ReasonDropCopySession) || m.Report.ClientOrderID != try.clientOrderID {
			t.Fatalf("an order from a drop copy: %+v, want client order id %d", m.Report, try.clientOrderID)
		}
	}
	body := scrapeMetrics(t, addrs.Admin)
	if !strings.Contains(string(body), `ringex_rejects_total{reason="drop-copy-session"} 3`+"\n") {
		t.Fatalf("the gateway's refusals are not in ringex_rejects_total:\n%s", regexp.MustCompile(`(?m)^ringex_rejects_total.*$`).FindAll(body, -1))
	}

	// The trading session got its reports once each: after the fill comes
	// the next thing, not a duplicate.
	c1.OrderStatus(proto.OrderStatus{})
	m := next(t, c1, func(m client.Message) bool { return m.Type == wire.MessageExecutionReport })
	if m.Report.Kind != wire.ExecKindStatus {
		t.Fatalf("after the fill account 1's session read %+v", m.Report)
	}

	// The last trading session leaves: account 1 cancels on disconnect,
	// the drop copy does not count as a session of it, and sees the two
	// cancels.
	c1.Logout()
	c1.Close()
	copy1.SetReadDeadline(time.Now().Add(5 * time.Second))
	cancels := 0
	for cancels < 2 {
		m, err := copy1.Next()
		if err != nil {
			t.Fatalf("drop copy, waiting for the cancels: %v", err)
		}
		if m.Type == wire.MessageExecutionReport && (m.Report.Kind == wire.ExecKindStatus || m.Report.Kind == wire.ExecKindStatusDone) {
			t.Fatalf("the drop copy got another session's status answer: %+v", m.Report)
		}
		if m.Report.Kind == wire.ExecKindCancelled && m.Report.Reason == uint8(engine.CancelMassCancel) {
			cancels++
		}
	}
}

// A drop copy's own OrderStatus is answered to it alone: the account's
// trading session, which asked nothing, got the answer too (reports with
// no request tag, whose StatusDone a client paging through its own
// status could take for the end of its answer).
func TestDropCopyStatusAnsweredToItAlone(t *testing.T) {
	_, addrs, in, trader := startWithOneResting(t)
	dc := dialDropCopy(t, addrs.Gateway, 1, 0)
	dc.OrderStatus(proto.OrderStatus{})
	if m := next(t, dc, report(wire.ExecKindStatus)); m.Report.ClientOrderID != 1 {
		t.Fatalf("drop copy's status: %+v", m.Report)
	}
	next(t, dc, report(wire.ExecKindStatusDone))
	// The trader asks its own, then places an order. The sender stages a
	// session's reports in the engine's order, so a copy of the drop
	// copy's answer (an input before both) and a second answer to the
	// trader's request would come before the order's Accepted: one Status
	// (order 1) and one StatusDone before it, no quiet window needed.
	trader.OrderStatus(proto.OrderStatus{})
	trader.NewOrder(limit(2, wire.SideBuy, in.ReferencePrice-in.TickSize, in.LotSize))
	got, ok := reportsUntil(trader, 10*time.Second, func(r proto.Report) bool {
		return r.Kind == wire.ExecKindAccepted && r.ClientOrderID == 2
	})
	if !ok {
		t.Fatalf("no Accepted of order 2 within 10 s; read %+v", got)
	}
	statuses, dones := 0, 0
	for _, r := range got {
		switch r.Kind {
		case wire.ExecKindStatus:
			statuses++
		case wire.ExecKindStatusDone:
			dones++
		}
	}
	if statuses != 1 || dones != 1 {
		t.Fatalf("the trading session read %d Status and %d StatusDone reports before its next order's Accepted: want its one answer's 1 and 1", statuses, dones)
	}
}

// A trading session's OrderStatus answer is its alone: copied to the drop
// copies (as every report of the account is), a drop copy paging its own
// status took the trader's answer for its own.
func TestStatusAnswersGoToTheAskerOnly(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	trader := dial(t, addrs.Gateway, 1)
	for i, in := range cfg.Instruments[:2] {
		o := limit(uint64(i+1), wire.SideBuy, in.ReferencePrice-in.TickSize, in.LotSize)
		o.Instrument = in.ID
		trader.NewOrder(o)
		next(t, trader, report(wire.ExecKindAccepted))
	}
	dc := dialDropCopy(t, addrs.Gateway, 1, 0)
	trader.OrderStatus(proto.OrderStatus{Instrument: 1})
	next(t, trader, report(wire.ExecKindStatusDone))
	dc.OrderStatus(proto.OrderStatus{Instrument: 2})
	// the drop copy reads its answer: Status reports up to StatusDone
	dc.SetReadDeadline(time.Now().Add(5 * time.Second))
	var listed []proto.Report
	for {
		m, err := dc.Next()
		if err != nil {
			t.Fatal(err)
		}
		if m.Type != wire.MessageExecutionReport {
			continue
		}
		if m.Report.Kind == wire.ExecKindStatus {
			listed = append(listed, m.Report)
		}
		if m.Report.Kind == wire.ExecKindStatusDone {
			break
		}
	}
	for _, r := range listed {
		if r.Instrument != 2 {
			t.Fatalf("drop copy asked for instrument 2 and read as its answer %+v (the trading session's answer)", r)
		}
	}
}

// A MassCancel ends with MassCancelDone to the asking session alone, with
// how many orders it cancelled (0 too: the asker learns the account holds
// nothing).
func TestMassCancelDoneAnswersTheAsker(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	asker, other := dial(t, addrs.Gateway, 1), dial(t, addrs.Gateway, 1)
	in := cfg.Instruments[0]
	for i := range 2 {
		restBuy(t, asker, in, uint64(i+1))
	}
	for _, want := range []int64{2, 0} {
		asker.MassCancel(0)
		m := next(t, asker, report(wire.ExecKindMassCancelDone))
		if m.Report.Quantity != want || m.Report.Account != 1 {
			t.Fatalf("MassCancelDone %+v; want %d orders cancelled", m.Report, want)
		}
	}
	// The other session heard nothing of the answers: its next report is
	// its own order's.
	other.NewOrder(limit(9, wire.SideBuy, in.ReferencePrice-in.TickSize, in.LotSize))
	if m := next(t, other, func(m client.Message) bool { return m.Type == wire.MessageExecutionReport }); m.Report.Kind != wire.ExecKindAccepted {
		t.Fatalf("the other session got %v: another's MassCancel answer", m.Report.Kind)
	}
}

// A MassCancel from one session of an account cancels orders another
// session entered: that session hears each cancel, as it would a
// self-trade's — it went to the asker alone, and the quoting session went
// on believing its orders were in the book.
func TestMassCancelByAnotherSessionReachesTheOwner(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	owner, risk := dial(t, addrs.Gateway, 1), dial(t, addrs.Gateway, 1)
	in := cfg.Instruments[0]
	acc := restBuy(t, owner, in, 1)
	risk.MassCancel(0)
	if m := next(t, risk, report(wire.ExecKindMassCancelDone)); m.Report.Quantity != 1 {
		t.Fatalf("MassCancelDone %+v, want 1 cancelled", m.Report)
	}
	if m := next(t, owner, report(wire.ExecKindCancelled)); m.Report.OrderID != acc.Report.OrderID {
		t.Fatalf("the owner heard %+v, want the cancel of its order %d", m.Report, acc.Report.OrderID)
	}
}

// dialDropCopy logs a drop copy of account on, replacing session
// (0: none).
func dialDropCopy(t *testing.T, addr string, account uint32, replaces uint64) *client.Client {
	t.Helper()
	c, err := client.Dial(addr, account, config.Default().Accounts[account-1].Secret,
		client.Options{AutoFlush: true, DropCopy: true, ReplacesSession: replaces})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// startWithOneResting starts a node of testConfig and logs account 1 on,
// with its order 1 resting (restBuy); it returns the node, its addresses,
// the instrument and the session.
func startWithOneResting(t *testing.T) (*Node, Addrs, config.Instrument, *client.Client) {
	t.Helper()
	cfg := testConfig(t, t.TempDir())
	n, addrs, _ := startNode(t, cfg)
	in := cfg.Instruments[0]
	trader := dial(t, addrs.Gateway, 1)
	restBuy(t, trader, in, 1)
	return n, addrs, in, trader
}

// A drop-copy logon naming a trading session in replaces_session does not
// close it: a session is replaced only by one of its kind. Before, the
// account's last trading session was closed as "replaced" — which is not
// its last, so no cancel-on-disconnect — and its orders stayed live with
// no trading session.
func TestDropCopyDoesNotReplaceATradingSession(t *testing.T) {
	n, addrs, in, trader := startWithOneResting(t)
	dialDropCopy(t, addrs.Gateway, 1, trader.Session)
	trader.NewOrder(limit(2, wire.SideBuy, in.ReferencePrice-in.TickSize, in.LotSize))
	next(t, trader, func(m client.Message) bool {
		return m.Type == wire.MessageExecutionReport && m.Report.Kind == wire.ExecKindAccepted && m.Report.ClientOrderID == 2
	})
	if routes := n.gw.RoutesOf(1); len(routes.Trading) != 1 || len(routes.DropCopy) != 1 {
		t.Fatalf("account 1 after a drop copy named its trading session: %d trading sessions, %d drop copies", len(routes.Trading), len(routes.DropCopy))
	}
}

// A refused query is the asker's answer like the others: not copied to
// the account's drop copies, which took it for the answer to a request of
// their own, and not resent to the account's sessions, none of which but
// the asker saw it — an OrderStatus refused unknown-instrument, and a
// ResendReports without a tag (seq 0) refused invalid-sequence. (The
// latter the decoder made an invalid command: its Rejected went out like
// an order's, to every drop copy, and into every later resend.)
func TestRefusedQueryGoesToTheAskerOnly(t *testing.T) {
	for _, c := range []struct {
		name string
		ask  func(*client.Client)
	}{
		{"unknown-instrument status", func(c *client.Client) { c.OrderStatus(proto.OrderStatus{Instrument: 999}) }},
		{"untagged resend", func(c *client.Client) { c.SendRaw(proto.NewEncoder().ResendReports(0, 0)) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := testConfig(t, t.TempDir())
			n, addrs, _ := startNode(t, cfg)
			defer n.Stop()
			in := cfg.Instruments[0]
			dc := dialDropCopy(t, addrs.Gateway, 1, 0)
			trader := dial(t, addrs.Gateway, 1)
			c.ask(trader)
			rej := next(t, trader, report(wire.ExecKindRejected))
			restBuy(t, trader, in, 1)
			next(t, dc, func(m client.Message) bool { // up to the order the drop copy must see
				if m.Type == wire.MessageExecutionReport && m.Report.InputSeq == rej.Report.InputSeq {
					t.Fatalf("the drop copy got the refusal of the trading session's query: %+v", m.Report)
				}
				return m.Type == wire.MessageExecutionReport && m.Report.Kind == wire.ExecKindAccepted
			})
			tag, _ := dc.Resend(0)
			resent, done, _ := resendAnswer(t, dc, tag)
			if done.Reason != proto.ResendComplete || len(resent) != 1 || resent[0].Kind != wire.ExecKindAccepted {
				t.Fatalf("resend from the start: %+v, %+v; want the order's Accepted alone", done, resent)
			}
		})
	}
}

// A drop copy's messages other than its queries are refused by the
// gateway and never journaled: a control message, say, went on to the
// engine, whose Rejected went to the drop copy alone — and, being no
// query's answer, into every later resend to the account's trading
// sessions, which never had it live. A frame that does not decode is
// refused as malformed, also a query's: its Rejected was no query's
// answer either.
func TestDropCopyMessagesNotQueriesNeverReachTheJournal(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Gateway.StatusRate = 0
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	in := cfg.Instruments[0]
	c3 := dial(t, addrs.Gateway, 3)
	seen := restBuy(t, c3, in, 33).Report.InputSeq
	d3 := dialDropCopy(t, addrs.Gateway, 3, 0)
	enc := proto.NewEncoder()
	truncated := slices.Clone(enc.ResendReports(6, 0))
	truncated = truncated[:len(truncated)-8]
	binary.LittleEndian.PutUint32(truncated, uint32(len(truncated)-proto.PrefixSize))
	for _, try := range []struct {
		frame  []byte
		reason engine.RejectReason
	}{
		{enc.Halt(5, 1), engine.ReasonDropCopySession},
		{truncated, engine.ReasonMalformedFrame},
	} {
		d3.SendRaw(try.frame)
		if r := next(t, d3, report(wire.ExecKindRejected)).Report; r.Reason != uint8(try.reason) || r.InputSeq != -1 {
			t.Fatalf("drop copy's frame: %+v, want reason %d refused by the gateway (input -1)", r, try.reason)
		}
	}
	// Its queries still work.
	tag, _ := d3.Resend(0)
	if resent, done, _ := resendAnswer(t, d3, tag); len(resent) != 1 || done.Reason != proto.ResendComplete {
		t.Fatalf("drop copy's resend: %d reports, %+v", len(resent), done)
	}
	restBuy(t, c3, in, 34)
	tag, _ = c3.Resend(seen)
	resent, _, _ := resendAnswer(t, c3, tag)
	if len(resent) != 1 || resent[0].ClientOrderID != 34 {
		t.Fatalf("resent to the trading session after input %d: %+v, want only order 34's Accepted", seen, resent)
	}
}
