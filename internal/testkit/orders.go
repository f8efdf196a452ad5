package testkit

import (
	"testing"
	"time"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// CancelAll logs on to gateway as account and cancels each of the orders
// (client order ids on instrument): every cancel must succeed, which
// proves every order was live there. It fails the test at the first
// order that is not.
func CancelAll(t testing.TB, gateway string, account uint32, secret string, instrument uint32, ids []uint64) {
	t.Helper()
	// A cluster member may be between leaders ("no leader known") when
	// the test asks, on a loaded machine most often: go round until one
	// takes the logon.
	c, err := client.DialCluster([]string{gateway}, account, secret, client.Options{}, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, id := range ids {
		c.Cancel(proto.Cancel{OrigClientOrderID: id, Instrument: instrument})
	}
	c.Flush()
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	for cancelled := 0; cancelled < len(ids); {
		m, err := c.Next()
		if err != nil {
			t.Fatalf("account %d: %d of %d acknowledged orders cancelled: %v", account, cancelled, len(ids), err)
		}
		if m.Type != wire.MessageExecutionReport {
			continue
		}
		switch m.Report.Kind {
		case wire.ExecKindCancelled:
			cancelled++
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
