package proto

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/ringex/ringex/proto/wire"
)

// ErrMalformed is wrapped by every Verify error.
var ErrMalformed = errors.New("proto: malformed message")

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

const levelSize = 24 // struct Level { long; long; uint; } with padding

// layouts lists, per union member, its table's fields in id order. It
// mirrors ringex.fbs and is checked against it by TestLayoutsMatchSchema.
var layouts = [...][]field{
	wire.MessageLogon:           {u32, str},
	wire.MessageLogout:          {},
	wire.MessageHeartbeat:       {},
	wire.MessageNewOrder:        {u64, u32, u8, u8, u8, u8, u8, u64, u64},
	wire.MessageCancel:          {u64, u64, u32},
	wire.MessageReplace:         {u64, u64, u64, u64, u64, u32},
	wire.MessageMassCancel:      {u32},
	wire.MessageSubscribe:       {u32},
	wire.MessageUnsubscribe:     {u32},
	wire.MessageHalt:            {u32},
	wire.MessageResume:          {u32},
	wire.MessageSnapshotRequest: {},
	wire.MessageLogonAck:        {u64, u32},
	wire.MessageLogonReject:     {u8},
	wire.MessageExecutionReport: {u8, u8, u8, u32, u32, u64, u64, u64, u64, u64, u64, u64, u64},
	wire.MessageRedirect:        {str},
	wire.MessageBookSnapshot:    {u32, u64, levelVec, levelVec},
	wire.MessageLevelUpdate:     {u32, u64, u8, u64, u64, u32},
	wire.MessageTrade:           {u32, u64, u64, u64, u64, u8},
}

var envelopeLayout = []field{u64, u8, union}

// maxFields is the most fields any message table has.
const maxFields = 13

// Msg is a verified message: its type, its table's position, and where
// each of its fields is (so hot readers need not walk the vtable again).
type Msg struct {
	Type wire.Message
	Pos  uint32
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

// VerifyMsg is Verify filling m, for the allocation-free readers.
func VerifyMsg(buf []byte, m *Msg) error {
	if len(buf) < 4 || len(buf) > 1<<30 {
		return fmt.Errorf("%w: %d bytes", ErrMalformed, len(buf))
	}
	root := int64(binary.LittleEndian.Uint32(buf))
	msgType, msgPos, err := verifyTable(buf, root, envelopeLayout, &m.at)
	if err != nil {
		return err
	}
	if msgType == wire.MessageNONE || int(msgType) >= len(layouts) || msgPos < 0 {
		return fmt.Errorf("%w: no message or unknown message type %d", ErrMalformed, msgType)
	}
	if _, _, err := verifyTable(buf, msgPos, layouts[msgType], &m.at); err != nil {
		return err
	}
	m.Type, m.Pos = msgType, uint32(msgPos)
	return nil
}

// verifyTable checks the table at pos against its layout and records each
// present field's position in at. For a table with a union it returns the
// union's type and target position (-1 when absent).
func verifyTable(buf []byte, pos int64, layout []field, at *[maxFields]int32) (wire.Message, int64, error) {
	*at = [maxFields]int32{}
	n := int64(len(buf))
	bad := func(what string) (wire.Message, int64, error) {
		return 0, 0, fmt.Errorf("%w: %s (table at %d)", ErrMalformed, what, pos)
	}
	if pos < 0 || pos+4 > n {
		return bad("table out of bounds")
	}
	vt := pos - int64(int32(binary.LittleEndian.Uint32(buf[pos:])))
	if vt < 0 || vt+4 > n {
		return bad("vtable out of bounds")
	}
	vtSize := int64(binary.LittleEndian.Uint16(buf[vt:]))
	tableSize := int64(binary.LittleEndian.Uint16(buf[vt+2:]))
	if vtSize < 4 || vtSize&1 != 0 || vt+vtSize > n || tableSize < 4 || pos+tableSize > n {
		return bad("bad vtable")
	}
	var unionType wire.Message
	unionPos := int64(-1)
	for i, f := range layout {
		slot := 4 + 2*int64(i)
		if slot+2 > vtSize {
			break // fields past the vtable are absent (older writer)
		}
		off := int64(binary.LittleEndian.Uint16(buf[vt+slot:]))
		if off == 0 {
			continue
		}
		width := int64(4)
		switch f {
		case u8:
			width = 1
		case u64:
			width = 8
		}
		if off < 4 || off+width > tableSize {
			return bad(fmt.Sprintf("field %d out of its table", i))
		}
		fp := pos + off
		at[i] = int32(fp)
		switch f {
		case u8:
			if i+1 < len(layout) && layout[i+1] == union {
				unionType = wire.Message(buf[fp])
			}
		case str, levelVec, union:
			target := fp + int64(binary.LittleEndian.Uint32(buf[fp:]))
			if target+4 > n {
				return bad(fmt.Sprintf("field %d points out of bounds", i))
			}
			count := int64(binary.LittleEndian.Uint32(buf[target:]))
			switch f {
			case str:
				if target+4+count > n {
					return bad("string out of bounds")
				}
			case levelVec:
				if target+4+count*levelSize > n {
					return bad("vector out of bounds")
				}
			case union:
				unionPos = target
			}
		}
	}
	return unionType, unionPos, nil
}
