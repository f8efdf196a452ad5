package node

import (
	"fmt"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// A subscriber's books equal the engine's when prices range far and wide:
// no price band, the books deep, their levels spread over more than the
// engine's direct-indexed window (windowSlots ticks) so that far levels
// live in its overflow and the window moves (recenter) as the price jumps
// — the paths the engine's level events and its market-data image
// (SetMarketData, side.each) take there, which the other end-to-end
// tests (prices within a few ticks of the reference) never reach. With
// snapshots in parts, halts that cancel the book, subscribers subscribing
// again mid-stream and the port closing between phases (a new image of
// the deep, spread books).
func TestMarketDataBookEqualsTheEnginesWidePrices(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	setConfig(t, cfg, map[string]string{"marketdata.message_rate": "0", "snapshot.every_inputs": "0", "gateway.logon_rate": "0"})
	for i := range cfg.Instruments {
		cfg.Instruments[i].PriceBandTicks = 0
	}
	for i := range cfg.Accounts {
		cfg.Accounts[i].MaxNotional, cfg.Accounts[i].MaxOrderQty, cfg.Accounts[i].MaxOpenOrders = 0, 0, 0
	}
	n, _, err := New(cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	n.mdHub.idleGrace = 0
	n.mdHub.partLevels = 7 // snapshots in parts
	a, err := n.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Stop() })

	var insts []uint32
	for _, in := range cfg.Instruments {
		insts = append(insts, in.ID)
	}
	rng := mdRand(t, 17)
	d := newDrainedTraders(t, n, a.Gateway, 3, 3*time.Minute)
	t.Cleanup(d.close)
	traders, quiesce := d.c, d.quiesce

	// Each instrument's prices cluster around a centre that drifts and
	// now and then jumps by more than the engine's window; some orders
	// rest far from it, so a side spans tens of thousands of ticks.
	centre := map[uint32]int64{}
	for _, in := range cfg.Instruments {
		centre[in.ID] = in.ReferencePrice / in.TickSize // in ticks
	}
	trading := &mdTrading{rng: rng, n: n, traders: traders, reconnect: d.connect,
		odds: mdOdds{weights: [mdActions]int{mdNewOrder: 700, mdCancel: 100, mdReplace: 160, mdMassCancel: 1,
			mdResume: 21, mdHalt: 5, mdHaltAndCancel: 1, mdSuspendOrResume: 11, mdDisconnect: 1},
			disconnectOneIn: 3, kinds: 12, stp: true, sweep: 60, marketIOC: true}}
	trade := func() {
		k := rng.IntN(len(traders))
		in := cfg.Instruments[rng.IntN(len(cfg.Instruments))]
		switch r := rng.IntN(1000); {
		case r < 4: // the price jumps: the window must follow
			centre[in.ID] += int64(rng.IntN(60_001) - 30_000)
		case r < 100:
			centre[in.ID] += int64(rng.IntN(41) - 20)
		}
		centre[in.ID] = max(centre[in.ID], 50)
		side := wire.Side(1 + rng.IntN(2))
		ticks := centre[in.ID] + int64(rng.IntN(61)-30)
		if rng.IntN(3) == 0 { // far away, passive: it rests, in the overflow
			far := int64(1 + rng.IntN(40_000))
			if side == wire.SideBuy {
				far = -far
			}
			ticks = centre[in.ID] + far
		}
		price := max(ticks, 1) * in.TickSize
		qty := int64(1+rng.IntN(9)) * in.LotSize
		trading.send(k, in, side, price, qty)
	}

	check := func(what string, md *client.Client, views map[uint32]*testkit.MarketBook) {
		t.Helper()
		quiesce()
		want := mdBookSeqs(n, insts)
		md.SetReadDeadline(time.Now().Add(20 * time.Second))
		for _, i := range insts {
			for views[i] == nil || views[i].MDSeq < want[i] {
				m, err := md.Next()
				if err != nil {
					t.Fatalf("%s: market data: %v", what, err)
				}
				if m.Type == wire.MessageSubscribeReject {
					t.Fatalf("%s: SubscribeReject %v for %d", what, m.SubscribeReject, m.Instrument)
				}
				if err := testkit.ApplyMarketData(views, m); err != nil {
					t.Fatalf("%s: %v", what, err)
				}
			}
		}
		for _, i := range insts {
			got, eng := views[i], engineView(t, n, i)
			lo, hi := int64(0), int64(0)
			for _, side := range []map[int64]proto.Level{eng.Bids, eng.Asks} {
				for p := range side {
					if lo == 0 || p < lo {
						lo = p
					}
					hi = max(hi, p)
				}
			}
			t.Logf("%s inst %d md_seq %d: %d bids %d asks, prices %d..%d, halted %v", what, i, got.MDSeq, len(eng.Bids), len(eng.Asks), lo, hi, eng.Halted)
			wantBookEqual(t, what, i, got, eng)
		}
	}

	for phase := range 4 {
		md := dialMD(t, a.MarketData)
		views := map[uint32]*testkit.MarketBook{}
		for _, i := range insts {
			md.Subscribe(i)
		}
		for range 1200 {
			trade()
		}
		check(fmt.Sprintf("phase %d", phase), md, views)
		late := dialMD(t, a.MarketData)
		lateViews := map[uint32]*testkit.MarketBook{}
		for _, i := range insts {
			late.Subscribe(i)
		}
		for range 800 {
			trade()
			if rng.IntN(100) == 0 {
				md.Subscribe(insts[rng.IntN(len(insts))]) // a new snapshot mid-stream
			}
		}
		check(fmt.Sprintf("phase %d", phase), md, views)
		check(fmt.Sprintf("phase %d late", phase), late, lateViews)
		md.Close()
		late.Close()
		waitUntil(t, func() bool { return !n.mdHub.active() }) // the port closed
		for range 400 {
			trade() // unseen: the next image carries it
		}
		quiesce()
	}
}
