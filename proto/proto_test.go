package proto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"testing/iotest"

	"github.com/ringex/ringex/proto/wire"
)

var updateCorpus = flag.Bool("update-corpus", false, "rewrite the committed fuzz seed corpora")

// sampleFrames returns one frame of every message type with every field
// set to a non-default value.
func sampleFrames() map[wire.Message][]byte {
	e := NewEncoder()
	out := map[wire.Message][]byte{}
	add := func(t wire.Message, f []byte) { out[t] = append([]byte(nil), f...) }
	add(wire.MessageLogon, e.Logon(1, 7, "s3cret"))
	add(wire.MessageLogout, e.Logout(2))
	add(wire.MessageHeartbeat, e.Heartbeat(3))
	add(wire.MessageNewOrder, e.NewOrder(4, sampleNewOrder))
	add(wire.MessageCancel, e.Cancel(5, Cancel{OrderID: 11, OrigClientOrderID: 12, Instrument: 13}))
	add(wire.MessageReplace, e.Replace(6, sampleReplace))
	add(wire.MessageMassCancel, e.MassCancel(7, 3))
	add(wire.MessageSubscribe, e.Subscribe(8, 4))
	add(wire.MessageUnsubscribe, e.Unsubscribe(9, 5))
	add(wire.MessageHalt, e.HaltAndCancelOrders(10, 6))
	add(wire.MessageResume, e.Resume(11, 7))
	add(wire.MessageSnapshotRequest, e.SnapshotRequest(12))
	add(wire.MessageLogonAck, e.LogonAck(13, 99, 1000, 1<<40))
	add(wire.MessageLogonReject, e.LogonReject(14, wire.LogonRejectReasonBadSecret))
	add(wire.MessageExecutionReport, e.ExecutionReport(15, &sampleReport))
	add(wire.MessageRedirect, e.Redirect(16, "127.0.0.1:7400"))
	add(wire.MessageBookSnapshot, e.BookSnapshot(17, sampleBook))
	add(wire.MessageLevelUpdate, e.LevelUpdate(18, LevelUpdate{Instrument: 2, MDSeq: 56, Side: wire.SideSell, Price: 101, Quantity: 9, Count: 2, InputSeq: 61}))
	add(wire.MessageTrade, e.Trade(19, Trade{Instrument: 2, MDSeq: 57, TradeID: 1 << 40, Price: 100, Quantity: 3, Aggressor: wire.SideBuy, InputSeq: 1 << 24}))
	add(wire.MessageSubscribeReject, e.SubscribeReject(20, 8, wire.SubscribeRejectReasonUnknownInstrument))
	add(wire.MessageOrderStatus, e.OrderStatus(21, sampleOrderStatus))
	add(wire.MessageSuspendAccount, e.SuspendAccount(22))
	add(wire.MessageResumeAccount, e.ResumeAccount(23))
	add(wire.MessageTradingStatus, e.TradingStatus(24, TradingStatus{Instrument: 2, MDSeq: 58, Halted: true, InputSeq: 62}))
	add(wire.MessageResendReports, e.ResendReports(25, 1<<40))
	add(wire.MessageResendDone, e.ResendDone(26, sampleResendDone))
	add(wire.MessageClosing, e.Closing(27, wire.ClosingCauseRateLimit, "over gateway.disconnect_rate"))
	add(wire.MessageListInstruments, e.ListInstruments(28))
	add(wire.MessageInstrumentInfo, e.InstrumentInfo(29, &sampleInstrument))
	add(wire.MessageInstrumentsDone, e.InstrumentsDone(30, 1<<20))
	return out
}

var (
	sampleNewOrder = NewOrder{ClientOrderID: 1 << 60, Instrument: 2, Side: wire.SideSell, Type: wire.OrderTypeLimit,
		TIF: wire.TimeInForceIOC, PostOnly: true, STP: wire.SelfTradeCancelBoth, Price: -5, Quantity: 1 << 50}
	sampleReplace = Replace{OrderID: 21, OrigClientOrderID: 22, ClientOrderID: 23, Price: 24, Quantity: 25, Instrument: 26}
	sampleReport  = Report{Kind: wire.ExecKindFill, Reason: 4, Side: wire.SideBuy, Instrument: 3, Account: 8, OrderID: 31,
		ClientOrderID: 32, TradeID: 33, Price: 34, Quantity: 35, Leaves: 36, InputSeq: 37, Timestamp: 38}
	sampleResendDone  = ResendDone{AfterInputSeq: 51, FirstInputSeq: 52, ThroughInputSeq: 53, Count: 54, Reason: ResendFailed}
	sampleOrderStatus = OrderStatus{OrderID: 41, OrigClientOrderID: 42, Instrument: 43, AfterOrderID: 44}
	sampleInstrument  = InstrumentInfo{ID: 7, Symbol: "BTC-USD", TickSize: 50, LotSize: 1000, PriceDecimals: 2, QtyDecimals: 8,
		PriceBand: 1 << 33, ReferencePrice: 6000000}
	sampleBook = BookSnapshot{Instrument: 2, MDSeq: 55, Bids: []Level{{100, 5, 1}, {99, 7, 2}}, Asks: []Level{{101, 3, 1}},
		Halted: true, LastPrice: 101, More: true, InputSeq: 60}
)

// Every message type survives encode → frame → read → verify → decode.
func TestRoundTripEveryMessage(t *testing.T) {
	frames := sampleFrames()
	if len(frames) != len(layouts)-1 {
		t.Fatalf("%d sample frames for %d message types", len(frames), len(layouts)-1)
	}
	var stream bytes.Buffer
	order := []wire.Message{}
	for typ := wire.Message(1); int(typ) < len(layouts); typ++ {
		stream.Write(frames[typ])
		order = append(order, typ)
	}
	r := NewFrameReader(&stream, 1024)
	for _, want := range order {
		payload, err := r.Next()
		if err != nil {
			t.Fatalf("%s: %v", wire.EnumNamesMessage[want], err)
		}
		typ, pos, err := Verify(payload)
		if err != nil || typ != want {
			t.Fatalf("%s: verify = %v, %v", wire.EnumNamesMessage[want], typ, err)
		}
		if Seq(payload) == 0 {
			t.Fatalf("%s: seq lost", wire.EnumNamesMessage[want])
		}
		var got, exp any
		switch typ {
		case wire.MessageLogon:
			a, s := LogonAt(payload, pos)
			got, exp = fmt.Sprintf("%d %s", a, s), "7 s3cret"
		case wire.MessageNewOrder:
			got, exp = NewOrderAt(payload, pos), sampleNewOrder
		case wire.MessageCancel:
			got, exp = CancelAt(payload, pos), Cancel{OrderID: 11, OrigClientOrderID: 12, Instrument: 13}
		case wire.MessageReplace:
			got, exp = ReplaceAt(payload, pos), sampleReplace
		case wire.MessageMassCancel, wire.MessageSubscribe, wire.MessageUnsubscribe, wire.MessageResume:
			got, exp = InstrumentAt(payload, pos), map[wire.Message]uint32{wire.MessageMassCancel: 3,
				wire.MessageSubscribe: 4, wire.MessageUnsubscribe: 5, wire.MessageResume: 7}[typ]
		case wire.MessageHalt:
			inst, cancel := HaltAt(payload, pos)
			got, exp = fmt.Sprint(inst, cancel), "6 true"
		case wire.MessageLogonAck:
			s, h, in := LogonAckAt(payload, pos)
			got, exp = fmt.Sprint(s, h, in), fmt.Sprint(99, 1000, 1<<40)
		case wire.MessageLogonReject:
			got, exp = LogonRejectAt(payload, pos), wire.LogonRejectReasonBadSecret
		case wire.MessageExecutionReport:
			got, exp = ReportAt(payload, pos), sampleReport
		case wire.MessageRedirect:
			got, exp = RedirectAt(payload, pos), "127.0.0.1:7400"
		case wire.MessageBookSnapshot:
			got, exp = BookSnapshotAt(payload, pos), sampleBook
		case wire.MessageTradingStatus:
			got, exp = TradingStatusAt(payload, pos), TradingStatus{Instrument: 2, MDSeq: 58, Halted: true, InputSeq: 62}
		case wire.MessageLevelUpdate:
			got, exp = LevelUpdateAt(payload, pos), LevelUpdate{Instrument: 2, MDSeq: 56, Side: wire.SideSell, Price: 101, Quantity: 9, Count: 2, InputSeq: 61}
		case wire.MessageTrade:
			got, exp = TradeAt(payload, pos), Trade{Instrument: 2, MDSeq: 57, TradeID: 1 << 40, Price: 100, Quantity: 3, Aggressor: wire.SideBuy, InputSeq: 1 << 24}
		case wire.MessageOrderStatus:
			got, exp = OrderStatusAt(payload, pos), sampleOrderStatus
		case wire.MessageResendReports:
			got, exp = ResendReportsAt(payload, pos), int64(1<<40)
		case wire.MessageResendDone:
			got, exp = ResendDoneAt(payload, pos), sampleResendDone
		case wire.MessageSubscribeReject:
			inst, why := SubscribeRejectAt(payload, pos)
			got, exp = fmt.Sprint(inst, why), fmt.Sprint(8, wire.SubscribeRejectReasonUnknownInstrument)
		case wire.MessageClosing:
			cause, text := ClosingAt(payload, pos)
			got, exp = fmt.Sprint(cause, " ", text), "RateLimit over gateway.disconnect_rate"
		case wire.MessageInstrumentInfo:
			got, exp = InstrumentInfoAt(payload, pos), sampleInstrument
		case wire.MessageInstrumentsDone:
			got, exp = InstrumentsDoneAt(payload, pos), uint32(1<<20)
		default:
			continue // Logout, Heartbeat, SnapshotRequest, SuspendAccount, ResumeAccount, ListInstruments carry no fields
		}
		if !reflect.DeepEqual(got, exp) {
			t.Fatalf("%s: got %+v, want %+v", wire.EnumNamesMessage[typ], got, exp)
		}
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("end of stream: %v", err)
	}
}

func TestFrameReaderErrors(t *testing.T) {
	frame := sampleFrames()[wire.MessageNewOrder]
	tests := []struct {
		name  string
		input []byte
		max   int
		want  error
	}{
		{"oversize", frame, len(frame) - PrefixSize - 1, ErrFrameTooLarge},
		{"zero length", []byte{0, 0, 0, 0}, 64, ErrEmptyFrame},
		{"truncated payload", frame[:len(frame)-3], 1024, ErrTruncated},
		{"truncated prefix", frame[:2], 1024, ErrTruncated},
		{"huge length", []byte{0xff, 0xff, 0xff, 0xff, 1}, 1 << 20, ErrFrameTooLarge},
		{"garbage (HTTP request)", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 4096, ErrFrameTooLarge},
		{"truncated after a good frame", append(append([]byte(nil), frame...), 9, 0), 1024, ErrTruncated},
		{"clean end", nil, 64, io.EOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewFrameReader(bytes.NewReader(tt.input), tt.max)
			var err error
			for err == nil {
				_, err = r.Next()
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

// Garbage never verifies as anything, and no byte flip makes Verify or the
// accessors it admits go out of bounds (see also FuzzVerify).
func TestVerifyRejectsGarbage(t *testing.T) {
	for _, input := range [][]byte{nil, {1}, {0, 0, 0, 0}, {0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0}, bytes.Repeat([]byte{0xAB}, 64)} {
		if _, _, err := Verify(input); !errors.Is(err, ErrMalformed) {
			t.Fatalf("Verify(%x) = %v", input, err)
		}
	}
}

// readAll verifies b and, if accepted, reads every field of its message.
func readAll(b []byte) {
	typ, pos, err := Verify(b)
	if err != nil {
		return
	}
	Seq(b)
	switch typ {
	case wire.MessageLogon:
		LogonAt(b, pos)
		LogonReplacesAt(b, pos)
		LogonDropCopyAt(b, pos)
	case wire.MessageNewOrder:
		NewOrderAt(b, pos)
	case wire.MessageCancel:
		CancelAt(b, pos)
	case wire.MessageReplace:
		ReplaceAt(b, pos)
	case wire.MessageMassCancel, wire.MessageSubscribe, wire.MessageUnsubscribe, wire.MessageResume:
		InstrumentAt(b, pos)
		if typ == wire.MessageSubscribe {
			SubscribeAt(b, pos)
		}
	case wire.MessageHalt:
		HaltAt(b, pos)
	case wire.MessageLogonAck:
		LogonAckAt(b, pos)
	case wire.MessageLogonReject:
		LogonRejectAt(b, pos)
	case wire.MessageExecutionReport:
		ReportAt(b, pos)
	case wire.MessageRedirect:
		RedirectAt(b, pos)
	case wire.MessageBookSnapshot:
		BookSnapshotAt(b, pos)
	case wire.MessageTradingStatus:
		TradingStatusAt(b, pos)
	case wire.MessageLevelUpdate:
		LevelUpdateAt(b, pos)
	case wire.MessageTrade:
		TradeAt(b, pos)
	case wire.MessageSubscribeReject:
		SubscribeRejectAt(b, pos)
	case wire.MessageOrderStatus:
		OrderStatusAt(b, pos)
	case wire.MessageResendReports:
		ResendReportsAt(b, pos)
	case wire.MessageResendDone:
		ResendDoneAt(b, pos)
	case wire.MessageClosing:
		ClosingAt(b, pos)
	case wire.MessageInstrumentInfo:
		InstrumentInfoAt(b, pos)
	case wire.MessageInstrumentsDone:
		InstrumentsDoneAt(b, pos)
	}
}

func FuzzVerify(f *testing.F) {
	for _, fr := range sampleFrames() {
		f.Add(fr[PrefixSize:])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		readAll(b)
		// Type reads the envelope Verify reads: the same type wherever
		// Verify accepts the frame or knows its type.
		var m Msg
		err := VerifyMsg(b, &m)
		typ, typeErr := Type(b)
		switch {
		case err == nil && (typeErr != nil || typ != m.Type),
			errors.Is(err, ErrUnknownType) && (!errors.Is(typeErr, ErrUnknownType) || typ != m.Type):
			t.Fatalf("Verify: %v, %v; Type: %v, %v", m.Type, err, typ, typeErr)
		case typeErr != nil && err == nil:
			t.Fatalf("Type refused a frame Verify took: %v", typeErr)
		}
	})
}

// TestTypeReadsOnlyTheEnvelope: Type names every sample's type, and still
// names it when the message inside is damaged (what the gateway routes by
// before the unmarshaler verifies the whole frame).
func TestTypeReadsOnlyTheEnvelope(t *testing.T) {
	for want, fr := range sampleFrames() {
		b := fr[PrefixSize:]
		if typ, err := Type(b); err != nil || typ != want {
			t.Errorf("%v: Type = %v, %v", want, typ, err)
		}
	}
	b := append([]byte(nil), sampleFrames()[wire.MessageNewOrder][PrefixSize:]...)
	_, _, msgPos, err := envelope(b)
	if err != nil {
		t.Fatal(err)
	}
	binary.LittleEndian.PutUint32(b[msgPos:], 1<<30) // the table's soffset: its vtable far outside b
	if _, _, err := Verify(b); err == nil {
		t.Fatal("Verify took a NewOrder whose table points outside the frame")
	}
	if typ, err := Type(b); err != nil || typ != wire.MessageNewOrder {
		t.Errorf("damaged NewOrder: Type = %v, %v; want NewOrder", typ, err)
	}
	b = append(b[:0], sampleFrames()[wire.MessageNewOrder][PrefixSize:]...)
	root := int(binary.LittleEndian.Uint32(b))
	vt := root - int(int32(binary.LittleEndian.Uint32(b[root:])))
	b[root+int(binary.LittleEndian.Uint16(b[vt+6:]))] = byte(len(layouts)) // the envelope's type: newer than this build
	if typ, err := Type(b); !errors.Is(err, ErrUnknownType) || typ != wire.Message(len(layouts)) {
		t.Errorf("newer type: Type = %v, %v", typ, err)
	}
	if _, err := Type([]byte{1, 2}); err == nil {
		t.Error("Type took two bytes")
	}
}

func FuzzFrameReader(f *testing.F) {
	for _, fr := range sampleFrames() {
		f.Add(fr)
	}
	f.Fuzz(func(t *testing.T, stream []byte) {
		r := NewFrameReader(bytes.NewReader(stream), 256)
		// The same stream a byte per read: no frame is ever whole in the
		// buffer, so every one is copied out — what the in-place frames
		// of r must equal.
		slow := NewFrameReader(iotest.OneByteReader(bytes.NewReader(stream)), 256)
		// And through a read buffer smaller than the frames it reads
		// (NewFrameReaderSize): some whole in it, some read past it.
		small := NewFrameReaderSize(bytes.NewReader(stream), 256, 16)
		for i := 0; i < 64; i++ {
			buffered := r.FrameBuffered()
			payload, err := r.Next()
			want, wantErr := slow.Next()
			if got, gotErr := small.Next(); (gotErr == nil) != (wantErr == nil) || !bytes.Equal(got, want) {
				t.Fatalf("frame %d through a 16-byte buffer: %x, %v; read a byte at a time %x, %v", i, got, gotErr, want, wantErr)
			}
			if buffered && (errors.Is(err, ErrTruncated) || errors.Is(err, io.EOF)) {
				t.Fatalf("FrameBuffered, then Next ran out of stream: %v", err)
			}
			if (err == nil) != (wantErr == nil) || !bytes.Equal(payload, want) {
				t.Fatalf("frame %d: %x, %v; read a byte at a time %x, %v", i, payload, err, want, wantErr)
			}
			if err != nil {
				return
			}
			if len(payload) == 0 || len(payload) > 256 || cap(payload) != len(payload) {
				t.Fatalf("frame of %d bytes, capacity %d", len(payload), cap(payload))
			}
			readAll(payload)
		}
	})
}

// TestWriteSeedCorpus keeps testdata/fuzz in step with the encoders:
// go test ./proto -run TestWriteSeedCorpus -update-corpus
func TestWriteSeedCorpus(t *testing.T) {
	if !*updateCorpus {
		t.Skip("run with -update-corpus to rewrite testdata/fuzz")
	}
	for typ, fr := range sampleFrames() {
		name := wire.EnumNamesMessage[typ]
		writeCorpus(t, "FuzzVerify", name, fr[PrefixSize:])
		writeCorpus(t, "FuzzFrameReader", name, fr)
	}
}

func writeCorpus(t *testing.T, target, name string, b []byte) {
	dir := filepath.Join("testdata", "fuzz", target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
	if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Envelope seq sits where Seq reads it.
func TestSeqLittleEndianRoot(t *testing.T) {
	f := NewEncoder().Heartbeat(0xdeadbeef)
	if binary.LittleEndian.Uint32(f) != uint32(len(f)-PrefixSize) {
		t.Fatal("size prefix is not the payload length")
	}
	if Seq(f[PrefixSize:]) != 0xdeadbeef {
		t.Fatal("seq")
	}
}

// The field readers agree with the generated accessors.
func TestMsgReadersMatchGenerated(t *testing.T) {
	frames := sampleFrames()
	var m Msg
	for _, typ := range []wire.Message{wire.MessageNewOrder, wire.MessageCancel, wire.MessageReplace, wire.MessageMassCancel,
		wire.MessageOrderStatus, wire.MessageResendReports, wire.MessageResendDone, wire.MessageHalt} {
		b := frames[typ][PrefixSize:]
		if err := VerifyMsg(b, &m); err != nil {
			t.Fatal(err)
		}
		var got, want any
		switch typ {
		case wire.MessageNewOrder:
			got, want = m.NewOrder(b), NewOrderAt(b, m.Pos)
		case wire.MessageCancel:
			got, want = m.Cancel(b), CancelAt(b, m.Pos)
		case wire.MessageReplace:
			got, want = m.Replace(b), ReplaceAt(b, m.Pos)
		case wire.MessageMassCancel:
			got, want = m.Instrument(b), InstrumentAt(b, m.Pos)
		case wire.MessageOrderStatus:
			got, want = m.OrderStatus(b), OrderStatusAt(b, m.Pos)
		case wire.MessageResendReports:
			got, want = m.ResendReports(b), ResendReportsAt(b, m.Pos)
		case wire.MessageResendDone:
			got, want = m.ResendDone(b), ResendDoneAt(b, m.Pos)
		case wire.MessageHalt:
			inst, cancel := m.Halt(b)
			genInst, genCancel := HaltAt(b, m.Pos)
			got, want = fmt.Sprint(inst, cancel), fmt.Sprint(genInst, genCancel)
		}
		if got != want {
			t.Fatalf("%s: %+v, generated %+v", wire.EnumNamesMessage[typ], got, want)
		}
	}
}

// preFieldHalt is Halt{instrument 6} in envelope seq 10 as builds before
// Halt.cancel_orders encoded — and journaled — it (committed as
// testdata/fuzz/FuzzVerify/Halt then).
var preFieldHalt = []byte("\x10\x00\x00\x00\x00\x00\n\x00\x16\x00\f\x00\v\x00\x04\x00\n\x00\x00\x00\x18\x00\x00\x00\x00\x00\x00\n\n" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x06\x00\b\x00\x04\x00\x06\x00\x00\x00\x06\x00\x00\x00")

// A Halt journaled before cancel_orders existed reads as a halt that
// keeps the instrument's orders, through the verifier's readers and the
// generated ones alike; Halt still writes exactly those bytes (a plain
// halt journals as it did), and HaltAndCancelOrders sets the field.
func TestHaltCancelOrdersAcrossVersions(t *testing.T) {
	e := NewEncoder()
	if got := e.Halt(10, 6)[PrefixSize:]; !bytes.Equal(got, preFieldHalt) {
		t.Fatalf("Halt encodes %q, builds before cancel_orders %q", got, preFieldHalt)
	}
	for _, tt := range []struct {
		name   string
		frame  []byte
		cancel bool
	}{
		{"journaled before the field", preFieldHalt, false},
		{"HaltAndCancelOrders", append([]byte(nil), e.HaltAndCancelOrders(10, 6)[PrefixSize:]...), true},
	} {
		var m Msg
		if err := VerifyMsg(tt.frame, &m); err != nil || m.Type != wire.MessageHalt {
			t.Fatalf("%s: %v %v", tt.name, m.Type, err)
		}
		inst, cancel := m.Halt(tt.frame)
		genInst, genCancel := HaltAt(tt.frame, m.Pos)
		if inst != 6 || cancel != tt.cancel || genInst != 6 || genCancel != tt.cancel {
			t.Fatalf("%s: instrument %d cancel_orders %v (generated: %d %v), want 6 %v", tt.name, inst, cancel, genInst, genCancel, tt.cancel)
		}
	}
}

// A drop-copy Logon carries its flag; a plain one reads false (an older
// client's Logon has no such field).
func TestDropCopyLogon(t *testing.T) {
	e := NewEncoder()
	for _, tt := range []struct {
		frame []byte
		want  bool
	}{{append([]byte(nil), e.DropCopyLogon(1, 7, "s")...), true}, {append([]byte(nil), e.Logon(1, 7, "s")...), false}} {
		payload := tt.frame[PrefixSize:]
		typ, pos, err := Verify(payload)
		if err != nil || typ != wire.MessageLogon {
			t.Fatalf("%v %v", typ, err)
		}
		if a, s := LogonAt(payload, pos); a != 7 || s != "s" || LogonDropCopyAt(payload, pos) != tt.want {
			t.Fatalf("account %d secret %q drop copy %v, want %v", a, s, LogonDropCopyAt(payload, pos), tt.want)
		}
	}
}
