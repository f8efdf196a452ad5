package node

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/gateway"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// Operators see who is logged on (GET /sessions: account, address, since
// when, unsent bytes) and can close one session: it ends with cause
// "operator", its account's cancel-on-disconnect applies, and the other
// sessions trade on.
func TestAdminSessions(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	in := cfg.Instruments[0]
	c1, c2 := dial(t, addrs.Gateway, 1), dial(t, addrs.Gateway, 2) // account 1 cancels on disconnect
	c1.NewOrder(limit(1, wire.SideBuy, in.ReferencePrice-in.TickSize, in.LotSize))
	next(t, c1, report(wire.ExecKindAccepted))

	list := func() []gateway.SessionInfo {
		t.Helper()
		resp, err := http.Get("http://" + addrs.Admin + "/sessions")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct{ Sessions []gateway.SessionInfo }
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET /sessions: %d %v", resp.StatusCode, err)
		}
		return body.Sessions
	}
	got := list()
	if len(got) != 2 || got[0].ID != c1.Session || got[0].Account != 1 || got[1].ID != c2.Session || got[1].Account != 2 {
		t.Fatalf("sessions %+v, want account 1's %d then account 2's %d", got, c1.Session, c2.Session)
	}
	for _, s := range got {
		if s.From == "" || time.Since(s.Since) > time.Minute || s.Since.After(time.Now()) {
			t.Fatalf("session %+v: address or logon time missing", s)
		}
	}

	post := func(path string) int {
		resp, err := http.Post("http://"+addrs.Admin+path, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, path := range []string{"/sessions/999/close", "/sessions/x/close"} {
		if code := post(path); code != http.StatusNotFound {
			t.Fatalf("POST %s: %d, want 404", path, code)
		}
	}
	if code := post(fmt.Sprintf("/sessions/%d/close", c1.Session)); code != http.StatusAccepted {
		t.Fatalf("close: %d", code)
	}
	c1.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		if _, err := c1.Next(); err != nil {
			break // closed
		}
	}
	waitUntil(t, func() bool { return len(list()) == 1 })
	waitUntil(t, func() bool { return n.gw.Counters.Disconnects[gateway.CauseOperator].Load() == 1 })

	// Account 1's resting order went with its last session; account 2
	// trades on.
	// (The cancel is published just after the session is unregistered.)
	c1 = dial(t, addrs.Gateway, 1)
	waitUntil(t, func() bool {
		c1.OrderStatus(proto.OrderStatus{})
		m := next(t, c1, func(m client.Message) bool {
			return m.Report.Kind == wire.ExecKindStatusDone || m.Report.Kind == wire.ExecKindRejected // rate-limited: ask again
		})
		return m.Report.Kind == wire.ExecKindStatusDone && m.Report.Quantity == 0
	})
	c2.NewOrder(limit(2, wire.SideBuy, in.ReferencePrice-in.TickSize, in.LotSize))
	next(t, c2, report(wire.ExecKindAccepted))
}
