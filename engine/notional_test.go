package engine

import "testing"

// A market order from an account with max_notional is refused exactly
// when what it would trade — walked as match walks, the match limit and
// self-trade prevention included — is over the limit. Each case runs the
// order twice: from the limited account, and on a twin engine whose
// account has no limit, which trades it; the notional traded there
// decides whether the first should have been refused.
func TestMarketNotionalIsWhatItWouldTrade(t *testing.T) {
	type resting struct {
		account    uint32
		price, qty int64
		count      int // orders of qty at price (1 if 0)
	}
	for _, tc := range []struct {
		name        string
		book        []resting // sells, in the order entered
		maxNotional int64
		qty         int64
		stp         STP
		refused     bool
	}{
		// The match limit stops the order after 65 535 fills at 100; the
		// check went on to the big order at 101 it could never reach.
		{name: "the match limit stops it within the limit",
			book:        []resting{{account: 1, price: 100, qty: 1, count: maxMatches}, {account: 1, price: 101, qty: 1 << 30}},
			maxNotional: maxMatches * 100, qty: maxMatches + 1000},
		{name: "over the limit before the match limit",
			book:        []resting{{account: 1, price: 100, qty: 1, count: maxMatches}, {account: 1, price: 101, qty: 1 << 30}},
			maxNotional: maxMatches*100 - 1, qty: maxMatches + 1000, refused: true},
		{name: "levels taken whole up to the one the limit falls in",
			book:        []resting{{account: 1, price: 100, qty: 1, count: 40000}, {account: 1, price: 200, qty: 1, count: 40000}},
			maxNotional: 40000*100 + (maxMatches-40000)*200, qty: 80000},
		{name: "levels taken whole, one lot over",
			book:        []resting{{account: 1, price: 100, qty: 1, count: 40000}, {account: 1, price: 200, qty: 1, count: 40000}},
			maxNotional: 40000*100 + (maxMatches-40000)*200 - 1, qty: 80000, refused: true},
		// Self-trade prevention: the order's own resting order at 10.
		{name: "cancel resting: the own order is cancelled, the order trades past it",
			book:        []resting{{account: 2, price: 10, qty: 10}, {account: 1, price: 101, qty: 10}},
			maxNotional: 1000, qty: 10, stp: STPCancelResting, refused: true},
		{name: "cancel resting, within",
			book:        []resting{{account: 2, price: 10, qty: 10}, {account: 1, price: 100, qty: 10}},
			maxNotional: 1000, qty: 10, stp: STPCancelResting},
		{name: "cancel incoming: the order stops at its own",
			book:        []resting{{account: 1, price: 100, qty: 5}, {account: 2, price: 101, qty: 5}, {account: 1, price: 1000, qty: 100}},
			maxNotional: 1000, qty: 20, stp: STPCancelIncoming},
		{name: "cancel both: the order stops at its own",
			book:        []resting{{account: 1, price: 100, qty: 5}, {account: 2, price: 100, qty: 5}, {account: 1, price: 1000, qty: 100}},
			maxNotional: 1000, qty: 20, stp: STPCancelBoth},
		{name: "self-trade allowed: the own order trades",
			book:        []resting{{account: 2, price: 100, qty: 5}, {account: 1, price: 101, qty: 5}},
			maxNotional: 1004, qty: 10, stp: STPAllow, refused: true},
		// The own order sits inside a level: that level is walked order by order.
		{name: "cancel resting inside a level, at the match limit",
			book:        []resting{{account: 1, price: 100, qty: 1, count: 10}, {account: 2, price: 100, qty: 1, count: 10}, {account: 1, price: 100, qty: 1, count: maxMatches}, {account: 1, price: 300, qty: 1 << 20}},
			maxNotional: maxMatches * 100, qty: maxMatches + 1000, stp: STPCancelResting},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := func(maxNotional int64) (first Event, notional int64) {
				cfg := Config{
					Instruments: []Instrument{{ID: 1, TickSize: 1, LotSize: 1}},
					Accounts:    []Account{{ID: 1}, {ID: 2, MaxNotional: maxNotional}},
				}
				var rec recorder
				e, _ := NewEngine(cfg, &rec)
				seq := int64(0)
				for _, r := range tc.book {
					for range max(r.count, 1) {
						seq++
						e.Apply(&Command{Seq: seq, Type: CmdNewOrder, Account: r.account, Instrument: 1, Side: Sell,
							OrderType: Limit, TIF: GTC, Price: r.price, Quantity: r.qty})
					}
				}
				rec.events = rec.events[:0]
				seq++
				e.Apply(&Command{Seq: seq, Type: CmdNewOrder, Account: 2, Instrument: 1, Side: Buy,
					OrderType: Market, TIF: IOC, STP: tc.stp, Quantity: tc.qty})
				for _, ev := range rec.events {
					if ev.Type == EvTrade {
						notional += ev.Price * ev.Quantity
					}
				}
				if err := checkInvariants(e); err != nil {
					t.Fatal(err)
				}
				return rec.events[0], notional
			}
			_, would := run(0)
			if over := would > tc.maxNotional; over != tc.refused {
				t.Fatalf("the setup is off: unlimited, the order trades %d, limit %d, want refused %v", would, tc.maxNotional, tc.refused)
			}
			first, traded := run(tc.maxNotional)
			refused := first.Type == EvRejected && RejectReason(first.Reason) == ReasonMaxNotional
			if refused != tc.refused {
				t.Fatalf("would trade %d, limit %d: first event %s, want refused %v", would, tc.maxNotional, formatEvent(&first), tc.refused)
			}
			if !refused && traded != would {
				t.Fatalf("traded %d, unlimited %d", traded, would)
			}
		})
	}
}
