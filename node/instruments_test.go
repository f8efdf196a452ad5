package node

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// Both ports answer ListInstruments with the config's instruments, in
// increasing id — the market-data port after the Logon it requires — a
// list far larger than a frame either port reads; and the request is no
// input: the next input of the session is the one after its logon.
func TestInstrumentsListedOnBothPorts(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	for id := uint32(400); id > 100; id-- { // ~30 KB; listed out of order
		cfg.Instruments = append(cfg.Instruments, config.Instrument{ID: id, Symbol: fmt.Sprintf("X%d", id), TickSize: 5, LotSize: 10,
			PriceBandTicks: 20, ReferencePrice: 5000, PriceDecimals: 2, QtyDecimals: 1})
	}
	cfg.MarketData.RequireLogon = true
	_, addrs, _ := startNode(t, cfg)
	var want []proto.InstrumentInfo
	for id := uint32(1); id <= 400; id++ {
		for _, in := range cfg.Instruments {
			if in.ID == id {
				want = append(want, proto.InstrumentInfo{ID: in.ID, Symbol: in.Symbol, TickSize: in.TickSize, LotSize: in.LotSize,
					PriceDecimals: uint8(in.PriceDecimals), QtyDecimals: uint8(in.QtyDecimals), PriceBand: in.PriceBand(), ReferencePrice: in.ReferencePrice})
			}
		}
	}

	oe := dial(t, addrs.Gateway, 1)
	defer oe.Close()
	got, err := oe.Instruments()
	if err != nil {
		t.Fatalf("order entry: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("order entry listed %d instruments, want the config's %d: first %+v", len(got), len(want), got[:min(len(got), 1)])
	}
	if err := oe.OrderStatus(proto.OrderStatus{}); err != nil {
		t.Fatal(err)
	}
	if m := next(t, oe, report(wire.ExecKindStatusDone)); m.Report.InputSeq != oe.LogonInputSeq+1 {
		t.Fatalf("the query after the list is input %d, want %d: the request took an input sequence", m.Report.InputSeq, oe.LogonInputSeq+1)
	}

	md, err := client.DialMarketDataLogon(addrs.MarketData, 1, cfg.Accounts[0].Secret, client.Options{AutoFlush: true})
	if err != nil {
		t.Fatal(err)
	}
	defer md.Close()
	if got, err = md.Instruments(); err != nil {
		t.Fatalf("market data: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("market data listed %d instruments, want the config's %d", len(got), len(want))
	}
}
