package input

import "github.com/ringex/ringex/engine"

// Kind says who produced a slot's raw frame.
//
// The values are part of the journal format; never renumber.
type Kind uint8

const (
	// KindClient is a frame read from a logged-on trading session.
	KindClient Kind = 1
	// KindControl is a frame issued by the node itself: snapshot, halt,
	// resume, cancel-on-disconnect. Only control frames may carry
	// administrative messages.
	KindControl Kind = 2
)

// SlotSize is the size in bytes of one Slot.
const SlotSize = 256

// headerSize is the bytes of Slot before Raw, and cmdSize the size of the
// decoded command after it; RawCapacity is what is left of SlotSize.
const (
	headerSize  = 24
	cmdSize     = 80
	RawCapacity = SlotSize - headerSize - cmdSize
)

// Slot is one entry of the input ring. See the package doc for which
// goroutine writes which field.
type Slot struct {
	// RecvTime is the gateway's receive time in Unix nanoseconds; it is
	// the engine's only clock.
	RecvTime int64
	// Session is the gateway session id (0 for control commands).
	Session uint64
	// Account is the logged-on account of the session; never read from
	// the wire.
	Account uint32
	// Len is the number of valid bytes in Raw.
	Len  uint16
	Kind Kind
	_    uint8
	// Raw is the frame payload (the FlatBuffers envelope, without the
	// 4-byte size prefix).
	Raw [RawCapacity]byte
	// Cmd is written only by the unmarshaler.
	Cmd engine.Command
}

// Payload returns the valid bytes of Raw.
func (s *Slot) Payload() []byte { return s.Raw[:s.Len] }

// SetPayload copies p into Raw and sets Len. It reports false, copying
// nothing, when p does not fit.
func (s *Slot) SetPayload(p []byte) bool {
	if len(p) > RawCapacity {
		return false
	}
	s.Len = uint16(copy(s.Raw[:], p))
	return true
}
