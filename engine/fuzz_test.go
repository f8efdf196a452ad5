package engine

import (
	"encoding/binary"
	"errors"
	"math/rand"
	"slices"
	"testing"
)

// FuzzRestore: any bytes given as a snapshot either restore into an engine
// that passes its invariants or fail with ErrCorruptSnapshot (or
// ErrConfigChanged: orders on an instrument or of an account cfg lacks;
// or ErrNewerSnapshot: a version above this build's).
// Never panic.
func FuzzRestore(f *testing.F) {
	cfg := randomConfig()
	e, _ := NewEngine(cfg, discard{})
	g := commandGen{rng: rand.New(rand.NewSource(9))}
	for i := 0; i < 3000; i++ {
		c := g.next()
		e.Apply(&c)
		if i%1000 == 0 {
			f.Add(e.AppendSnapshot(nil))
		}
	}
	// A snapshot taken while a halted book is being cleared (version 4).
	clearCfg, cmds := clearStream(20000, 3)
	c, _ := NewEngine(clearCfg, discard{})
	for i := range cmds {
		if c.Apply(&cmds[i]); c.ClearPending() {
			f.Add(c.AppendSnapshot(nil))
			break
		}
	}
	f.Add([]byte("RXEN"))
	f.Fuzz(func(t *testing.T, snap []byte) {
		// The engine made per input was most of an input's time: pools
		// sized for the orders snap can hold (it never grows them), and
		// windows that go back to emptyWindows when it is dropped.
		sized := cfg
		sized.MaxOrders = 1 + len(snap)/snapshotOrderBytes
		r, err := RestoreEngine(sized, snap, discard{})
		if err != nil {
			if !errors.Is(err, ErrCorruptSnapshot) && !errors.Is(err, ErrConfigChanged) && !errors.Is(err, ErrNewerSnapshot) {
				t.Fatalf("error %v wraps none of ErrCorruptSnapshot, ErrConfigChanged, ErrNewerSnapshot", err)
			}
			return
		}
		if err := checkInvariants(r); err != nil {
			t.Fatalf("restored engine breaks invariants: %v", err)
		}
		r.dropWindows()
	})
}

// FuzzApply: commands with arbitrary field values never panic the engine
// and never break its invariants.
func FuzzApply(f *testing.F) {
	f.Add(make([]byte, 80))
	cfg := randomConfig()
	f.Fuzz(func(t *testing.T, data []byte) {
		// As FuzzRestore's: pools sized for the orders the commands can
		// rest, one per 40 bytes, windows back to emptyWindows at the end.
		sized := cfg
		sized.MaxOrders = 1 + len(data)/40
		sized.HaltClearChunk = len(data) % 3 // halted books cleared at once, or 1 or 2 orders an input
		e, _ := NewEngine(sized, discard{})
		// Copies taken in steps all along (copying.go), one every 16
		// commands: whatever the commands changed, each ends as the
		// engine's pools.
		var stepped StateCopy
		seq := int64(-1) // order ids < 1 are rejected; the rest count from 1
		finish := func() {
			e.FinishCopy()
			if !slices.Equal(stepped.orders, e.orders) || !slices.Equal(stepped.levels, e.levels) {
				t.Fatalf("at input %d: the copy taken in steps differs from the engine's pools", seq)
			}
		}
		for ; len(data) >= 40; seq++ {
			if seq%16 == 0 {
				if e.Copying() {
					finish()
				}
				e.BeginCopy(&stepped)
			}
			le := binary.LittleEndian
			c := Command{
				Seq: seq, Type: CommandType(data[0] % byte(NumCommandTypes+1)), Side: Side(data[1] % 4),
				OrderType: OrderType(data[2] % 4), TIF: TimeInForce(data[3] % 5), STP: STP(data[4] % 6),
				PostOnly: data[5]&1 == 1, CancelOrders: data[5]&2 != 0, Account: uint32(data[6] % 6), Instrument: uint32(data[7] % 4),
				Price: int64(le.Uint64(data[8:])), Quantity: int64(le.Uint64(data[16:])),
				OrderID: le.Uint64(data[24:]) % 64, ClientOrderID: le.Uint64(data[32:]) % 8,
				OrigClientOrderID: uint64(data[5] % 8),
			}
			if data[8]&0x80 == 0 { // mostly sane magnitudes, so orders rest and trade
				c.Price = 990 + c.Price%20
				c.Quantity = 10 * (1 + c.Quantity%5)
			}
			before := e.StateHash()
			e.Apply(&c)
			if err := checkInvariants(e); err != nil {
				t.Fatal(err)
			}
			if (c.Type == CmdOrderStatus || c.Type == CmdResend) && e.StateHash() != before {
				t.Fatalf("a query changed the state: %+v", c)
			}
			if e.Copying() {
				e.CopyMore(orderBytes)
			}
			data = data[40:]
		}
		if e.Copying() {
			finish()
		}
		e.dropWindows()
	})
}

// Damaged snapshots are refused, not half-loaded.
func TestRestoreRejectsDamage(t *testing.T) {
	cfg := randomConfig()
	e, _ := NewEngine(cfg, discard{})
	g := commandGen{rng: rand.New(rand.NewSource(11))}
	for i := 0; i < 5000; i++ {
		c := g.next()
		e.Apply(&c)
	}
	snap := e.AppendSnapshot(nil)
	if _, err := RestoreEngine(cfg, snap, discard{}); err != nil {
		t.Fatal(err)
	}
	for cut := 0; cut < len(snap); cut += 1 + len(snap)/200 {
		if _, err := RestoreEngine(cfg, snap[:cut], discard{}); !errors.Is(err, ErrCorruptSnapshot) {
			t.Fatalf("truncated at %d: %v", cut, err)
		}
	}
	if _, err := RestoreEngine(cfg, append(snap, 0), discard{}); !errors.Is(err, ErrCorruptSnapshot) {
		t.Fatalf("trailing byte: %v", err)
	}
	other := cfg
	other.Instruments = other.Instruments[:1]
	if _, err := RestoreEngine(other, snap, discard{}); !errors.Is(err, ErrConfigChanged) {
		t.Fatalf("instruments with orders gone from the config: %v", err)
	}
}
