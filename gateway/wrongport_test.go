package gateway

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/proto/wire"
)

// A market-data program given this port by mistake
// (client.DialMarketDataLogon, whose Logon is a drop copy's here) is
// refused client.ErrWrongPort whatever the gateway answers that a
// market-data port never does: a LogonAck naming a session, a standby's
// Redirect or NotLeader, TooManyLogons (the account's gateway.logon_rate,
// spent by its traders or by the program's own retries). It was told
// "logon answered with Redirect", ErrNotLeader, or a TooManyLogons
// refusal a program waits out and retries. TooManySessions both ports
// answer (gateway.max_sessions_per_account here,
// marketdata.max_connections_per_account there): ErrTooManySessions,
// its text naming this port's limit and the market-data port's address
// too. The gateway cannot tell the program's Logon from a drop copy's:
// it is counted as one.
func TestMarketDataLogonHereIsToldWrongPort(t *testing.T) {
	at := time.Unix(1_000, 0)
	for _, tc := range []struct {
		name  string
		cfg   Config
		held  bool   // a session of the account logged on first
		wrong bool   // ErrWrongPort; else ErrTooManySessions
		text  string // what the error says besides
	}{
		{"logged on", Config{}, false, true, "(LogonAck with session "},
		{"a standby with a leader", Config{Standby: func() (string, bool) { return "10.0.0.1:7400", true }}, false, true, "(Redirect to 10.0.0.1:7400)"},
		{"a standby with no leader", Config{Standby: func() (string, bool) { return "", true }}, false, true, "(LogonReject NotLeader)"},
		{"logon_rate spent", Config{LogonRate: 1, Now: func() time.Time { return at }}, true, true, "(LogonReject TooManyLogons)"},
		{"max_sessions_per_account", Config{MaxSessionsPerAccount: 1}, true, false,
			"or, if it is an order-entry port (gateway.listen), gateway.max_sessions_per_account sessions logged on"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, _ := startGateway(t, tc.cfg)
			addr := g.Addr().String()
			if tc.held {
				c, err := client.Dial(addr, 1, "one", client.Options{AutoFlush: true})
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
			}
			c, err := client.DialMarketDataLogon(addr, 1, "one", client.Options{AutoFlush: true, Timeout: 5 * time.Second})
			if err == nil {
				c.Close()
				t.Fatal("DialMarketDataLogon logged on at an order-entry port")
			}
			if tc.wrong {
				if !errors.Is(err, client.ErrWrongPort) || !strings.Contains(err.Error(), addr+" answered as an order-entry port") {
					t.Fatalf("DialMarketDataLogon: %v, want ErrWrongPort naming %s", err, addr)
				}
				if why := client.LogonRejectReason(err); why != wire.LogonRejectReasonNone {
					t.Fatalf("DialMarketDataLogon: %v, a refusal %s to wait out", err, why)
				}
			} else if !errors.Is(err, client.ErrTooManySessions) {
				t.Fatalf("DialMarketDataLogon: %v, want ErrTooManySessions", err)
			}
			if !strings.Contains(err.Error(), tc.text) || !strings.Contains(err.Error(), "DialMarketDataLogon wants the market-data port (marketdata.listen)") {
				t.Fatalf("DialMarketDataLogon: %q, want it to say %q and the port it wants", err, tc.text)
			}
		})
	}
}
