package engine

// idMap is an open-addressing hash map from a two-word key to an order
// index, with linear probing and backward-shift deletion: no tombstones,
// no allocation except when it grows (warm-up only once the pool is
// sized). Keys are never {0, 0}.
type idMap struct {
	keys []mapKey
	vals []int32
	mask uint64
	n    int
	// maxDisp bounds every entry's distance from its home slot (it only
	// grows, until grow rebuilds the table). Deletion uses it: only an
	// entry within maxDisp slots after a hole can belong before it, so
	// the backward shift never walks a whole run. (Without the bound a
	// run of consecutive live order ids, then identity-hashed in this
	// map, made each delete scan all of it: 29% of the node's CPU in a
	// crossing benchmark. Order ids are in seqMap now.)
	maxDisp uint64
}

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

func newIDMap(capacity int) idMap {
	size := tableSize(capacity)
	return idMap{keys: make([]mapKey, size), vals: make([]int32, size), mask: uint64(size - 1)}
}

// slot is k's home slot. Keyed by {account, client order id}, the ids
// one account sends in sequence share a group of groupSlots consecutive
// slots (two cache lines): the group is hashed, the low bits of the id
// pick the slot in it. A client numbering its orders 1, 2, 3… then
// touches a new line every few orders instead of on every order (the
// duplicate check of each new order was a cache miss: a sixth of a
// node's CPU), and groups land as scattered as single keys did, so probe
// runs stay short.
func (m *idMap) slot(k mapKey) uint64 {
	group := mapKey{k.a, k.b / groupSlots}.hash() * groupSlots
	return (group + k.b%groupSlots) & m.mask
}

// groupSlots is the number of consecutive client order ids of one
// account that share a group of slots.
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

func (m *idMap) get(k mapKey) (int32, bool) {
	if k == (mapKey{}) {
		return -1, false
	}
	for i := m.slot(k); ; i = (i + 1) & m.mask {
		switch m.keys[i] {
		case k:
			return m.vals[i], true
		case mapKey{}:
			return -1, false
		}
	}
}

// put inserts or overwrites k.
func (m *idMap) put(k mapKey, v int32) {
	if (m.n+1)*2 > len(m.keys) {
		m.grow()
	}
	home := m.slot(k)
	for i := home; ; i = (i + 1) & m.mask {
		switch m.keys[i] {
		case k:
			m.vals[i] = v
			return
		case mapKey{}:
			m.keys[i], m.vals[i] = k, v
			m.n++
			m.maxDisp = max(m.maxDisp, (i-home)&m.mask)
			return
		}
	}
}

func (m *idMap) del(k mapKey) {
	i := m.slot(k)
	for ; m.keys[i] != k; i = (i + 1) & m.mask {
		if m.keys[i] == (mapKey{}) {
			return
		}
	}
	// Backward-shift: move later entries of the probe run into the hole
	// unless they already sit at or after their home slot relative to it.
	for j := (i + 1) & m.mask; m.keys[j] != (mapKey{}) && (j-i)&m.mask <= m.maxDisp; j = (j + 1) & m.mask {
		home := m.slot(m.keys[j])
		if (j-home)&m.mask >= (j-i)&m.mask {
			m.keys[i], m.vals[i] = m.keys[j], m.vals[j]
			i = j
		}
	}
	m.keys[i] = mapKey{}
	m.n--
}

func (m *idMap) grow() {
	old, oldVals := m.keys, m.vals
	*m = newIDMap(len(old))
	for i, k := range old {
		if k != (mapKey{}) {
			m.put(k, oldVals[i])
		}
	}
}
