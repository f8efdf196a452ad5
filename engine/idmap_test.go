package engine

import (
	"math/rand"
	"testing"
)

// The map agrees with Go's map over random inserts, overwrites and
// deletes, through growth.
func TestIDMapMatchesBuiltinMap(t *testing.T) {
	for _, seq := range []bool{false, true} {
		testIDMap(t, seq)
	}
}

func testIDMap(t *testing.T, sequential bool) {
	rng := rand.New(rand.NewSource(7))
	m := newIDMap(4, sequential)
	ref := map[mapKey]int32{}
	for i := 0; i < 200000; i++ {
		k := mapKey{uint64(rng.Intn(3000) + 1), uint64(rng.Intn(3))}
		if sequential {
			k.b = 0
		}
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

// Long runs of consecutive identity-hashed ids, with colliding keys that
// wrap around the table and get displaced into the run: deleting from
// the run's front, middle and back keeps every other key reachable.
func TestIDMapRunsAndWrappedKeys(t *testing.T) {
	m := newIDMap(1024, true)
	size := uint64(len(m.keys))
	ref := map[mapKey]int32{}
	put := func(k uint64) { m.put(mapKey{k, 0}, int32(k)); ref[mapKey{k, 0}] = int32(k) }
	for k := uint64(1); k < size/2-10; k++ {
		put(k)
	}
	for k := uint64(5); k < 40; k += 3 { // collide with the run's start
		put(k + size)
	}
	rng := rand.New(rand.NewSource(3))
	for len(ref) > 0 {
		var victim mapKey
		switch rng.Intn(3) {
		case 0: // the smallest live id (FIFO fills)
			victim = mapKey{^uint64(0), 0}
			for k := range ref {
				if k.a < victim.a {
					victim = k
				}
			}
		default:
			for k := range ref {
				victim = k
				break
			}
		}
		m.del(victim)
		delete(ref, victim)
		for k, v := range ref {
			if got, ok := m.get(k); !ok || got != v {
				t.Fatalf("after deleting %d: get(%d) = %d,%v", victim.a, k.a, got, ok)
			}
		}
	}
}
