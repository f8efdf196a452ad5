package unmarshal

import (
	"testing"

	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/input"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

func slotWith(kind input.Kind, frame []byte) *input.Slot {
	s := &input.Slot{RecvTime: 123, Session: 9, Account: 5, Kind: kind}
	if !s.SetPayload(frame[proto.PrefixSize:]) {
		panic("frame does not fit a slot")
	}
	return s
}

func TestDecodeEveryMessage(t *testing.T) {
	base := engine.Command{Seq: 77, Timestamp: 123, Session: 9, Account: 5}
	with := func(f func(c *engine.Command)) engine.Command { c := base; f(&c); return c }
	tests := []struct {
		name  string
		kind  input.Kind
		frame []byte
		want  engine.Command
	}{
		{"new order", input.KindClient, proto.NewEncoder().NewOrder(1, proto.NewOrder{ClientOrderID: 41, Instrument: 2, Side: wire.SideSell,
			Type: wire.OrderTypeLimit, TIF: wire.TimeInForceFOK, PostOnly: true, STP: wire.SelfTradeCancelResting, Price: 1005, Quantity: 30}),
			with(func(c *engine.Command) {
				c.Type, c.ClientOrderID, c.Instrument, c.Side, c.OrderType, c.TIF = engine.CmdNewOrder, 41, 2, engine.Sell, engine.Limit, engine.FOK
				c.PostOnly, c.STP, c.Price, c.Quantity = true, engine.STPCancelResting, 1005, 30
			})},
		{"cancel", input.KindClient, proto.NewEncoder().Cancel(1, proto.Cancel{OrderID: 8, OrigClientOrderID: 9, Instrument: 2}),
			with(func(c *engine.Command) {
				c.Type, c.OrderID, c.OrigClientOrderID, c.Instrument = engine.CmdCancel, 8, 9, 2
			})},
		{"replace", input.KindClient, proto.NewEncoder().Replace(1, proto.Replace{OrderID: 8, OrigClientOrderID: 9, ClientOrderID: 10, Price: 11, Quantity: 12, Instrument: 2}),
			with(func(c *engine.Command) {
				c.Type, c.OrderID, c.OrigClientOrderID, c.ClientOrderID, c.Price, c.Quantity, c.Instrument = engine.CmdReplace, 8, 9, 10, 11, 12, 2
			})},
		{"mass cancel", input.KindClient, proto.NewEncoder().MassCancel(1, 3), with(func(c *engine.Command) { c.Type, c.Instrument = engine.CmdMassCancel, 3 })},
		{"mass cancel from node", input.KindControl, proto.NewEncoder().MassCancel(1, 0), with(func(c *engine.Command) { c.Type = engine.CmdMassCancel })},
		{"halt from node", input.KindControl, proto.NewEncoder().Halt(1, 4), with(func(c *engine.Command) { c.Type, c.Instrument = engine.CmdHalt, 4 })},
		{"resume from node", input.KindControl, proto.NewEncoder().Resume(1, 4), with(func(c *engine.Command) { c.Type, c.Instrument = engine.CmdResume, 4 })},
		{"snapshot from node", input.KindControl, proto.NewEncoder().SnapshotRequest(1), with(func(c *engine.Command) { c.Type = engine.CmdSnapshot })},
		{"halt from a client", input.KindClient, proto.NewEncoder().Halt(1, 4), with(func(c *engine.Command) { c.Type, c.Reason = engine.CmdInvalid, engine.ReasonUnknownCommand })},
		{"snapshot from a client", input.KindClient, proto.NewEncoder().SnapshotRequest(1), with(func(c *engine.Command) { c.Type, c.Reason = engine.CmdInvalid, engine.ReasonUnknownCommand })},
		{"heartbeat", input.KindClient, proto.NewEncoder().Heartbeat(1), with(func(c *engine.Command) { c.Type = engine.CmdNoop })},
		{"subscribe", input.KindClient, proto.NewEncoder().Subscribe(1, 2), with(func(c *engine.Command) { c.Type = engine.CmdNoop })},
		{"logon in the ring", input.KindClient, proto.NewEncoder().Logon(1, 3, "x"), with(func(c *engine.Command) { c.Type, c.Reason = engine.CmdInvalid, engine.ReasonUnknownCommand })},
		{"report from a client", input.KindClient, proto.NewEncoder().ExecutionReport(1, &proto.Report{}), with(func(c *engine.Command) { c.Type, c.Reason = engine.CmdInvalid, engine.ReasonUnknownCommand })},
		{"garbage", input.KindClient, append([]byte{0, 0, 0, 0}, "not a flatbuffer at all"...), with(func(c *engine.Command) { c.Type, c.Reason = engine.CmdInvalid, engine.ReasonMalformedFrame })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := slotWith(tt.kind, tt.frame)
			s.Cmd.Account = 999 // stale command from the slot's last lap
			Decode(77, s)
			if s.Cmd != tt.want {
				t.Fatalf("got  %+v\nwant %+v", s.Cmd, tt.want)
			}
		})
	}
}

// The account always comes from the slot header: a frame cannot name one.
func TestAccountFromHeaderOnly(t *testing.T) {
	s := slotWith(input.KindClient, proto.NewEncoder().Logon(1, 42, "x"))
	Decode(1, s)
	if s.Cmd.Account != 5 {
		t.Fatalf("account %d, want the header's 5", s.Cmd.Account)
	}
	s.Len = input.RawCapacity + 1 // a producer bug must not read past Raw
	Decode(2, s)
	if s.Cmd.Type != engine.CmdInvalid {
		t.Fatal("oversize Len accepted")
	}
}

// Wire enum codes are the engine's.
func TestEnumCodesMatchEngine(t *testing.T) {
	pairs := []struct{ wire, engine int }{
		{int(wire.SideBuy), int(engine.Buy)}, {int(wire.SideSell), int(engine.Sell)},
		{int(wire.OrderTypeLimit), int(engine.Limit)}, {int(wire.OrderTypeMarket), int(engine.Market)},
		{int(wire.TimeInForceGTC), int(engine.GTC)}, {int(wire.TimeInForceIOC), int(engine.IOC)}, {int(wire.TimeInForceFOK), int(engine.FOK)},
		{int(wire.SelfTradeDefault), int(engine.STPDefault)}, {int(wire.SelfTradeCancelIncoming), int(engine.STPCancelIncoming)},
		{int(wire.SelfTradeCancelResting), int(engine.STPCancelResting)}, {int(wire.SelfTradeCancelBoth), int(engine.STPCancelBoth)},
		{int(wire.SelfTradeAllow), int(engine.STPAllow)},
	}
	for i, p := range pairs {
		if p.wire != p.engine {
			t.Fatalf("pair %d: wire %d, engine %d", i, p.wire, p.engine)
		}
	}
}

func TestDecodeAllocatesNothing(t *testing.T) {
	s := slotWith(input.KindClient, proto.NewEncoder().NewOrder(1, proto.NewOrder{ClientOrderID: 1, Instrument: 1, Side: 1, Type: 1, TIF: 1, Price: 10, Quantity: 1}))
	if n := testing.AllocsPerRun(1000, func() { Decode(1, s) }); n != 0 {
		t.Fatalf("%v allocs per Decode", n)
	}
}

// FuzzDecode: any bytes in a slot give a command, never a panic; a
// rejected frame is CmdInvalid with a reason.
func FuzzDecode(f *testing.F) {
	e := proto.NewEncoder()
	seed := func(fr []byte) { f.Add(append([]byte(nil), fr[proto.PrefixSize:]...), true) }
	seed(e.NewOrder(1, proto.NewOrder{ClientOrderID: 1, Instrument: 1, Side: 1, Type: 1, TIF: 1, Price: 10, Quantity: 1}))
	seed(e.Cancel(2, proto.Cancel{OrderID: 3}))
	seed(e.Replace(3, proto.Replace{OrderID: 3, Price: 4, Quantity: 5}))
	seed(e.MassCancel(4, 1))
	seed(e.Heartbeat(5))
	seed(e.Halt(6, 1))
	seed(e.SnapshotRequest(7))
	f.Fuzz(func(t *testing.T, payload []byte, control bool) {
		s := &input.Slot{Account: 1, Kind: input.KindClient}
		if control {
			s.Kind = input.KindControl
		}
		if !s.SetPayload(payload) {
			return
		}
		Decode(1, s)
		if s.Cmd.Type == engine.CmdInvalid && s.Cmd.Reason == engine.ReasonNone {
			t.Fatal("invalid command without a reason")
		}
		if s.Cmd.Account != 1 || s.Cmd.Seq != 1 {
			t.Fatal("header fields not from the slot")
		}
	})
}

func BenchmarkDecodeNewOrder(b *testing.B) {
	s := slotWith(input.KindClient, proto.NewEncoder().NewOrder(1, proto.NewOrder{ClientOrderID: 1, Instrument: 1,
		Side: 1, Type: 1, TIF: 1, Price: 10, Quantity: 1}))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		Decode(int64(i), s)
	}
}
