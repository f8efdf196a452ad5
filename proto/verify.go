package proto

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/ringex/ringex/proto/wire"
)

// ErrMalformed is wrapped by every Verify error.
var ErrMalformed = errors.New("proto: malformed message")

// ErrUnknownType: a sound envelope whose message type is newer than this
// build (union members are only ever appended). It wraps ErrMalformed, so
// the exchange refuses such input; a client skips such a message — Msg
// then holds its Type and Seq.
var ErrUnknownType = fmt.Errorf("%w: unknown message type", ErrMalformed)

// Verify errors. They are built once so that rejecting a frame allocates
// nothing (the unmarshaler runs Verify on every ring slot).
var (
	errBufferSize   = fmt.Errorf("%w: buffer shorter than a root offset or longer than 1 GiB", ErrMalformed)
	errTableBounds  = fmt.Errorf("%w: table out of bounds", ErrMalformed)
	errVtableBounds = fmt.Errorf("%w: vtable out of bounds", ErrMalformed)
	errVtable       = fmt.Errorf("%w: bad vtable or table size", ErrMalformed)
	errField        = fmt.Errorf("%w: field outside its table", ErrMalformed)
	errRef          = fmt.Errorf("%w: offset field points out of bounds", ErrMalformed)
	errString       = fmt.Errorf("%w: string out of bounds", ErrMalformed)
	errVector       = fmt.Errorf("%w: vector out of bounds", ErrMalformed)
	errNoMessage    = fmt.Errorf("%w: no message", ErrMalformed)
)

// maxBuffer bounds the buffers Verify accepts, so that every position fits
// an int32 and no offset sum can wrap.
const maxBuffer = 1 << 30

// field kinds of the verifier's schema description.
type field uint8

const (
	u8 field = iota + 1
	u32
	u64
	str      // uoffset to a string
	union    // uoffset to the table named by the preceding type field
	levelVec // uoffset to a vector of wire.Level structs
)

const levelSize = 24 // struct Level { long; long; uint; } with trailing padding

// layouts lists, per union member, its table's fields in id order. It
// mirrors ringex.fbs and is checked against it by TestLayoutsMatchSchema.
var layouts = [...][]field{
	wire.MessageLogon:           {u32, str, u8, u64},
	wire.MessageLogout:          {},
	wire.MessageHeartbeat:       {},
	wire.MessageNewOrder:        {u64, u32, u8, u8, u8, u8, u8, u64, u64},
	wire.MessageCancel:          {u64, u64, u32},
	wire.MessageReplace:         {u64, u64, u64, u64, u64, u32},
	wire.MessageMassCancel:      {u32},
	wire.MessageSubscribe:       {u32, u8},
	wire.MessageUnsubscribe:     {u32},
	wire.MessageHalt:            {u32, u8},
	wire.MessageResume:          {u32},
	wire.MessageSnapshotRequest: {},
	wire.MessageLogonAck:        {u64, u32, u64},
	wire.MessageLogonReject:     {u8},
	wire.MessageExecutionReport: {u8, u8, u8, u32, u32, u64, u64, u64, u64, u64, u64, u64, u64},
	wire.MessageRedirect:        {str},
	wire.MessageBookSnapshot:    {u32, u64, levelVec, levelVec, u8, u64, u8, u64},
	wire.MessageLevelUpdate:     {u32, u64, u8, u64, u64, u32, u64},
	wire.MessageTrade:           {u32, u64, u64, u64, u64, u8, u64},
	wire.MessageSubscribeReject: {u32, u8},
	wire.MessageOrderStatus:     {u64, u64, u32, u64},
	wire.MessageSuspendAccount:  {},
	wire.MessageResumeAccount:   {},
	wire.MessageTradingStatus:   {u32, u64, u8, u64},
	wire.MessageResendReports:   {u64},
	wire.MessageResendDone:      {u64, u64, u64, u64, u8},
	wire.MessageClosing:         {u8, str},
	wire.MessageListInstruments: {},
	wire.MessageInstrumentInfo:  {u32, str, u64, u64, u8, u8, u64, u64},
	wire.MessageInstrumentsDone: {u32},
}

var envelopeLayout = []field{u64, u8, union}

// maxFields bounds the fields of any message table (the most is 13); a
// power of two, so masked field ids need no bounds check.
const maxFields = 16

// spec is a layout compiled for the verifier's loop: one width per field
// and a bit per offset-typed field that needs a second look.
type spec struct {
	n     int
	width [maxFields]uint8
	refs  uint16
	kind  [maxFields]field
}

var specs [len(layouts)]spec

func init() {
	for i, l := range layouts {
		specs[i] = compile(l)
	}
}

func compile(l []field) spec {
	s := spec{n: len(l)}
	for i, f := range l {
		s.kind[i] = f
		switch f {
		case u8:
			s.width[i] = 1
		case u64:
			s.width[i] = 8
		default:
			s.width[i] = 4
		}
		if f == str || f == union || f == levelVec {
			s.refs |= 1 << i
		}
	}
	return s
}

// Msg is a verified message: its type, its table's position, the
// envelope's sequence number, and where each of its fields is (so hot
// readers need not walk the vtable again).
type Msg struct {
	Type wire.Message
	Pos  uint32
	Seq  uint64
	// at[i] is the absolute position of field i, 0 when absent.
	at [maxFields]int32
}

// Verify checks that buf is a well-formed Envelope carrying one known
// message, so the generated accessors can read it without going out of
// bounds, and returns the message type and the message table's position.
func Verify(buf []byte) (wire.Message, uint32, error) {
	var m Msg
	err := VerifyMsg(buf, &m)
	return m.Type, m.Pos, err
}

// VerifyMsg is Verify filling m, for the allocation-free readers. It
// allocates nothing, also when it rejects buf.
//
// What it checks, so that the generated accessors of the envelope and of
// the one message it carries stay inside buf:
//
//  1. the root offset, each table's soffset to its vtable, and the vtable
//     (even size ≥ 4, inside buf; table size ≥ 4, table inside buf);
//  2. every field the schema gives the table and the vtable lists: its
//     offset ≥ 4 and its whole width inside the table;
//  3. strings and vectors: the offset, the length word and all elements
//     inside buf;
//  4. the union: a known message type with a present table, verified by
//     1–3. A type newer than this build is ErrUnknownType, with m.Type and
//     m.Seq set, so a reader can skip it.
//
// Fields the schema does not know (a newer writer) are skipped; fields the
// vtable does not list (an older writer) read as their default.
func VerifyMsg(buf []byte, m *Msg) error {
	m.Type, m.Pos, m.Seq = wire.MessageNONE, 0, 0
	m.at = [maxFields]int32{}
	typ, seq, msgPos, err := envelope(buf)
	if err != nil {
		if errors.Is(err, ErrUnknownType) {
			m.Type, m.Seq = typ, seq
		}
		return err
	}
	if err := verifyTable(buf, msgPos, &specs[typ], &m.at); err != nil {
		m.at = [maxFields]int32{}
		return err
	}
	m.Type, m.Pos, m.Seq = typ, uint32(msgPos), seq
	return nil
}

// Type is the message type a frame's envelope names, with the envelope
// checked as VerifyMsg checks it (the root, its vtable, the type, the
// message's offset) and the message itself not at all: for a reader that
// only routes frames another verifies whole — the gateway keeps session
// messages and hands the rest to the ring raw, where the unmarshaler
// verifies them (a full Verify there was 4.5 % of a node's CPU under
// `ringex bench --rate 0`, all of it done again downstream). A type newer
// than this build is ErrUnknownType, with the type.
func Type(buf []byte) (wire.Message, error) {
	typ, _, _, err := envelope(buf)
	return typ, err
}

// envelope checks buf's envelope (layout envelopeLayout, unrolled: it is
// read for every frame) and returns the type and sequence it gives and
// where its message's table starts (not checked: verifyTable does).
// ErrUnknownType comes with the type and sequence.
func envelope(buf []byte) (typ wire.Message, seq uint64, msgPos int64, err error) {
	if len(buf) < 4 || len(buf) > maxBuffer {
		return 0, 0, 0, errBufferSize
	}
	root := int64(binary.LittleEndian.Uint32(buf))
	slots, size, err := vtable(buf, root, len(envelopeLayout))
	if err != nil {
		return 0, 0, 0, err
	}
	if len(slots) < 6 {
		return 0, 0, 0, errNoMessage // type or message absent
	}
	seqOff := uint32(binary.LittleEndian.Uint16(slots))
	typOff := uint32(binary.LittleEndian.Uint16(slots[2:]))
	msgOff := uint32(binary.LittleEndian.Uint16(slots[4:]))
	switch {
	case typOff == 0 || msgOff == 0:
		return 0, 0, 0, errNoMessage
	case typOff < 4 || typOff+1 > size, msgOff < 4 || msgOff+4 > size,
		seqOff != 0 && (seqOff < 4 || seqOff+8 > size):
		return 0, 0, 0, errField
	}
	typ = wire.Message(buf[root+int64(typOff)])
	if typ == wire.MessageNONE {
		return 0, 0, 0, errNoMessage
	}
	if seqOff != 0 {
		seq = binary.LittleEndian.Uint64(buf[root+int64(seqOff):])
	}
	if int(typ) >= len(specs) {
		return typ, seq, 0, ErrUnknownType
	}
	mp := root + int64(msgOff)
	return typ, seq, mp + int64(binary.LittleEndian.Uint32(buf[mp:])), nil
}

// vtable checks the table at pos and its vtable, and returns the vtable's
// field slots (two bytes each, at most maxSlots of them) and the table's
// size.
//
// Invariant on return nil: pos+size <= len(buf).
func vtable(buf []byte, pos int64, maxSlots int) ([]byte, uint32, error) {
	n := int64(len(buf))
	if pos < 0 || pos > n-4 {
		return nil, 0, errTableBounds
	}
	vt := pos - int64(int32(binary.LittleEndian.Uint32(buf[pos:])))
	if vt < 0 || vt > n-4 {
		return nil, 0, errVtableBounds
	}
	vtSize := int64(binary.LittleEndian.Uint16(buf[vt:]))
	size := int64(binary.LittleEndian.Uint16(buf[vt+2:]))
	if vtSize < 4 || vtSize&1 != 0 || vtSize > n-vt || size < 4 || size > n-pos {
		return nil, 0, errVtable
	}
	nf := min(int((vtSize-4)/2), maxSlots)
	return buf[vt+4 : vt+4+int64(2*nf)], uint32(size), nil
}

// verifyTable checks the table at pos against sp and records each present
// field's absolute position in at (which the caller zeroed).
//
// Invariant on return nil: for every i with at[i] != 0,
// at[i]+sp.width[i] <= len(buf), and offset fields point at a length
// word whose string or vector lies inside buf.
func verifyTable(buf []byte, pos int64, sp *spec, at *[maxFields]int32) error {
	slots, size, err := vtable(buf, pos, sp.n)
	if err != nil {
		return err
	}
	base := int32(pos)
	// j walks the vtable's slots; i = j/2 is the field id, masked so the
	// compiler sees it in range (sp.n <= maxFields).
	for j := 0; j+1 < len(slots); j += 2 {
		off := uint32(slots[j]) | uint32(slots[j+1])<<8
		if off == 0 {
			continue
		}
		i := (j >> 1) & (maxFields - 1)
		if off < 4 || off+uint32(sp.width[i]) > size {
			return errField
		}
		at[i] = base + int32(off)
	}
	if sp.refs == 0 {
		return nil
	}
	n := int64(len(buf))
	for i := 0; i < len(slots)/2; i++ {
		if sp.refs&(1<<i) == 0 || at[i] == 0 {
			continue
		}
		fp := int64(at[i])
		target := fp + int64(binary.LittleEndian.Uint32(buf[fp:]))
		if target > n-4 {
			return errRef
		}
		count := int64(binary.LittleEndian.Uint32(buf[target:]))
		switch sp.kind[i] {
		case str:
			if count > n-target-4 {
				return errString
			}
		case levelVec:
			if count > (n-target-4)/levelSize {
				return errVector
			}
		}
	}
	return nil
}
