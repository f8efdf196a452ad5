package client_test

import (
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/internal/testnode"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// A trading program against a node of the demo config: it logs on, rests
// a bid, another account sells into it, the remainder is cancelled, and
// refusals say why.
func Example() {
	gatewayAddr, marketDataAddr, stop := startDemoNode()
	defer stop()

	buyer, err := client.Dial(gatewayAddr, 1, "demo-secret-1", client.Options{AutoFlush: true})
	if err != nil {
		log.Fatal(err)
	}
	defer buyer.Close()
	seller, err := client.Dial(gatewayAddr, 2, "demo-secret-2", client.Options{AutoFlush: true})
	if err != nil {
		log.Fatal(err)
	}
	defer seller.Close()

	// Instrument 3 (AAPL): prices in cents, quantities in shares.
	buyer.NewOrder(proto.NewOrder{ClientOrderID: 1, Instrument: 3, Side: wire.SideBuy,
		Type: wire.OrderTypeLimit, TIF: wire.TimeInForceGTC, Price: 19990, Quantity: 10})
	printReports(buyer, 1)
	seller.NewOrder(proto.NewOrder{ClientOrderID: 1, Instrument: 3, Side: wire.SideSell,
		Type: wire.OrderTypeLimit, TIF: wire.TimeInForceIOC, Price: 19990, Quantity: 4})
	printReports(seller, 2)
	printReports(buyer, 1)
	buyer.Cancel(proto.Cancel{OrigClientOrderID: 1, Instrument: 3})
	printReports(buyer, 1)
	// Instrument 1 (BTC-USD) has a tick of 50: a price off it is refused.
	buyer.NewOrder(proto.NewOrder{ClientOrderID: 2, Instrument: 1, Side: wire.SideBuy,
		Type: wire.OrderTypeLimit, TIF: wire.TimeInForceGTC, Price: 6000001, Quantity: 1})
	printReports(buyer, 1)

	_, err = client.Dial(gatewayAddr, 1, "not-the-secret", client.Options{})
	fmt.Println("wrong secret:", client.LogonRejectReason(err))
	_, err = client.Dial(marketDataAddr, 1, "demo-secret-1", client.Options{})
	fmt.Println("market-data port:", errors.Is(err, client.ErrWrongPort))

	// Output:
	// Accepted buy 10 @ 19990, leaves 10
	// Accepted sell 4 @ 19990, leaves 4
	// Fill sell 4 @ 19990, leaves 0
	// Fill buy 4 @ 19990, leaves 6
	// Cancelled (requested) buy 10 @ 19990, leaves 6
	// Rejected (invalid-price) buy 1 @ 6000001, leaves 0
	// wrong secret: BadSecret
	// market-data port: true
}

// printReports reads c's next n execution reports (within 5 s) and prints
// each.
func printReports(c *client.Client, n int) {
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	defer c.SetReadDeadline(time.Time{})
	for n > 0 {
		m, err := c.Next()
		if err != nil {
			log.Fatal(err)
		}
		if m.Type != wire.MessageExecutionReport {
			continue // a Heartbeat
		}
		n--
		r := &m.Report
		why := ""
		switch r.Kind {
		case wire.ExecKindRejected:
			why = " (" + engine.RejectReason(r.Reason).String() + ")"
		case wire.ExecKindCancelled:
			why = " (" + engine.CancelReason(r.Reason).String() + ")"
		}
		fmt.Printf("%s%s %s %d @ %d, leaves %d\n", wire.EnumNamesExecKind[r.Kind], why, engine.Side(r.Side), r.Quantity, r.Price, r.Leaves)
	}
}

// startDemoNode runs a node of the embedded demo config on loopback, in
// a directory of its own, until stop.
func startDemoNode() (gatewayAddr, marketDataAddr string, stop func()) {
	dir, err := os.MkdirTemp("", "ringex-example")
	if err != nil {
		log.Fatal(err)
	}
	cfg, err := testnode.Small(dir, map[string]string{"journal.sync": "none"})
	if err != nil {
		log.Fatal(err)
	}
	n, _, addrs, err := testnode.Run(cfg)
	if err != nil {
		log.Fatal(err)
	}
	return addrs.Gateway, addrs.MarketData, func() {
		n.Stop()
		os.RemoveAll(dir)
	}
}
