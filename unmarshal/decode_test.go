package unmarshal

import (
	"testing"

	flatbuffers "github.com/google/flatbuffers/go"

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
		{"order status", input.KindClient, proto.NewEncoder().OrderStatus(1, proto.OrderStatus{OrderID: 8, OrigClientOrderID: 9, Instrument: 2, AfterOrderID: 10}),
			with(func(c *engine.Command) {
				c.Type, c.OrderID, c.OrigClientOrderID, c.Instrument, c.ClientOrderID = engine.CmdOrderStatus, 8, 9, 2, 10
			})},
		{"mass cancel from node", input.KindControl, proto.NewEncoder().MassCancel(1, 0), with(func(c *engine.Command) { c.Type = engine.CmdMassCancel })},
		{"halt from node", input.KindControl, proto.NewEncoder().Halt(1, 4), with(func(c *engine.Command) { c.Type, c.Instrument = engine.CmdHalt, 4 })},
		{"halt cancelling orders from node", input.KindControl, proto.NewEncoder().HaltAndCancelOrders(1, 4),
			with(func(c *engine.Command) { c.Type, c.Instrument, c.CancelOrders = engine.CmdHalt, 4, true })},
		{"resume from node", input.KindControl, proto.NewEncoder().Resume(1, 4), with(func(c *engine.Command) { c.Type, c.Instrument = engine.CmdResume, 4 })},
		{"snapshot from node", input.KindControl, proto.NewEncoder().SnapshotRequest(1), with(func(c *engine.Command) { c.Type = engine.CmdSnapshot })},
		{"suspend from node", input.KindControl, proto.NewEncoder().SuspendAccount(1), with(func(c *engine.Command) { c.Type = engine.CmdSuspendAccount })},
		{"resume account from node", input.KindControl, proto.NewEncoder().ResumeAccount(1), with(func(c *engine.Command) { c.Type = engine.CmdResumeAccount })},
		{"suspend from a client", input.KindClient, proto.NewEncoder().SuspendAccount(1), with(func(c *engine.Command) { c.Type, c.Reason = engine.CmdInvalid, engine.ReasonUnknownCommand })},
		{"halt from a client", input.KindClient, proto.NewEncoder().Halt(1, 4), with(func(c *engine.Command) { c.Type, c.Reason = engine.CmdInvalid, engine.ReasonUnknownCommand })},
		{"halt cancelling orders from a client", input.KindClient, proto.NewEncoder().HaltAndCancelOrders(1, 4),
			with(func(c *engine.Command) { c.Type, c.Reason = engine.CmdInvalid, engine.ReasonUnknownCommand })},
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

func TestDecodeAllocatesNothing(t *testing.T) {
	s := slotWith(input.KindClient, proto.NewEncoder().NewOrder(1, proto.NewOrder{ClientOrderID: 1, Instrument: 1, Side: 1, Type: 1, TIF: 1, Price: 10, Quantity: 1}))
	if n := testing.AllocsPerRun(1000, func() { Decode(1, s) }); n != 0 {
		t.Fatalf("%v allocs per Decode", n)
	}
}

func BenchmarkDecodeNewOrder(b *testing.B) {
	s := slotWith(input.KindClient, proto.NewEncoder().NewOrder(1, proto.NewOrder{ClientOrderID: 1, Instrument: 1,
		Side: 1, Type: 1, TIF: 1, Price: 10, Quantity: 1}))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		Decode(int64(i), s)
	}
}

// rawNewOrder encodes a NewOrder with enum bytes the Go encoder's types
// would not stop a client in another language from sending.
func rawNewOrder(side, typ, tif, stp uint8) []byte {
	return proto.NewEncoder().NewOrder(1, proto.NewOrder{ClientOrderID: 41, Instrument: 2, Side: wire.Side(side),
		Type: wire.OrderType(typ), TIF: wire.TimeInForce(tif), STP: wire.SelfTrade(stp), Price: 100, Quantity: 3})
}

// Enum codes no order can have are rejected with the engine's reason for
// the field; the reject still echoes the client order id.
func TestDecodeRejectsBadEnums(t *testing.T) {
	tests := []struct {
		name                string
		side, typ, tif, stp uint8
		want                engine.RejectReason
	}{
		{"valid", 1, 1, 1, 0, engine.ReasonNone},
		{"valid market ioc allow", 2, 2, 2, 4, engine.ReasonNone},
		{"no side", 0, 1, 1, 0, engine.ReasonInvalidSide},
		{"side 3", 3, 1, 1, 0, engine.ReasonInvalidSide},
		{"side 255", 255, 1, 1, 0, engine.ReasonInvalidSide},
		{"no order type", 1, 0, 1, 0, engine.ReasonInvalidOrderType},
		{"order type 3", 1, 3, 1, 0, engine.ReasonInvalidOrderType},
		{"no time in force", 1, 1, 0, 0, engine.ReasonInvalidTimeInForce},
		{"time in force 4", 1, 1, 4, 0, engine.ReasonInvalidTimeInForce},
		{"stp 5", 1, 1, 1, 5, engine.ReasonInvalidSTP},
		{"stp 255", 1, 1, 1, 255, engine.ReasonInvalidSTP},
		{"side checked first", 9, 9, 9, 9, engine.ReasonInvalidSide},
		{"then order type", 1, 9, 9, 9, engine.ReasonInvalidOrderType},
		{"then time in force", 1, 1, 9, 9, engine.ReasonInvalidTimeInForce},
		// Combinations are the engine's: market GTC decodes as sent.
		{"market gtc is the engine's", 1, 2, 1, 0, engine.ReasonNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := slotWith(input.KindClient, rawNewOrder(tt.side, tt.typ, tt.tif, tt.stp))
			Decode(8, s)
			c := s.Cmd
			if tt.want == engine.ReasonNone {
				if c.Type != engine.CmdNewOrder || c.Reason != engine.ReasonNone {
					t.Fatalf("valid order decoded as %+v", c)
				}
				return
			}
			if c.Type != engine.CmdInvalid || c.Reason != tt.want {
				t.Fatalf("got type %d reason %d, want invalid with %d", c.Type, c.Reason, tt.want)
			}
			if c.ClientOrderID != 41 || c.Instrument != 2 || c.Price != 100 || c.Quantity != 3 || c.Account != 5 || c.Seq != 8 {
				t.Fatalf("reject lost the fields it echoes: %+v", c)
			}
			if tt.want == engine.ReasonInvalidSide && c.Side != engine.SideNone {
				t.Fatalf("invalid side %d echoed", c.Side)
			}
		})
	}
}

// Every union member, from a client and from the node: the command type
// (or reject reason) each one becomes.
func TestDecodeEveryTypeAndKind(t *testing.T) {
	e := proto.NewEncoder()
	cp := func(b []byte) []byte { return append([]byte(nil), b...) } // the encoder reuses its buffer
	frames := map[wire.Message][]byte{
		wire.MessageLogon: cp(e.Logon(1, 1, "s")), wire.MessageLogout: cp(e.Logout(1)), wire.MessageHeartbeat: cp(e.Heartbeat(1)),
		wire.MessageNewOrder: cp(e.NewOrder(1, proto.NewOrder{Side: 1, Type: 1, TIF: 1, Price: 1, Quantity: 1})),
		wire.MessageCancel:   cp(e.Cancel(1, proto.Cancel{OrderID: 1})), wire.MessageReplace: cp(e.Replace(1, proto.Replace{OrderID: 1})),
		wire.MessageMassCancel: cp(e.MassCancel(1, 0)), wire.MessageSubscribe: cp(e.Subscribe(1, 1)),
		wire.MessageUnsubscribe: cp(e.Unsubscribe(1, 1)), wire.MessageHalt: cp(e.Halt(1, 1)), wire.MessageResume: cp(e.Resume(1, 1)),
		wire.MessageSnapshotRequest: cp(e.SnapshotRequest(1)), wire.MessageLogonAck: cp(e.LogonAck(1, 1, 1, 0)),
		wire.MessageLogonReject: cp(e.LogonReject(1, 1)), wire.MessageExecutionReport: cp(e.ExecutionReport(1, &proto.Report{})),
		wire.MessageRedirect: cp(e.Redirect(1, "x:1")), wire.MessageBookSnapshot: cp(e.BookSnapshot(1, proto.BookSnapshot{Instrument: 1, MDSeq: 1})),
		wire.MessageLevelUpdate: cp(e.LevelUpdate(1, proto.LevelUpdate{})), wire.MessageTrade: cp(e.Trade(1, proto.Trade{})),
		wire.MessageSubscribeReject: cp(e.SubscribeReject(1, 1, wire.SubscribeRejectReasonUnknownInstrument)),
		wire.MessageOrderStatus:     cp(e.OrderStatus(1, proto.OrderStatus{})),
		wire.MessageSuspendAccount:  cp(e.SuspendAccount(1)),
		wire.MessageResumeAccount:   cp(e.ResumeAccount(1)),
		wire.MessageTradingStatus:   cp(e.TradingStatus(1, proto.TradingStatus{Instrument: 1})),
		wire.MessageResendReports:   cp(e.ResendReports(1, 5)),
		wire.MessageResendDone:      cp(e.ResendDone(1, proto.ResendDone{})),
		wire.MessageClosing:         cp(e.Closing(1, wire.ClosingCauseRateLimit, "x")),
		wire.MessageListInstruments: cp(e.ListInstruments(1)),
		wire.MessageInstrumentInfo:  cp(e.InstrumentInfo(1, &proto.InstrumentInfo{ID: 1, Symbol: "X"})),
		wire.MessageInstrumentsDone: cp(e.InstrumentsDone(1, 1)),
	}
	type result struct {
		typ    engine.CommandType
		reason engine.RejectReason
	}
	unknown := result{engine.CmdInvalid, engine.ReasonUnknownCommand}
	noop := result{engine.CmdNoop, engine.ReasonNone}
	want := map[wire.Message][2]result{ // [client, control]
		wire.MessageLogon:           {unknown, unknown},
		wire.MessageLogout:          {noop, noop},
		wire.MessageHeartbeat:       {noop, noop},
		wire.MessageNewOrder:        {{engine.CmdNewOrder, 0}, {engine.CmdNewOrder, 0}},
		wire.MessageCancel:          {{engine.CmdCancel, 0}, {engine.CmdCancel, 0}},
		wire.MessageReplace:         {{engine.CmdReplace, 0}, {engine.CmdReplace, 0}},
		wire.MessageMassCancel:      {{engine.CmdMassCancel, 0}, {engine.CmdMassCancel, 0}},
		wire.MessageSubscribe:       {noop, noop},
		wire.MessageUnsubscribe:     {noop, noop},
		wire.MessageHalt:            {unknown, {engine.CmdHalt, 0}},
		wire.MessageResume:          {unknown, {engine.CmdResume, 0}},
		wire.MessageSnapshotRequest: {unknown, {engine.CmdSnapshot, 0}},
		wire.MessageLogonAck:        {unknown, unknown},
		wire.MessageLogonReject:     {unknown, unknown},
		wire.MessageExecutionReport: {unknown, unknown},
		wire.MessageRedirect:        {unknown, unknown},
		wire.MessageBookSnapshot:    {unknown, unknown},
		wire.MessageLevelUpdate:     {unknown, unknown},
		wire.MessageTrade:           {unknown, unknown},
		wire.MessageSubscribeReject: {unknown, unknown},
		wire.MessageOrderStatus:     {{engine.CmdOrderStatus, 0}, {engine.CmdOrderStatus, 0}},
		wire.MessageSuspendAccount:  {unknown, {engine.CmdSuspendAccount, 0}},
		wire.MessageResumeAccount:   {unknown, {engine.CmdResumeAccount, 0}},
		wire.MessageTradingStatus:   {unknown, unknown},
		wire.MessageResendReports:   {{engine.CmdResend, 0}, {engine.CmdResend, 0}},
		wire.MessageResendDone:      {unknown, unknown},
		wire.MessageClosing:         {unknown, unknown},
		wire.MessageListInstruments: {unknown, unknown},
		wire.MessageInstrumentInfo:  {unknown, unknown},
		wire.MessageInstrumentsDone: {unknown, unknown},
	}
	if len(want) != len(wire.EnumNamesMessage)-1 {
		t.Fatalf("%d of %d message types covered", len(want), len(wire.EnumNamesMessage)-1)
	}
	for typ, w := range want {
		for i, kind := range []input.Kind{input.KindClient, input.KindControl} {
			s := slotWith(kind, frames[typ])
			Decode(3, s)
			if got := (result{s.Cmd.Type, s.Cmd.Reason}); got != w[i] {
				t.Errorf("%s from kind %d: got %+v, want %+v", wire.EnumNamesMessage[typ], kind, got, w[i])
			}
		}
	}
	// A slot of an unknown kind has a client's rights, no more.
	s := slotWith(0, frames[wire.MessageHalt])
	Decode(3, s)
	if s.Cmd.Type != engine.CmdInvalid {
		t.Fatal("halt accepted from a slot of kind 0")
	}
}

// A message table that another writer laid out differently (fields out
// of order, defaults omitted) decodes the same.
func TestDecodeForeignLayout(t *testing.T) {
	b := flatbuffers.NewBuilder(128)
	wire.NewOrderStart(b)
	wire.NewOrderAddSide(b, wire.SideBuy)
	wire.NewOrderAddQuantity(b, 5)
	wire.NewOrderAddType(b, wire.OrderTypeMarket)
	wire.NewOrderAddTif(b, wire.TimeInForceIOC)
	msg := wire.NewOrderEnd(b)
	wire.EnvelopeStart(b)
	wire.EnvelopeAddMessage(b, msg)
	wire.EnvelopeAddMessageType(b, wire.MessageNewOrder)
	b.Finish(wire.EnvelopeEnd(b))
	s := &input.Slot{Kind: input.KindClient, Account: 5}
	s.SetPayload(b.FinishedBytes())
	Decode(1, s)
	want := engine.Command{Seq: 1, Account: 5, Type: engine.CmdNewOrder, Side: engine.Buy, OrderType: engine.Market,
		TIF: engine.IOC, Quantity: 5}
	if s.Cmd != want {
		t.Fatalf("got  %+v\nwant %+v", s.Cmd, want)
	}
}

func TestDecodeRejectAllocatesNothing(t *testing.T) {
	s := &input.Slot{Kind: input.KindClient}
	s.SetPayload([]byte("garbage garbage garbage"))
	if n := testing.AllocsPerRun(1000, func() { Decode(1, s) }); n != 0 {
		t.Fatalf("%v allocs per rejected frame", n)
	}
}

// A resend request carries its range start in OrderID and its envelope
// seq, the tag of its answers, in ClientOrderID. Without a tag the answers
// could not be told from live reports: the engine refuses seq 0 — as a
// resend, so that its refusal is a query's, to the asker alone (it was
// CmdInvalid here, and its Rejected went to the account's drop copies
// and into every later resend).
func TestDecodeResendReports(t *testing.T) {
	e := proto.NewEncoder()
	for _, tt := range []struct {
		seq   uint64
		after int64
		want  engine.Command
	}{
		{seq: 9, after: 1234, want: engine.Command{Type: engine.CmdResend, OrderID: 1234, ClientOrderID: 9}},
		{seq: 9, after: -5, want: engine.Command{Type: engine.CmdResend, OrderID: 0, ClientOrderID: 9}},
		{seq: 0, after: 7, want: engine.Command{Type: engine.CmdResend, OrderID: 7}},
	} {
		s := slotWith(input.KindClient, e.ResendReports(tt.seq, tt.after))
		Decode(3, s)
		c := s.Cmd
		if c.Type != tt.want.Type || c.Reason != tt.want.Reason || c.OrderID != tt.want.OrderID || c.ClientOrderID != tt.want.ClientOrderID {
			t.Fatalf("seq %d after %d: got %+v, want %+v", tt.seq, tt.after, c, tt.want)
		}
	}
}
