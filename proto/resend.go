package proto

// ResendResult is ResendDone's reason: how much of the asked range was
// resent. The values are part of the protocol.
type ResendResult uint8

const (
	// ResendComplete: every report of the inputs after after_input_seq
	// and before the request was resent.
	ResendComplete ResendResult = iota
	// ResendPartial: the node's journal (or the resend window) does not
	// reach back to after_input_seq + 1; reports from first_input_seq on
	// were resent, the ones before it are lost to the exchange too.
	ResendPartial
	// ResendBusy: another resend was running; nothing was resent. Ask
	// again later.
	ResendBusy
	// ResendFailed: the node could not read its snapshots or journal (the
	// cause is in its log); the reports of the inputs from
	// first_input_seq through through_input_seq were resent, those after
	// it were not.
	ResendFailed
	// ResendCut: the answer was cut short after the reports of
	// through_input_seq, the client having read too slowly while another
	// request was answered busy (gateway.resend_stall); ask again from
	// through_input_seq for the rest. Values are only appended: a client
	// takes one it does not know for an answer to ask again after (as
	// the Go client does).
	ResendCut
	// ResendAhead: after_input_seq is at or past the request's own input,
	// one the exchange had not reached: nothing was resent, and
	// through_input_seq is the exchange's last input before the request.
	// The client's input sequences are of another history (a node
	// started on new data, another cluster): asking again from there
	// gets the same answer. Until 2026-12-07 this was answered complete
	// with count 0.
	ResendAhead
)

var resendResultNames = [...]string{"complete", "partial", "busy", "failed", "cut", "ahead"}

func (r ResendResult) String() string {
	if int(r) < len(resendResultNames) {
		return resendResultNames[r]
	}
	return "unknown"
}
