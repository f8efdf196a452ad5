package engine

import (
	"fmt"
	"math/rand"
	"testing"
)

// The (account, client order id) index agrees with Go's map over random
// inserts, replacements and deletes, through growth: orders take and drop
// keys as the engine's do (a key names one live order at a time), and
// keys of few accounts over few ids collide into long runs.
func TestOrderIndexMatchesBuiltinMap(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	m := newOrderIndex(4, false)
	orders := make([]order, 1<<12)
	ref := map[mapKey]int32{}
	for i := 0; i < 200000; i++ {
		k := mapKey{uint64(rng.Intn(3000) + 1), uint64(rng.Intn(3) + 1)}
		switch rng.Intn(3) {
		case 0, 1: // k now names a free order slot (an order it named leaves)
			oi := int32(rng.Intn(len(orders)))
			if orders[oi].clOrdID != 0 {
				continue // slot in use
			}
			orders[oi] = order{account: uint32(k.a), clOrdID: k.b}
			m.put(orders, oi)
			if prev, ok := ref[k]; ok {
				orders[prev] = order{}
			}
			ref[k] = oi
		case 2:
			m.del(orders, k)
			if oi, ok := ref[k]; ok {
				orders[oi] = order{}
				delete(ref, k)
			}
		}
		if i%1000 == 0 {
			checkOrderIndex(t, &m, orders, ref, fmt.Sprintf("step %d", i))
		}
	}
	if m.maxDisp < 8 {
		t.Fatalf("longest run %d: the backward shift is not exercised", m.maxDisp)
	}
	for k := range ref {
		m.del(orders, k)
	}
	if _, ok := m.get(orders, mapKey{1, 1}); ok || m.len() != 0 {
		t.Fatal("map not empty after deleting everything")
	}
}

// checkOrderIndex checks m against ref and its invariants.
func checkOrderIndex(t *testing.T, m *orderIndex, orders []order, ref map[mapKey]int32, when string) {
	t.Helper()
	for k, want := range ref {
		if oi, ok := m.get(orders, k); !ok || oi != want {
			t.Fatalf("%s: get(%v) = %d,%v want %d", when, k, oi, ok, want)
		}
	}
	if m.len() != len(ref) {
		t.Fatalf("%s: len = %d, want %d", when, m.len(), len(ref))
	}
	for k := range m.spill {
		if _, ok := m.find(orders, k); ok {
			t.Fatalf("%s: key %v both in the table and spilled", when, k)
		}
	}
	for i, s := range m.slots {
		if s.meta == 0 {
			continue
		}
		home, tag := m.place(m.keyOf(&orders[s.oi]))
		if d := uint64(s.meta & maxSlotDisp); d > m.maxDisp || (home+d)&m.mask != uint64(i) || s.meta>>8 != tag {
			t.Fatalf("%s: slot %d meta %#x, home %d, tag %#x, maxDisp %d", when, i, s.meta, home, tag, m.maxDisp)
		}
		for j := home; j != uint64(i); j = (j + 1) & m.mask {
			if m.slots[j].meta == 0 {
				t.Fatalf("%s: slot %d is past a free slot %d from its home %d", when, i, j, home)
			}
		}
	}
}

// A run longer than a slot can record its distance for makes the index
// grow instead: every key of one group, with the table filled around it.
func TestOrderIndexGrowsPastTheLongestRun(t *testing.T) {
	m := newOrderIndex(1024, false) // 2048 slots
	orders := make([]order, 1024)
	ref := map[mapKey]int32{}
	// Keys whose home is one slot: the same account and id within a
	// group, different groups whose hash lands on the same home.
	want, _ := m.place(mapKey{1, 1})
	for id := uint64(1); len(ref) < 300; id += groupSlots {
		k := mapKey{1, id}
		if home, _ := m.place(k); home != want {
			continue
		}
		oi := int32(len(ref))
		orders[oi] = order{account: 1, clOrdID: id}
		m.put(orders, oi)
		ref[k] = oi
	}
	if len(m.slots) == 2048 {
		t.Fatal("300 keys sharing a home slot fit without growing")
	}
	checkOrderIndex(t, &m, orders, ref, "grown")
}

// Keys whose whole hash is one (clients of several accounts can choose
// such client order ids: the hash is no secret and can be solved) share a
// home slot in a table of any size. More of them than a slot can record
// the distance of made put double the table until memory ran out; now
// the table grows to spillLoad times its keys and spills the rest.
func TestOrderIndexSpillsKeysOfOneHash(t *testing.T) {
	const c1, c2 = 0x9e3779b97f4a7c15, 0x632be59bd9b4e5f5 // mapKey.hash's first step: a*c1 ^ (b + c2)
	x := uint64(1)*c1 ^ (0 + c2)                          // account 1, group 0
	var keys []mapKey
	for a := uint64(2); len(keys) < 600; a++ {
		g := (x ^ a*c1) - c2 // the group of account a's ids that hashes as account 1's group 0
		if g >= 1<<61 {
			continue // no client order id in it
		}
		for j := range uint64(groupSlots) {
			keys = append(keys, mapKey{a, g*groupSlots + j})
		}
	}
	for _, k := range keys {
		if (mapKey{k.a, k.b / groupSlots}).hash() != (mapKey{keys[0].a, keys[0].b / groupSlots}).hash() {
			t.Fatalf("key %v does not share the others' hash", k)
		}
	}
	m := newOrderIndex(16, false)
	orders := make([]order, 2*len(keys))
	ref := map[mapKey]int32{}
	for i, k := range keys {
		orders[i] = order{account: uint32(k.a), clOrdID: k.b}
		m.put(orders, int32(i))
		ref[k] = int32(i)
	}
	if len(m.spill) == 0 {
		t.Fatalf("%d keys of one hash, none spilled", len(keys))
	}
	if len(m.slots) > 2*spillLoad*len(keys) {
		t.Fatalf("%d slots for %d keys", len(m.slots), len(keys))
	}
	checkOrderIndex(t, &m, orders, ref, "put")
	// A spilled key and a key in the table name other orders; half go.
	for i, k := range keys {
		switch {
		case i%7 == 0:
			oi := int32(len(keys) + i)
			orders[oi] = orders[ref[k]]
			m.put(orders, oi)
			orders[ref[k]] = order{} // it leaves (after: put finds the key through it)
			ref[k] = oi
		case i%2 == 0:
			m.del(orders, k)
			orders[ref[k]] = order{}
			delete(ref, k)
		}
	}
	checkOrderIndex(t, &m, orders, ref, "replaced and deleted")
	for k := range ref {
		m.del(orders, k)
	}
	if m.len() != 0 {
		t.Fatalf("%d keys left after deleting all", m.len())
	}
}

// checkSeqMap checks m against ref and seqMap's invariant.
func checkSeqMap(t *testing.T, m *seqMap, orders []order, ref map[uint64]int32, when string) {
	t.Helper()
	for id, v := range ref {
		if got, ok := m.get(orders, id); !ok || got != v {
			t.Fatalf("%s: get(%d) = %d,%v want %d", when, id, got, ok, v)
		}
		i := id & m.mask
		_, inOld := m.old.get(orders, mapKey{0, id})
		if (m.ids[i] == id) == inOld {
			t.Fatalf("%s: id %d in table %v, in old %v (slot holds %d)", when, id, m.ids[i] == id, inOld, m.ids[i])
		}
	}
	if m.len() != len(ref) {
		t.Fatalf("%s: len %d, want %d", when, m.len(), len(ref))
	}
}

// The order-id map agrees with Go's map while ids are assigned in
// increasing order and most leave soon, some rest for many wraps of the
// table, and some are put older-after-newer (as a restore does). An id
// is put only while it is not in the map, as the engine does.
func TestSeqMapMatchesBuiltinMap(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	m := newSeqMap(64) // 128 slots: wrapped every 128 ids
	ref := map[uint64]int32{}
	orders := make([]order, 100_001) // order id n at index n
	var live []uint64
	next := uint64(0)
	for step := range 100_000 {
		switch r := rng.Intn(10); {
		case r < 5: // a new order
			next++
			orders[next].id = next
			m.put(orders, int32(next))
			ref[next] = int32(next)
			live = append(live, next)
		case r < 9 && len(live) > 0: // one leaves: mostly recent ones, some old
			k := len(live) - 1 - rng.Intn(min(len(live), 8))
			if rng.Intn(10) == 0 {
				k = rng.Intn(len(live))
			}
			id := live[k]
			live = append(live[:k], live[k+1:]...)
			m.del(orders, id)
			delete(ref, id)
		default: // delete an id that is not there
			m.del(orders, next+1000)
			if len(live) > 0 {
				m.del(orders, live[0]-1)
				delete(ref, live[0]-1)
			}
		}
		if step%997 == 0 {
			checkSeqMap(t, &m, orders, ref, fmt.Sprintf("step %d", step))
		}
	}
	checkSeqMap(t, &m, orders, ref, "end")
	if m.old.n == 0 {
		t.Fatal("no id was ever displaced: the old map is not exercised")
	}

	// A restore: the same ids put in a shuffled order, older after newer.
	r := newSeqMap(64)
	ids := make([]uint64, 0, len(ref))
	for id := range ref {
		ids = append(ids, id)
	}
	rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	for _, id := range ids {
		r.put(orders, ref[id])
	}
	checkSeqMap(t, &r, orders, ref, "restored")
	for _, id := range ids {
		r.del(orders, id)
		delete(ref, id)
	}
	checkSeqMap(t, &r, orders, ref, "emptied")
}
