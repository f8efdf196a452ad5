package gateway

import (
	"errors"
	"fmt"
	"reflect"
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
