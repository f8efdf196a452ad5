package gateway

import (
	"testing"

	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// FuzzRefusal: whatever a logged-on client sends, the gateway's own
// judgments of it never panic: a drop copy's frame passes (dropCopyMay)
// only as a query that verifies, and one that does not verify is refused
// as malformed; refuse's answer is an ExecutionReport that verifies and
// reads back as built — Rejected, for the reason given, of the session's
// account, under the ResendReports' seq or 0.
func FuzzRefusal(f *testing.F) {
	enc := proto.NewEncoder()
	for _, fr := range [][]byte{
		enc.NewOrder(4, proto.NewOrder{ClientOrderID: 1 << 60, Instrument: 2, Side: wire.SideSell,
			Type: wire.OrderTypeLimit, TIF: wire.TimeInForceIOC, PostOnly: true, Price: 105, Quantity: 1 << 50}),
		enc.Cancel(5, proto.Cancel{OrderID: 11, OrigClientOrderID: 12, Instrument: 13}),
		enc.Replace(6, proto.Replace{OrderID: 21, OrigClientOrderID: 22, ClientOrderID: 23, Price: 24, Quantity: 25, Instrument: 26}),
		enc.MassCancel(7, 3),
		enc.OrderStatus(8, proto.OrderStatus{OrderID: 11, OrigClientOrderID: 12, Instrument: 13}),
		enc.ResendReports(9, 1<<40),
		enc.Logon(1, 7, "s3cret"),
		enc.Heartbeat(3),
		enc.Halt(10, 6),
	} {
		f.Add(fr[proto.PrefixSize:], uint8(0))
		f.Add(fr[proto.PrefixSize:], uint8(2))
	}
	reasons := []uint8{reasonRateLimited, reasonMalformed, reasonDropCopy, reasonUnknownCommand}
	f.Fuzz(func(t *testing.T, payload []byte, pick uint8) {
		var m proto.Msg
		verr := proto.VerifyMsg(payload, &m)
		why, ok := dropCopyMay(payload)
		switch {
		case ok && (verr != nil || m.Type != wire.MessageOrderStatus && m.Type != wire.MessageResendReports):
			t.Fatalf("a drop copy's %v passed (verify: %v)", m.Type, verr)
		case !ok && verr != nil && why != reasonMalformed:
			t.Fatalf("a frame that does not verify (%v) refused for reason %d", verr, why)
		}
		reason := reasons[int(pick)%len(reasons)]
		s := &Session{ID: 12, Account: 13}
		typ, seq, r := refusal(s, reason, 11, payload)
		fr := proto.NewEncoder().ExecutionReport(seq, &r)
		got, pos, err := proto.Verify(fr[proto.PrefixSize:])
		if err != nil || got != wire.MessageExecutionReport {
			t.Fatalf("the refusal of a command %d does not verify: %v, %v", typ, got, err)
		}
		if back := proto.ReportAt(fr[proto.PrefixSize:], pos); back != r || proto.Seq(fr[proto.PrefixSize:]) != seq {
			t.Fatalf("the refusal reads back as %+v under seq %d; built %+v under %d", back, proto.Seq(fr[proto.PrefixSize:]), r, seq)
		}
		if r.Kind != wire.ExecKindRejected || r.Reason != reason || r.Account != s.Account {
			t.Fatalf("refused for reason %d as %+v", reason, r)
		}
	})
}
