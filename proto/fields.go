package proto

import (
	"encoding/binary"

	"github.com/ringex/ringex/proto/wire"
)

// Field readers over a verified Msg: absent fields read as zero, the
// FlatBuffers default for every field in ringex.fbs.

func (m *Msg) u8(buf []byte, i int) uint8 {
	if p := m.at[i]; p != 0 {
		return buf[p]
	}
	return 0
}

func (m *Msg) u32(buf []byte, i int) uint32 {
	if p := m.at[i]; p != 0 {
		return binary.LittleEndian.Uint32(buf[p:])
	}
	return 0
}

func (m *Msg) u64(buf []byte, i int) uint64 {
	if p := m.at[i]; p != 0 {
		return binary.LittleEndian.Uint64(buf[p:])
	}
	return 0
}

// NewOrder reads a verified NewOrder (field ids as in ringex.fbs).
func (m *Msg) NewOrder(buf []byte) NewOrder {
	var o NewOrder
	m.ReadNewOrder(buf, &o)
	return o
}

// ReadNewOrder reads a verified NewOrder into o, field by field: the
// decoder's per-frame path. Returned whole, the struct (too large for the
// compiler to keep in registers) was stored by bytes and copied by 16-byte
// loads before use, which stalls store forwarding: 18% of
// BenchmarkDecodeNewOrder.
func (m *Msg) ReadNewOrder(buf []byte, o *NewOrder) {
	o.ClientOrderID, o.Instrument = m.u64(buf, 0), m.u32(buf, 1)
	o.Side, o.Type, o.TIF = wire.Side(m.u8(buf, 2)), wire.OrderType(m.u8(buf, 3)), wire.TimeInForce(m.u8(buf, 4))
	o.PostOnly, o.STP = m.u8(buf, 5) != 0, wire.SelfTrade(m.u8(buf, 6))
	o.Price, o.Quantity = int64(m.u64(buf, 7)), int64(m.u64(buf, 8))
}

// Cancel reads a verified Cancel.
func (m *Msg) Cancel(buf []byte) Cancel {
	return Cancel{OrderID: m.u64(buf, 0), OrigClientOrderID: m.u64(buf, 1), Instrument: m.u32(buf, 2)}
}

// OrderStatus reads a verified OrderStatus.
func (m *Msg) OrderStatus(buf []byte) OrderStatus {
	return OrderStatus{OrderID: m.u64(buf, 0), OrigClientOrderID: m.u64(buf, 1), Instrument: m.u32(buf, 2),
		AfterOrderID: m.u64(buf, 3)}
}

// ResendReports reads a verified ResendReports: its after_input_seq.
func (m *Msg) ResendReports(buf []byte) int64 { return int64(m.u64(buf, 0)) }

// ResendDone reads a verified ResendDone.
func (m *Msg) ResendDone(buf []byte) ResendDone {
	return ResendDone{AfterInputSeq: int64(m.u64(buf, 0)), FirstInputSeq: int64(m.u64(buf, 1)),
		ThroughInputSeq: int64(m.u64(buf, 2)), Count: m.u64(buf, 3), Reason: ResendResult(m.u8(buf, 4))}
}

// Replace reads a verified Replace.
func (m *Msg) Replace(buf []byte) Replace {
	var o Replace
	m.ReadReplace(buf, &o)
	return o
}

// ReadReplace reads a verified Replace into o, field by field, for the
// reason ReadNewOrder gives.
func (m *Msg) ReadReplace(buf []byte, o *Replace) {
	o.OrderID, o.OrigClientOrderID, o.ClientOrderID = m.u64(buf, 0), m.u64(buf, 1), m.u64(buf, 2)
	o.Price, o.Quantity, o.Instrument = int64(m.u64(buf, 3)), int64(m.u64(buf, 4)), m.u32(buf, 5)
}

// Instrument reads the slot-0 instrument of the one-field messages (and
// of Halt).
func (m *Msg) Instrument(buf []byte) uint32 { return m.u32(buf, 0) }

// Halt reads a verified Halt: its instrument, and whether it cancels the
// instrument's resting orders (false when the field is absent, as in
// every Halt of a build before it).
func (m *Msg) Halt(buf []byte) (instrument uint32, cancelOrders bool) {
	return m.u32(buf, 0), m.u8(buf, 1) != 0
}

// Report reads a verified ExecutionReport.
func (m *Msg) Report(buf []byte) Report {
	var r Report
	m.ReadReport(buf, &r)
	return r
}

// ReadReport reads a verified ExecutionReport into r, field by field, for
// the reason ReadNewOrder gives: the client's per-report path.
func (m *Msg) ReadReport(buf []byte, r *Report) {
	r.Kind, r.Reason, r.Side = wire.ExecKind(m.u8(buf, 0)), m.u8(buf, 1), wire.Side(m.u8(buf, 2))
	r.Instrument, r.Account = m.u32(buf, 3), m.u32(buf, 4)
	r.OrderID, r.ClientOrderID, r.TradeID = m.u64(buf, 5), m.u64(buf, 6), m.u64(buf, 7)
	r.Price, r.Quantity, r.Leaves = int64(m.u64(buf, 8)), int64(m.u64(buf, 9)), int64(m.u64(buf, 10))
	r.InputSeq, r.Timestamp = int64(m.u64(buf, 11)), int64(m.u64(buf, 12))
}

// LevelUpdate reads a verified LevelUpdate.
func (m *Msg) LevelUpdate(buf []byte) LevelUpdate {
	return LevelUpdate{Instrument: m.u32(buf, 0), MDSeq: m.u64(buf, 1), Side: wire.Side(m.u8(buf, 2)),
		Price: int64(m.u64(buf, 3)), Quantity: int64(m.u64(buf, 4)), Count: m.u32(buf, 5), InputSeq: int64(m.u64(buf, 6))}
}

// Trade reads a verified market-data Trade.
func (m *Msg) Trade(buf []byte) Trade {
	return Trade{Instrument: m.u32(buf, 0), MDSeq: m.u64(buf, 1), TradeID: m.u64(buf, 2), Price: int64(m.u64(buf, 3)),
		Quantity: int64(m.u64(buf, 4)), Aggressor: wire.Side(m.u8(buf, 5)), InputSeq: int64(m.u64(buf, 6))}
}
