package engine

import (
	"math/rand"
	"testing"
)

// The benchmarks run pre-generated command streams. A stream is made by
// simulating it on an engine (so cancels and replaces name live orders and
// the book stays at the intended depth), then replayed on a fresh engine:
// a warm-up prefix untimed (100k commands: the books reach their depth),
// the next 400k timed. b.N larger than that replays it again on another
// fresh engine, with the timer stopped in between, so every timed command
// runs against a warm book and within the pre-sized pool: steady state.

const (
	benchMid      = 1_000_000
	benchAccounts = 1000
)

func benchConfig() Config {
	cfg := Config{
		Instruments: []Instrument{{ID: 1, Symbol: "BENCH", TickSize: 1, LotSize: 1}},
		MaxOrders:   1 << 20,
	}
	for a := uint32(1); a <= benchAccounts; a++ {
		cfg.Accounts = append(cfg.Accounts, Account{ID: a})
	}
	return cfg
}

// liveSet tracks live order ids from the events of the simulating engine.
type liveSet struct {
	ids   []uint64
	where map[uint64]int
	side  map[uint64]Side
}

func (l *liveSet) add(id uint64, s Side) {
	l.where[id] = len(l.ids)
	l.ids = append(l.ids, id)
	l.side[id] = s
}

func (l *liveSet) remove(id uint64) {
	i, ok := l.where[id]
	if !ok {
		return
	}
	last := l.ids[len(l.ids)-1]
	l.ids[i] = last
	l.where[last] = i
	l.ids = l.ids[:len(l.ids)-1]
	delete(l.where, id)
	delete(l.side, id)
}

// Emit follows an order's life: it is live once accepted (rests unless a
// later event of the same command removes it).
func (l *liveSet) Emit(ev *Event) {
	switch ev.Type {
	case EvAccepted:
		l.add(ev.OrderID, ev.Side)
	case EvTrade:
		if ev.Leaves == 0 {
			l.remove(ev.OrderID)
		}
		if ev.MakerLeaves == 0 {
			l.remove(ev.MakerOrderID)
		}
	case EvCancelled:
		l.remove(ev.OrderID)
	}
}

type streamGen struct {
	rng  *rand.Rand
	e    *Engine
	live *liveSet
	cmds []Command
	// clOrd, when set, numbers each account's orders (ClientOrderID) as
	// clients do; nil leaves them 0 (no client order id map).
	clOrd map[uint32]uint64
}

func newStreamGen(seed int64) *streamGen { return newStreamGenWith(seed, benchConfig()) }

func newStreamGenWith(seed int64, cfg Config) *streamGen {
	live := &liveSet{where: map[uint64]int{}, side: map[uint64]Side{}}
	e, err := NewEngine(cfg, live)
	if err != nil {
		panic(err)
	}
	return &streamGen{rng: rand.New(rand.NewSource(seed)), e: e, live: live}
}

func (g *streamGen) emit(c Command) {
	c.Seq = int64(len(g.cmds) + 1)
	c.Timestamp = c.Seq
	c.Account = uint32(1 + g.rng.Intn(benchAccounts))
	c.Instrument = 1
	c.STP = STPAllow
	if c.Type == CmdCancel || c.Type == CmdReplace {
		c.Account = g.e.orders[g.e.mustFind(c.OrderID)].account
	}
	if g.clOrd != nil && (c.Type == CmdNewOrder || c.Type == CmdReplace) {
		g.clOrd[c.Account]++ // each account numbers its orders 1, 2, 3…
		c.ClientOrderID = g.clOrd[c.Account]
	}
	g.e.Apply(&c)
	g.cmds = append(g.cmds, c)
}

func (e *Engine) mustFind(id uint64) int32 {
	oi, ok := e.orderByID(id)
	if !ok {
		panic("bench: order not live")
	}
	return oi
}

func (g *streamGen) limit(s Side, price int64, tif TimeInForce) {
	g.emit(Command{Type: CmdNewOrder, Side: s, OrderType: Limit, TIF: tif, Price: price, Quantity: int64(1 + g.rng.Intn(10))})
}

// passive returns a price on side s, off from the mid by 1…spread ticks.
func (g *streamGen) passive(s Side, spread int) int64 {
	off := int64(1 + g.rng.Intn(spread))
	if s == Buy {
		return benchMid - off
	}
	return benchMid + off
}

func (g *streamGen) randomSide() Side { return Side(1 + g.rng.Intn(2)) }

// fill rests GTC orders on random sides, off the mid by 1…spread ticks,
// until orders are live.
func (g *streamGen) fill(orders, spread int) {
	for len(g.live.ids) < orders {
		s := g.randomSide()
		g.limit(s, g.passive(s, spread), GTC)
	}
}

// placeStream: only new limit orders. 80% land within the top 10 ticks of
// either side (a quarter of those cross the mid and trade), 20% rest deeper
// in 1000 levels per side.
func placeStream(n int) []Command { return newStreamGen(1).place(n) }

// clientIDStream: placeStream with client order ids, as clients send:
// each new order also goes through the (account, client order id) map.
func clientIDStream(n int) []Command {
	g := newStreamGen(1)
	g.clOrd = map[uint32]uint64{}
	return g.place(n)
}

// place adds placeStream's orders until the stream holds n commands.
func (g *streamGen) place(n int) []Command {
	for len(g.cmds) < n {
		s := g.randomSide()
		switch r := g.rng.Intn(100); {
		case r < 20:
			g.limit(s, g.passive(s, 1000), GTC)
		case r < 80:
			g.limit(s, g.passive(s, 10), GTC)
		default: // aggressive: up to 5 ticks through the mid
			p := g.passive(s, 5)
			g.limit(s, 2*benchMid-p, GTC)
		}
	}
	return g.cmds
}

// mixedStream: the exchange-core benchmark mix on ~1000 resting orders over
// ~750 levels: 9% GTC, 3% IOC, 6% cancel, 82% replace with a price move.
func mixedStream(n int) []Command {
	g := newStreamGen(2)
	g.fill(1000, 375)
	for len(g.cmds) < n {
		r := g.rng.Intn(100)
		// Keep the book near 1000 orders: swap a cancel for a GTC (or back)
		// when it drifts.
		if r >= 9 && r < 12 && len(g.live.ids) < 950 {
			r = 0
		}
		if r < 9 && len(g.live.ids) > 1050 {
			r = 15
		}
		switch {
		case r < 9:
			s := g.randomSide()
			g.limit(s, g.passive(s, 375), GTC)
		case r < 12:
			s := g.randomSide()
			g.limit(s, 2*benchMid-g.passive(s, 3), IOC)
		case r < 18:
			g.emit(Command{Type: CmdCancel, OrderID: g.live.ids[g.rng.Intn(len(g.live.ids))]})
		default:
			id := g.live.ids[g.rng.Intn(len(g.live.ids))]
			s := g.live.side[id]
			g.emit(Command{Type: CmdReplace, OrderID: id, Price: g.passive(s, 375), Quantity: int64(1 + g.rng.Intn(10))})
		}
	}
	return g.cmds
}

// sweepStream: market orders that each take about 5 levels, the book
// refilled with passive orders in between (about 30 refills per sweep).
func sweepStream(n int) []Command {
	g := newStreamGen(3)
	for len(g.cmds) < n {
		g.fill(600, 50)
		s := g.randomSide()
		g.emit(Command{Type: CmdNewOrder, Side: s, OrderType: Market, TIF: IOC, Quantity: 5 * 6 * 5})
	}
	return g.cmds
}

// queueStream: all at one price, buyers in bursts ahead of sellers, so
// a queue of ~50k consecutive order ids rests and is filled in time
// priority (what `ringex bench --mix cross` does to the engine when one
// side's connections run ahead). Each fill deletes the oldest id of one
// long run of consecutive ids from the order map.
func queueStream(n int) []Command {
	g := newStreamGen(4)
	for len(g.cmds) < n {
		for range 50_000 {
			g.emit(Command{Type: CmdNewOrder, Side: Buy, OrderType: Limit, TIF: GTC, Price: benchMid, Quantity: 1})
		}
		for range 50_000 {
			g.emit(Command{Type: CmdNewOrder, Side: Sell, OrderType: Limit, TIF: GTC, Price: benchMid, Quantity: 1})
		}
	}
	return g.cmds
}

// deepStream: a deep book on an instrument with no price band — ~40 000
// levels per side spread over 100 000 ticks, most of them outside the
// side's direct-indexed window — kept at that depth by placing at a
// random depth and cancelling a random order, half and half.
func deepStream(n int) []Command {
	g := newStreamGen(5)
	g.fill(80_000, 100_000)
	for len(g.cmds) < n {
		if g.rng.Intn(2) == 0 {
			s := g.randomSide()
			g.limit(s, g.passive(s, 100_000), GTC)
		} else {
			g.emit(Command{Type: CmdCancel, OrderID: g.live.ids[g.rng.Intn(len(g.live.ids))]})
		}
	}
	return g.cmds
}

// driftStream: placeStream after the price has moved 50 000 ticks from
// where each side saw its first order, which still rests there.
func driftStream(n int) []Command {
	g := newStreamGen(1)
	g.limit(Buy, benchMid-50_000, GTC)
	g.limit(Sell, benchMid-50_000+1, GTC)
	return g.place(n)
}

// restingConfig is benchConfig with the default node config's order
// capacity (engine.max_orders 65 536): an order-id table of 131 072
// slots, which the ids of a stream wrap around every 131 072 orders.
func restingConfig() Config {
	cfg := benchConfig()
	cfg.MaxOrders = 1 << 16
	return cfg
}

// restingStream: 18 000 orders rest far from the mid all through (a
// market maker's deep book, placed first), while buys and sells cross at
// the mid one for one — `ringex bench --mix cross` against a node whose
// book is deep. The crossing orders' ids wrap the order-id table onto
// the resting ones over and over.
func restingStream(n int) []Command {
	g := newStreamGenWith(6, restingConfig())
	for k := range 9000 {
		g.limit(Buy, benchMid-200-int64(k), GTC)
		g.limit(Sell, benchMid+200+int64(k), GTC)
	}
	for len(g.cmds) < n {
		g.limit(Buy, benchMid, GTC)
		g.limit(Sell, benchMid, GTC)
	}
	return g.cmds
}

const benchWarmup = 100_000

func runStream(b *testing.B, stream []Command) { runStreamWith(b, benchConfig(), stream) }

func runStreamWith(b *testing.B, cfg Config, stream []Command) {
	var e *Engine
	pos := len(stream)
	var events countSink
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if pos == len(stream) {
			b.StopTimer()
			e, _ = NewEngine(cfg, &events)
			for j := 0; j < benchWarmup; j++ {
				e.Apply(&stream[j])
			}
			pos = benchWarmup
			b.StartTimer()
		}
		e.Apply(&stream[pos])
		pos++
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

type countSink struct{ n int }

func (c *countSink) Emit(*Event) { c.n++ }

var benchStreams = map[string][]Command{}

func stream(name string, gen func(int) []Command) []Command {
	if s, ok := benchStreams[name]; ok {
		return s
	}
	s := gen(benchWarmup + 400_000)
	benchStreams[name] = s
	return s
}

func BenchmarkEngine(b *testing.B) {
	b.Run("place", func(b *testing.B) { runStream(b, stream("place", placeStream)) })
	b.Run("mixed", func(b *testing.B) { runStream(b, stream("mixed", mixedStream)) })
	b.Run("client-ids", func(b *testing.B) { runStream(b, stream("client-ids", clientIDStream)) })
	b.Run("sweep", func(b *testing.B) { runStream(b, stream("sweep", sweepStream)) })
	b.Run("queue", func(b *testing.B) { runStream(b, stream("queue", queueStream)) })
	b.Run("deep", func(b *testing.B) { runStream(b, stream("deep", deepStream)) })
	b.Run("drift", func(b *testing.B) { runStream(b, stream("drift", driftStream)) })
	b.Run("resting", func(b *testing.B) { runStreamWith(b, restingConfig(), stream("resting", restingStream)) })
}

// BenchmarkOrderStatus: what one status listing costs the engine
// goroutine for an account with 400 000 resting orders — in all of them
// ("all", a full page of MaxStatusOrders), in an instrument where the
// account has none ("elsewhere", MaxStatusVisits looked at, none listed),
// and after a cursor whose order is gone, near the newest ("gone-cursor":
// after walks the account's orders from the oldest to find its place,
// which MaxStatusVisits does not bound — the account's max_open_orders
// does: 3.6–4.3 ms, 9–11 ns an order, 2026-12-07 beside a -race test run).
func BenchmarkOrderStatus(b *testing.B) {
	const resting = 400_000
	cfg := Config{Instruments: []Instrument{{ID: 1, Symbol: "X", TickSize: 1, LotSize: 1},
		{ID: 2, Symbol: "Y", TickSize: 1, LotSize: 1}}, Accounts: []Account{{ID: 7}}, MaxOrders: 1 << 19}
	var sink countSink
	e, err := NewEngine(cfg, &sink)
	if err != nil {
		b.Fatal(err)
	}
	seq := int64(0)
	for i := 0; i < resting; i++ {
		seq++
		e.Apply(&Command{Seq: seq, Type: CmdNewOrder, Account: 7, Instrument: 1, Side: Buy, OrderType: Limit, TIF: GTC,
			Price: int64(1 + i%1000), Quantity: 1})
	}
	for _, bc := range []struct {
		name       string
		instrument uint32
		cursor     uint64
	}{{"all", 0, 0}, {"elsewhere", 2, 0}, {"gone-cursor", 0, resting - 10}} {
		b.Run(bc.name, func(b *testing.B) {
			if bc.cursor != 0 {
				seq++
				e.Apply(&Command{Seq: seq, Type: CmdCancel, Account: 7, OrderID: bc.cursor})
			}
			for b.Loop() {
				seq++
				e.Apply(&Command{Seq: seq, Type: CmdOrderStatus, Account: 7, Instrument: bc.instrument, ClientOrderID: bc.cursor})
			}
		})
	}
}

// BenchmarkSmallOrderDeepBook: one small order against 60 000 resting
// orders of a large quantity over 600 levels (none of the taker's own),
// which it barely dents — each iteration's book is the last one's. A
// 1-lot market or FOK order checked its fill by walking every resting
// order within its limit first (260–535 µs each on the dev VM, against
// 53 ns for a limit IOC); "fok-unfillable" asks more than the book holds,
// rejected after a walk of the levels.
func BenchmarkSmallOrderDeepBook(b *testing.B) {
	const levels, perLevel, qty = 600, 100, 1 << 20 // the whole book under MaxQuantity
	cfg := restingConfig()
	e, _ := NewEngine(cfg, &countSink{})
	seq := int64(0)
	for l := range int64(levels) {
		for range perLevel {
			seq++
			e.Apply(&Command{Seq: seq, Type: CmdNewOrder, Account: 1, Instrument: 1, Side: Sell,
				OrderType: Limit, TIF: GTC, Price: benchMid + l, Quantity: qty})
		}
	}
	for _, tc := range []struct {
		name string
		cmd  Command
	}{
		{"market-ioc", Command{OrderType: Market, TIF: IOC, Quantity: 1}},
		{"limit-fok", Command{OrderType: Limit, TIF: FOK, Price: benchMid + levels, Quantity: 1}},
		{"limit-ioc", Command{OrderType: Limit, TIF: IOC, Price: benchMid + levels, Quantity: 1}},
		{"fok-unfillable", Command{OrderType: Limit, TIF: FOK, Price: benchMid + levels, Quantity: levels*perLevel*qty + 1}},
	} {
		var c Command
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				seq++
				c = tc.cmd
				c.Seq, c.Type, c.Account, c.Instrument, c.Side = seq, CmdNewOrder, 2, 1, Buy
				e.Apply(&c)
			}
		})
	}
}

// BenchmarkMarketNotionalDeepBook: a market order from an account with
// max_notional against 200 000 resting orders of a large quantity, one a
// level (most beyond the level window), which it barely dents or does
// not trade at all. "fok-past-the-match-limit" asks more than 65 535
// fills can give: refused after the checks — the max-notional one walked
// every level its quantity reached, three times more than match could
// ever reach (3.6–5.1 ms; 1.3–1.9 ms stopping at the match limit, on the
// loaded 2-core dev VM); "fok-no-limit" is the same order from an account
// without max_notional, the fill check alone (the baseline, 0.5–1 ms),
// and "ioc" one lot.
func BenchmarkMarketNotionalDeepBook(b *testing.B) {
	const levels, qty = 200_000, 1 << 20 // the whole book under MaxQuantity
	cfg := restingConfig()
	cfg.Accounts[1].MaxNotional = 1 << 62
	e, _ := NewEngine(cfg, &countSink{})
	seq := int64(0)
	for l := range int64(levels) {
		seq++
		e.Apply(&Command{Seq: seq, Type: CmdNewOrder, Account: 1, Instrument: 1, Side: Sell,
			OrderType: Limit, TIF: GTC, Price: benchMid + l, Quantity: qty})
	}
	for _, tc := range []struct {
		name    string
		account uint32
		cmd     Command
	}{
		{"fok-past-the-match-limit", 2, Command{OrderType: Market, TIF: FOK, Quantity: MaxQuantity}},
		{"fok-no-limit", 3, Command{OrderType: Market, TIF: FOK, Quantity: MaxQuantity}},
		{"ioc", 2, Command{OrderType: Market, TIF: IOC, Quantity: 1}},
	} {
		var c Command
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				seq++
				c = tc.cmd
				c.Seq, c.Type, c.Account, c.Instrument, c.Side = seq, CmdNewOrder, tc.account, 1, Buy
				e.Apply(&c)
			}
		})
	}
}

// BenchmarkRefusedFOKPastOwnOrders is a FOK its book cannot fill, refused
// — so a client may send it again and again — with its account's own
// resting orders in the way (self-trade prevention STPCancelResting would
// cancel them). The walk that decides it stops at the match limit:
// own-orders-4x-limit costs what others-at-limit does. Before the orders
// cancelled counted against the limit (Semantics 8) it walked all of them.
func BenchmarkRefusedFOKPastOwnOrders(b *testing.B) {
	for _, tc := range []struct {
		name    string
		account uint32 // whose orders rest
		resting int
	}{
		{"others-at-limit", 2, maxMatches},
		{"own-orders-4x-limit", 1, 4 * maxMatches},
	} {
		b.Run(tc.name, func(b *testing.B) {
			cfg := Config{Instruments: []Instrument{{ID: 1, Symbol: "X", TickSize: 1, LotSize: 1}},
				Accounts: []Account{{ID: 1}, {ID: 2}}, MaxOrders: tc.resting + 1}
			e, _ := NewEngine(cfg, discard{})
			seq := int64(0)
			for range tc.resting {
				seq++
				e.Apply(&Command{Seq: seq, Type: CmdNewOrder, Account: tc.account, Instrument: 1, Side: Sell,
					OrderType: Limit, TIF: GTC, Price: 100 + seq%3, Quantity: 1})
			}
			// An order of account 1 rests elsewhere: its checks walk order
			// by order, as they must where it may meet its own.
			seq++
			e.Apply(&Command{Seq: seq, Type: CmdNewOrder, Account: 1, Instrument: 1, Side: Buy,
				OrderType: Limit, TIF: GTC, Price: 1, Quantity: 1})
			live := e.LiveOrders()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				seq++
				e.Apply(&Command{Seq: seq, Type: CmdNewOrder, Account: 1, Instrument: 1, Side: Buy,
					OrderType: Limit, TIF: FOK, STP: STPCancelResting, Price: 200, Quantity: int64(tc.resting) + 1})
			}
			b.StopTimer()
			if e.LiveOrders() != live {
				b.Fatalf("%d orders live, %d before: a FOK was not refused", e.LiveOrders(), live)
			}
		})
	}
}
