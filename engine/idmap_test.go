package engine

import (
	"fmt"
	"math/rand"
	"testing"
)

// The map agrees with Go's map over random inserts, overwrites and
// deletes, through growth.
func TestIDMapMatchesBuiltinMap(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	m := newIDMap(4)
	ref := map[mapKey]int32{}
	for i := 0; i < 200000; i++ {
		k := mapKey{uint64(rng.Intn(3000) + 1), uint64(rng.Intn(3))}
		switch rng.Intn(3) {
		case 0, 1:
			v := int32(rng.Intn(1 << 20))
			m.put(k, v)
			ref[k] = v
		case 2:
			m.del(k)
			delete(ref, k)
		}
		if i%1000 == 0 {
			for rk, rv := range ref {
				if v, ok := m.get(rk); !ok || v != rv {
					t.Fatalf("step %d: get(%v) = %d,%v want %d", i, rk, v, ok, rv)
				}
			}
			if m.n != len(ref) {
				t.Fatalf("step %d: n = %d, want %d", i, m.n, len(ref))
			}
		}
	}
	for k := range ref {
		m.del(k)
	}
	if _, ok := m.get(mapKey{1, 0}); ok || m.n != 0 {
		t.Fatal("map not empty after deleting everything")
	}
}

// checkSeqMap checks m against ref and seqMap's invariant.
func checkSeqMap(t *testing.T, m *seqMap, ref map[uint64]int32, when string) {
	t.Helper()
	for id, v := range ref {
		if got, ok := m.get(id); !ok || got != v {
			t.Fatalf("%s: get(%d) = %d,%v want %d", when, id, got, ok, v)
		}
		i := id & m.mask
		_, inOld := m.old.get(mapKey{0, id})
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
	var live []uint64
	next := uint64(0)
	for step := range 100_000 {
		switch r := rng.Intn(10); {
		case r < 5: // a new order
			next++
			m.put(next, int32(next))
			ref[next] = int32(next)
			live = append(live, next)
		case r < 9 && len(live) > 0: // one leaves: mostly recent ones, some old
			k := len(live) - 1 - rng.Intn(min(len(live), 8))
			if rng.Intn(10) == 0 {
				k = rng.Intn(len(live))
			}
			id := live[k]
			live = append(live[:k], live[k+1:]...)
			m.del(id)
			delete(ref, id)
		default: // delete an id that is not there
			m.del(next + 1000)
			if len(live) > 0 {
				m.del(live[0] - 1)
				delete(ref, live[0]-1)
			}
		}
		if step%997 == 0 {
			checkSeqMap(t, &m, ref, fmt.Sprintf("step %d", step))
		}
	}
	checkSeqMap(t, &m, ref, "end")
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
		r.put(id, ref[id])
	}
	checkSeqMap(t, &r, ref, "restored")
	for _, id := range ids {
		r.del(id)
		delete(ref, id)
	}
	checkSeqMap(t, &r, ref, "emptied")
}
