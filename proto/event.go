package proto

import (
	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/proto/wire"
)

// Engine events to wire messages, for the output stage.
//
// wire.Side has engine.Side's numeric values (tested), so that mapping is
// a conversion. wire.ExecKind has engine.EventType's for the five
// order-changing events (Accepted 1, Rejected 2, Fill/EvTrade 3,
// Cancelled 4, Replaced 5) but not for the status answers, so it is a
// table.

var reportKinds = [...]wire.ExecKind{
	engine.EvAccepted: wire.ExecKindAccepted, engine.EvRejected: wire.ExecKindRejected,
	engine.EvTrade: wire.ExecKindFill, engine.EvCancelled: wire.ExecKindCancelled,
	engine.EvReplaced: wire.ExecKindReplaced, engine.EvOrderStatus: wire.ExecKindStatus,
	engine.EvStatusDone: wire.ExecKindStatusDone, engine.EvMassCancelDone: wire.ExecKindMassCancelDone,
}

// ReportKind is the ExecutionReport kind of an event type, or
// wire.ExecKindNone when events of the type are not execution reports.
func ReportKind(t engine.EventType) wire.ExecKind {
	if int(t) < len(reportKinds) {
		return reportKinds[t]
	}
	return wire.ExecKindNone
}

// IsReport reports whether events of type t become ExecutionReports.
func IsReport(t engine.EventType) bool { return ReportKind(t) != wire.ExecKindNone }

// ReportOf fills r with ev's ExecutionReport for the owner of the
// command's order — on EvTrade, the incoming (taker) order. It returns
// false, leaving r alone, when ev is not an execution report.
func ReportOf(ev *engine.Event, r *Report) bool {
	kind := ReportKind(ev.Type)
	if kind == wire.ExecKindNone {
		return false
	}
	// Cleared, then set field by field: a composite literal assigned
	// through r is built on the stack and copied over (ev might alias r,
	// for all the compiler knows), and the copy's 16-byte loads of the
	// 8-byte stores just made stall store forwarding — 5% of a node's CPU
	// under `ringex bench --rate 0`.
	*r = Report{}
	r.Kind, r.Reason, r.Side = kind, ev.Reason, wire.Side(ev.Side)
	r.Instrument, r.Account = ev.Instrument, ev.Account
	r.OrderID, r.ClientOrderID, r.TradeID = ev.OrderID, ev.ClientOrderID, ev.TradeID
	r.Price, r.Quantity, r.Leaves = ev.Price, ev.Quantity, ev.Leaves
	r.InputSeq, r.Timestamp = ev.Seq, ev.Timestamp
	return true
}

// MakerReportOf fills r with an EvTrade's Fill report for the resting
// (maker) order: its account, ids and leaves, and the side opposite the
// taker's. It returns false when ev is not an EvTrade.
func MakerReportOf(ev *engine.Event, r *Report) bool {
	if ev.Type != engine.EvTrade {
		return false
	}
	ReportOf(ev, r)
	TakerToMaker(ev, r)
	return true
}

// TakerToMaker turns r, an EvTrade's taker report from ReportOf, into the
// maker's: its account, ids and leaves, and the opposite side. The
// sender delivers both without building the shared fields twice.
func TakerToMaker(ev *engine.Event, r *Report) {
	r.Account, r.OrderID, r.ClientOrderID, r.Leaves = ev.MakerAccount, ev.MakerOrderID, ev.MakerClientOrderID, ev.MakerLeaves
	r.Side = wire.SideBuy
	if ev.Side == engine.Buy {
		r.Side = wire.SideSell
	}
}

// Report encodes ev's ExecutionReport frame (the maker's when maker is
// true), or returns nil when there is none. Allocation-free.
func (e *Encoder) Report(ev *engine.Event, maker bool) []byte {
	ok := false
	if maker {
		ok = MakerReportOf(ev, &e.r)
	} else {
		ok = ReportOf(ev, &e.r)
	}
	if !ok {
		return nil
	}
	return e.ExecutionReport(0, &e.r)
}
