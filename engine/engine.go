package engine

import (
	"cmp"
	"math"
	"slices"

	"github.com/ringex/ringex/internal/pieces"
)

// Engine is the matching engine. See the package doc for its contract.
type Engine struct {
	sink Sink
	ev   Event // reused for every emit; the sink must not retain it
	cmd  *Command
	// matches counts the trades of the current command (trade id low
	// bits).
	matches uint64
	md      bool // market data on
	// emptying: clearBook is removing a halted book's orders: emitLevel
	// tells only of each level's end (count 0) — and clearBook of the
	// level a chunk ends in — the states a subscriber can ever see.
	emptying bool
	lastSeq  int64
	// clearChunk is Config.HaltClearChunk, 0 as unbounded; clearBudget
	// what is left of it in the current input; clearing how many books
	// are clearing (haltclear.go).
	clearChunk  int
	clearBudget int
	clearing    int

	books      []book
	bookIdx    []int32 // instrument id → index into books, -1: none
	accounts   []account
	accountIdx []int32 // account id → index into accounts, -1: none
	// suspendedCount is how many accounts have suspended set.
	suspendedCount int

	orders    []order
	freeOrder int32
	maxLive   int // MaxLiveOrders; lower in tests
	levels    []level
	freeLevel int32
	byID      seqMap     // order id → order index (live orders)
	byClOrd   orderIndex // (account, client order id) → order index (live orders)

	scratch []byte     // StateHash buffer
	listed  levelLists // AppendSnapshot's lists of levels
	// copying is the copy BeginCopy opened, nil when none is (copying.go).
	copying *StateCopy
}

// defaultMaxOrders sizes the pools of a Config that leaves MaxOrders 0.
const defaultMaxOrders = 1024

// NewEngine builds an engine with empty books.
func NewEngine(cfg Config, sink Sink) (*Engine, error) { return newEngine(cfg, sink, nil) }

// Renew builds the engine NewEngine(cfg, sink) builds in e's pools, when
// they have room for cfg.MaxOrders: e is one a Restore failed on, not used
// again. The pools are cleared — written, so mapped, whatever
// cfg.MapPools — not made again: a caller trying one snapshot after
// another holds one engine's pools, not one set per snapshot tried. Pools
// without that room are made as NewEngine makes them.
func (e *Engine) Renew(cfg Config, sink Sink) (*Engine, error) { return newEngine(cfg, sink, e) }

// newEngine is NewEngine, in old's pools when old is not nil and they
// have room (Renew).
func newEngine(cfg Config, sink Sink, old *Engine) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	capacity := cfg.MaxOrders
	if capacity == 0 {
		capacity = defaultMaxOrders
	}
	e := &Engine{
		sink:       sink,
		freeOrder:  -1,
		maxLive:    MaxLiveOrders,
		freeLevel:  -1,
		clearChunk: cfg.HaltClearChunk,
	}
	if e.clearChunk == 0 {
		e.clearChunk = math.MaxInt
	}
	reused := old != nil && e.takePools(old, capacity)
	if !reused {
		e.orders, e.levels = make([]order, 0, capacity), make([]level, 0, capacity)
		e.byID, e.byClOrd = newSeqMap(capacity), newOrderIndex(capacity, false)
	}
	insts := slices.Clone(cfg.Instruments)
	slices.SortFunc(insts, func(a, b Instrument) int { return int(a.ID) - int(b.ID) })
	for _, in := range insts {
		e.bookIdx = growIndex(e.bookIdx, in.ID)
		e.bookIdx[in.ID] = int32(len(e.books))
		e.books = append(e.books, book{inst: in, bids: side{tick: in.TickSize, outTop: -1}, asks: side{sell: true, tick: in.TickSize, outTop: -1}})
	}
	// Accounts by id too: the snapshot, so the state hash, lists them in
	// this order, and configs listing the same accounts in another order
	// have the same rules fingerprint — members would report other hashes
	// for one state (ringex status: "diverged").
	accts := slices.Clone(cfg.Accounts)
	slices.SortFunc(accts, func(a, b Account) int { return cmp.Compare(a.ID, b.ID) })
	for _, a := range accts {
		e.accountIdx = growIndex(e.accountIdx, a.ID)
		e.accountIdx[a.ID] = int32(len(e.accounts))
		e.accounts = append(e.accounts, account{cfg: a, head: -1, tail: -1})
	}
	if cfg.MapPools && !reused {
		e.mapPools()
	}
	return e, nil
}

// takePools gives e, new, the pools of old when each has room for
// capacity orders as NewEngine sizes them, emptied and cleared (mapPools):
// as NewEngine's, in memory already mapped. It reports whether it took
// them; it takes all or none.
func (e *Engine) takePools(old *Engine, capacity int) bool {
	size := tableSize(capacity)
	if cap(old.orders) < capacity || cap(old.levels) < capacity || len(old.byID.ids) < size ||
		len(old.byID.old.slots) < size || len(old.byClOrd.slots) < size {
		return false
	}
	e.orders, e.levels = old.orders[:0], old.levels[:0]
	ids, vals, slots := old.byID.ids, old.byID.vals, old.byID.old.slots
	e.byID = seqMap{ids: ids, vals: vals, mask: uint64(len(ids) - 1), old: orderIndex{slots: slots, mask: uint64(len(slots) - 1), byOrderID: true}}
	slots = old.byClOrd.slots
	e.byClOrd = orderIndex{slots: slots, mask: uint64(len(slots) - 1)}
	e.mapPools()
	*old = Engine{} // holds none of them: not used again
	return true
}

// mapPools writes zeros over the empty pools' memory: the pages are
// mapped from then on.
func (e *Engine) mapPools() {
	pieces.Clear(e.orders[:cap(e.orders)])
	pieces.Clear(e.levels[:cap(e.levels)])
	pieces.Clear(e.byID.ids)
	pieces.Clear(e.byID.vals)
	pieces.Clear(e.byID.old.slots)
	pieces.Clear(e.byClOrd.slots)
}

// withRoom returns pool with room for one more element. A full pool moves
// to a quarter more room (as append grows a large slice) a piece at a time
// (package pieces): append would move it with one memmove into fresh
// pages, which holds the engine goroutine's thread, unpreemptible, while
// the kernel maps them — and a garbage collection or anything else that
// must stop the goroutine for a moment waits as long.
func withRoom[T any](pool []T) []T {
	if len(pool) < cap(pool) {
		return pool
	}
	return pieces.Copy(make([]T, 0, cap(pool)+cap(pool)/4+pieces.Piece), pool)
}

func growIndex(idx []int32, id uint32) []int32 {
	for uint32(len(idx)) <= id {
		idx = append(idx, -1)
	}
	return idx
}

func (e *Engine) bookOf(id uint32) *book {
	if id >= uint32(len(e.bookIdx)) || e.bookIdx[id] < 0 {
		return nil
	}
	return &e.books[e.bookIdx[id]]
}

func (e *Engine) accountOf(id uint32) *account {
	if id >= uint32(len(e.accountIdx)) || e.accountIdx[id] < 0 {
		return nil
	}
	return &e.accounts[e.accountIdx[id]]
}

// Apply processes one command and emits its events: first the cancels
// of halted books still being cleared (haltclear.go), then the command's.
func (e *Engine) Apply(cmd *Command) {
	e.cmd = cmd
	e.matches = 0
	e.lastSeq = cmd.Seq
	e.clearBudget = e.clearChunk
	if e.clearing > 0 {
		// Before the command, so that everything this input does is done
		// when a CmdSnapshot's event is emitted (the node copies the
		// state there).
		e.clearMore()
	}
	e.applyCommand()
	e.cmd = nil
}

// applyCommand is Apply's work on the command itself.
func (e *Engine) applyCommand() {
	cmd := e.cmd
	switch cmd.Type {
	case CmdNewOrder:
		e.newOrderCmd()
	case CmdCancel:
		e.cancelCmd()
	case CmdReplace:
		e.replaceCmd()
	case CmdMassCancel:
		e.massCancelCmd()
	case CmdHalt, CmdResume:
		e.haltCmd(cmd.Type == CmdHalt)
	case CmdSnapshot:
		e.begin(EvSnapshot)
		e.emit()
	case CmdInvalid:
		reason := cmd.Reason
		if reason == ReasonNone {
			reason = ReasonMalformedFrame
		}
		e.reject(reason)
	case CmdOrderStatus:
		if cmd.Reason != ReasonNone { // a query the operator dropped (unmarshal.Drop): refused as a query
			e.reject(cmd.Reason)
			break
		}
		e.orderStatusCmd()
	case CmdSuspendAccount, CmdResumeAccount:
		e.suspendCmd(cmd.Type == CmdSuspendAccount)
	case CmdResend:
		if cmd.Reason != ReasonNone { // a query the operator dropped (unmarshal.Drop): refused as a query
			e.reject(cmd.Reason)
			return
		}
		if e.accountOf(cmd.Account) == nil {
			e.reject(ReasonUnknownAccount)
			return
		}
		if cmd.ClientOrderID == 0 {
			// No tag to answer under: the answers could not be told from
			// live reports. Refused as what it is, a query: to the asker
			// alone (Event.Query), never resent.
			e.reject(ReasonInvalidSequence)
			return
		}
		e.begin(EvResend)
		e.emit()
	case CmdNoop:
	default:
		e.reject(ReasonUnknownCommand)
	}
}

// SetAppliedSeq tells a restored engine the input its state is at (the
// snapshot file records it; the payload RestoreEngine reads does not).
// Events emitted before the next Apply — a market-data image — carry it:
// after a restore they carried 0 where a continuous engine's carry the
// last input.
func (e *Engine) SetAppliedSeq(seq int64) { e.lastSeq = seq }

// SetMarketData switches book-level events on or off. Switching on emits
// a full image of every book first (EvBookClear, EvHalted if it is
// halted, then every level).
func (e *Engine) SetMarketData(on bool) {
	if on == e.md {
		return
	}
	e.md = on
	if !on {
		return
	}
	for bi := range e.books {
		b := &e.books[bi]
		e.ev = Event{Type: EvBookClear, Seq: e.lastSeq, Instrument: b.inst.ID, Price: b.lastTrade}
		e.sink.Emit(&e.ev)
		if b.halted {
			e.ev = Event{Type: EvHalted, Seq: e.lastSeq, Instrument: b.inst.ID}
			e.sink.Emit(&e.ev)
		}
		for _, s := range []*side{&b.bids, &b.asks} {
			sd := Buy
			if s.sell {
				sd = Sell
			}
			s.each(func(li int32) bool {
				lv := e.levels[li]
				e.emitLevelState(b, sd, &lv, e.lastSeq)
				return true
			})
		}
	}
}

// MarketData reports whether book-level events are on.
func (e *Engine) MarketData() bool { return e.md }

// begin starts an event caused by the current command, about what the
// command names: its account, instrument and order ids.
func (e *Engine) begin(t EventType) *Event {
	beginEvent(&e.ev, e.cmd, t)
	return &e.ev
}

// start starts an event caused by the current command with only what
// every such event carries — its sequence, receive time and session —
// for callers that name the order themselves (emitOrder, trade).
func (e *Engine) start(t EventType) *Event {
	startEvent(&e.ev, e.cmd, t)
	return &e.ev
}

// startEvent is start for ev and command c.
func startEvent(ev *Event, c *Command, t EventType) {
	// Cleared, then set field by field: a composite literal here is built
	// on the stack and copied over (the command may alias the event, for
	// all the compiler knows), and the copy's 16-byte loads of the 8-byte
	// stores just made stall store forwarding: with the order literal in
	// newOrderCmd (same cause), 17% of BenchmarkEngine place's profile;
	// written in place, place went from 110 to 102 ns.
	*ev = Event{}
	ev.Type = t
	ev.Seq = c.Seq
	ev.Timestamp = c.Timestamp
	ev.Session = c.Session
}

// beginEvent is begin for ev and command c.
func beginEvent(ev *Event, c *Command, t EventType) {
	startEvent(ev, c, t)
	ev.Account = c.Account
	ev.Instrument = c.Instrument
	ev.ClientOrderID = c.ClientOrderID
	ev.OrderID = c.OrderID
}

func (e *Engine) emit() { e.sink.Emit(&e.ev) }

func (e *Engine) reject(r RejectReason) {
	RejectOf(e.cmd, r, &e.ev)
	e.emit()
}

// RejectOf fills ev with the event that refuses command c for reason r:
// c's sequence, receive time, session, account, instrument, order ids,
// side, price and quantity; a command other than a new order is named by
// the client order id it refers to when it has none of its own (a
// status request's is its page cursor). The gateway answers the messages
// it refuses itself with the same event.
func RejectOf(c *Command, r RejectReason, ev *Event) {
	beginEvent(ev, c, EvRejected)
	ev.Reason = uint8(r)
	ev.Query = c.Type == CmdOrderStatus || c.Type == CmdResend
	ev.Side = c.Side
	ev.Price = c.Price
	ev.Quantity = c.Quantity
	if c.Type != CmdNewOrder && (ev.ClientOrderID == 0 || c.Type == CmdOrderStatus) {
		ev.ClientOrderID = c.OrigClientOrderID
	}
}

// emitOrder emits an order-scoped event about o.
func (e *Engine) emitOrder(t EventType, b *book, o *order, reason uint8) {
	e.orderEvent(t, b, o, reason)
	e.emit()
}

// orderEvent fills, without emitting, the order-scoped event about o.
func (e *Engine) orderEvent(t EventType, b *book, o *order, reason uint8) *Event {
	ev := e.start(t)
	ev.Account = o.account
	ev.Instrument = b.inst.ID
	ev.OrderID = o.id
	ev.ClientOrderID = o.clOrdID
	ev.Side = o.side
	ev.Price = o.price
	ev.Quantity = o.qty
	ev.Leaves = o.leaves
	ev.Reason = reason
	return ev
}

func (e *Engine) emitLevel(b *book, s Side, lv *level) {
	if e.md && (!e.emptying || lv.count == 0) {
		e.emitLevelState(b, s, lv, e.cmd.Seq)
	}
}

func (e *Engine) emitLevelState(b *book, s Side, lv *level, seq int64) {
	ev := &e.ev
	*ev = Event{Type: EvBookLevel, Seq: seq, Side: s} // the rest field by field, as in begin
	ev.Instrument = b.inst.ID
	ev.Price, ev.Quantity, ev.Count = lv.price, lv.qty, lv.count
	if e.cmd != nil {
		ev.Timestamp = e.cmd.Timestamp
	}
	e.sink.Emit(ev)
}
