package engine

// seqMap maps live order ids to order indexes. Order ids are assigned in
// increasing order, so the live ones mostly sit just below the newest:
// an id lives in the direct-mapped table at slot id&mask — consecutive
// new orders in consecutive slots, a lookup one load, a delete one store,
// no probing — until a newer id claims that slot. The older id then moves
// to old, a hashed map, where it stays until it leaves the book.
//
// Why not one identity-hashed table with linear probing (as before): an
// order that rests while the id sequence wraps the table once (131 072
// orders with the default engine.max_orders) was in the way of every
// newer id landing on its slot, and a market maker's thousands of
// resting orders, placed in a burst, were one run that each newer order
// probed through — and each fill's delete scanned: BenchmarkEngine/resting
// (18 000 resting orders, crossing orders meanwhile) 1.2 µs a command,
// and that table's delete was over half of a node's CPU under `ringex bench --mix
// cross` with such a book.
//
// Invariant: an id is in exactly one of the table (at slot id&mask) and
// old. Ids are never 0.
type seqMap struct {
	ids  []uint64 // 0: slot free
	vals []int32
	mask uint64
	n    int        // ids in the table
	old  orderIndex // displaced ids
}

func newSeqMap(capacity int) seqMap {
	size := tableSize(capacity)
	return seqMap{ids: make([]uint64, size), vals: make([]int32, size), mask: uint64(size - 1), old: newOrderIndex(capacity, true)}
}

// len is the number of ids held.
func (m *seqMap) len() int { return m.n + m.old.len() }

func (m *seqMap) get(orders []order, id uint64) (int32, bool) {
	if i := id & m.mask; m.ids[i] == id && id != 0 {
		return m.vals[i], true
	}
	if m.old.len() == 0 {
		return -1, false
	}
	return m.old.get(orders, mapKey{0, id})
}

// put adds order oi, whose id is not in the map (the engine adds an order
// id once, when the order goes live; a restore checks for duplicates
// first).
func (m *seqMap) put(orders []order, oi int32) {
	id := orders[oi].id
	i := id & m.mask
	switch cur := m.ids[i]; {
	case cur > id: // a restore puts older ids after newer ones
		m.old.put(orders, oi)
		return
	case cur != 0:
		m.old.put(orders, m.vals[i])
		m.n--
	}
	m.ids[i], m.vals[i] = id, oi
	m.n++
}

func (m *seqMap) del(orders []order, id uint64) {
	if i := id & m.mask; m.ids[i] == id && id != 0 {
		m.ids[i] = 0
		m.n--
		return
	}
	if m.old.len() > 0 {
		m.old.del(orders, mapKey{0, id})
	}
}
