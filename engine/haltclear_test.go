package engine

import (
	"encoding/binary"
	"errors"
	"math/rand"
	"reflect"
	"slices"
	"testing"
)

// clearRig is an engine fed commands one input at a time, each input's
// events kept apart.
type clearRig struct {
	t   *testing.T
	cfg Config
	e   *Engine
	rec recorder
	seq int64
}

func newClearRig(t *testing.T, chunk int) *clearRig {
	cfg := Config{
		Instruments:    []Instrument{{ID: 1, TickSize: 1, LotSize: 1}, {ID: 2, TickSize: 1, LotSize: 1}},
		Accounts:       []Account{{ID: 1}, {ID: 2}, {ID: 3}},
		HaltClearChunk: chunk,
	}
	r := &clearRig{t: t, cfg: cfg}
	var err error
	if r.e, err = NewEngine(cfg, &r.rec); err != nil {
		t.Fatal(err)
	}
	return r
}

// apply applies c as the next input and returns its events.
func (r *clearRig) apply(c Command) []Event {
	r.seq++
	c.Seq, c.Timestamp = r.seq, r.seq*1000
	n := len(r.rec.events)
	r.e.Apply(&c)
	if err := checkInvariants(r.e); err != nil {
		r.t.Fatalf("input %d: %v", r.seq, err)
	}
	return r.rec.events[n:]
}

// clearBookSize is how many orders fillClearBook leaves resting on
// instrument 1.
const clearBookSize = 21

// fillClearBook rests clearBookSize orders on instrument 1 — three
// accounts' (sessions 11–13), three levels a side, one partly filled —
// and a sell of 100 at 50 on instrument 2.
func (r *clearRig) fillClearBook() {
	for i := range clearBookSize {
		acct := uint32(1 + i%3)
		c := Command{Type: CmdNewOrder, Session: uint64(10 + acct), Account: acct, Instrument: 1, ClientOrderID: uint64(i + 1),
			Side: Buy, OrderType: Limit, TIF: GTC, Price: int64(99 - i%3), Quantity: int64(2 + i%4)}
		if i%2 == 1 {
			c.Side, c.Price = Sell, int64(101+i%3)
		}
		r.apply(c)
	}
	// Takes 1 of the first bid at 99: it rests partly filled.
	if evs := r.apply(Command{Type: CmdNewOrder, Session: 12, Account: 2, Instrument: 1, Side: Sell, OrderType: Limit, TIF: IOC, Price: 99, Quantity: 1}); !slices.ContainsFunc(evs, func(ev Event) bool { return ev.Type == EvTrade }) {
		r.t.Fatal("the crossing sell did not trade: the setup is off")
	}
	r.apply(Command{Type: CmdNewOrder, Session: 13, Account: 3, Instrument: 2, Side: Sell, OrderType: Limit, TIF: GTC, Price: 50, Quantity: 100})
	if n := len(allOrders(r.e, 1)); n != clearBookSize {
		r.t.Fatalf("%d orders rest on instrument 1, want %d", n, clearBookSize)
	}
}

// haltCancels splits an input's events into the cancels a halt's clear
// made (CancelInstrumentHalted, instrument 1) at their start and the rest.
func haltCancels(evs []Event) (cancels, rest []Event) {
	n := 0
	for n < len(evs) && evs[n].Type == EvCancelled && evs[n].Reason == uint8(CancelInstrumentHalted) && evs[n].Instrument == 1 {
		n++
	}
	return evs[:n], evs[n:]
}

// sansInput is ev without what the input that emitted it gives every
// event (its sequence and receive time).
func sansInput(ev Event) Event {
	ev.Seq, ev.Timestamp = 0, 0
	return ev
}

// (a) A halt clearing N orders with a chunk of 4 cancels them 4 an
// input: the halt's input after its EvHalted, each later input before
// its own events — here another instrument's orders, which trade
// meanwhile — until all N are cancelled, each once, in the order and
// with the reports the whole-book clear (chunk 0) gives; the state at the
// end is that clear's.
func TestHaltClearInChunks(t *testing.T) {
	const chunk = 4
	r, whole := newClearRig(t, chunk), newClearRig(t, 0)
	r.fillClearBook()
	whole.fillClearBook()
	halt := Command{Type: CmdHalt, Instrument: 1, CancelOrders: true}
	wantCancels, rest := haltCancels(whole.apply(halt)[1:])
	if len(wantCancels) != clearBookSize || len(rest) != 0 {
		t.Fatalf("the whole-book clear cancelled %d orders (and %d other events), want %d", len(wantCancels), len(rest), clearBookSize)
	}
	evs := r.apply(halt)
	if evs[0].Type != EvHalted || !r.e.Halted(1) {
		t.Fatalf("the halt's first event is %v, halted %v", evs[0].Type, r.e.Halted(1))
	}
	got, rest := haltCancels(evs[1:])
	if len(got) != chunk || len(rest) != 0 || !r.e.Clearing(1) {
		t.Fatalf("the halt's input: %d cancels and %d other events, clearing %v; want %d, 0, true", len(got), len(rest), r.e.Clearing(1), chunk)
	}
	buy := Command{Type: CmdNewOrder, Session: 11, Account: 1, Instrument: 2, Side: Buy, OrderType: Limit, TIF: IOC, Price: 50, Quantity: 1}
	inputs := 0
	for r.e.Clearing(1) {
		inputs++
		buy.ClientOrderID = uint64(inputs)
		whole.apply(buy)
		cancels, own := haltCancels(r.apply(buy))
		if want := min(chunk, clearBookSize-len(got)); len(cancels) != want {
			t.Fatalf("input %d after the halt: %d cancels first, want %d", inputs, len(cancels), want)
		}
		if !slices.ContainsFunc(own, func(ev Event) bool { return ev.Type == EvTrade && ev.Instrument == 2 }) ||
			slices.ContainsFunc(own, func(ev Event) bool { return ev.Type == EvCancelled && ev.Instrument == 1 }) {
			t.Fatalf("input %d after the halt: its own events %+v, want instrument 2's trade and no cancel of instrument 1", inputs, own)
		}
		got = append(got, cancels...)
	}
	if want := (clearBookSize - chunk + chunk - 1) / chunk; inputs != want {
		t.Fatalf("the clear took %d inputs after the halt's, want %d", inputs, want)
	}
	for i := range got {
		if sansInput(got[i]) != sansInput(wantCancels[i]) {
			t.Fatalf("cancel %d: %+v, the whole-book clear's %+v", i, got[i], wantCancels[i])
		}
	}
	if len(allOrders(r.e, 1)) != 0 || !r.e.Halted(1) || r.e.ClearPending() {
		t.Fatalf("after the clear: %d orders on instrument 1, halted %v, clear pending %v", len(allOrders(r.e, 1)), r.e.Halted(1), r.e.ClearPending())
	}
	if cancels, _ := haltCancels(r.apply(Command{Type: CmdNoop})); len(cancels) != 0 {
		t.Fatalf("an input after the clear's end cancelled %d orders", len(cancels))
	}
	whole.apply(Command{Type: CmdNoop})
	if r.e.StateHash() != whole.e.StateHash() {
		t.Fatal("the state after the chunked clear differs from the whole-book clear's")
	}
}

// (d) Mid-clear the halted book's orders neither trade nor change: an
// order crossing them is refused, a replace is refused, and a cancel, a
// mass cancel of them is answered as the clear would answer it
// (CancelInstrumentHalted) — the asker hearing it, the owner too — and
// the clear does not report them again. A resume mid-clear waits for the
// clear's end: its EvResumed comes with the last cancel, and only then
// does an order enter the book.
func TestHaltClearFreezesTheBook(t *testing.T) {
	const chunk = 2
	r := newClearRig(t, chunk)
	r.fillClearBook()
	resting := allOrders(r.e, 1)
	cancelled := map[uint64]int{}
	note := func(cancels []Event) {
		for _, ev := range cancels {
			cancelled[ev.OrderID]++
		}
	}
	// step applies c and splits its events into the clear's chunk, the
	// first min(chunk, orders left) — checked to be the clear's cancels
	// and noted — and the command's own.
	step := func(c Command) (own []Event) {
		want := min(chunk, len(allOrders(r.e, 1)))
		evs := r.apply(c)
		if cancels, _ := haltCancels(evs); len(cancels) < want {
			r.t.Fatalf("input %d: %d cancels first, want %d: %+v", r.seq, len(cancels), want, evs)
		}
		note(evs[:want])
		return evs[want:]
	}
	evs := r.apply(Command{Type: CmdHalt, Instrument: 1, CancelOrders: true})
	if first, _ := haltCancels(evs[1:]); len(first) != chunk {
		t.Fatalf("the halt's input cancelled %d orders, want %d", len(first), chunk)
	} else {
		note(first)
	}
	last := resting[len(resting)-1] // the worst ask's last order: the clear's last
	hash := r.e.StateHash()

	// An order that would cross the book's remaining asks.
	own := step(Command{Type: CmdNewOrder, Session: 11, Account: 1, Instrument: 1, Side: Buy,
		OrderType: Limit, TIF: GTC, Price: 103, Quantity: 50})
	if len(own) != 1 || own[0].Type != EvRejected || own[0].Reason != uint8(ReasonInstrumentHalted) {
		t.Fatalf("an order crossing the clearing book: %+v, want one rejection, instrument halted", own)
	}
	// A replace of the last order.
	own = step(Command{Type: CmdReplace, Session: 10 + uint64(last.Account), Account: last.Account, OrderID: last.ID,
		Price: last.Price, Quantity: last.Quantity - last.Leaves + 1})
	if len(own) != 1 || own[0].Type != EvRejected || own[0].Reason != uint8(ReasonInstrumentHalted) {
		t.Fatalf("a replace of a clearing order: %+v, want one rejection, instrument halted", own)
	}
	if o := allOrders(r.e, 1); o[len(o)-1] != last {
		t.Fatalf("the replaced order is %+v, was %+v", o[len(o)-1], last)
	}
	if r.e.StateHash() == hash {
		t.Fatal("two inputs cleared nothing")
	}
	// A cancel of the last order by another session of its account.
	asker := uint64(99)
	own = step(Command{Type: CmdCancel, Session: asker, Account: last.Account, OrderID: last.ID})
	if len(own) != 1 || own[0].Type != EvCancelled || own[0].OrderID != last.ID || own[0].Reason != uint8(CancelInstrumentHalted) ||
		own[0].Session != asker || own[0].MakerSession != 10+uint64(last.Account) {
		t.Fatalf("a cancel of a clearing order: %+v, want its cancel, instrument halted, to session %d and its owner", own, asker)
	}
	note(own)
	// A mass cancel of account 2's orders on instrument 1: those the
	// input's chunk leaves (allOrders lists them in the clear's order).
	left := 0
	for _, o := range allOrders(r.e, 1)[chunk:] {
		if o.Account == 2 {
			left++
		}
	}
	own = step(Command{Type: CmdMassCancel, Session: 12, Account: 2, Instrument: 1})
	if mass := slices.DeleteFunc(slices.Clone(own[:len(own)-1]), func(ev Event) bool {
		return ev.Type == EvCancelled && ev.Account == 2 && ev.Reason == uint8(CancelInstrumentHalted)
	}); left == 0 || len(own) != left+1 || len(mass) != 0 || own[left].Type != EvMassCancelDone {
		t.Fatalf("a mass cancel of account 2's %d clearing orders: %+v", left, own)
	}
	note(own[:left])
	// The operator's resume, mid-clear.
	own = step(Command{Type: CmdResume, Instrument: 1})
	if len(own) != 0 || !r.e.Halted(1) || !r.e.Clearing(1) {
		t.Fatalf("a resume mid-clear: %+v, halted %v, clearing %v; want nothing yet", own, r.e.Halted(1), r.e.Clearing(1))
	}
	for r.e.Clearing(1) {
		own = step(Command{Type: CmdNewOrder, Session: 11, Account: 1, Instrument: 1, Side: Buy, OrderType: Limit, TIF: GTC, Price: 90, Quantity: 1})
		if r.e.Clearing(1) {
			if len(own) != 1 || own[0].Reason != uint8(ReasonInstrumentHalted) {
				t.Fatalf("an order mid-clear, after the resume: %+v, want refused, halted", own)
			}
			continue
		}
		if len(own) < 2 || own[0].Type != EvResumed || own[0].Instrument != 1 || own[1].Type != EvAccepted {
			t.Fatalf("the clear's last input: %+v after its cancels, want EvResumed, then the order accepted", own)
		}
	}
	for _, o := range resting {
		if cancelled[o.ID] != 1 {
			t.Fatalf("order %d reported cancelled %d times, want once (%d orders, %d reported)", o.ID, cancelled[o.ID], len(resting), len(cancelled))
		}
	}
	if len(cancelled) != len(resting) || r.e.Halted(1) || len(allOrders(r.e, 1)) != 1 {
		t.Fatalf("%d cancels for %d orders; halted %v, %d orders on the book", len(cancelled), len(resting), r.e.Halted(1), len(allOrders(r.e, 1)))
	}
}

// clearStream is n random commands (commandGen's, whose halts clear the
// book a third of the time) and a config clearing chunk orders an input.
func clearStream(n, chunk int) (Config, []Command) {
	cfg := randomConfig()
	cfg.HaltClearChunk = chunk
	g := commandGen{rng: rand.New(rand.NewSource(11))}
	cmds := make([]Command, n)
	for i := range cmds {
		cmds[i] = g.next()
	}
	return cfg, cmds
}

// (b) The same inputs give the same events — every field of every event,
// in the same order — and the same state, clears in chunks and all:
// two engines fed one random stream, market data on.
func TestHaltClearReplaysIdentically(t *testing.T) {
	const n = 30000
	cfg, cmds := clearStream(n, 3)
	var recA, recB recorder
	a, _ := NewEngine(cfg, &recA)
	b, _ := NewEngine(cfg, &recB)
	a.SetMarketData(true)
	b.SetMarketData(true)
	pending, spans := 0, 0
	for i := range cmds {
		was := a.ClearPending()
		a.Apply(&cmds[i])
		b.Apply(&cmds[i])
		if a.ClearPending() {
			pending++
			if was {
				spans++
			}
		}
		if i%500 == 0 {
			if err := checkInvariants(a); err != nil {
				t.Fatalf("input %d: %v", i+1, err)
			}
		}
	}
	if spans < 10 {
		t.Fatalf("a clear went on past the input after its halt %d times in %d inputs: the stream does not test chunks", spans, n)
	}
	if !reflect.DeepEqual(recA.events, recB.events) {
		for i := range min(len(recA.events), len(recB.events)) {
			if recA.events[i] != recB.events[i] {
				t.Fatalf("event %d differs: %+v, %+v", i, recA.events[i], recB.events[i])
			}
		}
		t.Fatalf("%d events, %d", len(recA.events), len(recB.events))
	}
	if a.StateHash() != b.StateHash() {
		t.Fatal("the states differ")
	}
	t.Logf("%d inputs, %d of them left a clear pending, %d events", n, pending, len(recA.events))
}

// (c) A snapshot taken mid-clear — encoded at once, or copied in steps —
// restores to an engine that goes on exactly as the one it was taken
// from: the same events at the same inputs, the same state.
func TestHaltClearSnapshotMidClear(t *testing.T) {
	const n = 20000
	cfg, cmds := clearStream(n, 3)
	var pending []int // inputs after which a clear is pending
	probe, _ := NewEngine(cfg, discard{})
	for i := range cmds {
		probe.Apply(&cmds[i])
		if probe.ClearPending() {
			pending = append(pending, i+1)
		}
	}
	if len(pending) < 16 {
		t.Fatalf("only %d inputs leave a clear pending", len(pending))
	}
	var cuts []int
	for k := range 8 {
		cuts = append(cuts, pending[k*len(pending)/8])
	}
	for k, at := range cuts {
		var recA, recB recorder
		a, _ := NewEngine(cfg, &recA)
		for i := range at {
			a.Apply(&cmds[i])
		}
		snap := a.AppendSnapshot(nil)
		if v := binary.LittleEndian.Uint16(snap[4:]); v != snapshotVersion {
			t.Fatalf("cut %d: a snapshot mid-clear is version %d, want %d", at, v, snapshotVersion)
		}
		if k%2 == 1 { // copied in steps, as a node takes it
			var c StateCopy
			a.BeginCopy(&c)
			for !a.CopyMore(4096) {
			}
			a.FinishCopy()
			snap = c.Snapshot()
		}
		b, err := RestoreEngine(cfg, snap, &recB)
		if err != nil {
			t.Fatalf("cut %d: %v", at, err)
		}
		b.SetAppliedSeq(cmds[at-1].Seq)
		if !b.ClearPending() || a.StateHash() != b.StateHash() {
			t.Fatalf("cut %d: restored clear pending %v, same hash %v", at, b.ClearPending(), a.StateHash() == b.StateHash())
		}
		recA.events = nil
		a.SetMarketData(true)
		b.SetMarketData(true)
		for i := at; i < n; i++ {
			a.Apply(&cmds[i])
			b.Apply(&cmds[i])
		}
		if !reflect.DeepEqual(recA.events, recB.events) {
			for i := range min(len(recA.events), len(recB.events)) {
				if recA.events[i] != recB.events[i] {
					t.Fatalf("cut %d: event %d differs after restore: %+v, restored %+v", at, i, recA.events[i], recB.events[i])
				}
			}
			t.Fatalf("cut %d: events differ after restore (%d, %d)", at, len(recA.events), len(recB.events))
		}
		if a.StateHash() != b.StateHash() {
			t.Fatalf("cut %d: final hash differs", at)
		}
	}
}

// A resume waiting for the clear's end is in the snapshot too: the
// restored engine resumes the book at the input the first one does.
func TestHaltClearSnapshotKeepsAWaitingResume(t *testing.T) {
	r := newClearRig(t, 4)
	r.fillClearBook()
	r.apply(Command{Type: CmdHalt, Instrument: 1, CancelOrders: true})
	r.apply(Command{Type: CmdResume, Instrument: 1})
	twin := &clearRig{t: t, cfg: r.cfg, seq: r.seq}
	var err error
	if twin.e, err = RestoreEngine(r.cfg, r.e.AppendSnapshot(nil), &twin.rec); err != nil {
		t.Fatal(err)
	}
	for r.e.Clearing(1) {
		a, b := r.apply(Command{Type: CmdNoop}), twin.apply(Command{Type: CmdNoop})
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("input %d: %+v, restored %+v", r.seq, a, b)
		}
	}
	if twin.e.Clearing(1) || twin.e.Halted(1) || r.e.Halted(1) {
		t.Fatal("the restored engine did not resume with the first")
	}
}

// The halted byte of a version 4 snapshot holds only the states an
// engine can be in: clearing without the halt, or a waiting resume
// without the clear, is corruption; a snapshot with no book clearing is
// written as version 3, byte for byte as before.
func TestHaltClearSnapshotStates(t *testing.T) {
	r := newClearRig(t, 4)
	r.fillClearBook()
	if v := binary.LittleEndian.Uint16(r.e.AppendSnapshot(nil)[4:]); v != plainSnapshotVersion {
		t.Fatalf("a snapshot with no clear pending is version %d, want %d", v, plainSnapshotVersion)
	}
	r.apply(Command{Type: CmdHalt, Instrument: 1, CancelOrders: true})
	snap := r.e.AppendSnapshot(nil)
	const stateAt = len(snapshotMagic) + 2 + 4 + 4 // instrument 1's halted byte
	if snap[stateAt] != stateHalted|stateClearing {
		t.Fatalf("instrument 1's halted byte is %d, want %d", snap[stateAt], stateHalted|stateClearing)
	}
	for _, bad := range []byte{stateClearing, stateResumeCleared, stateHalted | stateResumeCleared, 8, 0xff} {
		b := slices.Clone(snap)
		b[stateAt] = bad
		if _, err := RestoreEngine(r.cfg, b, discard{}); !errors.Is(err, ErrCorruptSnapshot) {
			t.Fatalf("halted byte %d: %v, want %v", bad, err, ErrCorruptSnapshot)
		}
	}
}
