package engine

import (
	"errors"
	"math/rand"
	"reflect"
	"slices"
	"testing"
)

// Renew after a failed Restore — a snapshot restored whole, then refused
// for a trailing byte, its orders left in every pool — builds in the same
// memory an engine that restores the good snapshot to the same state and
// then applies commands as the engine that never stopped: same events,
// same state hash. Pools without room for the config's MaxOrders are made
// anew, as NewEngine makes them.
func TestRenewAfterAFailedRestore(t *testing.T) {
	cfg := randomConfig()
	var recA, recB recorder
	a, _ := NewEngine(cfg, &recA)
	g := commandGen{rng: rand.New(rand.NewSource(11))}
	for range 3000 {
		c := g.next()
		a.Apply(&c)
	}
	snap, hash := a.AppendSnapshot(nil), a.StateHash()

	failed, _ := NewEngine(cfg, discard{})
	if err := failed.Restore(append(slices.Clone(snap), 0)); !errors.Is(err, ErrCorruptSnapshot) {
		t.Fatalf("trailing byte: %v", err)
	}
	if failed.byID.len() == 0 {
		t.Fatal("the failed restore left no order in the pools: nothing to clear")
	}
	orders, ids, slots := &failed.orders[:1][0], &failed.byID.ids[0], &failed.byClOrd.slots[0]
	b, err := failed.Renew(cfg, &recB)
	if err != nil {
		t.Fatal(err)
	}
	if &b.orders[:1][0] != orders || &b.byID.ids[0] != ids || &b.byClOrd.slots[0] != slots {
		t.Fatal("Renew made new pools; want the failed engine's")
	}
	if err := b.Restore(snap); err != nil {
		t.Fatal(err)
	}
	if err := checkInvariants(b); err != nil {
		t.Fatal(err)
	}
	if b.StateHash() != hash || !slices.Equal(b.AppendSnapshot(nil), snap) {
		t.Fatal("renewed and restored: another state")
	}
	recA.events = nil
	for range 3000 {
		c := g.next()
		a.Apply(&c)
		b.Apply(&c)
	}
	if !reflect.DeepEqual(recA.events, recB.events) || a.StateHash() != b.StateHash() {
		t.Fatalf("after the restore, %d events continuous and %d renewed, or another state", len(recA.events), len(recB.events))
	}

	bigger := cfg
	bigger.MaxOrders = 4 * cap(b.orders)
	failed, _ = NewEngine(cfg, discard{})
	if err := failed.Restore(append(slices.Clone(snap), 0)); !errors.Is(err, ErrCorruptSnapshot) {
		t.Fatalf("trailing byte: %v", err)
	}
	c, err := failed.Renew(bigger, discard{})
	if err != nil {
		t.Fatal(err)
	}
	if cap(c.orders) != bigger.MaxOrders || len(c.byID.ids) != tableSize(bigger.MaxOrders) {
		t.Fatalf("pools of %d orders, %d id slots; want them made for %d", cap(c.orders), len(c.byID.ids), bigger.MaxOrders)
	}
	if err := c.Restore(snap); err != nil || c.StateHash() != hash {
		t.Fatalf("renewed in new pools and restored: %v, or another state", err)
	}
}
