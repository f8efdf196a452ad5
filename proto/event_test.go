package proto

import (
	"testing"

	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/proto/wire"
)

func TestReportOf(t *testing.T) {
	base := engine.Event{Seq: 70, Timestamp: 71, Session: 72, OrderID: 73, ClientOrderID: 74, Price: 75, Quantity: 76,
		Leaves: 77, Account: 78, Instrument: 79, Side: engine.Sell}
	tests := []struct {
		typ  engine.EventType
		kind wire.ExecKind
	}{
		{engine.EvAccepted, wire.ExecKindAccepted},
		{engine.EvRejected, wire.ExecKindRejected},
		{engine.EvTrade, wire.ExecKindFill},
		{engine.EvCancelled, wire.ExecKindCancelled},
		{engine.EvReplaced, wire.ExecKindReplaced},
		{engine.EvOrderStatus, wire.ExecKindStatus},
		{engine.EvStatusDone, wire.ExecKindStatusDone},
	}
	e := NewEncoder()
	for _, tt := range tests {
		ev := base
		ev.Type, ev.Reason, ev.TradeID = tt.typ, 5, 80
		want := Report{Kind: tt.kind, Reason: 5, Side: wire.SideSell, Instrument: 79, Account: 78, OrderID: 73,
			ClientOrderID: 74, TradeID: 80, Price: 75, Quantity: 76, Leaves: 77, InputSeq: 70, Timestamp: 71}
		var r Report
		if !ReportOf(&ev, &r) || r != want {
			t.Fatalf("%v: got %+v\nwant %+v", tt.typ, r, want)
		}
		payload := e.Report(&ev, false)[PrefixSize:]
		typ, pos, err := Verify(payload)
		if err != nil || typ != wire.MessageExecutionReport || ReportAt(payload, pos) != want {
			t.Fatalf("%v: encoded report does not read back: %v %v", tt.typ, typ, err)
		}
	}
	for _, typ := range []engine.EventType{engine.EvNone, engine.EvBookLevel, engine.EvHalted, engine.EvResumed,
		engine.EvSnapshot, engine.EvBookClear, 200} {
		ev := base
		ev.Type = typ
		var r Report
		if ReportOf(&ev, &r) || r != (Report{}) || e.Report(&ev, false) != nil || e.Report(&ev, true) != nil {
			t.Fatalf("%v made an execution report", typ)
		}
	}
}

func TestMakerReportOf(t *testing.T) {
	ev := engine.Event{Type: engine.EvTrade, Seq: 5, Timestamp: 6, OrderID: 1, ClientOrderID: 2, Account: 3, Leaves: 4,
		MakerOrderID: 11, MakerClientOrderID: 12, MakerAccount: 13, MakerLeaves: 14, TradeID: 20, Price: 100,
		Quantity: 7, Instrument: 9, Side: engine.Buy}
	var r Report
	if !MakerReportOf(&ev, &r) {
		t.Fatal("no maker report for a trade")
	}
	want := Report{Kind: wire.ExecKindFill, Side: wire.SideSell, Instrument: 9, Account: 13, OrderID: 11,
		ClientOrderID: 12, TradeID: 20, Price: 100, Quantity: 7, Leaves: 14, InputSeq: 5, Timestamp: 6}
	if r != want {
		t.Fatalf("got %+v\nwant %+v", r, want)
	}
	ev.Side = engine.Sell
	MakerReportOf(&ev, &r)
	if r.Side != wire.SideBuy {
		t.Fatal("maker of a sell taker is not a buyer")
	}
	ev.Type = engine.EvAccepted
	if MakerReportOf(&ev, &r) {
		t.Fatal("maker report for a non-trade")
	}
}
