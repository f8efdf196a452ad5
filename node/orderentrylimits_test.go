package node

import (
	"errors"
	"testing"
	"time"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/gateway"
	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// Sessions crossing the order-entry limits — a frame over
// gateway.max_frame_bytes, a logon past max_sessions_per_account, a flood
// past the account's rate_limit and then its disconnect_rate — are each
// refused or ended for that limit, told why, and cost a session trading
// beside them nothing: every one of its orders, sent around each
// offence, is accepted in order with no other report, and a market-data
// subscriber sees each of its levels. The gateway's own tests cross each
// limit beside sessions whose frames reach a fake ring; here their
// reports and the book's updates come back through the whole node.
func TestOrderEntryLimitsCostOthersNothing(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	setConfig(t, cfg, map[string]string{"gateway.max_frame_bytes": "256", "gateway.max_sessions_per_account": "1"})
	cfg.Accounts[1].RateLimit, cfg.Accounts[1].DisconnectRate = 20, 60
	n, addrs, _ := startNode(t, cfg)
	in := cfg.Instruments[0]
	calm := dial(t, addrs.Gateway, 1)
	md := subscribeMD(t, addrs.MarketData, in.ID)
	sent := uint64(0)
	trade := func() { // ten resting bids, each at a level of its own
		for range 10 {
			sent++
			if err := calm.NewOrder(limit(sent, wire.SideBuy, in.ReferencePrice-int64(sent)*in.TickSize, 1)); err != nil {
				t.Fatal(err)
			}
		}
	}

	trade()
	big := dial(t, addrs.Gateway, 2)
	big.SendRaw(proto.AppendFrame(nil, make([]byte, 300)))
	if m := next(t, big, func(m client.Message) bool { return m.Type == wire.MessageLogonReject }); m.LogonReject != wire.LogonRejectReasonFrameTooLarge {
		t.Fatalf("a frame over max_frame_bytes: refused %v, want FrameTooLarge", m.LogonReject)
	}
	// Its session is unregistered before its client reads its end: the
	// next logon of account 2 is not refused TooManySessions.
	expectClosed(t, big, "a session that sent a frame over max_frame_bytes")

	trade()
	flood := dial(t, addrs.Gateway, 2)
	if _, err := client.Dial(addrs.Gateway, 2, cfg.Accounts[1].Secret, client.Options{}); !errors.Is(err, client.ErrTooManySessions) {
		t.Fatalf("a second session of account 2 (max_sessions_per_account 1): %v", err)
	}

	trade()
	go func() { // IOC sells above the bids: nothing rests, nothing trades
		for i := range uint64(1000) { // bounded: the node ends it after ~80
			o := limit(1000+i, wire.SideSell, in.ReferencePrice+in.TickSize, 1)
			o.TIF = wire.TimeInForceIOC
			if flood.NewOrder(o) != nil {
				return
			}
		}
	}()
	rateLimited := 0
	flood.SetReadDeadline(time.Now().Add(10 * time.Second))
	err := testkit.EachReport(flood, func(r proto.Report) {
		if r.Kind == wire.ExecKindRejected && r.Reason == uint8(engine.ReasonRateLimited) {
			rateLimited++
		}
	})
	wantToldWhy(t, err, "rate_limit")
	if rateLimited == 0 {
		t.Fatal("the flooding session was ended with none of its orders rejected for rate_limit first")
	}

	trade()
	for i := uint64(1); i <= sent; i++ {
		m := next(t, calm, func(m client.Message) bool { return m.Type == wire.MessageExecutionReport })
		if r := m.Report; r.Kind != wire.ExecKindAccepted || r.ClientOrderID != i {
			t.Fatalf("the calm session's report %d: %+v, want its order %d accepted", i, r, i)
		}
		u := next(t, md, func(m client.Message) bool { return m.Type == wire.MessageLevelUpdate })
		if want := in.ReferencePrice - int64(i)*in.TickSize; u.Level.Price != want || u.Level.Quantity != 1 {
			t.Fatalf("level update %d: %+v, want 1 at %d", i, u.Level, want)
		}
	}
	for cause, want := range map[gateway.Cause]int64{gateway.CauseFrameTooLarge: 1, gateway.CauseMaxPerAccount: 1, gateway.CauseRateLimit: 1} {
		if got := n.gw.Counters.Disconnects[cause].Load(); got != want {
			t.Errorf("disconnects for cause %d: %d, want %d", cause, got, want)
		}
	}
}
