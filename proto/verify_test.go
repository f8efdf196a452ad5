package proto

import (
	"encoding/binary"
	"errors"
	"strconv"
	"strings"
	"testing"

	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/ringex/ringex/input"
	"github.com/ringex/ringex/proto/wire"
)

// The largest order-entry envelopes fit an input-ring slot with room to
// spare (the gateway copies the payload, without the prefix, into Raw).
func TestOrderEntryFitsInSlot(t *testing.T) {
	e := NewEncoder()
	sizes := map[string]int{
		"NewOrder": len(e.NewOrder(^uint64(0), NewOrder{ClientOrderID: ^uint64(0), Instrument: ^uint32(0), Side: 2, Type: 2,
			TIF: 3, PostOnly: true, STP: 4, Price: -1, Quantity: -1})) - PrefixSize,
		"Replace":    len(e.Replace(^uint64(0), Replace{^uint64(0), ^uint64(0), ^uint64(0), -1, -1, ^uint32(0)})) - PrefixSize,
		"Cancel":     len(e.Cancel(^uint64(0), Cancel{^uint64(0), ^uint64(0), ^uint32(0)})) - PrefixSize,
		"MassCancel": len(e.MassCancel(^uint64(0), ^uint32(0))) - PrefixSize,
		"Halt":       len(e.HaltAndCancelOrders(^uint64(0), ^uint32(0))) - PrefixSize,
	}
	for name, n := range sizes {
		t.Logf("largest %s payload: %d bytes (slot holds %d)", name, n, input.RawCapacity)
		if n > input.RawCapacity {
			t.Errorf("%s payload is %d bytes, the input slot holds %d", name, n, input.RawCapacity)
		}
	}
}

// handNewOrder builds a NewOrder envelope with the builder's low-level
// calls, so tests can add fields the schema does not have or leave some
// out, as writers in other languages and versions may.
func handNewOrder(fields int, set func(b *flatbuffers.Builder)) []byte {
	b := flatbuffers.NewBuilder(256)
	b.StartObject(fields)
	set(b)
	msg := b.EndObject()
	wire.EnvelopeStart(b)
	wire.EnvelopeAddSeq(b, 3)
	wire.EnvelopeAddMessageType(b, wire.MessageNewOrder)
	wire.EnvelopeAddMessage(b, msg)
	b.Finish(wire.EnvelopeEnd(b))
	return b.FinishedBytes()
}

// Tables only grow by appending fields: a newer writer's unknown fields
// are skipped, an older writer's missing fields read as defaults.
func TestVerifyAcrossSchemaVersions(t *testing.T) {
	newer := handNewOrder(11, func(b *flatbuffers.Builder) {
		b.PrependUint64Slot(0, 42, 0) // client_order_id
		b.PrependInt64Slot(8, 7, 0)   // quantity
		b.PrependUint64Slot(10, 99, 0)
	})
	var m Msg
	if err := VerifyMsg(newer, &m); err != nil {
		t.Fatalf("newer writer: %v", err)
	}
	if o := m.NewOrder(newer); o.ClientOrderID != 42 || o.Quantity != 7 || m.Seq != 3 {
		t.Fatalf("newer writer read as %+v", o)
	}
	older := handNewOrder(2, func(b *flatbuffers.Builder) { b.PrependUint64Slot(0, 42, 0) })
	if err := VerifyMsg(older, &m); err != nil {
		t.Fatalf("older writer: %v", err)
	}
	if o := m.NewOrder(older); o != (NewOrder{ClientOrderID: 42}) || NewOrderAt(older, m.Pos) != o {
		t.Fatalf("older writer read as %+v", o)
	}
}

// Each check of the verifier, provoked by one corruption of a valid frame.
func TestVerifyRejects(t *testing.T) {
	good := func() []byte { return append([]byte(nil), sampleFrames()[wire.MessageLogon][PrefixSize:]...) }
	var m Msg
	if err := VerifyMsg(good(), &m); err != nil {
		t.Fatal(err)
	}
	root := func(b []byte) int { return int(binary.LittleEndian.Uint32(b)) }
	vtableOf := func(b []byte, pos int) int { return pos - int(int32(binary.LittleEndian.Uint32(b[pos:]))) }
	msgPos := func(b []byte) int {
		var m Msg
		if err := VerifyMsg(b, &m); err != nil {
			panic(err)
		}
		return int(m.Pos)
	}
	put16 := func(b []byte, at int, v uint16) { binary.LittleEndian.PutUint16(b[at:], v) }
	put32 := func(b []byte, at int, v uint32) { binary.LittleEndian.PutUint32(b[at:], v) }
	tests := []struct {
		name   string
		mutate func(b []byte) []byte
		want   error
	}{
		{"empty", func(b []byte) []byte { return nil }, errBufferSize},
		{"root past the end", func(b []byte) []byte { put32(b, 0, uint32(len(b))); return b }, errTableBounds},
		{"vtable before the buffer", func(b []byte) []byte { put32(b, root(b), 1<<20); return b }, errVtableBounds},
		{"vtable after the buffer", func(b []byte) []byte { put32(b, root(b), 0x80000000); return b }, errVtableBounds},
		{"odd vtable size", func(b []byte) []byte { put16(b, vtableOf(b, root(b)), 7); return b }, errVtable},
		{"vtable size past the end", func(b []byte) []byte { put16(b, vtableOf(b, root(b)), 0xfffe); return b }, errVtable},
		{"table size past the end", func(b []byte) []byte { put16(b, vtableOf(b, root(b))+2, 0xffff); return b }, errVtable},
		{"field outside its table", func(b []byte) []byte {
			vt := vtableOf(b, root(b))
			put16(b, vt+4, binary.LittleEndian.Uint16(b[vt+2:])-4) // seq (8 bytes) at table end - 4
			return b
		}, errField},
		{"field offset inside the soffset", func(b []byte) []byte { put16(b, vtableOf(b, root(b))+4, 2); return b }, errField},
		{"no message type", func(b []byte) []byte { put16(b, vtableOf(b, root(b))+6, 0); return b }, errNoMessage},
		{"no message", func(b []byte) []byte { put16(b, vtableOf(b, root(b))+8, 0); return b }, errNoMessage},
		{"short vtable", func(b []byte) []byte { put16(b, vtableOf(b, root(b)), 6); return b }, errNoMessage},
		{"unknown message type", func(b []byte) []byte {
			vt := vtableOf(b, root(b))
			b[root(b)+int(binary.LittleEndian.Uint16(b[vt+6:]))] = byte(len(layouts))
			return b
		}, ErrUnknownType},
		{"message table past the end", func(b []byte) []byte {
			vt := vtableOf(b, root(b))
			put32(b, root(b)+int(binary.LittleEndian.Uint16(b[vt+8:])), 1<<20)
			return b
		}, errTableBounds},
		{"string past the end", func(b []byte) []byte {
			p := msgPos(b)
			vt := vtableOf(b, p)
			fp := p + int(binary.LittleEndian.Uint16(b[vt+6:])) // secret
			put32(b, fp+int(binary.LittleEndian.Uint32(b[fp:])), 1<<20)
			return b
		}, errString},
		{"string offset past the end", func(b []byte) []byte {
			p := msgPos(b)
			fp := p + int(binary.LittleEndian.Uint16(b[vtableOf(b, p)+6:]))
			put32(b, fp, 0xfffffff0)
			return b
		}, errRef},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.mutate(good())
			err := VerifyMsg(b, &m)
			if !errors.Is(err, tt.want) || !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if tt.want == ErrUnknownType { // a newer type: the reader learns which, to skip it
				if m.Type != wire.Message(len(layouts)) || m.Seq == 0 || m.Pos != 0 {
					t.Fatalf("unknown type left %+v, want its type and seq only", m)
				}
				return
			}
			if m.Type != wire.MessageNONE || m.at != [maxFields]int32{} {
				t.Fatalf("rejected message left state: %+v", m)
			}
		})
	}
}

// A vector of levels whose elements run past the buffer is refused.
func TestVerifyRejectsLongVector(t *testing.T) {
	b := append([]byte(nil), sampleFrames()[wire.MessageBookSnapshot][PrefixSize:]...)
	var m Msg
	if err := VerifyMsg(b, &m); err != nil {
		t.Fatal(err)
	}
	fp := int(m.at[2]) // bids
	vec := fp + int(binary.LittleEndian.Uint32(b[fp:]))
	binary.LittleEndian.PutUint32(b[vec:], uint32((len(b)-vec)/levelSize+1))
	if err := VerifyMsg(b, &m); !errors.Is(err, errVector) {
		t.Fatalf("err = %v", err)
	}
}

// Every prefix and every single-byte corruption of every message either
// fails Verify or reads in bounds.
func TestVerifyTruncatedAndFlipped(t *testing.T) {
	for _, f := range sampleFrames() {
		payload := f[PrefixSize:]
		for n := range payload {
			readAll(payload[:n])
		}
		for i := range payload {
			for _, x := range []byte{0x01, 0x02, 0x04, 0x10, 0x80, 0xff} {
				b := append([]byte(nil), payload...)
				b[i] ^= x
				readAll(b)
			}
		}
	}
}

// maxBuffer is the longest buffer Verify, VerifyMsg and Type read: a
// NewOrder at the very end of a buffer of maxBuffer bytes — its positions
// just under 1 GiB, where an int32 still holds them — verifies and reads
// back whole, and the same buffer one byte longer is refused
// ErrMalformed, saying the buffer is longer than 1 GiB, before any field
// is read. The gigabyte is allocated but touched only at its ends.
func TestVerifyBufferSizeLimit(t *testing.T) {
	if strconv.IntSize < 64 {
		t.Skip("a 1 GiB buffer")
	}
	want := NewOrder{ClientOrderID: 42, Instrument: 7, Side: wire.SideSell, Type: wire.OrderTypeLimit,
		TIF: wire.TimeInForceGTC, Price: 1234, Quantity: 5}
	msg := NewEncoder().NewOrder(99, want)[PrefixSize:]
	buf := make([]byte, maxBuffer+1)
	at := maxBuffer - len(msg) // the message's bytes end at maxBuffer
	copy(buf[at:], msg)
	// Every offset in a FlatBuffers buffer is relative to where it is
	// stored, but the root's, which is from the buffer's start.
	binary.LittleEndian.PutUint32(buf, binary.LittleEndian.Uint32(msg)+uint32(at))

	var m Msg
	if err := VerifyMsg(buf[:maxBuffer], &m); err != nil || m.Type != wire.MessageNewOrder || m.Seq != 99 {
		t.Fatalf("a NewOrder ending a buffer of maxBuffer bytes: %v (type %v, seq %d)", err, m.Type, m.Seq)
	}
	if m.Pos < uint32(at) {
		t.Fatalf("the message read at %d, before where it was copied (%d)", m.Pos, at)
	}
	if got := m.NewOrder(buf[:maxBuffer]); got != want {
		t.Fatalf("read back %+v, want %+v", got, want)
	}
	for name, verify := range map[string]func([]byte) error{
		"Verify":    func(b []byte) error { _, _, err := Verify(b); return err },
		"VerifyMsg": func(b []byte) error { return VerifyMsg(b, &m) },
		"Type":      func(b []byte) error { _, err := Type(b); return err },
	} {
		err := verify(buf)
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "longer than 1 GiB") {
			t.Errorf("%s of a buffer of maxBuffer+1 bytes: %v, want ErrMalformed, longer than 1 GiB", name, err)
		}
	}
}
