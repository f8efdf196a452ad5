package node

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
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
// sessions trade on. A session id (above 2^53: the clock's nanoseconds)
// is a decimal string: sent as a JSON number, jq and JavaScript, whose
// numbers are float64, read 1796618287580184577 as …600, and closing
// that id was answered 404.
func TestAdminSessions(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	in := cfg.Instruments[0]
	c1, c2 := dial(t, addrs.Gateway, 1), dial(t, addrs.Gateway, 2) // account 1 cancels on disconnect
	restBuy(t, c1, in, 1)

	// list reads GET /sessions as this build does, and the sessions' ids
	// as a reader whose numbers are float64 does.
	list := func() ([]gateway.SessionInfo, []string) {
		t.Helper()
		resp, err := http.Get("http://" + addrs.Admin + "/sessions")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		var body struct{ Sessions []gateway.SessionInfo }
		if err == nil {
			err = json.Unmarshal(raw, &body)
		}
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET /sessions: %d %v", resp.StatusCode, err)
		}
		var loose struct{ Sessions []map[string]any } // any number a float64
		if err := json.Unmarshal(raw, &loose); err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, s := range loose.Sessions {
			id, ok := s["id"].(string)
			if !ok {
				t.Fatalf("GET /sessions: id %v (%T), want a decimal string; %s", s["id"], s["id"], raw)
			}
			ids = append(ids, id)
		}
		return body.Sessions, ids
	}
	got, ids := list()
	if len(got) != 2 || got[0].ID != c1.Session || got[0].Account != 1 || got[1].ID != c2.Session || got[1].Account != 2 {
		t.Fatalf("sessions %+v, want account 1's %d then account 2's %d", got, c1.Session, c2.Session)
	}
	if c1.Session <= 1<<53 || ids[0] != strconv.FormatUint(c1.Session, 10) || ids[1] != strconv.FormatUint(c2.Session, 10) {
		t.Fatalf("ids %q as a float64 reader has them, want %d and %d (above 2^53)", ids, c1.Session, c2.Session)
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
	if code := post("/sessions/" + ids[0] + "/close"); code != http.StatusAccepted {
		t.Fatalf("close: %d", code)
	}
	c1.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		if _, err := c1.Next(); err != nil {
			break // closed
		}
	}
	waitUntil(t, func() bool { got, _ := list(); return len(got) == 1 })
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
	restBuy(t, c2, in, 2)
}

// The log writes a session id as a decimal string, as GET /sessions
// sends it: ids are above 2^53, and as a JSON number jq — any reader
// whose numbers are float64 — read another id. A session's logon, an
// operator's close of it (the admin action's audit line) and its end
// are read here as such a reader reads them.
func TestLogsWriteSessionIDsAsStrings(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, addrs, logs := startNodeLogging(t, cfg, Options{})
	defer n.Stop()
	c := dial(t, addrs.Gateway, 1)
	want := strconv.FormatUint(c.Session, 10)
	if code := adminStatus(t, addrs.Admin, http.MethodPost, "/sessions/"+want+"/close", "", nil, ""); code != http.StatusAccepted {
		t.Fatalf("close: %d", code)
	}
	expectClosed(t, c, "a session an operator closed")
	// Their ids as a reader whose numbers are float64 has them, by message.
	ids := func() map[string]any {
		got := map[string]any{}
		for line := range strings.Lines(logs.String()) {
			var e map[string]any
			if json.Unmarshal([]byte(line), &e) == nil && e["session"] != nil {
				got[fmt.Sprint(e["message"])] = e["session"]
			}
		}
		return got
	}
	messages := []string{"logon", "admin action", "session closed"}
	waitUntil(t, func() bool { // the reader logs its session's end as it exits
		_, ok := ids()["session closed"]
		return ok
	})
	got := ids()
	if c.Session <= 1<<53 {
		t.Fatalf("session id %d: not above 2^53, where a float64 rounds", c.Session)
	}
	for _, m := range messages {
		if got[m] != want {
			t.Errorf("%q: session %v (%T), want the decimal string %q", m, got[m], got[m], want)
		}
	}
}

// A close whose id is no session id — not a number, or past 2^64 — is
// audited as refused, naming no session: the audit line named session 0
// (ParseUint's value on a syntax error) or 18446744073709551615 (on a
// range error), sessions no one asked to close.
func TestCloseOfNoSessionIDAuditsNoSession(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, addrs, logs := startNodeLogging(t, cfg, Options{})
	defer n.Stop()
	for _, id := range []string{"x", "99999999999999999999999"} {
		if code := adminStatus(t, addrs.Admin, http.MethodPost, "/sessions/"+id+"/close", "", nil, ""); code != http.StatusNotFound {
			t.Fatalf("close %s: %d, want 404", id, code)
		}
	}
	var audited int
	for line := range strings.Lines(logs.String()) {
		if !strings.Contains(line, `"admin action"`) {
			continue
		}
		audited++
		if strings.Contains(line, `"session"`) || !strings.Contains(line, "refused 404") {
			t.Errorf("a close of no session id audited as %s", line)
		}
	}
	if audited != 2 {
		t.Errorf("%d closes audited, want 2:\n%s", audited, logs.String())
	}
}
