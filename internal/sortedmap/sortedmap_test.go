package sortedmap

import (
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
)

// The map agrees with a sorted slice through random sets (new keys and
// overwrites) and deletes that grow it to thousands of keys, empty it and
// grow it again; its invariants hold after every change, and walks both
// ways give its keys in order.
func TestMapAgreesWithASortedSlice(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var m Map[int32]
	var model []int64          // keys ascending
	value := map[int64]int32{} // the model's values
	check := func(step int) {
		if err := m.Check(); err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		if m.Len() != len(model) {
			t.Fatalf("step %d: len %d, want %d", step, m.Len(), len(model))
		}
	}
	for step := range 60_000 {
		grow := step/20_000 != 1 // grow, shrink to nothing, grow again
		k := int64(r.IntN(20_000)) - 10_000
		i, in := slices.BinarySearch(model, k)
		switch {
		case grow && !in || !grow && len(model) == 0:
			v := int32(r.IntN(1000))
			m.Set(k, v)
			model, value[k] = slices.Insert(model, i, k), v
		case grow && r.IntN(4) == 0: // overwrite
			v := int32(r.IntN(1000))
			m.Set(k, v)
			value[k] = v
		default:
			if !in {
				k = model[r.IntN(len(model))]
				i, _ = slices.BinarySearch(model, k)
			}
			m.Delete(k)
			model = slices.Delete(model, i, i+1)
			delete(value, k)
		}
		if step%97 == 0 || len(model) < 3 {
			check(step)
		}
		if v, ok := m.Get(k); ok != slices.Contains(model, k) || ok && v != value[k] {
			t.Fatalf("step %d: Get(%d) = %d %v", step, k, v, ok)
		}
		if step%101 == 0 { // AtLeast agrees with a search of the model
			q := int64(r.IntN(22_000)) - 11_000
			p, i := m.AtLeast(q), sort.Search(len(model), func(i int) bool { return model[i] >= q })
			if p.Valid() != (i < len(model)) {
				t.Fatalf("step %d: AtLeast(%d) valid %v, model index %d of %d", step, q, p.Valid(), i, len(model))
			}
			if p.Valid() {
				if k, _ := m.At(p); k != model[i] {
					t.Fatalf("step %d: AtLeast(%d) = %d, want %d", step, q, k, model[i])
				}
			}
		}
		if step%997 == 0 {
			var up, down []int64
			for p := m.First(); p.Valid(); p = m.Next(p) {
				k, v := m.At(p)
				if v != value[k] {
					t.Fatalf("step %d: key %d has %d, want %d", step, k, v, value[k])
				}
				up = append(up, k)
			}
			for p := m.Last(); p.Valid(); p = m.Prev(p) {
				k, _ := m.At(p)
				down = append(down, k)
			}
			slices.Reverse(down)
			if !slices.Equal(up, model) || !slices.Equal(down, model) {
				t.Fatalf("step %d: walks give %d and %d keys, model %d", step, len(up), len(down), len(model))
			}
		}
	}
	m.Delete(1 << 40) // not in the map: nothing changes
	check(-1)
	if len(m.blocks) > 4*m.Len()/BlockMax+1 {
		t.Fatalf("%d blocks for %d keys", len(m.blocks), m.Len())
	}
	if m.Len() < 5_000 {
		t.Fatalf("only %d keys at the end: the map never grew deep", m.Len())
	}
	m.Clear()
	model = nil
	check(-2)
	if p := m.First(); p.Valid() || m.Last().Valid() {
		t.Fatal("a cleared map has a first or last key")
	}
	m.Set(3, 4)
	if v, ok := m.Get(3); !ok || v != 4 || len(m.spare) == 0 {
		t.Fatalf("after Clear and Set: %d %v, %d spare blocks", v, ok, len(m.spare))
	}
}

func TestLowerBound(t *testing.T) {
	for n := 0; n < 40; n++ {
		keys := make([]int64, n)
		for i := range keys {
			keys[i] = int64(i*3 + 1)
		}
		for k := int64(-2); k < int64(n*3+4); k++ {
			want := 0
			for want < n && keys[want] < k {
				want++
			}
			got, found := lowerBound(keys, k)
			if got != want || found != (want < n && keys[want] == k) {
				t.Fatalf("n=%d k=%d: got %d,%v want %d", n, k, got, found, want)
			}
		}
	}
}
