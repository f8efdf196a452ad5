package engine

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// check verifies the list's invariants (levellist.go).
func (l *levelList) check() error {
	if len(l.firsts) != len(l.blocks) {
		return fmt.Errorf("%d firsts, %d blocks", len(l.firsts), len(l.blocks))
	}
	n, prev := 0, int64(0)
	for bi, b := range l.blocks {
		if len(b.keys) == 0 || len(b.keys) > levelBlockMax || len(b.keys) != len(b.lvls) {
			return fmt.Errorf("block %d: %d keys, %d levels", bi, len(b.keys), len(b.lvls))
		}
		if l.firsts[bi] != b.keys[0] {
			return fmt.Errorf("block %d: first %d, keys from %d", bi, l.firsts[bi], b.keys[0])
		}
		if bi > 0 && len(l.blocks[bi-1].keys)+len(b.keys) <= levelBlockMax/2 {
			return fmt.Errorf("blocks %d and %d hold %d keys together", bi-1, bi, len(l.blocks[bi-1].keys)+len(b.keys))
		}
		for i, k := range b.keys {
			if (bi > 0 || i > 0) && k <= prev {
				return fmt.Errorf("block %d: key %d after %d", bi, k, prev)
			}
			prev = k
		}
		n += len(b.keys)
	}
	if n != l.n {
		return fmt.Errorf("%d keys counted, n %d", n, l.n)
	}
	return nil
}

// The list agrees with a sorted slice through random inserts and
// removals that grow it to thousands of keys, empty it and grow it again;
// its invariants hold after every change.
func TestLevelListAgreesWithASortedSlice(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var l levelList
	var model []int64 // keys ascending; a key's level is int32(key)
	check := func(step int) {
		if err := l.check(); err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		if l.len() != len(model) {
			t.Fatalf("step %d: len %d, want %d", step, l.len(), len(model))
		}
	}
	for step := range 60_000 {
		grow := step/20_000 != 1 // grow, shrink to nothing, grow again
		k := int64(r.IntN(20_000)) - 10_000
		_, in := slices.BinarySearch(model, k)
		switch {
		case grow && !in || !grow && len(model) == 0:
			if in {
				continue
			}
			l.insert(k, int32(k))
			i, _ := slices.BinarySearch(model, k)
			model = slices.Insert(model, i, k)
		default:
			if !in && len(model) > 0 {
				k = model[r.IntN(len(model))]
			}
			l.remove(k)
			i, _ := slices.BinarySearch(model, k)
			model = slices.Delete(model, i, i+1)
		}
		if step%97 == 0 || len(model) < 3 {
			check(step)
		}
		if li, ok := l.find(k); ok != slices.Contains(model, k) || ok && li != int32(k) {
			t.Fatalf("step %d: find(%d) = %d %v", step, k, li, ok)
		}
		if step%997 == 0 { // walking from the largest key down gives the model backwards
			var got []int64
			for p := l.last(); p.block >= 0; p = l.prev(p) {
				k, li := l.at(p)
				if li != int32(k) {
					t.Fatalf("step %d: key %d has level %d", step, k, li)
				}
				got = append(got, k)
			}
			slices.Reverse(got)
			if !slices.Equal(got, model) {
				t.Fatalf("step %d: walk gives %d keys, model %d", step, len(got), len(model))
			}
		}
	}
	l.remove(1 << 40) // not in the list: nothing changes
	check(-1)
	if len(l.blocks) > 4*l.len()/levelBlockMax+1 {
		t.Fatalf("%d blocks for %d keys", len(l.blocks), l.len())
	}
	if l.len() < 5_000 {
		t.Fatalf("only %d keys at the end: the list never grew deep", l.len())
	}
}
