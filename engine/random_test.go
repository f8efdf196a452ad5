package engine

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand"
	"reflect"
	"slices"
	"testing"
)

func randomConfig() Config {
	return Config{
		Instruments: []Instrument{
			{ID: 1, Symbol: "A", TickSize: 1, LotSize: 1, PriceBand: 40, ReferencePrice: 1000},
			{ID: 2, Symbol: "B", TickSize: 5, LotSize: 10},
			// Prices spread over 60000 ticks: beyond the 16384-tick level
			// window on both sides, so the overflow levels are exercised.
			{ID: 3, Symbol: "C", TickSize: 1, LotSize: 1},
		},
		Accounts: []Account{
			{ID: 1}, {ID: 2}, {ID: 3, MaxOrderQty: 80, MaxNotional: 60000, MaxOpenOrders: 6}, {ID: 4},
		},
	}
}

// commandGen makes random commands that hit every path: mostly valid
// orders near the touch, cancels and replaces of live and dead ids, and a
// sprinkle of invalid values.
type commandGen struct {
	rng *rand.Rand
	seq int64
	// wide: instrument 2's prices spread over 60000 ticks of 5, as
	// instrument 3's over ticks of 1 (wideConfig).
	wide bool
}

func (g *commandGen) next() Command {
	r := g.rng
	g.seq++
	c := Command{Seq: g.seq, Timestamp: g.seq * 10, Session: uint64(r.Intn(3)),
		Account: uint32(1 + r.Intn(4)), Instrument: uint32(1 + r.Intn(3))}
	if r.Intn(200) == 0 {
		c.Account = 9
	}
	if r.Intn(200) == 0 {
		c.Instrument = 7
	}
	tick, lot := int64(1), int64(1)
	if c.Instrument == 2 {
		tick, lot = 5, 10
	}
	price := func() int64 { return (1000/tick + int64(r.Intn(30)) - 15) * tick }
	if c.Instrument == 3 {
		price = func() int64 { return 30000 + int64(r.Intn(30000)) - int64(r.Intn(30000)) }
	}
	if c.Instrument == 2 && g.wide {
		price = func() int64 { return tick * (30000 + int64(r.Intn(30000)) - int64(r.Intn(30000))) }
	}
	qty := func() int64 { return int64(1+r.Intn(8)) * lot }
	switch k := r.Intn(1000); {
	case k < 600:
		c.Type = CmdNewOrder
		c.Side = Side(1 + r.Intn(2))
		c.OrderType = Limit
		c.TIF = GTC
		if r.Intn(10) == 0 {
			c.TIF = IOC
		}
		if r.Intn(20) == 0 {
			c.TIF = FOK
		}
		if r.Intn(15) == 0 {
			c.OrderType = Market
			c.TIF = IOC + TimeInForce(r.Intn(2))
		}
		// Buys mostly below 1000 and sells above, overlapping a little:
		// the books grow deep and still trade.
		c.Price = price() - 10*tick
		if c.Side == Sell {
			c.Price += 20 * tick
		}
		if c.Price <= 0 {
			c.Price = tick
		}
		c.Quantity = qty()
		c.ClientOrderID = uint64(r.Intn(400))
		c.PostOnly = r.Intn(12) == 0
		c.STP = STP(r.Intn(5))
		if r.Intn(50) == 0 { // invalid values
			switch r.Intn(6) {
			case 0:
				c.Price += 1 + tick/2
			case 1:
				c.Quantity = -c.Quantity
			case 2:
				c.Side = 5
			case 3:
				c.TIF = 0
			case 4:
				c.Price = 1 << 45
			case 5:
				c.STP = 8
			}
		}
	case k < 680:
		c.Type = CmdCancel
		c.Instrument = 0
		c.OrderID = uint64(g.seq - int64(r.Intn(400)))
		if r.Intn(3) == 0 {
			c.OrderID, c.OrigClientOrderID = 0, uint64(r.Intn(400))
		}
	case k < 988:
		c.Type = CmdReplace
		c.Instrument = 0
		c.OrderID = uint64(g.seq - int64(r.Intn(400)))
		if r.Intn(3) == 0 {
			c.OrderID, c.OrigClientOrderID = 0, uint64(r.Intn(400))
		}
		c.Price = price()
		c.Quantity = qty()
		if r.Intn(3) == 0 {
			c.ClientOrderID = uint64(r.Intn(400))
		}
	case k < 994:
		c.Type = CmdOrderStatus // one order (live or not), or every one
		c.Instrument = 0
		switch r.Intn(4) {
		case 0:
			c.OrderID = uint64(g.seq - int64(r.Intn(400)))
		case 1:
			c.OrigClientOrderID = uint64(r.Intn(400))
		case 2:
			c.Instrument = uint32(1 + r.Intn(3))
		}
		if r.Intn(3) == 0 { // a page after a cursor: a live order's id, or any
			c.ClientOrderID = uint64(g.seq - int64(r.Intn(400)))
		}
	case k < 997:
		c.Type = CmdMassCancel
		if r.Intn(2) == 0 {
			c.Instrument = 0
		}
	case k < 998:
		c.Type = CmdHalt
		// A third are the operator's halt that clears the book; chosen
		// without drawing from r, so each seed's other commands are those
		// it gave before the option existed.
		c.CancelOrders = g.seq%3 == 0
	case k < 999:
		c.Type = CmdResume
	default: // the kill switch, off three times as often as on: an account is suspended a quarter of the time
		c.Type = CmdResumeAccount
		if r.Intn(4) == 0 {
			c.Type = CmdSuspendAccount
		}
	}
	if g.seq%251 == 0 {
		g.rare(&c)
	}
	return c
}

// rare makes c one of the commands that change nothing — a resend
// request, a snapshot mark, an invalid frame, a no-op, a type the engine
// does not know, a query the operator dropped — chosen from the sequence
// alone, not drawn from the generator's source: each seed's other
// commands stay those it gave before they were added.
func (g *commandGen) rare(c *Command) {
	k := g.seq / 251
	c.Reason = ReasonNone
	switch k % 7 {
	case 0:
		c.Type = CmdResend
		c.OrderID = uint64(max(g.seq-int64(k%300), 0))
		c.ClientOrderID = uint64(k % 3) // 0 is refused: no tag
	case 1:
		c.Type = CmdSnapshot
	case 2:
		c.Type = CmdInvalid
		if k%2 == 0 {
			c.Reason = ReasonMalformedFrame
		}
	case 3:
		c.Type = CmdNoop
	case 4:
		c.Type = NumCommandTypes + CommandType(k%3)
	case 5:
		c.Type = CmdOrderStatus
		c.Reason = ReasonDroppedByOperator
	case 6:
		c.Type = CmdResend
		c.ClientOrderID = 1
		c.Reason = ReasonDroppedByOperator
	}
}

// randomSeeds soaks the engine: `go test ./engine -run
// TestRandomEquivalence -random.seeds 500` runs seeds 1…500 (about half a
// second each).
var randomSeeds = flag.Int("random.seeds", 2, "seeds TestRandomEquivalence runs, from 1")

// TestRandomEquivalence runs the engine and the naive reference on the
// same seeded random commands: same events, same books, invariants after
// every command.
func TestRandomEquivalence(t *testing.T) {
	randomEquivalence(t, randomConfig(), false)
}

// wideConfig is randomConfig with instrument 2's prices spread wide
// (commandGen.wide) under a band and a reference, and max-notional
// limits on two more accounts (the market orders' notional walk).
func wideConfig() Config {
	cfg := randomConfig()
	cfg.Instruments[1].PriceBand, cfg.Instruments[1].ReferencePrice = 5*20000, 5*30000
	cfg.Accounts[0].MaxNotional = 5 * 30000 * 40
	cfg.Accounts[3].MaxNotional, cfg.Accounts[3].MaxOpenOrders = 5*30000*20, 40
	return cfg
}

// TestRandomEquivalenceWide is TestRandomEquivalence on wideConfig: the
// level window and its overflow at a tick above 1, and a banded market.
func TestRandomEquivalenceWide(t *testing.T) {
	randomEquivalence(t, wideConfig(), true)
}

func randomEquivalence(t *testing.T, cfg Config, wide bool) {
	n := 120000
	if raceEnabled {
		n = 30000
	}
	for seed := int64(1); seed <= int64(*randomSeeds); seed++ {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			var rec recorder
			e, err := NewEngine(cfg, &rec)
			if err != nil {
				t.Fatal(err)
			}
			ref := newRefEngine(cfg)
			g := commandGen{rng: rand.New(rand.NewSource(seed)), wide: wide}
			var bought, sold int64
			position := map[uint32]int64{}
			overflowSeen, suspendedCancels, suspendedRejects, haltCancels := 0, 0, 0, 0
			var stepped StateCopy // a copy in steps, as the node takes its snapshots
			for i := 0; i < n; i++ {
				c := g.next()
				rec.events = rec.events[:0]
				ref.events = ref.events[:0]
				if i%50 == 0 {
					e.BeginCopy(&stepped)
				}
				e.Apply(&c)
				ref.Apply(&c)
				if e.Copying() {
					stepped.Reserve(e.Sizes()) // between steps, as node/snapcopy.go does
					if e.CopyMore(1000) || i%50 == 49 {
						e.FinishCopy()
						if !bytes.Equal(stepped.Snapshot(), e.AppendSnapshot(nil)) {
							t.Fatalf("command %d: the stepped copy finished there is not the engine's state", i)
						}
					}
				}
				if !reflect.DeepEqual(rec.events, ref.events) {
					t.Fatalf("command %d %+v:\nengine    %s\nreference %s", i, c, formatEvents(rec.events), formatEvents(ref.events))
				}
				for _, ev := range rec.events {
					switch {
					case ev.Type == EvCancelled && ev.Reason == uint8(CancelAccountSuspended):
						suspendedCancels++
					case ev.Type == EvRejected && ev.Reason == uint8(ReasonAccountSuspended):
						suspendedRejects++
					case ev.Type == EvCancelled && ev.Reason == uint8(CancelInstrumentHalted):
						haltCancels++
					}
					if ev.Type != EvTrade {
						continue
					}
					// One buyer and one seller per trade: positions net to zero.
					buyer, seller := ev.Account, ev.MakerAccount
					if ev.Side == Sell {
						buyer, seller = seller, buyer
					}
					position[buyer] += ev.Quantity
					position[seller] -= ev.Quantity
					bought += ev.Quantity
					sold += ev.Quantity
				}
				var net int64
				for _, p := range position {
					net += p
				}
				if net != 0 || bought != sold {
					t.Fatalf("command %d: bought %d sold %d, net position %d", i, bought, sold, net)
				}
				if err := checkInvariants(e); err != nil {
					t.Fatalf("command %d: %v", i, err)
				}
				if i%997 == 0 || i == n-1 {
					compareBooks(t, e, ref)
				}
				if i%10000 == 9999 { // no copy open (finished at i%50 == 49): go on from a snapshot
					if e, err = RestoreEngine(cfg, e.AppendSnapshot(nil), &rec); err != nil {
						t.Fatalf("command %d: restore: %v", i, err)
					}
					e.SetAppliedSeq(c.Seq)
				}
				for bi := range e.books {
					overflowSeen += e.books[bi].bids.out.Len() + e.books[bi].asks.out.Len()
				}
			}
			if bought+sold == 0 {
				t.Fatal("no trades: the generator is not exercising matching")
			}
			if overflowSeen == 0 {
				t.Fatal("no level outside the window: the overflow path is not exercised")
			}
			if suspendedCancels == 0 || suspendedRejects == 0 {
				t.Fatalf("the kill switch cancelled %d orders and rejected %d: not exercised", suspendedCancels, suspendedRejects)
			}
			if haltCancels == 0 {
				t.Fatal("no order cancelled by a halt: the halt that clears the book is not exercised")
			}
			t.Logf("%d commands, %d lots traded, %d live orders, %d cancelled and %d rejected by suspensions, %d cancelled by halts",
				n, bought, e.LiveOrders(), suspendedCancels, suspendedRejects, haltCancels)
		})
	}
}

func compareBooks(t *testing.T, e *Engine, ref *refEngine) {
	t.Helper()
	for _, inst := range e.Instruments() {
		for _, s := range []Side{Buy, Sell} {
			var got []OrderInfo
			e.Orders(inst, s, func(o OrderInfo) bool { got = append(got, o); return true })
			want := ref.side(inst, s)
			if len(got) != len(want) {
				t.Fatalf("inst %d %s: %d orders, reference %d", inst, s, len(got), len(want))
			}
			for i, o := range want {
				w := OrderInfo{ID: o.id, ClientOrderID: o.clOrdID, Account: o.account, Instrument: o.inst,
					Side: o.side, Price: o.price, Quantity: o.qty, Leaves: o.leaves, Filled: o.filled}
				if got[i] != w {
					t.Fatalf("inst %d %s #%d: %+v, reference %+v", inst, s, i, got[i], w)
				}
			}
		}
	}
}

// TestSnapshotRoundTripAtRandomCuts: snapshot at a random point, restore,
// and both engines give identical events and hashes for the rest.
func TestSnapshotRoundTripAtRandomCuts(t *testing.T) {
	const n = 20000
	cfg := randomConfig()
	cmds := make([]Command, n)
	g := commandGen{rng: rand.New(rand.NewSource(3))}
	for i := range cmds {
		cmds[i] = g.next()
	}
	rng := rand.New(rand.NewSource(4))
	for cut := 0; cut < 8; cut++ {
		at := rng.Intn(n)
		var recA, recB recorder
		a, _ := NewEngine(cfg, &recA)
		for i := 0; i < at; i++ {
			a.Apply(&cmds[i])
		}
		snap := a.AppendSnapshot(nil)
		b, err := RestoreEngine(cfg, snap, &recB)
		if err != nil {
			t.Fatalf("cut %d: %v", at, err)
		}
		if a.StateHash() != b.StateHash() {
			t.Fatalf("cut %d: hash differs right after restore", at)
		}
		a.SetMarketData(true)
		b.SetMarketData(true)
		recA.events, recB.events = nil, nil
		for i := at; i < n; i++ {
			a.Apply(&cmds[i])
			b.Apply(&cmds[i])
		}
		if !reflect.DeepEqual(recA.events, recB.events) {
			t.Fatalf("cut %d: events differ after restore", at)
		}
		if a.StateHash() != b.StateHash() {
			t.Fatalf("cut %d: final hash differs", at)
		}
	}
}

// TestRejectedCommandChangesNothing: contract 2 — a command answered
// with an EvRejected gets exactly that one event and leaves the state
// (its hash) as it was.
func TestRejectedCommandChangesNothing(t *testing.T) {
	var rec recorder
	e, err := NewEngine(randomConfig(), &rec)
	if err != nil {
		t.Fatal(err)
	}
	g := commandGen{rng: rand.New(rand.NewSource(7))}
	rejected := 0
	for i := 0; i < 40000; i++ {
		c := g.next()
		before := e.StateHash()
		rec.events = rec.events[:0]
		e.Apply(&c)
		for _, ev := range rec.events {
			if ev.Type != EvRejected {
				continue
			}
			rejected++
			if len(rec.events) != 1 {
				t.Fatalf("command %d %+v: a reject among %d events", i, c, len(rec.events))
			}
			if e.StateHash() != before {
				t.Fatalf("command %d %+v: rejected (reason %d) and changed the state", i, c, ev.Reason)
			}
		}
	}
	if rejected == 0 {
		t.Fatal("nothing rejected")
	}
}

func TestSteadyStateApplyAllocatesNothing(t *testing.T) {
	cfg := randomConfig()
	e, _ := NewEngine(cfg, discard{})
	g := commandGen{rng: rand.New(rand.NewSource(5))}
	cmds := make([]Command, 50000)
	for i := range cmds {
		cmds[i] = g.next()
	}
	for i := range cmds[:25000] { // warm up: pool and maps reach their size
		e.Apply(&cmds[i])
	}
	i := 25000
	allocs := testing.AllocsPerRun(20000, func() {
		e.Apply(&cmds[i%len(cmds)])
		i++
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per command, want 0", allocs)
	}
}

// With MaxOrders sized for them, books filling up to it never grow the
// pools or the id maps (growing copies them on the engine goroutine).
func TestSizedPoolsDoNotGrow(t *testing.T) {
	const resting = 50000
	cfg := benchConfig()
	cfg.MaxOrders, cfg.MapPools = resting, true
	e, err := NewEngine(cfg, discard{})
	if err != nil {
		t.Fatal(err)
	}
	sizes := func() [4]int {
		return [4]int{cap(e.orders), cap(e.levels), len(e.byID.ids) + len(e.byID.old.slots), len(e.byClOrd.slots)}
	}
	sized := sizes()
	for i := range resting {
		s, px := Buy, int64(benchMid-1-i%1000)
		if i%2 == 0 {
			s, px = Sell, int64(benchMid+1+i%1000)
		}
		e.Apply(&Command{Type: CmdNewOrder, Seq: int64(i + 1), Timestamp: int64(i + 1), Account: uint32(1 + i%benchAccounts),
			ClientOrderID: uint64(i + 1), Instrument: 1, Side: s, OrderType: Limit, TIF: GTC, Price: px, Quantity: 1})
	}
	if orders, _ := e.Sizes(); orders != resting {
		t.Fatalf("%d orders in the pool, want %d resting", orders, resting)
	}
	if got := sizes(); got != sized {
		t.Fatalf("orders, levels, id-map slots: %v after %d resting orders, %v before", got, resting, sized)
	}
}

// Pools that grow (withRoom) keep every order and level where it was: the
// same commands give the same events and state as in pools sized for them.
func TestGrownPoolsKeepTheState(t *testing.T) {
	run := func(maxOrders int) (*Engine, *recorder) {
		cfg := benchConfig()
		cfg.MaxOrders = maxOrders
		var rec recorder
		e, err := NewEngine(cfg, &rec)
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewSource(11))
		for i := range 30000 {
			s, px := Buy, int64(benchMid-1-rng.Intn(1500))
			if i%2 == 0 {
				s, px = Sell, int64(benchMid+1+rng.Intn(1500))
			}
			cmd := Command{Type: CmdNewOrder, Seq: int64(i + 1), Timestamp: int64(i + 1), Account: uint32(1 + i%benchAccounts),
				ClientOrderID: uint64(i + 1), Instrument: 1, Side: s, OrderType: Limit, TIF: GTC, Price: px, Quantity: 1}
			if i%7 == 6 { // cancel an earlier order, so freed slots are reused too
				j := rng.Intn(i)
				cmd = Command{Type: CmdCancel, Seq: int64(i + 1), Timestamp: int64(i + 1), Account: uint32(1 + j%benchAccounts),
					Instrument: 1, OrigClientOrderID: uint64(j + 1)}
			}
			e.Apply(&cmd)
		}
		return e, &rec
	}
	grown, grownEvents := run(1024)
	sized, sizedEvents := run(1 << 16)
	if orders, levels := grown.Sizes(); orders <= 1024 || levels <= 1024 {
		t.Fatalf("pools of %d orders and %d levels: they did not grow past 1024", orders, levels)
	}
	if !slices.Equal(grownEvents.events, sizedEvents.events) {
		t.Fatalf("%d events from growing pools, %d from sized ones, not the same", len(grownEvents.events), len(sizedEvents.events))
	}
	if !bytes.Equal(grown.AppendSnapshot(nil), sized.AppendSnapshot(nil)) {
		t.Fatal("growing pools end in another state than sized ones")
	}
}

type discard struct{}

func (discard) Emit(*Event) {}

// One command can match at most 65535 times (the trade id's low 16 bits);
// the rest of the order is cancelled with CancelMatchLimit.
func TestMatchLimit(t *testing.T) {
	var rec recorder
	e, _ := NewEngine(randomConfig(), &rec)
	seq := int64(0)
	for i := 0; i < maxMatches+10; i++ {
		seq++
		e.Apply(&Command{Seq: seq, Type: CmdNewOrder, Account: 1, Instrument: 3, Side: Sell,
			OrderType: Limit, TIF: GTC, Price: 100, Quantity: 1})
	}
	rec.events = nil
	seq++
	e.Apply(&Command{Seq: seq, Type: CmdNewOrder, Account: 2, Instrument: 3, Side: Buy,
		OrderType: Limit, TIF: GTC, Price: 100, Quantity: maxMatches + 100})
	last := rec.events[len(rec.events)-1]
	trades := 0
	for _, ev := range rec.events {
		if ev.Type == EvTrade {
			trades++
		}
	}
	if trades != maxMatches || last.Type != EvCancelled || CancelReason(last.Reason) != CancelMatchLimit || last.Leaves != 100 {
		t.Fatalf("%d trades, last event %s", trades, formatEvent(&last))
	}
	if err := checkInvariants(e); err != nil {
		t.Fatal(err)
	}
}

// The own orders an incoming order's self-trade prevention cancels
// (STPCancelResting) count against its match limit as its trades do
// (Semantics 8): one command cancels at most 65535 of them, and the rest
// of the order is cancelled with CancelMatchLimit. Uncounted, one order
// cancelled every order its account rested, and the FOK and market checks
// that walk the book as match does walked them all — refused, the same
// order could be sent again and again, each costing the engine a walk of
// the account's whole book (BenchmarkRefusedFOKPastOwnOrders).
func TestMatchLimitCountsOwnOrdersCancelled(t *testing.T) {
	var rec recorder
	e, _ := NewEngine(randomConfig(), &rec)
	seq := int64(0)
	place := func(account uint32) {
		seq++
		e.Apply(&Command{Seq: seq, Type: CmdNewOrder, Account: account, Instrument: 3, Side: Sell,
			OrderType: Limit, TIF: GTC, Price: 100, Quantity: 1})
	}
	for range maxMatches + 10 {
		place(2)
	}
	place(1) // behind the account's own orders, at the same price
	rec.events = nil
	seq++
	e.Apply(&Command{Seq: seq, Type: CmdNewOrder, Account: 2, Instrument: 3, Side: Buy,
		OrderType: Limit, TIF: IOC, STP: STPCancelResting, Price: 100, Quantity: 5})
	selfTrade, trades := 0, 0
	for _, ev := range rec.events {
		switch {
		case ev.Type == EvTrade:
			trades++
		case ev.Type == EvCancelled && CancelReason(ev.Reason) == CancelSelfTrade:
			selfTrade++
		}
	}
	last := rec.events[len(rec.events)-1]
	if selfTrade != maxMatches || trades != 0 || last.Type != EvCancelled || CancelReason(last.Reason) != CancelMatchLimit || last.Leaves != 5 {
		t.Fatalf("%d own orders cancelled, %d trades, last event %s; want %d cancelled, none traded, the order cancelled at the match limit",
			selfTrade, trades, formatEvent(&last), maxMatches)
	}
	if got := e.LiveOrders(); got != 11 {
		t.Fatalf("%d orders live, want the 10 own orders past the limit and the other account's", got)
	}
	if err := checkInvariants(e); err != nil {
		t.Fatal(err)
	}
}

// A restored engine told its input (SetAppliedSeq) emits the same
// market-data image as the engine that never stopped: the image events
// carried 0 after a restore, the last input's sequence without one.
func TestImageAfterRestoreEqualsContinuous(t *testing.T) {
	cfg := randomConfig()
	var recA, recB recorder
	a, _ := NewEngine(cfg, &recA)
	g := commandGen{rng: rand.New(rand.NewSource(7))}
	for i := range 20000 {
		c := g.next()
		a.Apply(&c)
		if i%5000 != 4999 {
			continue
		}
		b, err := RestoreEngine(cfg, a.AppendSnapshot(nil), &recB)
		if err != nil {
			t.Fatal(err)
		}
		b.SetAppliedSeq(c.Seq)
		recA.events, recB.events = nil, nil
		a.SetMarketData(true)
		b.SetMarketData(true)
		if len(recA.events) == 0 || !reflect.DeepEqual(recA.events, recB.events) {
			t.Fatalf("command %d: image of %d events continuous, %d restored (first %+v and %+v)", i,
				len(recA.events), len(recB.events), recA.events[0], recB.events[0])
		}
		a.SetMarketData(false)
	}
}

// A FOK fills exactly when match would fill it, the match limit included,
// across levels taken whole and the level the limit falls in (walked
// order by order), with and without the taker's own orders in the way.
func TestFOKAtTheMatchLimitAcrossLevels(t *testing.T) {
	for _, tc := range []struct {
		name     string
		own      bool // the taker has an order resting at the first level
		stp      STP
		qty      int64
		accepted bool
	}{
		{"at the limit", false, STPAllow, maxMatches, true},
		{"one past the limit", false, STPAllow, maxMatches + 1, false},
		{"own order, allowed", true, STPAllow, maxMatches, true},
		// The own order it cancels counts against the limit (Semantics 8).
		{"own order, cancel resting", true, STPCancelResting, maxMatches - 1, true},
		{"own order, cancel resting, one past", true, STPCancelResting, maxMatches, false},
		{"own order, cancel incoming", true, STPCancelIncoming, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rec recorder
			e, _ := NewEngine(randomConfig(), &rec)
			seq := int64(0)
			place := func(account uint32, price int64) {
				seq++
				e.Apply(&Command{Seq: seq, Type: CmdNewOrder, Account: account, Instrument: 3, Side: Sell,
					OrderType: Limit, TIF: GTC, Price: price, Quantity: 1})
			}
			if tc.own {
				place(2, 100)
			}
			for i := range maxMatches + 10 {
				place(1, 100+int64(i/1000)) // 1 000 orders a level: the limit falls inside level 65
			}
			rec.events = nil
			seq++
			e.Apply(&Command{Seq: seq, Type: CmdNewOrder, Account: 2, Instrument: 3, Side: Buy,
				OrderType: Limit, TIF: FOK, STP: tc.stp, Price: 200, Quantity: tc.qty})
			first := rec.events[0]
			if got := first.Type != EvRejected; got != tc.accepted {
				t.Fatalf("FOK of %d: first event %s, want accepted %v", tc.qty, formatEvent(&first), tc.accepted)
			}
			if !tc.accepted && RejectReason(first.Reason) != ReasonFOKNotFilled {
				t.Fatalf("refused for %s", formatEvent(&first))
			}
			if err := checkInvariants(e); err != nil {
				t.Fatal(err)
			}
		})
	}
}
