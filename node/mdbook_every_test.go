package node

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/input"
	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/journal"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
	"github.com/ringex/ringex/unmarshal"
)

// canonBook is a book's state as one comparable string.
func canonBook(bids, asks map[int64]proto.Level, halted bool, last int64) string {
	var s strings.Builder
	for _, side := range []map[int64]proto.Level{bids, asks} {
		for _, p := range slices.Sorted(maps.Keys(side)) {
			l := side[p]
			fmt.Fprintf(&s, "%d:%d:%d ", l.Price, l.Quantity, l.Count)
		}
		s.WriteString("| ")
	}
	fmt.Fprintf(&s, "halted=%v last=%d", halted, last)
	return s.String()
}

// mdRecorder reads one market-data connection and notes, per instrument,
// the book it holds after the last message of each input (input_seq),
// and every trade it was sent.
type mdRecorder struct {
	name string
	c    *client.Client
	done chan struct{}

	mu    sync.Mutex
	views map[uint32]*testkit.MarketBook
	last  map[uint32]int64 // input_seq of the last message applied
	dirty map[uint32]bool  // a message of last[i] applied, state not noted yet
	// cut: the test ended instrument i's subscription (Unsubscribe, or a
	// Subscribe of it again) and nothing of it is noted until its next
	// snapshot — the messages of an input may stop half way (a Trade
	// without the LevelUpdate after it), a book no engine ever had.
	cut    map[uint32]bool
	states map[uint32]map[int64]string // instrument → input_seq → book after it
	// firstSnap is the input_seq of each instrument's first snapshot.
	firstSnap map[uint32]int64
	trades    map[uint32][]proto.Trade
	seenTrade map[uint64]bool
	errs      []string
}

func newMDRecorder(t *testing.T, name, addr string) *mdRecorder {
	r := &mdRecorder{name: name, c: dialMD(t, addr), done: make(chan struct{}),
		views: map[uint32]*testkit.MarketBook{}, last: map[uint32]int64{}, dirty: map[uint32]bool{}, cut: map[uint32]bool{},
		states: map[uint32]map[int64]string{}, firstSnap: map[uint32]int64{}, trades: map[uint32][]proto.Trade{}, seenTrade: map[uint64]bool{}}
	go r.run()
	return r
}

func (r *mdRecorder) errorf(format string, args ...any) {
	if len(r.errs) < 20 {
		r.errs = append(r.errs, r.name+": "+fmt.Sprintf(format, args...))
	}
}

func (r *mdRecorder) note(i uint32) {
	if !r.dirty[i] {
		return
	}
	v := r.views[i]
	if r.states[i] == nil {
		r.states[i] = map[int64]string{}
	}
	r.states[i][r.last[i]] = canonBook(v.Bids, v.Asks, v.Halted, v.LastPrice)
	r.dirty[i] = false
}

func (r *mdRecorder) run() {
	defer close(r.done)
	r.c.SetReadDeadline(time.Now().Add(2 * time.Minute))
	for {
		m, err := r.c.Next()
		if err != nil {
			return
		}
		r.mu.Lock()
		switch m.Type {
		case wire.MessageBookSnapshot, wire.MessageLevelUpdate, wire.MessageTrade, wire.MessageTradingStatus:
			i := m.Instrument
			if prev, ok := r.last[i]; ok && m.InputSeq < prev {
				r.errorf("instrument %d: %s input_seq %d after %d", i, wire.EnumNamesMessage[m.Type], m.InputSeq, prev)
			}
			if r.last[i] != m.InputSeq {
				r.note(i)
			}
			if err := testkit.ApplyMarketData(r.views, m); err != nil {
				r.errorf("%v", err)
			}
			if m.Type == wire.MessageBookSnapshot {
				r.cut[i] = false
			}
			r.last[i], r.dirty[i] = m.InputSeq, !r.cut[i]
			switch m.Type {
			case wire.MessageBookSnapshot:
				if _, ok := r.firstSnap[i]; !ok {
					r.firstSnap[i] = m.InputSeq
				}
			case wire.MessageTrade:
				tr := m.Trade
				tr.Instrument, tr.MDSeq, tr.InputSeq = m.Instrument, 0, m.InputSeq
				if r.seenTrade[tr.TradeID] {
					r.errorf("trade %d sent twice", tr.TradeID)
				}
				r.seenTrade[tr.TradeID] = true
				r.trades[i] = append(r.trades[i], tr)
			}
		case wire.MessageSubscribeReject:
			r.errorf("SubscribeReject %v for %d", m.SubscribeReject, m.Instrument)
		}
		r.mu.Unlock()
	}
}

// cutOff is called before the test ends (or asks again for) instrument
// i's subscription: the input whose messages are being read may never
// be read whole.
func (r *mdRecorder) cutOff(i uint32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cut[i], r.dirty[i] = true, false
}

// close ends the connection and waits for the reader. The last input's
// messages may have stopped half way: its state is not noted. (A
// subscriber that read everything first notes it: finish.)
func (r *mdRecorder) close() {
	r.c.Close()
	<-r.done
}

// finish notes the state after the last input read, once the node has
// sent everything (quiesced), and closes the connection.
func (r *mdRecorder) finish() {
	r.mu.Lock()
	for i := range r.dirty {
		r.note(i)
	}
	r.mu.Unlock()
	r.close()
}

// A protocol-following subscriber's book equals the engine's after every
// input it saw — not only at the end: each subscriber's book after the
// last message of an input is compared with a reference engine's book
// after that input (the journal replayed one input at a time). Several
// instruments on one connection, snapshots in parts, subscribers that
// unsubscribe, subscribe again and reconnect mid-stream, every STP mode,
// replaces, mass cancels, cancel-on-disconnect, halts and account
// suspensions. Every trade appears once, as the engine made it, to a
// subscriber that followed its instrument from before it.
func TestMarketDataBookEqualsTheEnginesAtEveryInput(t *testing.T) {
	mdEveryInput(t, true, 20, 2)
}

// The same with nobody holding the port open: subscribers come and go
// often enough that it closes and reopens (a new image) while trading.
func TestMarketDataBookEqualsTheEnginesAtEveryInputPortToggling(t *testing.T) {
	mdEveryInput(t, false, 4, 3)
}

func mdEveryInput(t *testing.T, withFull bool, churnEvery, churners int) {
	cfg := testConfig(t, t.TempDir())
	setConfig(t, cfg, map[string]string{"marketdata.message_rate": "0", "snapshot.every_inputs": "0", "gateway.logon_rate": "0"})
	n, _, err := New(cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	n.mdHub.idleGrace = 0
	n.mdHub.partLevels = 5 // snapshots in parts
	if !withFull {
		// Only the churners compare, and each compares from its
		// snapshots: a second between a connection's snapshots of a book
		// (snapshotAgainAfter) left too few states compared. With the
		// full subscriber the bound stays, its deferred snapshots checked.
		n.mdHub.snapshotAgain, n.mdHub.repeatEvery = 0, 0
	}
	a, err := n.Start()
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			n.Stop()
		}
	})
	insts := []uint32{}
	for _, in := range cfg.Instruments {
		insts = append(insts, in.ID)
	}
	rng := mdRand(t, 5)
	d := newDrainedTraders(t, n, a.Gateway, 3, 2*time.Minute)
	traders, quiesce := d.c, d.quiesce
	trading := &mdTrading{rng: rng, n: n, traders: traders, instruments: cfg.Instruments, reconnect: d.connect,
		odds: mdOdds{weights: [mdActions]int{mdNewOrder: 550, mdCancel: 200, mdReplace: 200, mdMassCancel: 15,
			mdHaltOrResume: 15, mdSuspendOrResume: 10, mdDisconnect: 10}, kinds: 10, stp: true, sweep: 20}}
	trade := trading.trade

	var all []*mdRecorder
	var full []*mdRecorder // subscribed to every instrument from the start of their epoch to its end
	for epoch := range 4 {
		var f *mdRecorder
		if withFull {
			f = newMDRecorder(t, fmt.Sprintf("full%d", epoch), a.MarketData)
			for _, i := range insts {
				f.c.Subscribe(i)
			}
			waitUntil(t, func() bool { f.mu.Lock(); defer f.mu.Unlock(); return len(f.views) == len(insts) })
			full = append(full, f)
			all = append(all, f)
		}
		var churn []*mdRecorder
		for k := range churners {
			churn = append(churn, newMDRecorder(t, fmt.Sprintf("churn%d.%d", epoch, k), a.MarketData))
		}
		all = append(all, churn...)
		for step := range 1500 {
			trade()
			if rng.IntN(churnEvery) == 0 {
				k := rng.IntN(len(churn))
				ch := churn[k]
				i := insts[rng.IntN(len(insts))]
				switch rng.IntN(6) {
				case 0, 1, 2:
					ch.cutOff(i)
					ch.c.Subscribe(i)
				case 3, 4:
					ch.cutOff(i)
					ch.c.Unsubscribe(i)
				default:
					ch.close()
					churn[k] = newMDRecorder(t, fmt.Sprintf("churn%d.%d.%d", epoch, k, step), a.MarketData)
					all = append(all, churn[k])
				}
			}
		}
		quiesce()
		// the full subscriber has everything up to here
		want := mdBookSeqs(n, insts)
		waitUntil(t, func() bool {
			if f == nil {
				return true
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			for _, i := range insts {
				if f.views[i].MDSeq < want[i] {
					return false
				}
			}
			return true
		})
		if f != nil {
			f.finish() // it has read everything: its last input's state is whole
		}
		for _, r := range churn {
			r.close() // maybe not: the last input's messages may be cut short
		}
		waitUntil(t, func() bool { return !n.mdHub.active() })
		for range 200 {
			trade() // unseen: the next image carries it
		}
		quiesce()
	}
	d.close()
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	stopped = true

	var problems []string
	for _, r := range all {
		problems = append(problems, r.errs...)
	}

	// The reference: the journal applied one input at a time.
	sink := &tradeSink{byID: map[uint64]engine.Event{}}
	eng, err := engine.NewEngine(EngineConfig(cfg), sink)
	if err != nil {
		t.Fatal(err)
	}
	jr, err := journal.NewReaderOf([]string{cfg.JournalDir()}, nil, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer jr.Close()
	var rec journal.Record
	var slot input.Slot
	compared, inputs := 0, 0
	for {
		err := jr.Next(&rec)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		slot.RecvTime, slot.Session, slot.Account, slot.Kind = rec.RecvTime, rec.Session, rec.Account, input.Kind(rec.Kind)
		if !slot.SetPayload(rec.Payload) {
			slot.Len = 0
		}
		unmarshal.Decode(rec.Seq, &slot)
		eng.Apply(&slot.Cmd)
		inputs++
		for _, i := range insts {
			var ref string
			for _, r := range all {
				got, ok := r.states[i][rec.Seq]
				if !ok {
					continue
				}
				if ref == "" {
					ref = engineCanon(eng, i)
				}
				compared++
				if got != ref && len(problems) < 40 {
					problems = append(problems, fmt.Sprintf("%s: instrument %d after input %d:\n  subscriber %s\n  engine     %s", r.name, i, rec.Seq, got, ref))
				}
			}
		}
	}
	// Trades: as the engine made them; each to a full subscriber once.
	for _, r := range all {
		for i, trs := range r.trades {
			for _, tr := range trs {
				ev, ok := sink.byID[tr.TradeID]
				if !ok {
					problems = append(problems, fmt.Sprintf("%s: trade %d not made by the engine", r.name, tr.TradeID))
					continue
				}
				if ev.Instrument != i || ev.Price != tr.Price || ev.Quantity != tr.Quantity || wire.Side(ev.Side) != tr.Aggressor || ev.Seq != tr.InputSeq {
					problems = append(problems, fmt.Sprintf("%s: trade %+v, the engine's %d@%d side %d input %d instrument %d", r.name, tr, ev.Quantity, ev.Price, ev.Side, ev.Seq, ev.Instrument))
				}
			}
		}
	}
	for _, f := range full {
		for _, i := range insts {
			from := f.firstSnap[i]
			to := int64(0)
			if trs := f.trades[i]; len(trs) > 0 {
				to = trs[len(trs)-1].InputSeq
			}
			missing := 0
			for id, ev := range sink.byID {
				if ev.Instrument == i && ev.Seq > from && ev.Seq <= to && !f.seenTrade[id] {
					missing++
				}
			}
			if missing > 0 {
				problems = append(problems, fmt.Sprintf("%s: instrument %d: %d trades of inputs %d..%d never sent", f.name, i, missing, from+1, to))
			}
		}
	}
	t.Logf("%d inputs, %d subscriber states compared, %d trades, %d subscribers", inputs, compared, len(sink.byID), len(all))
	if compared < 500 { // 890–1130 with the port toggling, where only churners compare
		t.Errorf("only %d states compared", compared)
	}
	if len(problems) > 0 {
		t.Fatalf("%d problems:\n%s", len(problems), strings.Join(problems, "\n"))
	}
}

type tradeSink struct{ byID map[uint64]engine.Event }

func (s *tradeSink) Emit(ev *engine.Event) {
	if ev.Type == engine.EvTrade {
		s.byID[ev.TradeID] = *ev
	}
}

func engineCanon(eng *engine.Engine, instrument uint32) string {
	bids, asks := map[int64]proto.Level{}, map[int64]proto.Level{}
	eng.Levels(instrument, engine.Buy, func(l engine.LevelInfo) bool {
		bids[l.Price] = proto.Level{Price: l.Price, Quantity: l.Quantity, Count: l.Count}
		return true
	})
	eng.Levels(instrument, engine.Sell, func(l engine.LevelInfo) bool {
		asks[l.Price] = proto.Level{Price: l.Price, Quantity: l.Quantity, Count: l.Count}
		return true
	})
	return canonBook(bids, asks, eng.Halted(instrument), eng.LastTrade(instrument))
}
