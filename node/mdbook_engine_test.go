package node

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// engineView reads the engine's book of instrument between two batches.
func engineView(t *testing.T, n *Node, instrument uint32) *testkit.MarketBook {
	t.Helper()
	v := testkit.NewMarketBook()
	if !n.stats.engine.Do(func() {
		n.eng.Levels(instrument, engine.Buy, func(l engine.LevelInfo) bool {
			v.Bids[l.Price] = proto.Level{Price: l.Price, Quantity: l.Quantity, Count: l.Count}
			return true
		})
		n.eng.Levels(instrument, engine.Sell, func(l engine.LevelInfo) bool {
			v.Asks[l.Price] = proto.Level{Price: l.Price, Quantity: l.Quantity, Count: l.Count}
			return true
		})
		v.Halted = n.eng.Halted(instrument)
		v.LastPrice = n.eng.LastTrade(instrument)
	}) {
		t.Fatal("engine stopped")
	}
	return v
}

// A subscriber's books, rebuilt from snapshots and updates, equal the
// engine's books after random trading of every kind — limit, IOC, FOK,
// market, post-only, cancels, replaces up and down and across the
// spread, mass cancels, self-trades, halts, account suspensions — with
// the port closing and opening between phases and subscribers coming
// mid-stream.
func TestMarketDataBookEqualsTheEngines(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	if err := cfg.Set("marketdata.message_rate", "0"); err != nil {
		t.Fatal(err)
	}
	n, a := startNodeClosingMDAtOnce(t, cfg)
	insts := []uint32{1, 2}
	traders := []*client.Client{dial(t, a.Gateway, 1), dial(t, a.Gateway, 2), dial(t, a.Gateway, 3)}
	rng := rand.New(rand.NewPCG(7, 11))
	marker := uint64(1 << 40)
	quiesce := func() {
		t.Helper()
		for _, c := range traders {
			marker++
			c.Cancel(proto.Cancel{OrigClientOrderID: marker, Instrument: 1})
			want := marker
			next(t, c, func(m client.Message) bool {
				return m.Type == wire.MessageExecutionReport && m.Report.ClientOrderID == want
			})
		}
	}
	trading := &mdTrading{rng: rng, n: n, traders: traders, instruments: cfg.Instruments[:len(insts)],
		odds: mdOdds{weights: [mdActions]int{mdNewOrder: 55, mdCancel: 20, mdReplace: 20, mdMassCancel: 2,
			mdHaltOrResume: 1, mdSuspendOrResume: 2}, kinds: 10}}
	trade := func(orders int) {
		for range orders {
			trading.trade()
		}
	}
	check := func(phase int, md *client.Client, views map[uint32]*testkit.MarketBook) {
		t.Helper()
		quiesce()
		n.ResumeAccount(3) // a control input after every trader's: the engine has applied them all once it is answered…
		waitUntil(t, func() bool { return n.stats.engine.Sequence().Load()+1 >= n.in.published() })
		waitUntil(t, func() bool { s := n.mdHub.consumerSeq(); return s != nil && s.Load() >= n.md.published() })
		want := mdBookSeqs(n, insts)
		md.SetReadDeadline(time.Now().Add(10 * time.Second))
		for _, i := range insts {
			for views[i] == nil || views[i].MDSeq < want[i] {
				m, err := md.Next()
				if err != nil {
					t.Fatalf("phase %d: market data: %v", phase, err)
				}
				if err := testkit.ApplyMarketData(views, m); err != nil {
					t.Fatal(err)
				}
			}
		}
		for _, i := range insts {
			got, eng := views[i], engineView(t, n, i)
			t.Logf("phase %d inst %d seq %d bids %d asks %d halted %v last %d", phase, i, got.MDSeq, len(eng.Bids), len(eng.Asks), eng.Halted, eng.LastPrice)
			wantBookEqual(t, fmt.Sprintf("phase %d", phase), i, got, eng)
		}
	}
	for phase := range 6 {
		md := dialMD(t, a.MarketData)
		views := map[uint32]*testkit.MarketBook{}
		for _, i := range insts {
			md.Subscribe(i)
		}
		trade(400)
		check(phase, md, views)
		// a second subscriber comes mid-stream, and the first subscribes again
		late := dialMD(t, a.MarketData)
		lateViews := map[uint32]*testkit.MarketBook{}
		for _, i := range insts {
			late.Subscribe(i)
		}
		md.Subscribe(1)
		trade(300)
		check(phase, md, views)
		check(phase, late, lateViews)
		md.Close()
		late.Close()
		waitUntil(t, func() bool { return !n.mdHub.active() }) // the port closed
		trade(100)                                             // unseen: the next image carries it
		quiesce()
	}
}

// Two snapshots of one instrument with the same md_seq show the same
// book: md_seq numbers the book's states. Trades while the port was
// closed (nobody subscribed) change the book without a message; the
// snapshot after the port reopens must not carry the md_seq of the book
// before them.
func TestMarketDataSnapshotSeqNamesOneBook(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, a := startNodeClosingMDAtOnce(t, cfg)
	in := cfg.Instruments[0]
	trader := dial(t, a.Gateway, 1)
	trader.NewOrder(limit(1, wire.SideBuy, in.ReferencePrice-in.TickSize, 1))
	next(t, trader, report(wire.ExecKindAccepted))

	md := subscribeMD(t, a.MarketData, in.ID) // md_seq S, one bid
	trader.NewOrder(limit(2, wire.SideBuy, in.ReferencePrice-2*in.TickSize, 1))
	u := next(t, md, func(m client.Message) bool { return m.Type == wire.MessageLevelUpdate })
	md.Close()
	waitUntil(t, func() bool { return !n.mdHub.active() }) // nobody subscribes: the port closed

	trader.NewOrder(limit(3, wire.SideBuy, in.ReferencePrice-3*in.TickSize, 1)) // unseen
	next(t, trader, func(m client.Message) bool { return m.Report.ClientOrderID == 3 })

	again := dialMD(t, a.MarketData)
	again.Subscribe(in.ID)
	s := next(t, again, func(m client.Message) bool { return m.Type == wire.MessageBookSnapshot })
	if s.MDSeq == u.MDSeq && len(s.Bids) != 2 {
		t.Fatalf("snapshot at md_seq %d has %d bids; the book the update md_seq %d left had 2", s.MDSeq, len(s.Bids), u.MDSeq)
	}
	if s.MDSeq <= u.MDSeq {
		t.Fatalf("snapshot of a changed book at md_seq %d, after the update md_seq %d of the book before the change", s.MDSeq, u.MDSeq)
	}
}
