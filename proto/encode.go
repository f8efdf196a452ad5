package proto

import (
	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/ringex/ringex/proto/wire"
)

// Message field sets, as plain Go values, for the encoders.
type (
	NewOrder struct {
		ClientOrderID uint64
		Instrument    uint32
		Side          wire.Side
		Type          wire.OrderType
		TIF           wire.TimeInForce
		PostOnly      bool
		STP           wire.SelfTrade
		Price         int64
		Quantity      int64
	}
	Cancel struct {
		OrderID           uint64
		OrigClientOrderID uint64
		Instrument        uint32
	}
	// OrderStatus names one live order (OrderID, or OrigClientOrderID
	// when OrderID is 0) or, with both 0, every live order of the account
	// (on Instrument, or everywhere when it is 0) with an exchange id above
	// AfterOrderID, a page at a time.
	OrderStatus struct {
		OrderID           uint64
		OrigClientOrderID uint64
		Instrument        uint32
		AfterOrderID      uint64
	}
	// ResendDone ends the answer to a ResendReports: Count reports of
	// the inputs FirstInputSeq..ThroughInputSeq were resent (README.md).
	ResendDone struct {
		AfterInputSeq   int64
		FirstInputSeq   int64
		ThroughInputSeq int64
		Count           uint64
		Reason          ResendResult
	}
	Replace struct {
		OrderID           uint64
		OrigClientOrderID uint64
		ClientOrderID     uint64
		Price             int64
		Quantity          int64
		Instrument        uint32
	}
	Report struct {
		Kind wire.ExecKind
		// Reason depends on Kind: on a Rejected, a reject reason
		// (engine.RejectReason); on a Cancelled, a cancel reason
		// (engine.CancelReason); on a StatusDone, 1 when more orders
		// follow the page (README.md, ExecutionReport).
		Reason        uint8
		Side          wire.Side
		Instrument    uint32
		Account       uint32
		OrderID       uint64
		ClientOrderID uint64
		TradeID       uint64
		Price         int64
		Quantity      int64
		Leaves        int64
		InputSeq      int64
		Timestamp     int64
	}
	// BookSnapshot is an instrument's whole aggregated book (levels best
	// first) and trading state, as of the update numbered MDSeq.
	BookSnapshot struct {
		Instrument uint32
		MDSeq      uint64
		Bids, Asks []Level
		Halted     bool
		// LastPrice is the price of the instrument's last trade (0: none
		// yet since the exchange started with its snapshot).
		LastPrice int64
		// More: further parts of this snapshot follow (a deep book is
		// sent in parts; see BookSnapshot in ringex.fbs).
		More bool
		// InputSeq is the exchange input the book is as of: every input
		// before it is in the book, and it in whole or in part, on
		// whichever member sent it (MDSeq is the member's own count).
		InputSeq int64
	}
	// TradingStatus says an instrument was halted or resumed.
	TradingStatus struct {
		Instrument uint32
		MDSeq      uint64
		Halted     bool
		InputSeq   int64 // the halt or resume command's input
	}
	LevelUpdate struct {
		Instrument uint32
		MDSeq      uint64
		Side       wire.Side
		Price      int64
		Quantity   int64
		Count      uint32
		InputSeq   int64 // the input that changed the level
	}
	Trade struct {
		Instrument uint32
		MDSeq      uint64
		TradeID    uint64
		Price      int64
		Quantity   int64
		Aggressor  wire.Side
		InputSeq   int64 // the aggressor's input; TradeID is InputSeq<<16 | the match's number within it
	}
	Level struct {
		Price    int64
		Quantity int64
		Count    uint32
	}
)

// Encoder builds frames with one reused FlatBuffers builder. The returned
// frame (4-byte length prefix + Envelope) is valid until the next call.
// Not safe for concurrent use.
type Encoder struct {
	b     *flatbuffers.Builder
	r     Report              // scratch for Report
	fixed [maxFixedFrame]byte // frames of the fixed layouts (fixed.go)
}

// NewEncoder returns an encoder.
func NewEncoder() *Encoder { return &Encoder{b: flatbuffers.NewBuilder(512)} }

func (e *Encoder) finish(seq uint64, t wire.Message, msg flatbuffers.UOffsetT) []byte {
	b := e.b
	wire.EnvelopeStart(b)
	wire.EnvelopeAddSeq(b, seq)
	wire.EnvelopeAddMessageType(b, t)
	wire.EnvelopeAddMessage(b, msg)
	b.FinishSizePrefixed(wire.EnvelopeEnd(b))
	return b.FinishedBytes()
}

// instrumentOnly encodes the one-field messages (MassCancel, Unsubscribe,
// Resume) and a Halt without cancel_orders: their instrument sits in slot
// 0, as Subscribe's does (InstrumentAt reads it).
func (e *Encoder) instrumentOnly(seq uint64, t wire.Message, instrument uint32) []byte {
	e.b.Reset()
	e.b.StartObject(1)
	e.b.PrependUint32Slot(0, instrument, 0)
	return e.finish(seq, t, e.b.EndObject())
}

// Empty encodes a message of type t that has no fields (Logout,
// Heartbeat, …). Given a type newer than this build, it is the frame a
// newer peer sends of a message this build does not know, which a
// reader skips (Verify's ErrUnknownType): tests send it so.
func (e *Encoder) Empty(seq uint64, t wire.Message) []byte {
	e.b.Reset()
	e.b.StartObject(0)
	return e.finish(seq, t, e.b.EndObject())
}

// Logon encodes a Logon.
func (e *Encoder) Logon(seq uint64, account uint32, secret string) []byte {
	return e.logon(seq, account, secret, false, 0)
}

// ResumeLogon encodes the Logon of a client carrying on after its earlier
// connection, session replaces (its LogonAck's session id), ended or was
// given up on: the gateway closes that session first, if it is still
// there (half-open: its reports would go on going to it).
func (e *Encoder) ResumeLogon(seq uint64, account uint32, secret string, dropCopy bool, replaces uint64) []byte {
	return e.logon(seq, account, secret, dropCopy, replaces)
}

// DropCopyLogon encodes the Logon of a drop-copy session: read-only, it
// receives a copy of every execution report of the account.
func (e *Encoder) DropCopyLogon(seq uint64, account uint32, secret string) []byte {
	return e.logon(seq, account, secret, true, 0)
}

func (e *Encoder) logon(seq uint64, account uint32, secret string, dropCopy bool, replaces uint64) []byte {
	e.b.Reset()
	s := e.b.CreateString(secret)
	wire.LogonStart(e.b)
	wire.LogonAddAccount(e.b, account)
	wire.LogonAddSecret(e.b, s)
	if dropCopy { // a plain Logon stays as it was: the field left out
		wire.LogonAddDropCopy(e.b, true)
	}
	if replaces != 0 {
		wire.LogonAddReplacesSession(e.b, replaces)
	}
	return e.finish(seq, wire.MessageLogon, wire.LogonEnd(e.b))
}

// Logout encodes a Logout.
func (e *Encoder) Logout(seq uint64) []byte { return e.Empty(seq, wire.MessageLogout) }

// Heartbeat encodes a Heartbeat.
func (e *Encoder) Heartbeat(seq uint64) []byte { return e.Empty(seq, wire.MessageHeartbeat) }

// SnapshotRequest encodes a SnapshotRequest (control only).
func (e *Encoder) SnapshotRequest(seq uint64) []byte {
	return e.Empty(seq, wire.MessageSnapshotRequest)
}

// SuspendAccount encodes a SuspendAccount (control only; the account is
// the input slot's).
func (e *Encoder) SuspendAccount(seq uint64) []byte { return e.Empty(seq, wire.MessageSuspendAccount) }

// ResumeAccount encodes a ResumeAccount (control only; the account is the
// input slot's).
func (e *Encoder) ResumeAccount(seq uint64) []byte { return e.Empty(seq, wire.MessageResumeAccount) }

// MassCancel encodes a MassCancel (instrument 0: all instruments).
func (e *Encoder) MassCancel(seq uint64, instrument uint32) []byte {
	return e.instrumentOnly(seq, wire.MessageMassCancel, instrument)
}

// Subscribe encodes a market-data Subscribe.
// It says the subscriber reads a snapshot in parts (Subscribe.parts), as
// every client of this package does.
func (e *Encoder) Subscribe(seq uint64, instrument uint32) []byte {
	b := e.b
	b.Reset()
	wire.SubscribeStart(b)
	wire.SubscribeAddInstrument(b, instrument)
	wire.SubscribeAddParts(b, true)
	return e.finish(seq, wire.MessageSubscribe, wire.SubscribeEnd(b))
}

// Unsubscribe encodes a market-data Unsubscribe.
func (e *Encoder) Unsubscribe(seq uint64, instrument uint32) []byte {
	return e.instrumentOnly(seq, wire.MessageUnsubscribe, instrument)
}

// Halt encodes a Halt (control only) that leaves the resting orders: the
// cancel_orders field left out, the frame is the one builds before the
// field wrote.
func (e *Encoder) Halt(seq uint64, instrument uint32) []byte {
	return e.instrumentOnly(seq, wire.MessageHalt, instrument)
}

// HaltAndCancelOrders encodes a Halt (control only) that also cancels
// every resting order of the instrument.
func (e *Encoder) HaltAndCancelOrders(seq uint64, instrument uint32) []byte {
	b := e.b
	b.Reset()
	wire.HaltStart(b)
	wire.HaltAddInstrument(b, instrument)
	wire.HaltAddCancelOrders(b, true)
	return e.finish(seq, wire.MessageHalt, wire.HaltEnd(b))
}

// Resume encodes a Resume (control only).
func (e *Encoder) Resume(seq uint64, instrument uint32) []byte {
	return e.instrumentOnly(seq, wire.MessageResume, instrument)
}

// builtNewOrder encodes a NewOrder with the builder (the template of
// NewOrder's fixed layout).
func (e *Encoder) builtNewOrder(seq uint64, o NewOrder) []byte {
	b := e.b
	b.Reset()
	wire.NewOrderStart(b)
	wire.NewOrderAddClientOrderId(b, o.ClientOrderID)
	wire.NewOrderAddPrice(b, o.Price)
	wire.NewOrderAddQuantity(b, o.Quantity)
	wire.NewOrderAddInstrument(b, o.Instrument)
	wire.NewOrderAddSide(b, o.Side)
	wire.NewOrderAddType(b, o.Type)
	wire.NewOrderAddTif(b, o.TIF)
	wire.NewOrderAddPostOnly(b, o.PostOnly)
	wire.NewOrderAddStp(b, o.STP)
	return e.finish(seq, wire.MessageNewOrder, wire.NewOrderEnd(b))
}

// Cancel encodes a Cancel.
func (e *Encoder) Cancel(seq uint64, c Cancel) []byte {
	b := e.b
	b.Reset()
	wire.CancelStart(b)
	wire.CancelAddOrderId(b, c.OrderID)
	wire.CancelAddOrigClientOrderId(b, c.OrigClientOrderID)
	wire.CancelAddInstrument(b, c.Instrument)
	return e.finish(seq, wire.MessageCancel, wire.CancelEnd(b))
}

// OrderStatus encodes an OrderStatus.
func (e *Encoder) OrderStatus(seq uint64, s OrderStatus) []byte {
	b := e.b
	b.Reset()
	wire.OrderStatusStart(b)
	wire.OrderStatusAddOrderId(b, s.OrderID)
	wire.OrderStatusAddOrigClientOrderId(b, s.OrigClientOrderID)
	wire.OrderStatusAddInstrument(b, s.Instrument)
	wire.OrderStatusAddAfterOrderId(b, s.AfterOrderID)
	return e.finish(seq, wire.MessageOrderStatus, wire.OrderStatusEnd(b))
}

// ResendReports encodes a ResendReports: every report of the account
// caused by an input after afterInputSeq and before this request, again.
// seq tags the answers and must not be 0.
func (e *Encoder) ResendReports(seq uint64, afterInputSeq int64) []byte {
	b := e.b
	b.Reset()
	wire.ResendReportsStart(b)
	wire.ResendReportsAddAfterInputSeq(b, afterInputSeq)
	return e.finish(seq, wire.MessageResendReports, wire.ResendReportsEnd(b))
}

// ResendDone encodes the end of a resend; seq is the request's.
func (e *Encoder) ResendDone(seq uint64, d ResendDone) []byte {
	b := e.b
	b.Reset()
	wire.ResendDoneStart(b)
	wire.ResendDoneAddAfterInputSeq(b, d.AfterInputSeq)
	wire.ResendDoneAddFirstInputSeq(b, d.FirstInputSeq)
	wire.ResendDoneAddThroughInputSeq(b, d.ThroughInputSeq)
	wire.ResendDoneAddCount(b, d.Count)
	wire.ResendDoneAddReason(b, uint8(d.Reason))
	return e.finish(seq, wire.MessageResendDone, wire.ResendDoneEnd(b))
}

// Replace encodes a Replace.
func (e *Encoder) Replace(seq uint64, r Replace) []byte {
	b := e.b
	b.Reset()
	wire.ReplaceStart(b)
	wire.ReplaceAddOrderId(b, r.OrderID)
	wire.ReplaceAddOrigClientOrderId(b, r.OrigClientOrderID)
	wire.ReplaceAddClientOrderId(b, r.ClientOrderID)
	wire.ReplaceAddPrice(b, r.Price)
	wire.ReplaceAddQuantity(b, r.Quantity)
	wire.ReplaceAddInstrument(b, r.Instrument)
	return e.finish(seq, wire.MessageReplace, wire.ReplaceEnd(b))
}

// LogonAck encodes a LogonAck; inputSeq is the last input sequence given
// out before the logon.
func (e *Encoder) LogonAck(seq, session uint64, heartbeatMs uint32, inputSeq int64) []byte {
	b := e.b
	b.Reset()
	wire.LogonAckStart(b)
	wire.LogonAckAddSessionId(b, session)
	wire.LogonAckAddHeartbeatMs(b, heartbeatMs)
	wire.LogonAckAddInputSeq(b, inputSeq)
	return e.finish(seq, wire.MessageLogonAck, wire.LogonAckEnd(b))
}

// LogonReject encodes a LogonReject.
func (e *Encoder) LogonReject(seq uint64, reason wire.LogonRejectReason) []byte {
	b := e.b
	b.Reset()
	wire.LogonRejectStart(b)
	wire.LogonRejectAddReason(b, reason)
	return e.finish(seq, wire.MessageLogonReject, wire.LogonRejectEnd(b))
}

// SubscribeReject encodes the market-data port's answer to a Subscribe it
// cannot serve.
func (e *Encoder) SubscribeReject(seq uint64, instrument uint32, reason wire.SubscribeRejectReason) []byte {
	b := e.b
	b.Reset()
	wire.SubscribeRejectStart(b)
	wire.SubscribeRejectAddInstrument(b, instrument)
	wire.SubscribeRejectAddReason(b, reason)
	return e.finish(seq, wire.MessageSubscribeReject, wire.SubscribeRejectEnd(b))
}

// Redirect encodes a Redirect to another node's gateway address.
func (e *Encoder) Redirect(seq uint64, address string) []byte {
	e.b.Reset()
	s := e.b.CreateString(address)
	wire.RedirectStart(e.b)
	wire.RedirectAddAddress(e.b, s)
	return e.finish(seq, wire.MessageRedirect, wire.RedirectEnd(e.b))
}

// builtExecutionReport encodes an ExecutionReport with the builder (the
// template of ExecutionReport's fixed layout).
func (e *Encoder) builtExecutionReport(seq uint64, r *Report) []byte {
	b := e.b
	b.Reset()
	wire.ExecutionReportStart(b)
	wire.ExecutionReportAddOrderId(b, r.OrderID)
	wire.ExecutionReportAddClientOrderId(b, r.ClientOrderID)
	wire.ExecutionReportAddTradeId(b, r.TradeID)
	wire.ExecutionReportAddPrice(b, r.Price)
	wire.ExecutionReportAddQuantity(b, r.Quantity)
	wire.ExecutionReportAddLeaves(b, r.Leaves)
	wire.ExecutionReportAddInputSeq(b, r.InputSeq)
	wire.ExecutionReportAddTimestamp(b, r.Timestamp)
	wire.ExecutionReportAddInstrument(b, r.Instrument)
	wire.ExecutionReportAddAccount(b, r.Account)
	wire.ExecutionReportAddKind(b, r.Kind)
	wire.ExecutionReportAddReason(b, r.Reason)
	wire.ExecutionReportAddSide(b, r.Side)
	return e.finish(seq, wire.MessageExecutionReport, wire.ExecutionReportEnd(b))
}

// builtLevelUpdate encodes a LevelUpdate with the builder (the template of
// LevelUpdate's fixed layout).
func (e *Encoder) builtLevelUpdate(seq uint64, u LevelUpdate) []byte {
	b := e.b
	b.Reset()
	wire.LevelUpdateStart(b)
	wire.LevelUpdateAddMdSeq(b, u.MDSeq)
	wire.LevelUpdateAddPrice(b, u.Price)
	wire.LevelUpdateAddQuantity(b, u.Quantity)
	wire.LevelUpdateAddInstrument(b, u.Instrument)
	wire.LevelUpdateAddCount(b, u.Count)
	wire.LevelUpdateAddInputSeq(b, u.InputSeq)
	wire.LevelUpdateAddSide(b, u.Side)
	return e.finish(seq, wire.MessageLevelUpdate, wire.LevelUpdateEnd(b))
}

// builtTrade encodes a Trade with the builder (the template of Trade's
// fixed layout).
func (e *Encoder) builtTrade(seq uint64, t Trade) []byte {
	b := e.b
	b.Reset()
	wire.TradeStart(b)
	wire.TradeAddMdSeq(b, t.MDSeq)
	wire.TradeAddTradeId(b, t.TradeID)
	wire.TradeAddPrice(b, t.Price)
	wire.TradeAddQuantity(b, t.Quantity)
	wire.TradeAddInstrument(b, t.Instrument)
	wire.TradeAddAggressor(b, t.Aggressor)
	wire.TradeAddInputSeq(b, t.InputSeq)
	return e.finish(seq, wire.MessageTrade, wire.TradeEnd(b))
}

// BookSnapshot encodes a full aggregated book, levels best first.
func (e *Encoder) BookSnapshot(seq uint64, s BookSnapshot) []byte {
	b := e.b
	b.Reset()
	vec := func(levels []Level) flatbuffers.UOffsetT {
		wire.BookSnapshotStartBidsVector(b, len(levels))
		for i := len(levels) - 1; i >= 0; i-- {
			wire.CreateLevel(b, levels[i].Price, levels[i].Quantity, levels[i].Count)
		}
		return b.EndVector(len(levels))
	}
	bv, av := vec(s.Bids), vec(s.Asks)
	wire.BookSnapshotStart(b)
	wire.BookSnapshotAddMdSeq(b, s.MDSeq)
	wire.BookSnapshotAddInstrument(b, s.Instrument)
	wire.BookSnapshotAddBids(b, bv)
	wire.BookSnapshotAddAsks(b, av)
	wire.BookSnapshotAddHalted(b, s.Halted)
	wire.BookSnapshotAddLastPrice(b, s.LastPrice)
	wire.BookSnapshotAddMore(b, s.More)
	wire.BookSnapshotAddInputSeq(b, s.InputSeq)
	return e.finish(seq, wire.MessageBookSnapshot, wire.BookSnapshotEnd(b))
}

// TradingStatus encodes a TradingStatus.
func (e *Encoder) TradingStatus(seq uint64, s TradingStatus) []byte {
	b := e.b
	b.Reset()
	wire.TradingStatusStart(b)
	wire.TradingStatusAddMdSeq(b, s.MDSeq)
	wire.TradingStatusAddInstrument(b, s.Instrument)
	wire.TradingStatusAddHalted(b, s.Halted)
	wire.TradingStatusAddInputSeq(b, s.InputSeq)
	return e.finish(seq, wire.MessageTradingStatus, wire.TradingStatusEnd(b))
}
