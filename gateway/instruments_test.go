package gateway

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// A session's ListInstruments, a drop copy's too, is answered with the
// gateway's instrument list and never published to the ring; a gateway
// given no list (as a build before the request) refuses it
// unknown-command, which the client reports as ErrNoInstrumentList.
func TestListInstrumentsAnsweredNotJournaled(t *testing.T) {
	var list []proto.InstrumentInfo
	for id := uint32(1); id <= 300; id++ { // ~30 KB: far over gateway.max_frame_bytes
		list = append(list, proto.InstrumentInfo{ID: id, Symbol: fmt.Sprintf("I%d", id), TickSize: 5, LotSize: 10,
			PriceDecimals: 2, QtyDecimals: 1, PriceBand: 500, ReferencePrice: 1000})
	}
	for _, tc := range []struct {
		name     string
		dropCopy bool
		list     []byte
		want     error
	}{
		{"trading", false, proto.InstrumentList(list), nil},
		{"drop copy", true, proto.InstrumentList(list), nil},
		{"a gateway without the list", false, nil, client.ErrNoInstrumentList},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, ring := startGateway(t, Config{Instruments: tc.list})
			c, err := client.Dial(g.Addr().String(), 1, "one", client.Options{AutoFlush: true, DropCopy: tc.dropCopy, Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			got, err := c.Instruments()
			if !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
				t.Fatalf("Instruments: %v, want %v", err, tc.want)
			}
			if tc.want == nil && !reflect.DeepEqual(got, list) {
				t.Fatalf("%d instruments listed, want the gateway's %d", len(got), len(list))
			}
			// One session's frames are published in the order read: once
			// the query after it is in the ring, the request would be.
			if err := c.OrderStatus(proto.OrderStatus{OrderID: 1}); err != nil {
				t.Fatal(err)
			}
			for n := 1; ; n++ {
				frames := ring.waitFor(t, n)
				if typ := frames[n-1].typ; typ == wire.MessageListInstruments {
					t.Fatal("ListInstruments was published to the input ring (journaled)")
				} else if typ == wire.MessageOrderStatus {
					break
				}
			}
		})
	}
}

// ListInstruments is a query, as OrderStatus and ResendReports are: it
// spends the account's gateway.status_rate, shared by its sessions, and
// over it is refused rate-limited (Instruments says so) while the
// session goes on; another account's budget is its own.
func TestListInstrumentsUnderTheStatusRate(t *testing.T) {
	list := []proto.InstrumentInfo{{ID: 1, Symbol: "BTC-USD", TickSize: 5, LotSize: 1}}
	at := time.Unix(1_800_000_000, 0) // the clock stands still: nothing refills
	g, ring := startGateway(t, Config{StatusRate: 2, Instruments: proto.InstrumentList(list), Now: func() time.Time { return at }})
	dial := func(account uint32, secret string) *client.Client {
		c, err := client.Dial(g.Addr().String(), account, secret, client.Options{AutoFlush: true, Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	c := dial(1, "one")
	if err := c.OrderStatus(proto.OrderStatus{}); err != nil { // the budget's first
		t.Fatal(err)
	}
	ring.waitFor(t, 1)
	if got, err := c.Instruments(); err != nil || !reflect.DeepEqual(got, list) { // its second
		t.Fatalf("Instruments within the status rate: %v, %v", got, err)
	}
	if _, err := c.Instruments(); !errors.Is(err, client.ErrInstrumentsRefused) || !strings.Contains(err.Error(), "rate-limited") {
		t.Fatalf("Instruments over the status rate: %v, want refused rate-limited", err)
	}
	if _, err := dial(1, "one").Instruments(); !errors.Is(err, client.ErrInstrumentsRefused) || !strings.Contains(err.Error(), "rate-limited") {
		t.Fatalf("Instruments from another session of the account: %v, want refused rate-limited", err)
	}
	if got, err := dial(2, "two").Instruments(); err != nil || !reflect.DeepEqual(got, list) {
		t.Fatalf("Instruments from another account: %v, %v", got, err)
	}
	// The refused session goes on: its order is published.
	if err := c.NewOrder(order(77)); err != nil {
		t.Fatal(err)
	}
	if got := ring.waitFor(t, 2); got[1].typ != wire.MessageNewOrder {
		t.Fatalf("published %v after the refusals, want the order", got[1].typ)
	}
}
