package testkit

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// CancelAll logs on as account to the leader of gateways (a cluster's
// members, or one node) and cancels each of the orders (client order ids
// on instrument) there: CancelThrough.
func CancelAll(t testing.TB, gateways []string, account uint32, secret string, instrument uint32, ids []uint64) {
	t.Helper()
	// A cluster member may be between leaders ("no leader known") when
	// the test asks, on a loaded machine most often: go round until one
	// takes the logon.
	c, err := client.DialCluster(gateways, account, secret, client.Options{}, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	CancelThrough(t, c, gateways, account, instrument, ids)
}

// CancelThrough cancels each of the orders through c, account's client
// logged on to one of gateways, and closes it: every cancel must
// succeed, which proves every order was live there. It fails the test at
// the first order that is not.
//
// A cluster leader that stops leading drops its sessions — a loaded
// machine's pause is enough for its lease to run out — and the cancels
// it took may or may not have been committed. CancelThrough carries on
// as a client does (client.Redial): it logs on to the leader of the
// moment, whose resend brings the reports of the cancels committed, and
// once that resend is done sends again the cancels of the orders not
// reported cancelled — those the old leader never committed. A rejected
// cancel of an order not reported cancelled is a lost order then as
// before: every report of the inputs before the resend request came
// before its ResendDone, and a cancel sent again follows that request.
func CancelThrough(t testing.TB, c *client.Client, gateways []string, account uint32, instrument uint32, ids []uint64) {
	t.Helper()
	defer func() { c.Close() }()            // the last of the clients
	live := make(map[uint64]bool, len(ids)) // not reported cancelled yet
	for _, id := range ids {
		live[id] = true
	}
	send := func() {
		for _, id := range ids {
			if live[id] {
				c.Cancel(proto.Cancel{OrigClientOrderID: id, Instrument: instrument})
			}
		}
		c.Flush() // an error ends the connection: Next says so
	}
	send()
	deadline := time.Now().Add(60 * time.Second)
	var resend uint64 // the tag of a Redial's resend not done yet (0: none)
	for len(live) > 0 {
		c.SetReadDeadline(deadline)
		m, err := c.Next()
		if err != nil {
			cancelled := len(ids) - len(live)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || time.Now().After(deadline) {
				t.Fatalf("account %d: %d of %d acknowledged orders cancelled: %v", account, cancelled, len(ids), err)
			}
			t.Logf("account %d: %d of %d acknowledged orders cancelled when the connection to %s ended (%v): logging on again", account, cancelled, len(ids), c.RemoteAddr(), err)
			nc, tag, err := c.Redial(gateways, time.Until(deadline))
			if err != nil {
				t.Fatalf("account %d: %d of %d acknowledged orders cancelled, then no logon: %v", account, cancelled, len(ids), err)
			}
			c, resend = nc, tag
			continue
		}
		if resend != 0 && m.Seq == resend {
			// The resend's end, or its refusal: a Rejected under its
			// tag with no input (the account's gateway.status_rate spent).
			after, again := m.ResendAgain()
			if m.Type == wire.MessageExecutionReport && m.Report.Kind == wire.ExecKindRejected && m.Report.InputSeq < 0 {
				after, again = int64(m.Report.OrderID), true
			}
			switch {
			case again: // busy, cut short or refused: ask a little later
				time.Sleep(100 * time.Millisecond)
				if resend, err = c.Resend(after); err == nil {
					err = c.Flush()
				}
				if err != nil {
					t.Fatalf("account %d: asking again for the reports after input %d: %v", account, after, err)
				}
				continue
			case m.Type == wire.MessageResendDone:
				if m.ResendDone.Reason != proto.ResendComplete {
					t.Fatalf("account %d: the resend after a new logon left reports out (%+v): which cancels the old leader committed cannot be told", account, m.ResendDone)
				}
				// Every cancel committed before it is reported.
				resend = 0
				send()
				continue
			}
		}
		if m.Type != wire.MessageExecutionReport || !live[m.Report.ClientOrderID] {
			continue
		}
		switch m.Report.Kind {
		case wire.ExecKindCancelled:
			delete(live, m.Report.ClientOrderID)
		case wire.ExecKindRejected:
			t.Fatalf("account %d: acknowledged order %d lost (cancel rejected, reason %d)", account, m.Report.ClientOrderID, m.Report.Reason)
		}
	}
}

// The embedded demo config as process tests trade it: BTC-USD (id 1,
// reference price 6000000, tick 50) and the secrets of accounts 1–3.
const (
	DemoInstrument = 1
	demoRef        = 6000000
	demoTick       = 50
)

// DemoSecrets are the demo accounts' secrets, by account.
var DemoSecrets = map[uint32]string{1: "demo-secret-1", 2: "demo-secret-2", 3: "demo-secret-3"}

// RestingOrder is a GTC limit order on BTC-USD that never trades with
// another RestingOrder: odd ids buy ticks (≥ 1) below the reference
// price, even ids sell ticks above it.
func RestingOrder(id uint64, ticks, qty int64) proto.NewOrder {
	side, px := wire.SideBuy, int64(demoRef-demoTick*ticks)
	if id%2 == 0 {
		side, px = wire.SideSell, int64(demoRef+demoTick*ticks)
	}
	return proto.NewOrder{ClientOrderID: id, Instrument: DemoInstrument, Side: side, Type: wire.OrderTypeLimit,
		TIF: wire.TimeInForceGTC, Price: px, Quantity: qty}
}
