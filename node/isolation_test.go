package node

import (
	"slices"
	"testing"
	"time"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// A session acts only for its own account: account 2 naming account 1's
// order by its exchange id (cancel, replace, status, a status cursor
// below it), both using client order id 1, and account 2's mass cancel
// touch and show nothing of account 1's, and account 1 hears nothing of
// it.
func TestSessionActsOnlyForItsAccount(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	in := cfg.Instruments[0]
	report := func(m client.Message) bool { return m.Type == wire.MessageExecutionReport }
	c1, c2 := dial(t, addrs.Gateway, 1), dial(t, addrs.Gateway, 2)
	c1.NewOrder(limit(1, wire.SideBuy, in.ReferencePrice-in.TickSize, in.LotSize))
	a1 := next(t, c1, report).Report
	c2.NewOrder(limit(1, wire.SideBuy, in.ReferencePrice-2*in.TickSize, in.LotSize))
	a2 := next(t, c2, report).Report
	if a1.Kind != wire.ExecKindAccepted || a2.Kind != wire.ExecKindAccepted {
		t.Fatalf("orders: %+v, %+v", a1, a2)
	}
	c2.Cancel(proto.Cancel{OrderID: a1.OrderID, Instrument: 1})
	if m := next(t, c2, report); m.Report.Kind != wire.ExecKindRejected {
		t.Fatalf("cancel of another account's order by id: %+v", m.Report)
	}
	c2.Replace(proto.Replace{OrderID: a1.OrderID, Instrument: 1, Price: in.ReferencePrice - 3*in.TickSize, Quantity: in.LotSize})
	if m := next(t, c2, report); m.Report.Kind != wire.ExecKindRejected {
		t.Fatalf("replace of another account's order by id: %+v", m.Report)
	}
	c2.OrderStatus(proto.OrderStatus{OrderID: a1.OrderID})
	if m := next(t, c2, report); m.Report.Kind != wire.ExecKindStatusDone || m.Report.Quantity != 0 {
		t.Fatalf("status of another account's order by id: %+v", m.Report)
	}
	c2.OrderStatus(proto.OrderStatus{AfterOrderID: a1.OrderID - 1})
	if m := next(t, c2, report); m.Report.OrderID != a2.OrderID {
		t.Fatalf("listing after a cursor below another account's order: %+v", m.Report)
	}
	c2.Cancel(proto.Cancel{OrigClientOrderID: 1, Instrument: 1}) // its own client order id 1
	if m := next(t, c2, func(m client.Message) bool {
		return report(m) && m.Report.Kind != wire.ExecKindStatusDone
	}); m.Report.Kind != wire.ExecKindCancelled || m.Report.OrderID != a2.OrderID {
		t.Fatalf("cancel by a client order id both accounts use: %+v", m.Report)
	}
	c2.MassCancel(0) // every instrument: account 2 holds nothing now
	if m := next(t, c2, func(m client.Message) bool {
		return report(m) && m.Report.Kind == wire.ExecKindMassCancelDone
	}); m.Report.Quantity != 0 || m.Report.Account != 2 {
		t.Fatalf("account 2's mass cancel with no live order of its own: %+v", m.Report)
	}
	c1.OrderStatus(proto.OrderStatus{})
	if m := next(t, c1, report); m.Report.Kind != wire.ExecKindStatus || m.Report.OrderID != a1.OrderID || m.Report.Price != a1.Price {
		t.Fatalf("account 1 read %+v after account 2's attempts: it heard of them, or its order changed", m.Report)
	}
}

// A trading session cannot send the operator's inputs: a Halt, a Resume,
// a suspension of its own account or its lifting, a snapshot request —
// control inputs only the node itself puts in the ring — sent as raw
// frames on the order-entry port are each refused unknown-command, and
// the book, the account and the other account's order are as before.
func TestSessionCannotSendControlInputs(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	in := cfg.Instruments[0]
	c1, c2 := dial(t, addrs.Gateway, 1), dial(t, addrs.Gateway, 2)
	a1 := restBuy(t, c1, in, 1).Report
	e := proto.NewEncoder()
	for _, frame := range []struct {
		name string
		raw  func(seq uint64) []byte
	}{
		{"Halt", func(seq uint64) []byte { return e.Halt(seq, in.ID) }},
		{"Halt cancelling orders", func(seq uint64) []byte { return e.HaltAndCancelOrders(seq, in.ID) }},
		{"Resume", func(seq uint64) []byte { return e.Resume(seq, in.ID) }},
		{"SuspendAccount", e.SuspendAccount},
		{"ResumeAccount", e.ResumeAccount},
		{"SnapshotRequest", e.SnapshotRequest},
	} {
		c2.SendRaw(frame.raw(7))
		if r := next(t, c2, report(wire.ExecKindRejected)).Report; r.Reason != uint8(engine.ReasonUnknownCommand) {
			t.Fatalf("%s from a trading session: rejected for reason %d, want unknown-command", frame.name, r.Reason)
		}
	}
	if r := restBuy(t, c2, in, 2).Report; r.Instrument != in.ID {
		t.Fatalf("account 2's order after its control frames: %+v", r)
	}
	c1.OrderStatus(proto.OrderStatus{})
	if m := next(t, c1, report(wire.ExecKindStatus)); m.Report.OrderID != a1.OrderID {
		t.Fatalf("account 1 read %+v after account 2's control frames, want its order %d live", m.Report, a1.OrderID)
	}
}

// An attacker with an account of its own (2) cannot reach another
// account's (1) orders or session by guessing: order ids are input
// sequences and session ids are handed out in order, so every id up to
// the newest is tried. A logon — trading or drop copy — naming account
// 1's session in replaces_session, or any id near it, closes nothing of
// account 1's; a drop-copy logon for account 1 under account 2's secret
// is refused; cancels and replaces of every order id and of account 1's
// client order ids, status requests by them, a mass cancel of the
// instrument and a resend from the start answer account 2 with nothing
// of account 1's. At the end account 1's session is the one it logged
// on, its three orders live.
func TestGuessedIDsReachNothingOfAnotherAccount(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Gateway.StatusRate = 0
	n, addrs, _ := startNode(t, cfg)
	in := cfg.Instruments[0]
	c1 := dial(t, addrs.Gateway, 1)
	var newest uint64
	for clOrd := uint64(1); clOrd <= 3; clOrd++ {
		newest = restBuy(t, c1, in, clOrd).Report.OrderID
	}
	secret2 := config.Default().Accounts[1].Secret
	if _, err := client.Dial(addrs.Gateway, 1, secret2, client.Options{DropCopy: true}); client.LogonRejectReason(err) != wire.LogonRejectReasonBadSecret {
		t.Fatalf("a drop copy of account 1 under account 2's secret: %v, want BadSecret", err)
	}
	for delta := -2; delta <= 2; delta++ {
		guess := uint64(int64(c1.Session) + int64(delta))
		for _, dropCopy := range []bool{false, true} {
			c, err := client.Dial(addrs.Gateway, 2, secret2, client.Options{DropCopy: dropCopy, ReplacesSession: guess})
			if err != nil {
				t.Fatalf("account 2's logon replacing session %d (drop copy %v): %v", guess, dropCopy, err)
			}
			c.Logout()
			c.Close()
		}
	}
	if routes := n.gw.RoutesOf(1); len(routes.Trading) != 1 || routes.Trading[0].ID != c1.Session {
		t.Fatalf("account 1's sessions after account 2's logons replacing its id: %+v, want its session %d alone", routes, c1.Session)
	}
	c2 := dial(t, addrs.Gateway, 2)
	for id := uint64(1); id <= newest+2; id++ {
		c2.Cancel(proto.Cancel{OrderID: id, Instrument: in.ID})
		if r := next(t, c2, report(wire.ExecKindRejected)).Report; r.Account != 2 {
			t.Fatalf("cancel of order id %d: %+v", id, r)
		}
		c2.Replace(proto.Replace{OrderID: id, Instrument: in.ID, Price: in.ReferencePrice - 3*in.TickSize, Quantity: in.LotSize})
		if r := next(t, c2, report(wire.ExecKindRejected)).Report; r.Account != 2 {
			t.Fatalf("replace of order id %d: %+v", id, r)
		}
	}
	for clOrd := uint64(1); clOrd <= 3; clOrd++ {
		c2.Cancel(proto.Cancel{OrigClientOrderID: clOrd, Instrument: in.ID})
		next(t, c2, report(wire.ExecKindRejected))
		c2.Replace(proto.Replace{OrigClientOrderID: clOrd, Instrument: in.ID, Price: in.ReferencePrice - 3*in.TickSize, Quantity: in.LotSize})
		next(t, c2, report(wire.ExecKindRejected))
		c2.OrderStatus(proto.OrderStatus{OrigClientOrderID: clOrd, Instrument: in.ID})
		if m := next(t, c2, func(m client.Message) bool { return m.Type == wire.MessageExecutionReport }); m.Report.Kind != wire.ExecKindStatusDone || m.Report.Quantity != 0 {
			t.Fatalf("status of account 1's client order id %d: %+v", clOrd, m.Report)
		}
	}
	c2.MassCancel(in.ID)
	if r := next(t, c2, report(wire.ExecKindMassCancelDone)).Report; r.Quantity != 0 || r.Account != 2 {
		t.Fatalf("account 2's mass cancel of the instrument: %+v", r)
	}
	tag, err := c2.Resend(0)
	if err != nil {
		t.Fatal(err)
	}
	resent, _, live := resendAnswer(t, c2, tag)
	for _, r := range append(resent, live...) {
		if r.Account != 2 {
			t.Fatalf("account 2's resend from the start gave it account %d's report: %+v", r.Account, r)
		}
	}
	if routes := n.gw.RoutesOf(1); len(routes.Trading) != 1 || routes.Trading[0].ID != c1.Session {
		t.Fatalf("account 1's sessions at the end: %+v, want its session %d alone", routes, c1.Session)
	}
	c1.OrderStatus(proto.OrderStatus{})
	var live1 []uint64
	c1.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		m, err := c1.Next()
		if err != nil {
			t.Fatalf("account 1's status listing: %v (read %v)", err, live1)
		}
		if m.Type != wire.MessageExecutionReport {
			continue
		}
		if m.Report.Kind == wire.ExecKindStatusDone {
			break
		}
		if m.Report.Kind != wire.ExecKindStatus {
			t.Fatalf("account 1 heard of account 2's attempts: %+v", m.Report)
		}
		live1 = append(live1, m.Report.ClientOrderID)
	}
	if !slices.Equal(live1, []uint64{1, 2, 3}) {
		t.Fatalf("account 1's live orders after the attacks: client order ids %v, want [1 2 3]", live1)
	}
}

// An attacker with no account reaches nothing: each input a session
// sends — an order, a cancel and a replace naming another account's
// order, a mass cancel, a status request, a resend, the operator's
// control inputs — sent first on a connection, or behind a Logon with a
// wrong secret in the same write, is answered LogonReject and the
// connection closed, and nothing enters the ring: the engine's state
// (its input sequence and hash) is as before, and account 1's order is
// live.
func TestWithoutALogonNothingEntersTheRing(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, addrs, _ := startNode(t, cfg)
	in := cfg.Instruments[0]
	c1 := dial(t, addrs.Gateway, 1)
	a1 := restBuy(t, c1, in, 1).Report
	before := n.stateNow()
	e := proto.NewEncoder()
	frames := []struct {
		name string
		raw  []byte
	}{
		{"NewOrder", e.NewOrder(1, limit(1, wire.SideSell, in.ReferencePrice-in.TickSize, in.LotSize))},
		{"Cancel", e.Cancel(1, proto.Cancel{OrderID: a1.OrderID, Instrument: in.ID})},
		{"Replace", e.Replace(1, proto.Replace{OrderID: a1.OrderID, Instrument: in.ID, Price: in.ReferencePrice - 2*in.TickSize, Quantity: in.LotSize})},
		{"MassCancel", e.MassCancel(1, 0)},
		{"OrderStatus", e.OrderStatus(1, proto.OrderStatus{})},
		{"ResendReports", e.ResendReports(1, 0)},
		{"Halt", e.HaltAndCancelOrders(1, in.ID)},
		{"SuspendAccount", e.SuspendAccount(1)},
		{"SnapshotRequest", e.SnapshotRequest(1)},
	}
	for _, f := range frames {
		for _, behind := range [][]byte{nil, e.Logon(1, 1, "wrong-secret-plugh"), e.Logon(1, 99, "no-such-account")} {
			c, err := client.DialMarketData(addrs.Gateway, client.Options{}) // a connection that sends no Logon of its own
			if err != nil {
				t.Fatal(err)
			}
			c.SendRaw(append(slices.Clone(behind), f.raw...))
			c.Flush()
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			m, err := c.Next()
			if err != nil || m.Type != wire.MessageLogonReject {
				t.Fatalf("%s (behind a logon: %v) on a connection not logged on: %+v, %v; want a LogonReject", f.name, behind != nil, m, err)
			}
			testkit.ReadToEnd(t, c, f.name+" not logged on")
			c.Close()
		}
	}
	if after := n.stateNow(); after.Seq != before.Seq || after.Hash != before.Hash {
		t.Fatalf("after inputs of connections not logged on: input %d hash %s, was %d %s", after.Seq, after.Hash, before.Seq, before.Hash)
	}
	c1.OrderStatus(proto.OrderStatus{})
	if m := next(t, c1, report(wire.ExecKindStatus)); m.Report.OrderID != a1.OrderID {
		t.Fatalf("account 1 read %+v, want its order %d live", m.Report, a1.OrderID)
	}
}
