package engine

// CommandType says what a Command asks the engine to do.
//
// The numeric values are part of the journal and snapshot formats (a
// command's type is derived from the journaled frame, and restored engines
// must agree); never renumber them.
type CommandType uint8

const (
	CmdNone CommandType = iota
	// CmdNewOrder places a limit or market order.
	CmdNewOrder
	// CmdCancel cancels one live order of the command's account.
	CmdCancel
	// CmdReplace changes price and/or quantity of one live order.
	CmdReplace
	// CmdMassCancel cancels every live order of the command's account
	// (optionally only on Instrument when it is non-zero). Also issued by
	// the node for cancel-on-disconnect.
	CmdMassCancel
	// CmdHalt stops new orders on Instrument; cancels stay allowed. With
	// CancelOrders (the operator's, through the node) it also cancels
	// every resting order of the instrument (CancelInstrumentHalted).
	CmdHalt
	// CmdResume lifts a halt on Instrument.
	CmdResume
	// CmdSnapshot marks the exact input sequence at which the node takes a
	// snapshot. The engine only emits EvSnapshot; the wrapper serializes.
	CmdSnapshot
	// CmdInvalid is a frame the unmarshaler could not accept. The engine
	// changes nothing and emits EvRejected with Command.Reason.
	CmdInvalid
	// CmdNoop carries no business meaning (heartbeats that reach the ring,
	// padding). The engine emits nothing.
	CmdNoop
	// CmdOrderStatus asks for live orders of the command's account: the
	// one named by OrderID (or OrigClientOrderID), or with both 0 every
	// one (on Instrument only, when it is non-zero) whose id is above
	// ClientOrderID (the page cursor), at most MaxStatusOrders of them. It
	// changes nothing; the engine emits an EvOrderStatus per order, then
	// EvStatusDone.
	CmdOrderStatus
	// CmdSuspendAccount is the operator's kill switch for the command's
	// Account (issued by the node, never by a client): every live order of
	// the account is cancelled (CancelAccountSuspended) and its new orders
	// are rejected (ReasonAccountSuspended) until CmdResumeAccount; a
	// replace names no live order (there are none: ReasonUnknownOrder).
	// Cancels, mass cancels and status requests stay allowed.
	CmdSuspendAccount
	// CmdResumeAccount lifts a suspension of the command's Account.
	CmdResumeAccount
	// CmdResend asks again for the reports of the command's account
	// caused by inputs after OrderID (an input sequence) and before this
	// one; ClientOrderID is the request's tag (its envelope seq; 0 is
	// refused, ReasonInvalidSequence). The
	// engine keeps no history: it changes nothing and emits EvResend,
	// which marks the request's place in the output so the node can
	// rebuild those reports from its journal, off the engine thread.
	CmdResend

	// NumCommandTypes bounds the command types, for arrays indexed by type.
	NumCommandTypes
)

// Side of an order.
type Side uint8

const (
	SideNone Side = iota
	Buy
	Sell
)

// OrderType of a new order.
type OrderType uint8

const (
	OrderTypeNone OrderType = iota
	Limit
	Market
)

// TimeInForce of a new order.
type TimeInForce uint8

const (
	TIFNone TimeInForce = iota
	// GTC rests until filled or cancelled.
	GTC
	// IOC trades what it can on arrival; the rest is cancelled.
	IOC
	// FOK trades its whole quantity on arrival or nothing at all.
	FOK
)

// STP is the self-trade prevention mode of an incoming order: what happens
// when it would trade against a resting order of the same account.
// STPDefault (zero) means STPCancelIncoming.
type STP uint8

const (
	STPDefault STP = iota
	STPCancelIncoming
	STPCancelResting
	STPCancelBoth
	STPAllow
)

// Command is one decoded input, exactly as the engine consumes it. It is
// written into the input ring's slot by the unmarshaler (its only writer)
// and read by the engine. It holds no pointers, so rings of commands are
// never scanned by the garbage collector.
//
// Account and Session are stamped by the gateway from the logged-on
// session, never taken from the wire: a session acts only for its own
// account.
type Command struct {
	// Seq is the input ring sequence number; order and trade ids derive
	// from it, which makes them identical in every replay and replica.
	Seq int64
	// Timestamp is the gateway's receive time (Unix nanoseconds). It is
	// the engine's only clock.
	Timestamp int64
	// Session that sent the input (0 for node-issued control commands).
	Session uint64
	// ClientOrderID is the client's id of a new order, or the new client
	// id of a replace (0 keeps the old one); for CmdOrderStatus, the page
	// cursor: only orders with a larger exchange id are listed.
	ClientOrderID uint64
	// OrderID is the exchange order id targeted by cancel/replace. When it
	// is 0, OrigClientOrderID names the order instead.
	OrderID uint64
	// OrigClientOrderID names the target of cancel/replace by the
	// account's client order id.
	OrigClientOrderID uint64
	// Price in the instrument's price units, a multiple of its TickSize
	// (limit orders and replace).
	Price int64
	// Quantity in the instrument's quantity units, a multiple of its
	// LotSize (new order: order quantity; replace: new total quantity).
	Quantity int64
	// Account the command acts for.
	Account uint32
	// Instrument id.
	Instrument uint32
	Type       CommandType
	Side       Side
	OrderType  OrderType
	TIF        TimeInForce
	STP        STP
	// PostOnly rejects a limit order that would trade on arrival.
	PostOnly bool
	// Reason is set by the unmarshaler on CmdInvalid, and on a query
	// (CmdOrderStatus, CmdResend) the operator dropped
	// (unmarshal.Drop), which the engine then refuses for it.
	Reason RejectReason
	// CancelOrders: a CmdHalt that also cancels the instrument's resting
	// orders (Halt.cancel_orders on the wire).
	CancelOrders bool
}
