package proto

import (
	"strconv"

	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/ringex/ringex/proto/wire"
)

// closingCauseNames are the causes' names as people and metrics read
// them: the order-entry gateway's disconnect causes
// (ringex_disconnects_total) spell the same, and a market-data port's
// (ringex_marketdata_closed_total) with '-' for '_'.
var closingCauseNames = [...]string{
	wire.ClosingCauseNone:             "none",
	wire.ClosingCauseRateLimit:        "rate_limit",
	wire.ClosingCauseFrameTooLarge:    "frame_too_large",
	wire.ClosingCauseMalformed:        "malformed",
	wire.ClosingCauseSlowConsumer:     "slow_consumer",
	wire.ClosingCauseHeartbeatTimeout: "heartbeat_timeout",
	wire.ClosingCauseOperator:         "operator",
	wire.ClosingCauseReplaced:         "replaced",
	wire.ClosingCauseNotLeader:        "not_leader",
	wire.ClosingCauseShutdown:         "shutdown",
	wire.ClosingCauseIdle:             "idle",
	wire.ClosingCauseNotCurrent:       "not_current",
}

// ClosingCauseName names a Closing's cause; one newer than this build
// (causes are only appended) is "cause N".
func ClosingCauseName(c wire.ClosingCause) string {
	if int(c) < len(closingCauseNames) {
		return closingCauseNames[c]
	}
	return "cause " + strconv.Itoa(int(c))
}

// Closing is what a Closing says: why the connection is closed, and
// more for a person (may be empty).
type Closing struct {
	Cause wire.ClosingCause
	Text  string
}

// ClosingOf encodes c; the zero Closing (no cause) encodes to nil: none
// to send.
func (e *Encoder) ClosingOf(c Closing) []byte {
	if c.Cause == wire.ClosingCauseNone {
		return nil
	}
	return e.Closing(0, c.Cause, c.Text)
}

// Closing encodes a Closing: the connection is about to be closed, for
// cause; text says more (may be empty).
func (e *Encoder) Closing(seq uint64, cause wire.ClosingCause, text string) []byte {
	b := e.b
	b.Reset()
	s := b.CreateString(text)
	wire.ClosingStart(b)
	wire.ClosingAddCause(b, cause)
	wire.ClosingAddText(b, s)
	return e.finish(seq, wire.MessageClosing, wire.ClosingEnd(b))
}

// ClosingAt reads a Closing.
func ClosingAt(buf []byte, pos uint32) (cause wire.ClosingCause, text string) {
	var m wire.Closing
	m.Init(buf, flatbuffers.UOffsetT(pos))
	return m.Cause(), string(m.Text())
}
