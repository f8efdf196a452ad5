package engine

import (
	"bytes"
	"errors"
	"math/rand"
	"os"
	"testing"
)

// compatState builds the state of testdata/snapshot-v2.bin with commands
// of its own (not commandGen's, which grows with the engine): resting
// orders of several accounts on every instrument, some partly filled, some
// replaced, one instrument halted.
func compatState(t *testing.T) *Engine {
	e, err := NewEngine(randomConfig(), discard{})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(5))
	for seq := int64(1); seq <= 3000; seq++ {
		c := Command{Seq: seq, Timestamp: seq * 10, Session: uint64(1 + rng.Intn(3)), Account: uint32(1 + rng.Intn(4)),
			Instrument: 1, Type: CmdNewOrder, OrderType: Limit, TIF: GTC, Side: Side(1 + rng.Intn(2)),
			Price: int64(990 + rng.Intn(20)), Quantity: int64(1 + rng.Intn(8)), ClientOrderID: uint64(seq)}
		switch k := rng.Intn(10); {
		case k < 2:
			c.Instrument, c.Price, c.Quantity = 2, c.Price-c.Price%5, c.Quantity*10
		case k < 3:
			c = Command{Seq: seq, Type: CmdCancel, Account: c.Account, OrderID: uint64(seq - int64(rng.Intn(50)))}
		case k < 4:
			c = Command{Seq: seq, Type: CmdReplace, Account: c.Account, OrderID: uint64(seq - int64(rng.Intn(50))),
				Price: c.Price, Quantity: c.Quantity}
		}
		e.Apply(&c)
	}
	e.Apply(&Command{Seq: 3001, Type: CmdHalt, Instrument: 2})
	if e.LiveOrders() == 0 {
		t.Fatal("the compatibility state holds no orders")
	}
	return e
}

// A version 2 snapshot (before accounts could be suspended) restores to
// the state it recorded: the same as building that state again. The file
// was written by the version 2 encoder from compatState (2026-12-03).
func TestRestoresVersion2Snapshots(t *testing.T) {
	v2, err := os.ReadFile("testdata/snapshot-v2.bin")
	if err != nil {
		t.Fatal(err)
	}
	restored, err := RestoreEngine(randomConfig(), v2, discard{})
	if err != nil {
		t.Fatal(err)
	}
	want := compatState(t)
	if got, exp := restored.AppendSnapshot(nil), want.AppendSnapshot(nil); !bytes.Equal(got, exp) {
		t.Fatalf("the version 2 snapshot restored to another state (%d live orders, want %d)", restored.LiveOrders(), want.LiveOrders())
	}
}

// The suspension byte of version 3 is checked: only 0 or 1, and a
// suspended account holds no orders.
func TestSnapshotSuspensionChecked(t *testing.T) {
	cfg := Config{Instruments: []Instrument{{ID: 1, Symbol: "X", TickSize: 1, LotSize: 1}}, Accounts: []Account{{ID: 7}}}
	e, err := NewEngine(cfg, discard{})
	if err != nil {
		t.Fatal(err)
	}
	e.Apply(&Command{Seq: 1, Type: CmdSuspendAccount, Account: 7})
	snap := e.AppendSnapshot(nil)
	flag := len(snap) - 5 // the last account's: suspended uint8, orders uint32 (none)
	if snap[flag] != 1 {
		t.Fatalf("suspension byte %d at %d of %x", snap[flag], flag, snap)
	}
	restored, err := RestoreEngine(cfg, snap, discard{})
	if err != nil {
		t.Fatal(err)
	}
	var rec recorder
	restored.sink = &rec
	restored.Apply(&Command{Seq: 2, Type: CmdNewOrder, Account: 7, Instrument: 1, Side: Buy, OrderType: Limit, TIF: GTC, Price: 5, Quantity: 1})
	if len(rec.events) != 1 || rec.events[0].Reason != uint8(ReasonAccountSuspended) {
		t.Fatalf("restored engine forgot the suspension: %s", formatEvents(rec.events))
	}
	bad := append([]byte(nil), snap...)
	bad[flag] = 2
	if _, err := RestoreEngine(cfg, bad, discard{}); !errors.Is(err, ErrCorruptSnapshot) {
		t.Fatalf("suspension byte 2: %v", err)
	}

	// A live order, and the flag set by damage: refused.
	e, _ = NewEngine(cfg, discard{})
	e.Apply(&Command{Seq: 1, Type: CmdNewOrder, Account: 7, Instrument: 1, Side: Buy, OrderType: Limit, TIF: GTC, Price: 5, Quantity: 1})
	snap = e.AppendSnapshot(nil)
	flag = len(snap) - 13 // suspended uint8, orders uint32 (1), order id uint64
	if snap[flag] != 0 {
		t.Fatalf("suspension byte %d at %d of %x", snap[flag], flag, snap)
	}
	snap[flag] = 1
	if _, err := RestoreEngine(cfg, snap, discard{}); !errors.Is(err, ErrCorruptSnapshot) {
		t.Fatalf("suspended account with an order: %v", err)
	}
}

// A snapshot of a version above this build's — a later build took it —
// is ErrNewerSnapshot, not ErrCorruptSnapshot: the node, downgraded,
// says so and does not start, rather than fall back past "damage".
// Versions below the oldest read stay damage: no build writes them.
func TestNewerSnapshotVersionIsNotDamage(t *testing.T) {
	cfg := randomConfig()
	e, _ := NewEngine(cfg, discard{})
	snap := e.AppendSnapshot(nil)
	for v, want := range map[uint16]error{snapshotVersion + 1: ErrNewerSnapshot, 0xffff: ErrNewerSnapshot, oldestSnapshotVersion - 1: ErrCorruptSnapshot} {
		b := bytes.Clone(snap)
		b[4], b[5] = byte(v), byte(v>>8) // after the magic, little-endian
		_, err := RestoreEngine(cfg, b, discard{})
		other := ErrCorruptSnapshot
		if want == ErrCorruptSnapshot {
			other = ErrNewerSnapshot
		}
		if !errors.Is(err, want) || errors.Is(err, other) {
			t.Errorf("version %d: %v, want %v", v, err, want)
		}
	}
}
