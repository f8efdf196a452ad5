package node

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/internal/testkit"
)

// A refused request's log line holds its path cut to refusedLogMax
// bytes, marked as cut: whoever reaches the port, no token needed, chose
// a path of up to a MiB (net/http's header limit), and the line held it
// whole. Nor does any secret the request carried reach the line: not a
// token in its query, its headers or the URL's userinfo.
func TestAdminRefusalLogCutsThePathAndHoldsNoSecret(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Set("admin.token", "admin-token-xyzzy")
	n, addrs, logs := startNodeLogging(t, cfg, Options{})
	defer n.Stop()
	path := "/accounts/" + strings.Repeat("1", 64<<10) + "/suspend" // a path the port serves: 401, not 404
	request := "POST http://op:sekrit-userinfo@127.0.0.1" + path + "?token=sekrit-query&admin.token=admin-token-xyzzy HTTP/1.1\r\n" +
		"Host: 127.0.0.1\r\nAuthorization: Bearer sekrit-header\r\nX-Admin-Token: admin-token-xyzzy\r\nCookie: token=sekrit-cookie\r\n\r\n"
	resp, body, _, err := rawAdminRequest(addrs.Admin, request)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a request with a wrong token: %s %q, want 401", resp.Status, body)
	}
	n.Stop()
	line := refusalLine(t, logs.String())
	if len(line) > 2*refusedLogMax+200 {
		t.Errorf("the refusal's line is %d bytes long:\n%.600s", len(line), line)
	}
	var e map[string]any
	if err := json.Unmarshal([]byte(line), &e); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%s… (cut from %d bytes)", path[:refusedLogMax], len(path))
	if e["path"] != want {
		t.Errorf("the refusal's path is %.300q, want %.300q", e["path"], want)
	}
	for _, secret := range []string{"sekrit", "xyzzy"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("%q reached the log:\n%.600s", secret, logs.String())
		}
	}
}

// The method is cut as the path is: it too is the caller's choice, up to
// the header limit.
func TestAdminRefusalLogCutsTheMethod(t *testing.T) {
	var logs testkit.SyncBuffer
	n := &Node{cfg: config.Default(), log: zerolog.New(&logs)}
	method := strings.Repeat("M", 4096)
	n.refused(httptest.NewRecorder(), httptest.NewRequest(method, "/halt", nil), refusedToken)
	var e map[string]any
	if err := json.Unmarshal([]byte(refusalLine(t, logs.String())), &e); err != nil {
		t.Fatal(err)
	}
	if want := method[:refusedLogMax] + "… (cut from 4096 bytes)"; e["method"] != want || e["path"] != "/halt" {
		t.Errorf("the refusal's method %.300q and path %q; want %.300q and /halt", e["method"], e["path"], want)
	}
}

// logCut keeps what fits in max bytes whole, cuts before a rune that
// does not fit (the line stays valid UTF-8), and marks the cut.
func TestLogCut(t *testing.T) {
	for _, c := range []struct {
		s    string
		max  int
		want string
	}{
		{"", 3, ""},
		{"abc", 3, "abc"},
		{"abcd", 3, "abc… (cut from 4 bytes)"},
		{"ab€", 3, "ab… (cut from 5 bytes)"},          // € is 3 bytes
		{"a€b", 3, "a… (cut from 5 bytes)"},           // cut within €
		{"€€", 3, "€… (cut from 6 bytes)"},            // a rune that ends at max stays
		{"\xff\xfeab", 1, "\xff… (cut from 4 bytes)"}, // no rune to keep whole: bytes as they came
	} {
		got := logCut(c.s, c.max)
		if got != c.want {
			t.Errorf("logCut(%q, %d) = %q, want %q", c.s, c.max, got, c.want)
		}
		if utf8.ValidString(c.s) && !utf8.ValidString(got) {
			t.Errorf("logCut(%q, %d) = %q: not UTF-8", c.s, c.max, got)
		}
	}
}

// refusalLine is the one "admin: refused a request" line of logs.
func refusalLine(t *testing.T, logs string) string {
	t.Helper()
	var found []string
	for line := range strings.Lines(logs) {
		if strings.Contains(line, "admin: refused a request") {
			found = append(found, line)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d refusal lines logged, want 1:\n%.2000s", len(found), logs)
	}
	return found[0]
}

// A refused control request's audit line holds its error cut to
// auditErrorMax bytes: the refusal names what the request gave — an
// unknown parameter of 8 KiB here, of up to a MiB at the header limit —
// and every refused request is a line, none held back.
func TestAuditCutsTheRefusal(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, addrs, logs := startNodeLogging(t, cfg, Options{})
	defer n.Stop()
	param := strings.Repeat("p", 8<<10)
	if code := adminStatus(t, addrs.Admin, "POST", "/halt?instrument=1&"+param+"=1", "", nil, ""); code != http.StatusBadRequest {
		t.Fatalf("POST /halt with an unknown parameter: %d, want 400", code)
	}
	n.Stop()
	var line string
	for l := range strings.Lines(logs.String()) {
		if strings.Contains(l, `"action":"halt"`) {
			line = l
		}
	}
	var e map[string]any
	if err := json.Unmarshal([]byte(line), &e); err != nil {
		t.Fatalf("no audit line of the refused halt: %v\n%.2000s", err, logs.String())
	}
	msg, _ := e["error"].(string)
	if !strings.HasPrefix(msg, `refused 400: unknown parameter "ppp`) || !strings.HasSuffix(msg, " bytes)") || len(msg) > auditErrorMax+40 {
		t.Errorf("the audit line's error (%d bytes): %.300q…, want it cut to %d bytes and marked", len(msg), msg, auditErrorMax)
	}
}
