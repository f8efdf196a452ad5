package unmarshal

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/input"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

var updateCorpus = flag.Bool("update-corpus", false, "rewrite the committed fuzz seed corpus")

// seedFrames returns one payload (no size prefix) of every message type,
// every field set.
func seedFrames() map[string][]byte {
	e := proto.NewEncoder()
	out := map[string][]byte{}
	add := func(name string, f []byte) { out[name] = append([]byte(nil), f[proto.PrefixSize:]...) }
	add("Logon", e.Logon(1, 7, "s3cret"))
	add("Logout", e.Logout(2))
	add("Heartbeat", e.Heartbeat(3))
	add("NewOrder", e.NewOrder(4, proto.NewOrder{ClientOrderID: 1 << 60, Instrument: 2, Side: wire.SideSell,
		Type: wire.OrderTypeLimit, TIF: wire.TimeInForceIOC, PostOnly: true, STP: wire.SelfTradeCancelBoth, Price: 105, Quantity: 1 << 50}))
	add("Cancel", e.Cancel(5, proto.Cancel{OrderID: 11, OrigClientOrderID: 12, Instrument: 13}))
	add("Replace", e.Replace(6, proto.Replace{OrderID: 21, OrigClientOrderID: 22, ClientOrderID: 23, Price: 24, Quantity: 25, Instrument: 26}))
	add("MassCancel", e.MassCancel(7, 3))
	add("SuspendAccount", e.SuspendAccount(7))
	add("ResumeAccount", e.ResumeAccount(7))
	add("OrderStatus", e.OrderStatus(7, proto.OrderStatus{OrderID: 11, OrigClientOrderID: 12, Instrument: 13}))
	add("ResendReports", e.ResendReports(7, 1<<40))
	add("ResendDone", e.ResendDone(7, proto.ResendDone{AfterInputSeq: 1, FirstInputSeq: 2, ThroughInputSeq: 3, Count: 4}))
	add("Subscribe", e.Subscribe(8, 4))
	add("Unsubscribe", e.Unsubscribe(9, 5))
	add("Halt", e.Halt(10, 6))
	add("HaltAndCancelOrders", e.HaltAndCancelOrders(10, 6))
	add("Resume", e.Resume(11, 7))
	add("SnapshotRequest", e.SnapshotRequest(12))
	add("LogonAck", e.LogonAck(13, 99, 1000, 0))
	add("LogonReject", e.LogonReject(14, wire.LogonRejectReasonBadSecret))
	add("ExecutionReport", e.ExecutionReport(15, &proto.Report{Kind: wire.ExecKindFill, Reason: 4, Side: wire.SideBuy,
		Instrument: 3, Account: 8, OrderID: 31, ClientOrderID: 32, TradeID: 33, Price: 34, Quantity: 35, Leaves: 36}))
	add("Redirect", e.Redirect(16, "127.0.0.1:7400"))
	add("BookSnapshot", e.BookSnapshot(17, proto.BookSnapshot{Instrument: 2, MDSeq: 55,
		Bids: []proto.Level{{Price: 100, Quantity: 5, Count: 1}}, Asks: []proto.Level{{Price: 101, Quantity: 3, Count: 1}}}))
	add("TradingStatus", e.TradingStatus(20, proto.TradingStatus{Instrument: 2, MDSeq: 58, Halted: true}))
	add("LevelUpdate", e.LevelUpdate(18, proto.LevelUpdate{Instrument: 2, MDSeq: 56, Side: wire.SideSell, Price: 101, Quantity: 9, Count: 2}))
	add("Trade", e.Trade(19, proto.Trade{Instrument: 2, MDSeq: 57, TradeID: 1 << 40, Price: 100, Quantity: 3, Aggressor: wire.SideBuy}))
	add("SubscribeReject", e.SubscribeReject(20, 8, wire.SubscribeRejectReasonUnknownInstrument))
	return out
}

// FuzzDecode: any bytes in a slot, from a client or the node, give exactly
// one command and never a panic (there is no recover in Decode); a frame
// that does not verify is a malformed-frame reject; the header fields come
// from the slot; control messages only from control slots.
func FuzzDecode(f *testing.F) {
	for _, p := range seedFrames() {
		f.Add(p, false)
		f.Add(p, true)
	}
	f.Fuzz(func(t *testing.T, payload []byte, control bool) {
		s := &input.Slot{RecvTime: 11, Session: 12, Account: 13, Kind: input.KindClient}
		if control {
			s.Kind = input.KindControl
		}
		if !s.SetPayload(payload) {
			return
		}
		s.Cmd = engine.Command{Type: engine.CmdHalt, Price: 99, Reason: 3} // the slot's last lap
		Decode(14, s)
		c := s.Cmd
		if c.Seq != 14 || c.Timestamp != 11 || c.Session != 12 || c.Account != 13 {
			t.Fatalf("header fields not from the slot: %+v", c)
		}
		if (c.Type == engine.CmdInvalid) != (c.Reason != engine.ReasonNone) {
			t.Fatalf("type %d with reason %d", c.Type, c.Reason)
		}
		var m proto.Msg
		if proto.VerifyMsg(payload, &m) != nil && (c.Type != engine.CmdInvalid || c.Reason != engine.ReasonMalformedFrame) {
			t.Fatalf("unverifiable frame decoded as %+v", c)
		}
		switch c.Type {
		case engine.CmdHalt, engine.CmdResume, engine.CmdSnapshot, engine.CmdSuspendAccount, engine.CmdResumeAccount:
			if !control {
				t.Fatalf("control command %d from a client slot", c.Type)
			}
		case engine.CmdNewOrder:
			if c.Side < engine.Buy || c.Side > engine.Sell || c.OrderType < engine.Limit || c.OrderType > engine.Market ||
				c.TIF < engine.GTC || c.TIF > engine.FOK || c.STP > engine.STPAllow {
				t.Fatalf("new order with an impossible enum passed: %+v", c)
			}
		case engine.CmdInvalid, engine.CmdResend, engine.CmdCancel, engine.CmdReplace, engine.CmdMassCancel, engine.CmdOrderStatus, engine.CmdNoop:
		default:
			t.Fatalf("command type %d", c.Type)
		}
		first := c
		Decode(14, s)
		if s.Cmd != first {
			t.Fatalf("decode is not deterministic: %+v then %+v", first, s.Cmd)
		}
	})
}

// TestWriteSeedCorpus keeps testdata/fuzz/FuzzDecode in step with the
// encoders: go test ./unmarshal -run TestWriteSeedCorpus -update-corpus
func TestWriteSeedCorpus(t *testing.T) {
	if !*updateCorpus {
		t.Skip("run with -update-corpus to rewrite testdata/fuzz")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzDecode")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, p := range seedFrames() {
		for _, control := range []bool{false, true} {
			file := name + "-client"
			if control {
				file = name + "-control"
			}
			body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\nbool(%v)\n", p, control)
			if err := os.WriteFile(filepath.Join(dir, file), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
