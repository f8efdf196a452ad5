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

// Verify checks that buf is a well-formed Envelope carrying one known
// message, so the generated accessors can read it without going out of
// bounds, and returns the message type and the message table's position.
func Verify(buf []byte) (wire.Message, uint32, error) {
	if len(buf) < 4 {
		return 0, 0, fmt.Errorf("%w: %d bytes", ErrMalformed, len(buf))
	}
	root := int64(binary.LittleEndian.Uint32(buf))
	msgType, msgPos, err := verifyTable(buf, root, envelopeLayout)
	if err != nil {
		return 0, 0, err
	}
	if msgType == wire.MessageNONE || int(msgType) >= len(layouts) || msgPos < 0 {
		return 0, 0, fmt.Errorf("%w: no message or unknown message type %d", ErrMalformed, msgType)
	}
	if _, _, err := verifyTable(buf, msgPos, layouts[msgType]); err != nil {
		return 0, 0, err
	}
	return msgType, uint32(msgPos), nil
}

// verifyTable checks the table at pos against its layout. For a table
// with a union it returns the union's type and target position (-1 when
// absent).
func verifyTable(buf []byte, pos int64, layout []field) (wire.Message, int64, error) {
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
		at := pos + off
		switch f {
		case u8:
			if i+1 < len(layout) && layout[i+1] == union {
				unionType = wire.Message(buf[at])
			}
		case str, levelVec, union:
			target := at + int64(binary.LittleEndian.Uint32(buf[at:]))
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
