package replicator

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/rs/zerolog"

	"github.com/ringex/ringex/internal/testkit"
)

// What raft logs on a running member while a peer is stopped or
// restarting — each call to it failing, as raft's replication,
// heartbeat, election and lease check log them (their messages and
// fields as in raft's source) — is a warning, not an error, and its
// repeats for one peer are held back: a member restarting for 8 s had
// the others log errors at each heartbeat. A fault here (a log it
// cannot read) is still an error.
func TestAPeerStoppedIsNoErrorHere(t *testing.T) {
	var buf testkit.SyncBuffer
	hlog := hclog.New(&hclog.LoggerOptions{Name: "raft", Level: hclog.Info, DisableTime: true,
		Output: zerologWriter{log: zerolog.New(&buf), repeats: &raftRepeats{}}})
	refused := errors.New("dial tcp 127.0.0.1:7002: connect: connection refused")
	peer2 := raft.Server{Suffrage: raft.Voter, ID: "2", Address: "127.0.0.1:7002"}
	peer3 := raft.Server{Suffrage: raft.Voter, ID: "3", Address: "127.0.0.1:7003"}
	for range 20 { // a peer down a while
		hlog.Error("failed to heartbeat to", "peer", peer2.Address, "backoff time", 75*time.Millisecond, "error", refused)
		hlog.Error("failed to appendEntries to", "peer", peer2, "error", refused)
		hlog.Warn("failed to contact", "server-id", peer2.ID, "time", 600*time.Millisecond)
		hlog.Error("failed to make requestVote RPC", "target", peer2, "error", refused, "term", 7)
	}
	hlog.Error("failed to pipeline appendEntries", "peer", peer2, "error", "EOF")
	hlog.Error("failed to start pipeline replication to", "peer", peer2, "error", refused)
	hlog.Error("failed to send snapshot to", "peer", peer2, "error", refused)
	hlog.Error("failed to heartbeat to", "peer", peer3.Address, "backoff time", 10*time.Millisecond, "error", refused) // another peer: its own line
	hlog.Error("failed to get log", "index", 9, "error", "replicator: a disk error")

	var want []string
	for _, m := range []string{"failed to heartbeat to", "failed to appendEntries to", "failed to contact", "failed to make requestVote RPC",
		"failed to pipeline appendEntries", "failed to start pipeline replication to", "failed to send snapshot to", "failed to heartbeat to"} {
		want = append(want, "warn "+m)
	}
	want = append(want, "error failed to get log")
	if levels := raftLevels(t, buf.String()); fmt.Sprint(levels) != fmt.Sprint(want) {
		t.Fatalf("logged:\n%s\nwant (level, message) %q", buf.String(), want)
	}
}

// raftLevels is each of raft's lines in text, a zerologWriter's output,
// as its level and raft's message ("warn failed to contact").
func raftLevels(t *testing.T, text string) []string {
	t.Helper()
	var levels []string
	for _, l := range loggedLines(t, text) {
		msg, _, _ := strings.Cut(strings.TrimPrefix(l.Message[strings.Index(l.Message, "raft: "):], "raft: "), ":")
		levels = append(levels, l.Level+" "+msg)
	}
	return levels
}

// Raft's lines about a connection this member closed on a peer that
// sent no request in time (errCutOff) are warnings, their repeats held
// back by message: anyone who reaches the raft port can make them, a
// connection at a time. The same message for another cause stays an
// error.
func TestACutConnectionsLinesAreHeldBack(t *testing.T) {
	var buf testkit.SyncBuffer
	hlog := hclog.New(&hclog.LoggerOptions{Name: "raft", Level: hclog.Info, DisableTime: true,
		Output: zerologWriter{log: zerolog.New(&buf), repeats: &raftRepeats{}}})
	for range 5 {
		hlog.Error("failed to decode incoming command", "error", fmt.Errorf("%w (no first request since the connection was accepted)", errCutOff))
		hlog.Error("failed to flush response", "error", errCutOff)
	}
	hlog.Error("failed to decode incoming command", "error", "msgpack decode error")
	want := []string{"warn failed to decode incoming command", "warn failed to flush response", "error failed to decode incoming command"}
	if levels := raftLevels(t, buf.String()); fmt.Sprint(levels) != fmt.Sprint(want) {
		t.Fatalf("logged:\n%s\nwant (level, message) %q", buf.String(), want)
	}
}

// A line held back is let through again raftRepeatEvery after the last
// one, saying how many were held back since; each key on its own.
func TestRaftRepeatsLetOneThroughPerPeriod(t *testing.T) {
	var r raftRepeats
	start := time.Unix(1000, 0)
	for i, s := range []struct {
		key      string
		after    time.Duration
		ok       bool
		heldBack int
	}{
		{"a", 0, true, 0},
		{"a", time.Second, false, 0},
		{"b", time.Second, true, 0},
		{"a", raftRepeatEvery - time.Millisecond, false, 0},
		{"a", raftRepeatEvery, true, 2},
		{"a", raftRepeatEvery + time.Second, false, 0},
		{"a", 3 * raftRepeatEvery, true, 1},
	} {
		if ok, held := r.allow(s.key, start.Add(s.after)); ok != s.ok || held != s.heldBack {
			t.Fatalf("step %d (%s at %v): allowed %v, %d held back; want %v, %d", i, s.key, s.after, ok, held, s.ok, s.heldBack)
		}
	}
}

// peerCallKey keys a line of peerCalls by its message and the peer it
// names, quoted or not; other lines have none.
func TestPeerCallKey(t *testing.T) {
	for _, c := range []struct{ line, key string }{
		{`[ERROR] raft: failed to heartbeat to: peer=127.0.0.1:7002 backoff time=75ms error="connection refused"`, "failed to heartbeat to peer=127.0.0.1:7002"},
		{`[ERROR] raft: failed to appendEntries to: peer="{Voter 2 127.0.0.1:7002}" error=EOF`, "failed to appendEntries to peer={Voter 2 127.0.0.1:7002}"},
		{`[WARN]  raft: failed to contact: server-id=2 time=600ms`, "failed to contact server-id=2"},
		{`[WARN]  raft: failed to contact quorum of nodes, stepping down`, ""},
		{`[ERROR] raft: failed to get log: index=9 error="a disk error"`, ""},
	} {
		if key, ok := peerCallKey(c.line); key != c.key || ok != (c.key != "") {
			t.Errorf("%q: key %q %v, want %q", c.line, key, ok, c.key)
		}
	}
}
