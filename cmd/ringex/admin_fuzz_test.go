package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/ringex/ringex/gateway"
)

// FuzzSessionsAnswer: whatever answers GET /sessions at --admin, ringex
// sessions' reading of it never panics; a list it reads, encoded as the
// node encodes it, reads back as the same sessions; and its table has a
// header, one line per session — beginning with its id and account, a
// word for each column, at most a bounded width past its address — and
// their count, so a script reading the table finds every session on a
// line of its own (shownWord).
func FuzzSessionsAnswer(f *testing.F) {
	node := func(t testing.TB, list ...gateway.SessionInfo) []byte {
		var b bytes.Buffer
		if err := json.NewEncoder(&b).Encode(map[string]any{"sessions": list}); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	since := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	f.Add(node(f))
	f.Add(node(f, gateway.SessionInfo{ID: 1796313595064636933, Account: 1, From: "127.0.0.1:5001", Since: since, Unsent: 4096},
		gateway.SessionInfo{ID: 1796313595064636934, Account: 2, DropCopy: true, From: "[::1]:5002", Since: since.Add(time.Second), LoggingOn: true}))
	f.Add(node(f, gateway.SessionInfo{ID: math.MaxUint64, Account: math.MaxUint32, DropCopy: true,
		From:  "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff%eth0]:65535",
		Since: time.Date(2026, 12, 7, 21, 15, 22, 123456789, time.FixedZone("", -(9*3600+30*60))), Unsent: 1 << 40, LoggingOn: true}))
	f.Add([]byte(`{"sessions":[{"id":"7","account":1,"from":"127.0.0.1:5001","since":"2026-12-07T10:00:00Z"},` +
		`{"id":"8","account":2,"from":"127.0.0.1:5002","since":"2026-12-07T10:00:01Z","logging_on":true}]}`))
	f.Add([]byte(`{"Sessions":[{}],"sessions":null}`))
	f.Add([]byte(`{"sessions":[{"id":7}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		sessions, err := sessionsAnswer(body)
		if err != nil {
			return // refused: "sessions: …"
		}
		again, err := sessionsAnswer(node(t, sessions...))
		if err != nil {
			t.Fatalf("%+v, encoded as the node does, does not read back: %v", sessions, err)
		}
		if len(again) != len(sessions) {
			t.Fatalf("%d sessions read back as %d", len(sessions), len(again))
		}
		for i, s := range sessions {
			a := again[i]
			if !a.Since.Equal(s.Since) {
				t.Fatalf("session %d's since %v read back as %v", i, s.Since, a.Since)
			}
			a.Since = s.Since
			if a != s {
				t.Fatalf("session %d %+v read back as %+v", i, s, a)
			}
		}
		var out strings.Builder
		writeSessions(&out, sessions)
		lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		if len(lines) != len(sessions)+2 || lines[len(lines)-1] != fmt.Sprintf("%d session(s)", len(sessions)) {
			t.Fatalf("%d session(s) printed as %d lines:\n%s", len(sessions), len(lines), out.String())
		}
		for i, s := range sessions {
			line := lines[i+1]
			words := 7 // id, account, kind, from, since's date and time, unsent
			if s.LoggingOn {
				words += 2 // (logging on)
			}
			if !strings.HasPrefix(line, fmt.Sprintf("%-20d %7d  ", s.ID, s.Account)) || len(strings.Fields(line)) != words || len(line) > 120+4*len(s.From) {
				t.Fatalf("session %+v printed as %q", s, line)
			}
		}
	})
}

// shownWord leaves a node's address or symbol as it is, and quotes what
// would not show as one word: a space, a newline, a control sequence,
// a byte past ASCII, nothing at all.
func TestShownWord(t *testing.T) {
	for _, c := range []struct{ s, want string }{
		{"127.0.0.1:5001", "127.0.0.1:5001"},
		{"[fe80::1%eth0]:7400", "[fe80::1%eth0]:7400"},
		{"BTC-USD", "BTC-USD"},
		{"", `""`},
		{"a b", `"a\x20b"`},
		{"1.2.3.4:5\n8 2", `"1.2.3.4:5\n8\x202"`},
		{"\x1b[2J", `"\x1b[2J"`},
		{"BTC-USD\u00a0", `"BTC-USD\u00a0"`},
		{"\xff", `"\xff"`},
	} {
		if got := shownWord(c.s); got != c.want {
			t.Errorf("shownWord(%q) = %s, want %s", c.s, got, c.want)
		}
	}
}
