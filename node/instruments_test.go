package node

import (
	"encoding/json"
	"fmt"
	"net/http"
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

// A node restarted with a symbol renamed and other decimals starts, its
// journal replayed as it was decided: symbols and decimals decide no
// input, so they are not in the rules every snapshot and raft entry
// records (engine.Config.Fingerprint) — only in the reference that GET
// /state gives for ringex status to compare across members, which
// changes with them — and GET /instruments lists the new ones.
func TestRestartWithARenamedSymbolReplaysItsJournal(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	setConfig(t, cfg, map[string]string{"snapshot.on_stop": "false"}) // the restart replays the inputs
	n, addrs, _ := startNode(t, cfg)
	restBids(t, dial(t, addrs.Gateway, 1), cfg.Instruments[0], 1, 5)
	before := n.stateNow()
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}

	renamed := testConfig(t, dir)
	setConfig(t, renamed, map[string]string{"snapshot.on_stop": "false"})
	renamed.Instruments[0].Symbol, renamed.Instruments[0].PriceDecimals = "XBT-USD", 3
	n2, addrs, rec := startNode(t, renamed)
	if f := n.Final(); rec.Replayed < 5 || rec.LastSeq != f.LastSeq || rec.Hash != f.Hash {
		t.Fatalf("recovered %+v; stopped at input %d, hash %016x: want the orders replayed to it", rec, f.LastSeq, f.Hash)
	}
	after := n2.stateNow()
	switch {
	case after.Rules != before.Rules:
		t.Fatalf("rules %s after the rename, %s before: a symbol or decimals changed them", after.Rules, before.Rules)
	case after.Reference != fmt.Sprintf("%016x", renamed.ReferenceFingerprint()) || after.Reference == before.Reference:
		t.Fatalf("reference %s after the rename (%s before), want the renamed config's %016x", after.Reference, before.Reference, renamed.ReferenceFingerprint())
	}
	code, body := adminGet(t, addrs.Admin, "/instruments")
	var listed struct{ Instruments []config.Instrument }
	if err := json.Unmarshal([]byte(body), &listed); code != http.StatusOK || err != nil || !reflect.DeepEqual(listed.Instruments, renamed.Instruments) {
		t.Fatalf("GET /instruments: %d %v\n%s\nwant the renamed config's %+v", code, err, body, renamed.Instruments)
	}
}
