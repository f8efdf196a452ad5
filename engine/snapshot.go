package engine

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"

	"github.com/ringex/ringex/internal/pieces"
)

// Snapshot format, version 4. All integers little-endian. These constants
// and the layout are part of the snapshot file format: never change them,
// add a version (and keep reading the old ones).
//
//	magic    [4]byte "RXEN"
//	version  uint16  4, or 3 when no book is clearing (the bytes, so the
//	                 StateHash, of every state a build before 4 could be in
//	                 stay as they were)
//	books    uint32  count, then per instrument in id order:
//	  id        uint32
//	  halted    uint8  version 4: 0 trading, 1 halted, 3 halted and
//	                   clearing (haltclear.go), 7 clearing and resuming at
//	                   its end; versions 2 and 3: not 0 is halted
//	  lastTrade int64
//	  bids, then asks, each:
//	    levels uint32 count, then per level, best first:
//	      price  int64
//	      orders uint32 count, then per order in time priority:
//	        id uint64, clOrdID uint64, session uint64, qty int64,
//	        leaves int64, filled int64, account uint32, stp uint8, post uint8
//	accounts uint32  count, then per account in id order:
//	  id        uint32
//	  suspended uint8 (version 3; version 2 has no such byte: not suspended)
//	  orders    uint32 count, then each live order id (uint64), oldest first
const (
	snapshotMagic   = "RXEN"
	snapshotVersion = 4 // 2: orders carry their session; 3: accounts their suspension; 4: books their clearing
	// plainSnapshotVersion is the version a snapshot holding no clearing
	// book is written in: its bytes are version 3's.
	plainSnapshotVersion = 3
	// oldestSnapshotVersion is the oldest version RestoreEngine reads.
	oldestSnapshotVersion = 2
)

// NewestSnapshotVersion is the newest engine state version RestoreEngine
// reads: a later build's state is of a version above it. A snapshot of no
// clearing book is written as version 3 even so (plainSnapshotVersion),
// so "one above what a snapshot holds" need not be a later build's.
const NewestSnapshotVersion = snapshotVersion

// ErrCorruptSnapshot is wrapped by every RestoreEngine decoding error but
// ErrNewerSnapshot.
var ErrCorruptSnapshot = errors.New("engine: corrupt snapshot")

// ErrNewerSnapshot is wrapped by RestoreEngine's error for a snapshot of a
// version above this build's: a later build took it (the file holding it
// verified: not damage), and this one cannot read it.
var ErrNewerSnapshot = errors.New("engine: snapshot taken by a newer ringex build, which this build cannot read")

// ErrConfigChanged: a snapshot holds resting orders on an instrument, or
// of an account, that the config no longer has. Restoring without them
// would drop live orders clients were told about; the operator cancels
// them first, or puts the instrument or account back.
var ErrConfigChanged = errors.New("engine: snapshot holds orders the config cannot take")

// AppendSnapshot appends the engine's whole state to dst.
func (e *Engine) AppendSnapshot(dst []byte) []byte {
	e.listLevels(&e.listed)
	return e.listed.appendSnapshot(dst, e.levels, e.orders, e.accounts)
}

// StateCopy holds a copy of an engine's state, taken by CopyState (or in
// steps: BeginCopy, copying.go), that encodes to the snapshot the engine
// would have encoded at that moment. Taking the copy is a few sequential
// memory copies; encoding chases the orders' links through the whole pool
// (on the 2-core Xeon dev VM, 1 M resting orders encode in 0.1–0.3 s and
// copy in 6–15 ms, finish a stepped copy in 0.4 ms: see
// BenchmarkSnapshot), so a node copies on the engine goroutine and
// encodes elsewhere. A StateCopy is used by one goroutine at a time and
// keeps its memory for the next copy.
type StateCopy struct {
	listed   levelLists
	levels   []level
	orders   []order
	accounts []account
	encoded  []byte // Snapshot's

	// An open copy's sweeps (BeginCopy).
	orderSweep sweep[order]
	levelSweep sweep[level]
}

// CopyState copies the engine's state into c, reusing c's memory.
func (e *Engine) CopyState(c *StateCopy) {
	e.listLevels(&c.listed)
	c.levels = pieces.Copy(c.levels, e.levels)
	c.orders = pieces.Copy(c.orders, e.orders)
	c.accounts = append(c.accounts[:0], e.accounts...)
}

// AppendSnapshot appends the copied state to dst, byte for byte what the
// engine's AppendSnapshot gave when it was copied.
func (c *StateCopy) AppendSnapshot(dst []byte) []byte {
	return c.listed.appendSnapshot(dst, c.levels, c.orders, c.accounts)
}

// Snapshot encodes the copied state into memory the copy keeps: the
// bytes stay valid until the next call.
func (c *StateCopy) Snapshot() []byte {
	c.encoded = c.AppendSnapshot(c.encoded[:0])
	return c.encoded
}

// Sizes reports how many orders and price levels the engine's pools
// hold, live and free: what a StateCopy of it needs room for.
func (e *Engine) Sizes() (orders, levels int) { return len(e.orders), len(e.levels) }

// Reserve makes room in c for the orders and levels given (Sizes), at
// least an eighth more, and maps that memory now, so that CopyState
// neither allocates nor takes page faults — on the engine goroutine —
// until the engine's pools outgrow it. Call it while the copy is not in
// use, or between two steps of a stepped copy (BeginCopy).
func (c *StateCopy) Reserve(orders, levels int) {
	c.orders = reserveSpare(c.orders, orders)
	c.levels = reserveSpare(c.levels, levels)
	c.listed.levels = reserveSpare(c.listed.levels, levels)
}

// reserveSpare grows s when it has room for less than an eighth more
// than n elements, and then to a quarter more: a growing book has its
// copies reallocated once per ~11 % of growth. (Growing to n plus a
// quarter whenever n plus a quarter went past the room — as until
// 2026-12-04 — reallocated both of a node's copies, 110 MB each at 1 M
// resting orders, every second in which a single order came to rest:
// 24–500 ms of copying and page faults each on the 2-core dev VM, and a
// snapshot waited up to 0.8 s for its own.)
func reserveSpare[T any](s []T, n int) []T {
	if cap(s) >= n+n/8 {
		return s
	}
	return pieces.Reserve(s, n+n/4)
}

// levelLists is the books' part of a snapshot with each side's levels
// listed best first: what encoding needs of the price-indexed windows,
// without them (each is 16 K slots).
type levelLists struct {
	books []bookLevels
	// levels holds, book after book, the bids' then the asks' level
	// indices, best first.
	levels []int32
}

type bookLevels struct {
	id         uint32
	state      uint8 // the snapshot's halted byte
	lastTrade  int64
	bids, asks int // how many of levelLists.levels are the book's bids and asks
}

// listLevels lists the engine's books into l, reusing its memory.
func (e *Engine) listLevels(l *levelLists) {
	l.books, l.levels = l.books[:0], l.levels[:0]
	for bi := range e.books {
		b := &e.books[bi]
		bl := bookLevels{id: b.inst.ID, state: bookState(b), lastTrade: b.lastTrade}
		for _, s := range []*side{&b.bids, &b.asks} {
			before := len(l.levels)
			s.each(func(li int32) bool {
				l.levels = append(l.levels, li)
				return true
			})
			if s.sell {
				bl.asks = len(l.levels) - before
			} else {
				bl.bids = len(l.levels) - before
			}
		}
		l.books = append(l.books, bl)
	}
}

// appendSnapshot encodes the state the lists, pools and accounts hold
// (the format at the top of this file).
//
// dst is grown once (pieces.Grow: room for the encoding's exact size)
// before anything is appended: growing it append by append moves what it
// holds with the runtime's memmove, which cannot be preempted, into fresh
// memory the kernel maps page by page: for 1 M resting orders on the
// 2-core Xeon dev VM, the encoding goroutine ran 150–370 ms at a time
// without being preempted (execution trace of a node taking a snapshot
// while trading), and whatever must stop it meanwhile — a garbage
// collection; there, the tracer — waits as long, holding the other
// processor.
func (l *levelLists) appendSnapshot(dst []byte, levels []level, orders []order, accounts []account) []byte {
	dst = pieces.Grow(dst, l.encodedSize(levels, accounts))
	le := binary.LittleEndian
	dst = append(dst, snapshotMagic...)
	version := uint16(plainSnapshotVersion)
	for _, b := range l.books {
		if b.state&stateClearing != 0 {
			version = snapshotVersion
		}
	}
	dst = le.AppendUint16(dst, version)
	dst = le.AppendUint32(dst, uint32(len(l.books)))
	next := 0
	for _, b := range l.books {
		dst = le.AppendUint32(dst, b.id)
		dst = append(dst, b.state)
		dst = le.AppendUint64(dst, uint64(b.lastTrade))
		for _, n := range []int{b.bids, b.asks} {
			dst = le.AppendUint32(dst, uint32(n))
			for _, li := range l.levels[next : next+n] {
				lv := &levels[li]
				dst = le.AppendUint64(dst, uint64(lv.price))
				dst = le.AppendUint32(dst, lv.count)
				for oi := lv.head; oi >= 0; oi = orders[oi].next {
					o := &orders[oi]
					dst = le.AppendUint64(dst, o.id)
					dst = le.AppendUint64(dst, o.clOrdID)
					dst = le.AppendUint64(dst, o.session)
					dst = le.AppendUint64(dst, uint64(o.qty))
					dst = le.AppendUint64(dst, uint64(o.leaves))
					dst = le.AppendUint64(dst, uint64(o.filled))
					dst = le.AppendUint32(dst, o.account)
					dst = append(dst, byte(o.stp), boolByte(o.post))
				}
			}
			next += n
		}
	}
	dst = le.AppendUint32(dst, uint32(len(accounts)))
	for ai := range accounts {
		a := &accounts[ai]
		dst = le.AppendUint32(dst, a.cfg.ID)
		dst = append(dst, boolByte(a.suspended))
		dst = le.AppendUint32(dst, uint32(a.open))
		for oi := a.head; oi >= 0; oi = orders[oi].accNext {
			dst = le.AppendUint64(dst, orders[oi].id)
		}
	}
	return dst
}

// Sizes of the snapshot format's records (the layout at the top of this
// file), for encodedSize.
const (
	snapshotHeaderBytes  = len(snapshotMagic) + 2 + 4 + 4 // magic, version, books, accounts
	snapshotBookBytes    = 4 + 1 + 8 + 4 + 4              // id, halted, lastTrade, bid and ask level counts
	snapshotLevelBytes   = 8 + 4                          // price, orders
	snapshotOrderBytes   = 6*8 + 4 + 1 + 1                // id … filled, account, stp, post
	snapshotAccountBytes = 4 + 1 + 4                      // id, suspended, orders
	snapshotAccountOrder = 8                              // a live order's id
)

// encodedSize is how many bytes appendSnapshot appends for this state.
func (l *levelLists) encodedSize(levels []level, accounts []account) int {
	n := snapshotHeaderBytes + len(l.books)*snapshotBookBytes
	for _, li := range l.levels {
		n += snapshotLevelBytes + int(levels[li].count)*snapshotOrderBytes
	}
	for ai := range accounts {
		n += snapshotAccountBytes + int(accounts[ai].open)*snapshotAccountOrder
	}
	return n
}

// StateHash is a stable 64-bit FNV-1a hash of the engine's whole state (its
// snapshot encoding): equal on every node and replay that applied the same
// commands.
func (e *Engine) StateHash() uint64 {
	e.scratch = e.AppendSnapshot(e.scratch[:0])
	return SnapshotHash(e.scratch)
}

// SnapshotHash is the StateHash of the engine a snapshot encodes.
func SnapshotHash(snap []byte) uint64 {
	h := fnv.New64a()
	h.Write(snap)
	return h.Sum64()
}

// A book's halted byte in version 4.
const (
	stateHalted        = 1
	stateClearing      = 2
	stateResumeCleared = 4
)

// bookState is b's halted byte.
func bookState(b *book) uint8 {
	var s uint8
	if b.halted {
		s |= stateHalted
	}
	if b.clearing {
		s |= stateClearing
	}
	if b.resumeCleared {
		s |= stateResumeCleared
	}
	return s
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// RestoreEngine builds an engine from cfg and a snapshot made by
// AppendSnapshot. Bytes that are not a valid snapshot for cfg give an error
// wrapping ErrCorruptSnapshot; they never panic.
//
// Instruments and accounts are matched by id, so a config that has gained
// some since the snapshot restores it (they start empty), and one that
// lost some restores it as long as they held no resting orders (else
// ErrConfigChanged). When cfg has exactly the snapshot's instruments and
// accounts in the same order, the restored engine must encode to the
// same bytes (when the snapshot is of the current version), which checks
// the whole decoding.
func RestoreEngine(cfg Config, snap []byte, sink Sink) (*Engine, error) {
	e, err := NewEngine(cfg, sink)
	if err != nil {
		return nil, err
	}
	if err := e.Restore(snap); err != nil {
		return nil, err
	}
	return e, nil
}

// Restore is RestoreEngine's second step, for a caller that tells what
// it waits for apart: it reads snap into e, which NewEngine made (its
// pools mapped first with cfg.MapPools) and which has applied nothing.
// Its errors are RestoreEngine's; after one, e is not used again but by
// Renew, which builds the next engine to try in its pools.
func (e *Engine) Restore(snap []byte) error {
	if err := e.restore(snap); err != nil {
		e.dropWindows()
		return err
	}
	return nil
}

// restore reads snap into e, new from NewEngine (RestoreEngine).
func (e *Engine) restore(snap []byte) error {
	r := snapReader{buf: snap}
	if string(r.bytes(4)) != snapshotMagic {
		return fmt.Errorf("%w: bad magic", ErrCorruptSnapshot)
	}
	version := r.u16()
	if version > snapshotVersion {
		return fmt.Errorf("%w: version %d (this build reads %d to %d)", ErrNewerSnapshot, version,
			oldestSnapshotVersion, snapshotVersion)
	}
	if version < oldestSnapshotVersion {
		return fmt.Errorf("%w: version %d (this build reads %d to %d)", ErrCorruptSnapshot, version,
			oldestSnapshotVersion, snapshotVersion)
	}
	nBooks := r.u32()
	same := int(nBooks) == len(e.books) // the snapshot's instruments are cfg's, in cfg's order
	seen := map[uint32]bool{}
	for i := uint32(0); i < nBooks && r.err == nil; i++ {
		id := r.u32()
		if seen[id] {
			return fmt.Errorf("%w: instrument %d twice", ErrCorruptSnapshot, id)
		}
		seen[id] = true
		b := e.bookOf(id)
		if b == nil {
			same = false
			if err := skipBook(&r, id); err != nil {
				return err
			}
			continue
		}
		same = same && int(i) < len(e.books) && &e.books[i] == b
		if err := e.restoreBook(&r, b, version); err != nil {
			return err
		}
	}
	sameAccounts, err := e.restoreAccounts(&r, version)
	if err != nil {
		return err
	}
	if r.err != nil {
		return r.err
	}
	if len(r.buf) != r.off {
		return fmt.Errorf("%w: %d trailing bytes", ErrCorruptSnapshot, len(r.buf)-r.off)
	}
	if same && sameAccounts && version >= plainSnapshotVersion && !bytes.Equal(e.AppendSnapshot(nil), snap) {
		return fmt.Errorf("%w: the restored state encodes differently", ErrCorruptSnapshot)
	}
	return nil
}

// skipBook reads past the book of instrument id, which the config does not
// have; it must hold no orders.
func skipBook(r *snapReader, id uint32) error {
	r.u8()  // halted
	r.u64() // last trade
	for range 2 {
		if n := r.u32(); n != 0 && r.err == nil {
			return fmt.Errorf("%w: instrument %d, which the config does not have, has resting orders", ErrConfigChanged, id)
		}
	}
	return r.err
}

// restoreBook reads the book of b's instrument, its id already read.
func (e *Engine) restoreBook(r *snapReader, b *book, version uint16) error {
	state := r.u8()
	switch {
	case version < snapshotVersion:
		b.halted = state != 0
	case state == 0 || state == stateHalted || state == stateHalted|stateClearing ||
		state == stateHalted|stateClearing|stateResumeCleared:
		b.halted, b.clearing, b.resumeCleared = state&stateHalted != 0, state&stateClearing != 0, state&stateResumeCleared != 0
		if b.clearing {
			e.clearing++
		}
	default:
		return fmt.Errorf("%w: instrument %d: halted byte %d", ErrCorruptSnapshot, b.inst.ID, state)
	}
	b.lastTrade = int64(r.u64())
	bi := e.bookIdx[b.inst.ID]
	var best [2]int64 // each side's first (best) level's price; 0: none
	for i, sd := range []Side{Buy, Sell} {
		nLevels := r.u32()
		prev := int64(0)
		for l := uint32(0); l < nLevels && r.err == nil; l++ {
			price := int64(r.u64())
			nOrders := r.u32()
			if price > 0 && price%b.inst.TickSize != 0 && r.err == nil {
				return fmt.Errorf("%w: instrument %d has resting orders at price %d, not a multiple of its tick size %d: cancel them first, or keep the tick size",
					ErrConfigChanged, b.inst.ID, price, b.inst.TickSize)
			}
			if price <= 0 || nOrders == 0 ||
				(l > 0 && !betterOrEqual(sd, prev, price)) || prev == price {
				return fmt.Errorf("%w: instrument %d: bad level at price %d", ErrCorruptSnapshot, b.inst.ID, price)
			}
			prev = price
			if l == 0 {
				best[i] = price
			}
			for k := uint32(0); k < nOrders && r.err == nil; k++ {
				o := order{
					id: r.u64(), clOrdID: r.u64(), session: r.u64(), qty: int64(r.u64()), leaves: int64(r.u64()),
					filled: int64(r.u64()), account: r.u32(), stp: STP(r.u8()), post: r.u8() != 0,
					price: price, side: sd, book: bi, level: -1, prev: -1, next: -1, accPrev: -1, accNext: -1,
				}
				if err := e.checkRestoredOrder(b, &o); err != nil || r.err != nil {
					return errors.Join(err, r.err)
				}
				oi := e.newOrder()
				*e.changeOrder(oi) = o
				e.enqueue(b, oi)
				e.index(oi)
			}
		}
	}
	// The engine never leaves a book crossed: a bid at or above the best
	// ask would have traded with it.
	if best[0] > 0 && best[1] > 0 && best[0] >= best[1] && r.err == nil {
		return fmt.Errorf("%w: instrument %d crossed: bid %d, ask %d", ErrCorruptSnapshot, b.inst.ID, best[0], best[1])
	}
	return r.err
}

// betterOrEqual reports whether next comes after prev in best-first order.
func betterOrEqual(s Side, prev, next int64) bool {
	if s == Buy {
		return next < prev
	}
	return next > prev
}

func (e *Engine) checkRestoredOrder(b *book, o *order) error {
	bad := func(why string) error {
		return fmt.Errorf("%w: instrument %d order %d: %s", ErrCorruptSnapshot, b.inst.ID, o.id, why)
	}
	switch {
	case o.id == 0:
		return bad("zero id")
	case e.accountOf(o.account) == nil:
		return fmt.Errorf("%w: instrument %d order %d: account %d, which the config does not have", ErrConfigChanged, b.inst.ID, o.id, o.account)
	case o.leaves <= 0 || o.filled < 0 || o.qty != o.leaves+o.filled:
		return bad("bad quantities")
	case o.leaves%b.inst.LotSize != 0 || o.filled%b.inst.LotSize != 0:
		// Filled too: a replace sets a new total on the grid, and its
		// leaves (total − filled) would be off it.
		return fmt.Errorf("%w: instrument %d order %d: %d left, %d filled, not multiples of its lot size %d: cancel it first, or keep the lot size",
			ErrConfigChanged, b.inst.ID, o.id, o.leaves, o.filled, b.inst.LotSize)
	case o.stp > STPAllow:
		return bad("bad self-trade mode")
	}
	if _, dup := e.orderByID(o.id); dup {
		return bad("duplicate id")
	}
	if o.clOrdID != 0 {
		if _, dup := e.orderByClOrd(o.account, o.clOrdID); dup {
			return bad("duplicate client order id")
		}
	}
	return nil
}

// restoreAccounts reads the account lists and links the restored orders
// into them. It reports whether the snapshot's accounts are cfg's, in
// cfg's order.
func (e *Engine) restoreAccounts(r *snapReader, version uint16) (same bool, err error) {
	n := r.u32()
	same = int(n) == len(e.accounts)
	seen := map[uint32]bool{}
	linked := 0
	for i := uint32(0); i < n && r.err == nil; i++ {
		id := r.u32()
		suspended := false
		if version >= 3 {
			switch r.u8() {
			case 0:
			case 1:
				suspended = true
			default:
				return false, fmt.Errorf("%w: account %d suspension flag", ErrCorruptSnapshot, id)
			}
		}
		count := r.u32()
		if suspended && count != 0 {
			return false, fmt.Errorf("%w: suspended account %d lists %d orders", ErrCorruptSnapshot, id, count)
		}
		if seen[id] {
			return false, fmt.Errorf("%w: account %d twice", ErrCorruptSnapshot, id)
		}
		seen[id] = true
		a := e.accountOf(id)
		if a == nil {
			// Its orders, if any, were refused with the books.
			if count != 0 && r.err == nil {
				return false, fmt.Errorf("%w: account %d, which the config does not have, lists %d orders", ErrCorruptSnapshot, id, count)
			}
			same = false
			continue
		}
		same = same && int(i) < len(e.accounts) && &e.accounts[i] == a
		a.suspended = suspended
		if suspended {
			e.suspendedCount++
		}
		for k := uint32(0); k < count && r.err == nil; k++ {
			oid := r.u64()
			oi, ok := e.orderByID(oid)
			if !ok || e.orders[oi].account != id || e.orders[oi].accPrev >= 0 || a.head == oi ||
				(a.tail >= 0 && e.orders[a.tail].id >= oid) { // the list is in id order
				return false, fmt.Errorf("%w: account %d lists order %d wrongly", ErrCorruptSnapshot, id, oid)
			}
			o := e.changeOrder(oi)
			o.accPrev = a.tail
			if a.tail >= 0 {
				e.changeOrder(a.tail).accNext = oi
			} else {
				a.head = oi
			}
			a.tail = oi
			a.open++
			linked++
		}
	}
	if r.err == nil && linked != e.byID.len() {
		return false, fmt.Errorf("%w: %d orders in books, %d in account lists", ErrCorruptSnapshot, e.byID.len(), linked)
	}
	return same, r.err
}

// snapReader reads little-endian integers, remembering the first overrun.
type snapReader struct {
	buf []byte
	off int
	err error
}

func (r *snapReader) bytes(n int) []byte {
	if r.err != nil || len(r.buf)-r.off < n {
		if r.err == nil {
			r.err = fmt.Errorf("%w: truncated at offset %d", ErrCorruptSnapshot, r.off)
		}
		return make([]byte, n)
	}
	b := r.buf[r.off : r.off+n]
	r.off += n
	return b
}

func (r *snapReader) u8() uint8   { return r.bytes(1)[0] }
func (r *snapReader) u16() uint16 { return binary.LittleEndian.Uint16(r.bytes(2)) }
func (r *snapReader) u32() uint32 { return binary.LittleEndian.Uint32(r.bytes(4)) }
func (r *snapReader) u64() uint64 { return binary.LittleEndian.Uint64(r.bytes(8)) }
