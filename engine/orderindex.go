package engine

// orderIndex finds live orders by a key each of them carries — (account,
// client order id), or the order id — and gives their pool index. It is
// an open-addressing hash table with linear probing and backward-shift
// deletion: no tombstones, no allocation except when it grows.
//
// A slot holds 8 bytes: the order's pool index and a meta word of a tag
// (24 bits of the key's hash) and the slot's distance from the key's home
// slot. The key itself is not stored: it is the order's, read from the
// pool when a tag matches. So a cache line holds eight slots, where it
// held four keys (and their indexes a line elsewhere) when the table kept
// 16-byte keys: with clients numbering their orders 1, 2, 3…, an account's
// next client order id lands on a line already fetched twice as often,
// and the duplicate check of a new order — a cache miss whenever the line
// is new — was a quarter of the engine's time (BenchmarkEngine
// client-ids). A lookup of a key that is not there (a new order's
// duplicate check, when its id is not above its account's maxClOrd)
// compares tags only and reads no order.
//
// Invariants: every live order with a key is in the table once, or in
// spill (a zero client order id is no key); a slot's distance is at most
// maxDisp, and maxDisp at most maxSlotDisp (put grows the table rather
// than exceed it — up to spillLoad; beyond, the key is spilled).
//
// Why spill: keys whose whole hash is the same share a home slot in a
// table of any size, so more than maxSlotDisp+1 of them made put grow the
// table forever, until the engine ran out of memory — and the hash can be
// solved: clients of ~33 accounts choosing client order ids could crash
// every member and every replay of the journal. Spilled keys cost a map
// lookup; in any other case spill is empty and costs a length check.
type orderIndex struct {
	slots []indexSlot
	mask  uint64
	n     int // keys in slots
	spill map[mapKey]int32
	// maxDisp bounds every entry's distance from its home slot (it only
	// grows, until grow rebuilds the table). A lookup stops past it, and a
	// delete's backward shift looks no further: only an entry within
	// maxDisp slots after a hole can belong before it.
	maxDisp uint64
	// byOrderID keys the orders by id ({0, id}); else by {account,
	// client order id}.
	byOrderID bool
}

// indexSlot is one slot: meta is tag<<8 | distance from home, 0 when the
// slot is free (a tag always has its top bit set).
type indexSlot struct {
	meta uint32
	oi   int32
}

// maxSlotDisp is the largest distance a slot's meta can hold.
const maxSlotDisp = 0xff

type mapKey struct{ a, b uint64 }

// tableSize is the slots of a table for capacity keys: a power of two,
// at least twice capacity (a load of at most one half).
func tableSize(capacity int) int {
	size := 16
	for size < capacity*2 {
		size <<= 1
	}
	return size
}

func newOrderIndex(capacity int, byOrderID bool) orderIndex {
	size := tableSize(capacity)
	return orderIndex{slots: make([]indexSlot, size), mask: uint64(size - 1), byOrderID: byOrderID}
}

// keyOf is the key o is indexed by.
func (m *orderIndex) keyOf(o *order) mapKey {
	if m.byOrderID {
		return mapKey{0, o.id}
	}
	return mapKey{uint64(o.account), o.clOrdID}
}

// place is where k lives: its home slot and the tag its slots carry.
// Keyed by {account, client order id}, the ids one account sends in
// sequence share a group of groupSlots consecutive slots (one cache
// line): the group is hashed, the low bits of the id pick the slot in
// it. The tag comes from the group's hash bits above any table's mask;
// keys of one group differ in their home slot instead.
func (m *orderIndex) place(k mapKey) (home uint64, tag uint32) {
	h := mapKey{k.a, k.b / groupSlots}.hash()
	return (h*groupSlots + k.b%groupSlots) & m.mask, uint32(h>>40) | 1<<23
}

// groupSlots is the number of consecutive client order ids of one
// account that share a group of slots: a cache line of them.
const groupSlots = 8

func (k mapKey) hash() uint64 {
	// SplitMix64-style finalizer over both words.
	x := k.a*0x9e3779b97f4a7c15 ^ (k.b + 0x632be59bd9b4e5f5)
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// holds reports whether slot s, d slots from the home of k (whose slots
// carry tag), indexes k: its tag and distance say it may, its order's key
// says it does.
func (m *orderIndex) holds(orders []order, s indexSlot, k mapKey, tag uint32, d uint64) bool {
	return s.meta == tag<<8|uint32(d) && m.keyOf(&orders[s.oi]) == k
}

// find is the slot holding k, or false.
func (m *orderIndex) find(orders []order, k mapKey) (uint64, bool) {
	home, tag := m.place(k)
	for d, i := uint64(0), home; d <= m.maxDisp; d, i = d+1, (i+1)&m.mask {
		s := m.slots[i]
		if s.meta == 0 {
			return 0, false
		}
		if m.holds(orders, s, k, tag, d) {
			return i, true
		}
	}
	return 0, false
}

// get is the index of the live order keyed k.
func (m *orderIndex) get(orders []order, k mapKey) (int32, bool) {
	if i, ok := m.find(orders, k); ok {
		return m.slots[i].oi, true
	}
	if len(m.spill) == 0 {
		return -1, false
	}
	return m.getSpilled(k)
}

// getSpilled is get of a key the table does not hold.
func (m *orderIndex) getSpilled(k mapKey) (int32, bool) {
	if oi, ok := m.spill[k]; ok {
		return oi, true
	}
	return -1, false
}

// len is the number of keys held.
func (m *orderIndex) len() int { return m.n + len(m.spill) }

// spillLoad bounds growing for a long run: a table at least spillLoad
// times its keys spills the key instead.
const spillLoad = 16

// put indexes order oi (live, with a key) under its key, replacing
// whichever order the key indexed.
func (m *orderIndex) put(orders []order, oi int32) {
	if (m.n+1)*2 > len(m.slots) {
		m.grow(orders)
	}
	if len(m.spill) > 0 {
		if k := m.keyOf(&orders[oi]); m.spilled(k) {
			m.spill[k] = oi // the key names another order now
			return
		}
	}
	for !m.insert(orders, oi) {
		if len(m.slots) >= spillLoad*(m.n+1) {
			m.spillPut(m.keyOf(&orders[oi]), oi)
			return
		}
		m.grow(orders) // a run longer than a slot's distance can say
	}
}

func (m *orderIndex) spilled(k mapKey) bool {
	_, ok := m.spill[k]
	return ok
}

func (m *orderIndex) spillPut(k mapKey, oi int32) {
	if m.spill == nil {
		m.spill = map[mapKey]int32{}
	}
	m.spill[k] = oi
}

// insert puts order oi in the slot of the order its key indexed, or in
// the first free slot from the key's home unless that is more than
// maxSlotDisp slots on.
func (m *orderIndex) insert(orders []order, oi int32) bool {
	k := m.keyOf(&orders[oi])
	home, tag := m.place(k)
	for d, i := uint64(0), home; d <= maxSlotDisp; d, i = d+1, (i+1)&m.mask {
		switch s := m.slots[i]; {
		case s.meta == 0:
			m.slots[i] = indexSlot{meta: tag<<8 | uint32(d), oi: oi}
			m.n++
			m.maxDisp = max(m.maxDisp, d)
			return true
		case m.holds(orders, s, k, tag, d):
			m.slots[i].oi = oi
			return true
		}
	}
	return false
}

// del forgets k, if indexed.
func (m *orderIndex) del(orders []order, k mapKey) {
	i, ok := m.find(orders, k)
	if !ok {
		if len(m.spill) > 0 {
			delete(m.spill, k)
		}
		return
	}
	// Backward shift: move later entries of the probe run into the hole
	// unless they already sit at or after their home slot relative to it.
	for j := (i + 1) & m.mask; m.slots[j].meta != 0 && (j-i)&m.mask <= m.maxDisp; j = (j + 1) & m.mask {
		s := m.slots[j]
		if dist := uint32((j - i) & m.mask); s.meta&maxSlotDisp >= dist {
			m.slots[i] = indexSlot{meta: s.meta - dist, oi: s.oi}
			i = j
		}
	}
	m.slots[i] = indexSlot{}
	m.n--
}

// grow moves the entries to a table twice the size; one that a run
// longer than a slot's distance can say leaves out is spilled. Spilled
// keys stay spilled.
func (m *orderIndex) grow(orders []order) {
	size := 2 * len(m.slots)
	t := orderIndex{slots: make([]indexSlot, size), mask: uint64(size - 1), byOrderID: m.byOrderID, spill: m.spill}
	for _, s := range m.slots {
		if s.meta != 0 && !t.insert(orders, s.oi) {
			t.spillPut(t.keyOf(&orders[s.oi]), s.oi)
		}
	}
	*m = t
}

// The engine's use of its two indexes. These functions read keys from the
// order pool and write it only through changeOrder: the copy invariant
// (TestPoolWritesGoThroughChange) allows them the pool.

// orderByID is the pool index of the live order with id id.
func (e *Engine) orderByID(id uint64) (int32, bool) { return e.byID.get(e.orders, id) }

// orderByClOrd is the pool index of account's live order with client
// order id clOrdID (not zero). An id above the account's maxClOrd is no
// live order's: a new order's, when clients number them upwards, and
// then the index is not looked at (the duplicate check of every new
// order was two thirds of the index's time on a cluster follower).
func (e *Engine) orderByClOrd(account uint32, clOrdID uint64) (int32, bool) {
	if a := e.accountOf(account); a == nil || clOrdID > a.maxClOrd {
		return -1, false
	}
	return e.byClOrd.get(e.orders, mapKey{uint64(account), clOrdID})
}

// index indexes order oi, which has just gone live.
func (e *Engine) index(oi int32) {
	e.byID.put(e.orders, oi)
	if o := &e.orders[oi]; o.clOrdID != 0 {
		e.byClOrd.put(e.orders, oi)
		e.noteClOrd(o.account, o.clOrdID)
	}
}

// noteClOrd raises account's maxClOrd to id.
func (e *Engine) noteClOrd(account uint32, id uint64) {
	if a := e.accountOf(account); a != nil {
		a.maxClOrd = max(a.maxClOrd, id)
	}
}

// unindex forgets order oi, which is leaving the book.
func (e *Engine) unindex(oi int32) {
	o := &e.orders[oi]
	e.byID.del(e.orders, o.id)
	if o.clOrdID != 0 {
		e.byClOrd.del(e.orders, mapKey{uint64(o.account), o.clOrdID})
	}
}

// reindexClOrd gives live order oi the client order id clOrdID (not
// zero, not another live order's of its account).
func (e *Engine) reindexClOrd(oi int32, clOrdID uint64) {
	o := e.changeOrder(oi)
	if o.clOrdID != 0 {
		e.byClOrd.del(e.orders, mapKey{uint64(o.account), o.clOrdID})
	}
	o.clOrdID = clOrdID
	e.byClOrd.put(e.orders, oi)
	e.noteClOrd(o.account, clOrdID)
}
