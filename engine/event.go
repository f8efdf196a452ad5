package engine

// EventType says what an Event reports.
//
// The numeric values are part of the wire protocol mapping; never renumber.
type EventType uint8

const (
	EvNone EventType = iota
	// EvAccepted: a new order entered the book or started matching.
	// OrderID, ClientOrderID, Side, Price, Quantity, Leaves.
	EvAccepted
	// EvRejected: a command was refused and changed nothing. Reason is a
	// RejectReason; ClientOrderID/OrderID echo the command.
	EvRejected
	// EvTrade: one match. OrderID/ClientOrderID/Account/Leaves are the
	// incoming (taker) order's; Maker* fields the resting order's. Price is
	// the resting order's price. Side is the taker's side.
	EvTrade
	// EvCancelled: an order left the book without trading its rest.
	// Reason is a CancelReason; Leaves is the quantity that was cancelled;
	// Quantity is the order's total as it stood (traded = Quantity −
	// Leaves), also for CancelReplacedToZero.
	// Session is the command's, but for a self-trade, a mass cancel or a
	// halt that cancels the book the order's own (the session that entered
	// it may not be the one that caused it).
	EvCancelled
	// EvReplaced: an order's price/quantity changed. Price, Quantity (new
	// total), Leaves (new open quantity).
	EvReplaced
	// EvBookLevel: the aggregate of one price level changed. Price, Side,
	// Quantity (total open at the level, 0 = level gone), Count (orders).
	EvBookLevel
	// EvHalted / EvResumed: instrument trading state changed.
	EvHalted
	EvResumed
	// EvSnapshot: the engine reached a CmdSnapshot; its state at this point
	// is the snapshot's state. Seq is the snapshot's input sequence.
	EvSnapshot
	// EvBookClear: the market-data image of Instrument starts again from
	// an empty book; EvBookLevel events for every level follow. Price is
	// the instrument's last trade price (0: none).
	EvBookClear
	// EvOrderStatus: one live order, answering a CmdOrderStatus (which
	// changed nothing). OrderID, ClientOrderID, Side, Price, Quantity
	// (total ordered), Leaves; Instrument is the order's.
	EvOrderStatus
	// EvStatusDone ends the answer to a CmdOrderStatus: Quantity is the
	// number of EvOrderStatus before it; Reason is StatusMore when the
	// page ended before the list (more orders may follow) and 0 when the
	// list is complete; OrderID is, for a listing, the cursor to ask for
	// the next page with (the last order the engine looked at, listed or
	// not) and for a status of one order the command's; ClientOrderID
	// (the command's OrigClientOrderID) and Instrument echo the command.
	EvStatusDone
	// EvResend answers a CmdResend (which changed nothing): Account and
	// Session asked for the reports of inputs after OrderID and before
	// Seq; ClientOrderID is the request's tag. The node serves it.
	EvResend
	// EvMassCancelDone ends the answer to a session's CmdMassCancel, after
	// its EvCancelled: Quantity is how many orders it cancelled (0: none
	// was live), Instrument echoes the command. Not emitted for a control
	// mass cancel (cancel-on-disconnect: no session to answer).
	EvMassCancelDone
)

// Event is one output of the engine. Like Command it holds no pointers, so
// it can live directly in output ring slots.
type Event struct {
	// Seq is the input sequence of the command that caused this event.
	Seq int64
	// Timestamp is that command's receive time.
	Timestamp int64
	// Session that sent the command (0 for control commands); reports go
	// to the owner Account's sessions.
	Session       uint64
	OrderID       uint64
	ClientOrderID uint64
	// TradeID is set on EvTrade.
	TradeID            uint64
	MakerOrderID       uint64
	MakerClientOrderID uint64
	Price              int64
	Quantity           int64
	Leaves             int64
	// MakerLeaves is the resting order's open quantity after an EvTrade.
	MakerLeaves int64
	// MakerSession entered the resting order of an EvTrade (0: the node);
	// on an EvCancelled (requested, replaced-to-zero) or EvReplaced
	// caused by another session of the account, the session that held
	// the order, which hears of it too (0: the command's own).
	MakerSession uint64
	Account      uint32
	MakerAccount uint32
	Instrument   uint32
	// Count is the number of orders at the level for EvBookLevel.
	Count  uint32
	Type   EventType
	Side   Side
	Reason uint8
	// Query is set on an EvRejected refusing a query (CmdOrderStatus,
	// CmdResend): an answer to the session that asked, like the query's
	// other answers — not a change of the account's orders, so neither
	// copied to its other sessions and drop copies nor resent.
	Query bool
	_     [4]uint8
}

// Sink receives the engine's events in order. The engine calls it on its
// own goroutine; Emit must not retain ev past the call.
type Sink interface {
	Emit(ev *Event)
}

// RejectReason says why a command was refused. Values are part of the wire
// protocol; never renumber, only append.
type RejectReason uint8

const (
	ReasonNone RejectReason = iota
	ReasonUnknownInstrument
	ReasonUnknownAccount
	ReasonInvalidQuantity // zero, negative, or not a multiple of the lot size
	ReasonInvalidPrice    // zero/negative limit price, or off the tick size
	ReasonInvalidSide
	ReasonInvalidOrderType
	ReasonInvalidTimeInForce
	ReasonInvalidSTP
	ReasonPriceBand     // limit price outside the instrument's band
	ReasonMaxOrderQty   // account limit
	ReasonMaxNotional   // account limit (price × quantity, overflow-checked)
	ReasonMaxOpenOrders // account limit
	ReasonDuplicateClOrdID
	ReasonUnknownOrder // cancel/replace of an order that is not live for this account
	ReasonInstrumentHalted
	ReasonPostOnlyWouldTrade
	ReasonFOKNotFilled
	ReasonOverflow // arithmetic on the command would overflow int64, or MaxLiveOrders are live
	ReasonUnknownCommand
	ReasonMalformedFrame // unmarshaler: frame failed validation
	ReasonRateLimited    // gateway: session above its message rate
	ReasonNotLoggedOn
	ReasonMarketPostOnly    // post-only makes no sense on a market order
	ReasonNoLiquidity       // market order with nothing it may trade against (none within the band, or only its own orders where STP stops it)
	ReasonInvalidSequence   // a new order whose input sequence is < 1 (no order id)
	ReasonAccountSuspended  // new order of an account the operator suspended (its replaces name no live order: ReasonUnknownOrder)
	ReasonDropCopySession   // gateway: an order, cancel or replace from a read-only drop-copy session
	ReasonDroppedByOperator // an input the operator listed in the journal's drops file (journal.DropsFile): not applied
)

// CancelReason says why an order left the book. Values are part of the
// wire protocol; never renumber, only append.
type CancelReason uint8

const (
	CancelNone CancelReason = iota
	CancelRequested
	CancelMassCancel
	CancelIOCRemainder     // IOC or market rest after matching
	CancelSelfTrade        // self-trade prevention
	CancelPriceBand        // market order stopped at the band edge
	CancelReplacedToZero   // replace to a total at or below what already traded
	CancelMatchLimit       // the order met 65535 resting orders in one command (trades, and own orders its STPCancelResting cancelled); the rest is cancelled
	CancelAccountSuspended // the operator suspended the order's account
	CancelInstrumentHalted // the operator halted the order's instrument and cancelled its book (CmdHalt with CancelOrders)
)
