package proto

import (
	"encoding/binary"

	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/ringex/ringex/proto/wire"
)

// The readers below take a payload and the message position Verify
// returned; calling them on unverified bytes is a bug. They allocate
// nothing except where they return strings or slices.

// Seq returns the envelope's client sequence number of a verified payload.
func Seq(buf []byte) uint64 {
	var env wire.Envelope
	env.Init(buf, flatbuffers.UOffsetT(binary.LittleEndian.Uint32(buf)))
	return env.Seq()
}

// LogonAt reads a Logon.
func LogonAt(buf []byte, pos uint32) (account uint32, secret string) {
	var m wire.Logon
	m.Init(buf, flatbuffers.UOffsetT(pos))
	return m.Account(), string(m.Secret())
}

// LogonReplacesAt reads a Logon's replaces_session (0: none).
func LogonReplacesAt(buf []byte, pos uint32) uint64 {
	var m wire.Logon
	m.Init(buf, flatbuffers.UOffsetT(pos))
	return m.ReplacesSession()
}

// LogonDropCopyAt reads a Logon's drop_copy flag.
func LogonDropCopyAt(buf []byte, pos uint32) bool {
	var m wire.Logon
	m.Init(buf, flatbuffers.UOffsetT(pos))
	return m.DropCopy()
}

// NewOrderAt reads a NewOrder.
func NewOrderAt(buf []byte, pos uint32) NewOrder {
	var m wire.NewOrder
	m.Init(buf, flatbuffers.UOffsetT(pos))
	return NewOrder{
		ClientOrderID: m.ClientOrderId(), Instrument: m.Instrument(), Side: m.Side(), Type: m.Type(),
		TIF: m.Tif(), PostOnly: m.PostOnly(), STP: m.Stp(), Price: m.Price(), Quantity: m.Quantity(),
	}
}

// CancelAt reads a Cancel.
func CancelAt(buf []byte, pos uint32) Cancel {
	var m wire.Cancel
	m.Init(buf, flatbuffers.UOffsetT(pos))
	return Cancel{OrderID: m.OrderId(), OrigClientOrderID: m.OrigClientOrderId(), Instrument: m.Instrument()}
}

// OrderStatusAt reads an OrderStatus.
func OrderStatusAt(buf []byte, pos uint32) OrderStatus {
	var m wire.OrderStatus
	m.Init(buf, flatbuffers.UOffsetT(pos))
	return OrderStatus{OrderID: m.OrderId(), OrigClientOrderID: m.OrigClientOrderId(), Instrument: m.Instrument(),
		AfterOrderID: m.AfterOrderId()}
}

// ResendReportsAt reads a ResendReports: its after_input_seq.
func ResendReportsAt(buf []byte, pos uint32) int64 {
	var m wire.ResendReports
	m.Init(buf, flatbuffers.UOffsetT(pos))
	return m.AfterInputSeq()
}

// ResendDoneAt reads a ResendDone.
func ResendDoneAt(buf []byte, pos uint32) ResendDone {
	var m wire.ResendDone
	m.Init(buf, flatbuffers.UOffsetT(pos))
	return ResendDone{AfterInputSeq: m.AfterInputSeq(), FirstInputSeq: m.FirstInputSeq(), ThroughInputSeq: m.ThroughInputSeq(),
		Count: m.Count(), Reason: ResendResult(m.Reason())}
}

// ReplaceAt reads a Replace.
func ReplaceAt(buf []byte, pos uint32) Replace {
	var m wire.Replace
	m.Init(buf, flatbuffers.UOffsetT(pos))
	return Replace{OrderID: m.OrderId(), OrigClientOrderID: m.OrigClientOrderId(), ClientOrderID: m.ClientOrderId(),
		Price: m.Price(), Quantity: m.Quantity(), Instrument: m.Instrument()}
}

// InstrumentAt reads the instrument field of MassCancel, Subscribe,
// Unsubscribe, Halt and Resume (all have it in slot 0).
func InstrumentAt(buf []byte, pos uint32) uint32 {
	var m wire.MassCancel
	m.Init(buf, flatbuffers.UOffsetT(pos))
	return m.Instrument()
}

// HaltAt reads a Halt: its instrument, and whether it cancels the
// instrument's resting orders.
func HaltAt(buf []byte, pos uint32) (instrument uint32, cancelOrders bool) {
	var m wire.Halt
	m.Init(buf, flatbuffers.UOffsetT(pos))
	return m.Instrument(), m.CancelOrders()
}

// SubscribeAt reads a Subscribe: its instrument, and whether the
// subscriber reads a snapshot in parts.
func SubscribeAt(buf []byte, pos uint32) (instrument uint32, parts bool) {
	var m wire.Subscribe
	m.Init(buf, flatbuffers.UOffsetT(pos))
	return m.Instrument(), m.Parts()
}

// LogonAckAt reads a LogonAck.
func LogonAckAt(buf []byte, pos uint32) (session uint64, heartbeatMs uint32, inputSeq int64) {
	var m wire.LogonAck
	m.Init(buf, flatbuffers.UOffsetT(pos))
	return m.SessionId(), m.HeartbeatMs(), m.InputSeq()
}

// LogonRejectAt reads a LogonReject.
func LogonRejectAt(buf []byte, pos uint32) wire.LogonRejectReason {
	var m wire.LogonReject
	m.Init(buf, flatbuffers.UOffsetT(pos))
	return m.Reason()
}

// SubscribeRejectAt reads a SubscribeReject.
func SubscribeRejectAt(buf []byte, pos uint32) (instrument uint32, reason wire.SubscribeRejectReason) {
	var m wire.SubscribeReject
	m.Init(buf, flatbuffers.UOffsetT(pos))
	return m.Instrument(), m.Reason()
}

// RedirectAt reads a Redirect.
func RedirectAt(buf []byte, pos uint32) string {
	var m wire.Redirect
	m.Init(buf, flatbuffers.UOffsetT(pos))
	return string(m.Address())
}

// ReportAt reads an ExecutionReport.
func ReportAt(buf []byte, pos uint32) Report {
	var m wire.ExecutionReport
	m.Init(buf, flatbuffers.UOffsetT(pos))
	return Report{
		Kind: m.Kind(), Reason: m.Reason(), Side: m.Side(), Instrument: m.Instrument(), Account: m.Account(),
		OrderID: m.OrderId(), ClientOrderID: m.ClientOrderId(), TradeID: m.TradeId(), Price: m.Price(),
		Quantity: m.Quantity(), Leaves: m.Leaves(), InputSeq: m.InputSeq(), Timestamp: m.Timestamp(),
	}
}

// LevelUpdateAt reads a LevelUpdate.
func LevelUpdateAt(buf []byte, pos uint32) LevelUpdate {
	var m wire.LevelUpdate
	m.Init(buf, flatbuffers.UOffsetT(pos))
	return LevelUpdate{Instrument: m.Instrument(), MDSeq: m.MdSeq(), Side: m.Side(), Price: m.Price(),
		Quantity: m.Quantity(), Count: m.Count(), InputSeq: m.InputSeq()}
}

// TradeAt reads a market-data Trade.
func TradeAt(buf []byte, pos uint32) Trade {
	var m wire.Trade
	m.Init(buf, flatbuffers.UOffsetT(pos))
	return Trade{Instrument: m.Instrument(), MDSeq: m.MdSeq(), TradeID: m.TradeId(), Price: m.Price(),
		Quantity: m.Quantity(), Aggressor: m.Aggressor(), InputSeq: m.InputSeq()}
}

// BookSnapshotAt reads a BookSnapshot, levels best first.
func BookSnapshotAt(buf []byte, pos uint32) BookSnapshot {
	var m wire.BookSnapshot
	m.Init(buf, flatbuffers.UOffsetT(pos))
	s := BookSnapshot{Instrument: m.Instrument(), MDSeq: m.MdSeq(), Halted: m.Halted(), LastPrice: m.LastPrice(), More: m.More(),
		InputSeq: m.InputSeq()}
	var l wire.Level
	for i := 0; i < m.BidsLength(); i++ {
		m.Bids(&l, i)
		s.Bids = append(s.Bids, Level{Price: l.Price(), Quantity: l.Quantity(), Count: l.Count()})
	}
	for i := 0; i < m.AsksLength(); i++ {
		m.Asks(&l, i)
		s.Asks = append(s.Asks, Level{Price: l.Price(), Quantity: l.Quantity(), Count: l.Count()})
	}
	return s
}

// TradingStatusAt reads a TradingStatus.
func TradingStatusAt(buf []byte, pos uint32) TradingStatus {
	var m wire.TradingStatus
	m.Init(buf, flatbuffers.UOffsetT(pos))
	return TradingStatus{Instrument: m.Instrument(), MDSeq: m.MdSeq(), Halted: m.Halted(), InputSeq: m.InputSeq()}
}
