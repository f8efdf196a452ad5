package proto

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/ringex/ringex/proto/wire"
)

// value returns a random value for a field of bits bits: zero about one
// time in three when zeros is set, never zero otherwise.
func value(r *rand.Rand, bits uint, zeros bool) uint64 {
	if zeros && r.IntN(3) == 0 {
		return 0
	}
	v := r.Uint64() >> (64 - bits)
	if v == 0 {
		v = 1
	}
	return v
}

func randomMessages(r *rand.Rand, zeros bool) (uint64, Report, LevelUpdate, Trade, NewOrder) {
	v := func(bits uint) uint64 { return value(r, bits, zeros) }
	rep := Report{Kind: wire.ExecKind(v(8)), Reason: uint8(v(8)), Side: wire.Side(v(8)), Instrument: uint32(v(32)),
		Account: uint32(v(32)), OrderID: v(64), ClientOrderID: v(64), TradeID: v(64), Price: int64(v(64)),
		Quantity: int64(v(64)), Leaves: int64(v(64)), InputSeq: int64(v(64)), Timestamp: int64(v(64))}
	lvl := LevelUpdate{Instrument: uint32(v(32)), MDSeq: v(64), Side: wire.Side(v(8)), Price: int64(v(64)),
		Quantity: int64(v(64)), Count: uint32(v(32)), InputSeq: int64(v(64))}
	trd := Trade{Instrument: uint32(v(32)), MDSeq: v(64), TradeID: v(64), Price: int64(v(64)), Quantity: int64(v(64)),
		Aggressor: wire.Side(v(8)), InputSeq: int64(v(64))}
	ord := NewOrder{ClientOrderID: v(64), Instrument: uint32(v(32)), Side: wire.Side(v(8)), Type: wire.OrderType(v(8)),
		TIF: wire.TimeInForce(v(8)), PostOnly: v(1) == 1, STP: wire.SelfTrade(v(8)), Price: int64(v(64)),
		Quantity: int64(v(64))}
	if !zeros {
		ord.PostOnly = true
	}
	return v(64), rep, lvl, trd, ord
}

// With every value non-zero, a fixed-layout frame is byte for byte the
// builder's.
func TestFixedLayoutsMatchTheBuilder(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	fixed, built := NewEncoder(), NewEncoder()
	for range 2000 {
		seq, rep, lvl, trd, ord := randomMessages(r, false)
		// Frames are valid until the encoder's next call: compare each
		// pair before encoding the next.
		for _, c := range []struct {
			name       string
			fast, slow func() []byte
		}{
			{"ExecutionReport", func() []byte { return fixed.ExecutionReport(seq, &rep) },
				func() []byte { return built.builtExecutionReport(seq, &rep) }},
			{"AppendExecutionReport", func() []byte { return AppendExecutionReport([]byte("before"), seq, &rep)[len("before"):] },
				func() []byte { return built.builtExecutionReport(seq, &rep) }},
			{"LevelUpdate", func() []byte { return fixed.LevelUpdate(seq, lvl) },
				func() []byte { return built.builtLevelUpdate(seq, lvl) }},
			{"Trade", func() []byte { return fixed.Trade(seq, trd) }, func() []byte { return built.builtTrade(seq, trd) }},
			{"NewOrder", func() []byte { return fixed.NewOrder(seq, ord) }, func() []byte { return built.builtNewOrder(seq, ord) }},
		} {
			if fast, slow := c.fast(), c.slow(); !bytes.Equal(fast, slow) {
				t.Fatalf("%s: fixed layout\n%x\nbuilder\n%x", c.name, fast, slow)
			}
		}
	}
}

// With zeros among the values, a fixed-layout frame passes Verify and
// reads back as what was encoded.
func TestFixedLayoutsReadBack(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	e := NewEncoder()
	read := func(frame []byte, want wire.Message, seq uint64) (buf []byte, pos uint32) {
		t.Helper()
		if n := le.Uint32(frame); int(n) != len(frame)-4 {
			t.Fatalf("size prefix %d for %d bytes", n, len(frame)-4)
		}
		buf = frame[4:]
		typ, pos, err := Verify(buf)
		if err != nil || typ != want {
			t.Fatalf("verify: %v %v", typ, err)
		}
		if got := Seq(buf); got != seq {
			t.Fatalf("seq %d, encoded %d", got, seq)
		}
		return buf, pos
	}
	for range 2000 {
		seq, rep, lvl, trd, ord := randomMessages(r, true)
		// Each read both ways: the generated accessors and the Msg
		// field readers.
		var m Msg
		frame := e.ExecutionReport(seq, &rep)
		if got := ReportAt(read(frame, wire.MessageExecutionReport, seq)); got != rep {
			t.Fatalf("report %+v, encoded %+v", got, rep)
		}
		if VerifyMsg(frame[4:], &m) != nil || m.Report(frame[4:]) != rep || m.Seq != seq {
			t.Fatalf("Msg.Report %+v seq %d, encoded %+v seq %d", m.Report(frame[4:]), m.Seq, rep, seq)
		}
		// A builder's frame leaves zero fields out: they read as zero.
		frame = e.builtExecutionReport(seq, &rep)
		if VerifyMsg(frame[4:], &m) != nil || m.Report(frame[4:]) != rep {
			t.Fatalf("Msg.Report of a builder frame %+v, encoded %+v", m.Report(frame[4:]), rep)
		}
		frame = e.LevelUpdate(seq, lvl)
		if got := LevelUpdateAt(read(frame, wire.MessageLevelUpdate, seq)); got != lvl {
			t.Fatalf("level %+v, encoded %+v", got, lvl)
		}
		if VerifyMsg(frame[4:], &m) != nil || m.LevelUpdate(frame[4:]) != lvl {
			t.Fatalf("Msg.LevelUpdate %+v, encoded %+v", m.LevelUpdate(frame[4:]), lvl)
		}
		frame = e.Trade(seq, trd)
		if got := TradeAt(read(frame, wire.MessageTrade, seq)); got != trd {
			t.Fatalf("trade %+v, encoded %+v", got, trd)
		}
		if VerifyMsg(frame[4:], &m) != nil || m.Trade(frame[4:]) != trd {
			t.Fatalf("Msg.Trade %+v, encoded %+v", m.Trade(frame[4:]), trd)
		}
		if got := NewOrderAt(read(e.NewOrder(seq, ord), wire.MessageNewOrder, seq)); got != ord {
			t.Fatalf("new order %+v, encoded %+v", got, ord)
		}
	}
}
