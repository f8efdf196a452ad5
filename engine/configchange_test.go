package engine

import (
	"errors"
	"math/rand"
	"slices"
	"testing"
)

// A snapshot restores into a config that gained instruments or accounts
// since (they start empty and trade), or lost ones that held no resting
// orders; losing one that did is ErrConfigChanged, not a silent drop.
func TestRestoreAcrossConfigChanges(t *testing.T) {
	base := randomConfig() // instruments 1–3, accounts 1–4
	e, _ := NewEngine(base, discard{})
	rest := func(e *Engine, seq int64, account, instrument uint32, side Side, price int64) {
		t.Helper()
		var rec recorder
		e.sink = &rec
		e.Apply(&Command{Seq: seq, Type: CmdNewOrder, Account: account, Instrument: instrument, Side: side,
			OrderType: Limit, TIF: GTC, Price: price, Quantity: 10, ClientOrderID: uint64(seq)})
		e.sink = discard{}
		if len(rec.events) != 1 || rec.events[0].Type != EvAccepted {
			t.Fatalf("order %d of account %d on %d: %+v", seq, account, instrument, rec.events)
		}
	}
	rest(e, 1, 1, 1, Buy, 990) // instrument 1: accounts 1 and 2
	rest(e, 2, 2, 1, Sell, 1010)
	rest(e, 3, 1, 1, Buy, 995)
	snap := e.AppendSnapshot(nil)

	without := func(cfg Config, instrument, account uint32) Config {
		cfg.Instruments = slices.DeleteFunc(slices.Clone(cfg.Instruments), func(in Instrument) bool { return in.ID == instrument })
		cfg.Accounts = slices.DeleteFunc(slices.Clone(cfg.Accounts), func(a Account) bool { return a.ID == account })
		return cfg
	}
	grown := base
	grown.Instruments = append(slices.Clone(base.Instruments), Instrument{ID: 9, Symbol: "NEW", TickSize: 1, LotSize: 1})
	grown.Accounts = append(slices.Clone(base.Accounts), Account{ID: 7})
	reordered := base
	reordered.Accounts = slices.Clone(base.Accounts)
	slices.Reverse(reordered.Accounts)

	for _, tc := range []struct {
		name string
		cfg  Config
		want error
	}{
		{"same", base, nil},
		{"an instrument and an account added", grown, nil},
		{"accounts reordered", reordered, nil},
		{"an instrument and an account without orders removed", without(base, 3, 4), nil},
		{"the instrument with orders removed", without(base, 1, 0), ErrConfigChanged},
		{"an account with orders removed", without(base, 0, 2), ErrConfigChanged},
	} {
		r, err := RestoreEngine(tc.cfg, snap, discard{})
		if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
			continue
		}
		if err != nil {
			continue
		}
		if err := checkInvariants(r); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		bid, _ := r.Best(1, Buy)
		ask, _ := r.Best(1, Sell)
		if r.LiveOrders() != 3 || bid.Price != 995 || ask.Price != 1010 || r.Depth(1, Buy) != 2 {
			t.Errorf("%s: %d live orders, best %d/%d", tc.name, r.LiveOrders(), bid.Price, ask.Price)
		}
		if tc.name == "same" && r.StateHash() != e.StateHash() {
			t.Errorf("same config: state hash %x, want %x", r.StateHash(), e.StateHash())
		}
		if tc.name == "an instrument and an account added" {
			rest(r, 4, 7, 9, Buy, 50) // the new account on the new instrument
			rest(r, 5, 7, 1, Buy, 991)
		}
	}
}

// The fingerprint changes with anything that decides a command, and with
// nothing else.
func TestConfigFingerprint(t *testing.T) {
	base := randomConfig()
	fp := base.Fingerprint()
	same := func(name string, c Config, want bool) {
		t.Helper()
		if got := c.Fingerprint() == fp; got != want {
			t.Errorf("%s: fingerprint unchanged %v, want %v", name, got, want)
		}
	}
	edit := func(f func(c *Config)) Config {
		c := base
		c.Instruments, c.Accounts = slices.Clone(base.Instruments), slices.Clone(base.Accounts)
		f(&c)
		return c
	}
	same("itself", base, true)
	same("instruments and accounts reordered", edit(func(c *Config) { slices.Reverse(c.Instruments); slices.Reverse(c.Accounts) }), true)
	same("a symbol renamed", edit(func(c *Config) { c.Instruments[0].Symbol = "Z" }), true)
	same("the order pool resized", edit(func(c *Config) { c.MaxOrders = 12345 }), true)
	same("a tick size", edit(func(c *Config) { c.Instruments[1].TickSize = 10 }), false)
	same("a lot size", edit(func(c *Config) { c.Instruments[1].LotSize = 5 }), false)
	same("a price band", edit(func(c *Config) { c.Instruments[0].PriceBand = 41 }), false)
	same("a reference price", edit(func(c *Config) { c.Instruments[0].ReferencePrice = 1001 }), false)
	same("an instrument added", edit(func(c *Config) { c.Instruments = append(c.Instruments, Instrument{ID: 9, TickSize: 1, LotSize: 1}) }), false)
	same("an account removed", edit(func(c *Config) { c.Accounts = c.Accounts[1:] }), false)
	same("a max order qty", edit(func(c *Config) { c.Accounts[2].MaxOrderQty = 81 }), false)
	same("a max notional", edit(func(c *Config) { c.Accounts[2].MaxNotional = 1 }), false)
	same("a max open orders", edit(func(c *Config) { c.Accounts[2].MaxOpenOrders = 7 }), false)
}

// Two members whose configs list the same accounts in another order have
// the same rules (fingerprint), so after the same commands they must
// report the same state hash — and a restart under the reordered config
// keeps it. The snapshot listed accounts in config order: ringex status
// saw members "diverged" that held one state.
func TestAccountOrderIsNotState(t *testing.T) {
	cfg := randomConfig()
	reordered := randomConfig()
	slices.Reverse(reordered.Accounts)
	if cfg.Fingerprint() != reordered.Fingerprint() {
		t.Fatal("reordered accounts change the rules fingerprint")
	}
	a, _ := NewEngine(cfg, discard{})
	b, _ := NewEngine(reordered, discard{})
	g := commandGen{rng: rand.New(rand.NewSource(11))}
	for range 5000 {
		c := g.next()
		a.Apply(&c)
		b.Apply(&c)
	}
	if a.StateHash() != b.StateHash() {
		t.Fatalf("state hash %x under the config, %x under the reordered one", a.StateHash(), b.StateHash())
	}
	r, err := RestoreEngine(reordered, a.AppendSnapshot(nil), discard{})
	if err != nil {
		t.Fatal(err)
	}
	if r.StateHash() != a.StateHash() {
		t.Fatal("restored under the reordered config, the state hash changed")
	}
}

// A restore under a lower MaxOpenOrders keeps every order the account
// entered under the higher one (doc.go, Cost): they are live, listed and
// mass-cancelled as any; the limit refuses new orders until fewer than it
// are live.
func TestRestoreUnderALowerMaxOpenOrdersKeepsTheOrders(t *testing.T) {
	cfg := randomConfig() // account 3: MaxOpenOrders 6
	e, _ := NewEngine(cfg, discard{})
	for seq := int64(1); seq <= 6; seq++ {
		e.Apply(&Command{Seq: seq, Type: CmdNewOrder, Account: 3, Instrument: 1, Side: Buy, OrderType: Limit, TIF: GTC,
			Price: 990, Quantity: 1})
	}
	lowered := cfg
	lowered.Accounts = slices.Clone(cfg.Accounts)
	lowered.Accounts[2].MaxOpenOrders = 2
	var rec recorder
	r, err := RestoreEngine(lowered, e.AppendSnapshot(nil), &rec)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkInvariants(r); err != nil {
		t.Fatal(err)
	}
	apply := func(c Command) []Event {
		t.Helper()
		rec.events = rec.events[:0]
		r.Apply(&c)
		if err := checkInvariants(r); err != nil {
			t.Fatal(err)
		}
		return rec.events
	}
	if n := r.OpenOrders(3); n != 6 {
		t.Fatalf("%d orders live after the restore, want the 6 entered", n)
	}
	if evs := apply(Command{Seq: 7, Type: CmdOrderStatus, Account: 3}); len(evs) != 7 || evs[6].Quantity != 6 {
		t.Fatalf("listing: %d events, %+v", len(evs), evs[len(evs)-1])
	}
	place := Command{Type: CmdNewOrder, Account: 3, Instrument: 1, Side: Buy, OrderType: Limit, TIF: GTC, Price: 990, Quantity: 1}
	place.Seq = 8
	if evs := apply(place); evs[0].Type != EvRejected || RejectReason(evs[0].Reason) != ReasonMaxOpenOrders {
		t.Fatalf("a new order at 6 live, limit 2: %+v", evs[0])
	}
	if evs := apply(Command{Seq: 9, Type: CmdMassCancel, Session: 1, Account: 3}); len(evs) != 7 ||
		evs[6].Type != EvMassCancelDone || evs[6].Quantity != 6 {
		t.Fatalf("mass cancel: %d events, last %+v", len(evs), evs[len(evs)-1])
	}
	place.Seq = 10
	if evs := apply(place); evs[0].Type != EvAccepted {
		t.Fatalf("a new order with none live: %+v", evs[0])
	}
}
