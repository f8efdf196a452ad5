package replicator

import (
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/rs/zerolog"

	"github.com/ringex/ringex/internal/testkit"
)

// loggedLine is one line a zerolog logger wrote: its level and message,
// and the fields tests read (a refusal's: noteUndecodable).
type loggedLine struct {
	Level, Message, Error string
	Refused, Peer         string
	PeerAddr              string `json:"peer_addr"`
}

// loggedLines parses text, a zerolog logger's output, one JSON object a
// line.
func loggedLines(t *testing.T, text string) []loggedLine {
	t.Helper()
	var lines []loggedLine
	for _, l := range strings.Split(strings.TrimSpace(text), "\n") {
		if l == "" {
			continue
		}
		var e loggedLine
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		lines = append(lines, e)
	}
	return lines
}

// writeRaftLines writes each of raft's lines to w, as hclog does.
func writeRaftLines(t *testing.T, w zerologWriter, lines ...string) {
	t.Helper()
	for _, line := range lines {
		if _, err := w.Write([]byte(line + "\n")); err != nil {
			t.Fatal(err)
		}
	}
}

// Once a member is stopping, raft's lines about a call its own stop
// broke (its transport, a pipeline, a connection or raft closed) are
// info; until then they stay what they are while it runs — an error, or
// a warning for a call to a peer (peerCalls) — and while stopping any
// other error or warning stays one.
func TestWhatTheStopBrokeIsNotAnError(t *testing.T) {
	for _, l := range []struct{ line, running, stopping string }{
		{`[ERROR] raft: failed to decode incoming command: error="transport shutdown"`, "error", "info"},
		{`[ERROR] raft: failed to pipeline appendEntries: peer="{Voter 3 127.0.0.1:28474}" error="write tcp 127.0.0.1:37786->127.0.0.1:28474: use of closed network connection"`, "warn", "info"},
		{`[ERROR] raft: failed to appendEntries to: peer="{Voter 2 127.0.0.1:26087}" error="append pipeline closed"`, "warn", "info"},
		{`[ERROR] raft: failed to heartbeat to: peer=127.0.0.1:26087 backoff time=10ms error="raft is already shutdown"`, "warn", "info"},
		{`[ERROR] raft: failed to appendEntries to: peer="{Voter 2 127.0.0.1:26088}" error=EOF`, "warn", "warn"},
		{`[ERROR] raft: failed to take snapshot: error="replicator: a disk error"`, "error", "error"},
		{`[WARN]  raft: failed to contact: server-id=2 time=500.067882ms`, "warn", "warn"},
	} {
		for _, stop := range []bool{false, true} {
			var stopping atomic.Bool
			stopping.Store(stop)
			var buf testkit.SyncBuffer
			writeRaftLines(t, zerologWriter{log: zerolog.New(&buf), stopping: &stopping}, l.line)
			got := loggedLines(t, buf.String())
			want := l.running
			if stop {
				want = l.stopping
			}
			if len(got) != 1 || got[0].Level != want {
				t.Errorf("stopping %v: %q logged %+v, want once at %s", stop, l.line, got, want)
			}
		}
	}
}

// A follower's clean stop logs no error. An RPC a peer sent on a
// connection the follower had accepted (the leader's next heartbeat)
// reached its closed transport, and raft logged "failed to decode
// incoming command: transport shutdown" at error level at each stop (a
// cluster's members stopped cleanly, helper 309): an operator alerted on
// error lines was called for every rolling restart.
func TestACleanStopLogsNoError(t *testing.T) {
	logs := make([]*testkit.SyncBuffer, 3)
	for i := range logs {
		logs[i] = &testkit.SyncBuffer{}
	}
	ms, l := startCommitted(t, 3, func(c *Config) { c.Logger = zerolog.New(logs[c.NodeID-1]) }, 10, nil)
	f := followersOf(ms, l)[0]
	log := logs[f.r.cfg.NodeID-1]

	// Peers' connections to the follower, accepted before the stop: an
	// RPC sent on one after the stop is the leader's next heartbeat (of
	// a term long past, which the follower refuses, so it changes
	// nothing). The follower's transport takes the next RPC on a
	// connection only once it answered the last and looked whether it is
	// stopping: the first connection's answer is followed by the second's
	// round trip and raft's shutdown, the time that look takes many times
	// over.
	sends := make([]func() error, 2)
	for i := range sends {
		peer, err := raft.NewTCPTransport("127.0.0.1:0", nil, 1, 5*time.Second, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		defer peer.Close()
		sends[i] = func() error {
			req := raft.AppendEntriesRequest{RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("9"), Addr: []byte(peer.LocalAddr())}}
			return peer.AppendEntries(serverID(f.r.cfg.NodeID), raft.ServerAddress(f.r.cfg.Listen), &req, &raft.AppendEntriesResponse{})
		}
		if err := sends[i](); err != nil {
			t.Fatal(err)
		}
	}
	from := len(log.String())
	if err := f.r.Close(); err != nil {
		t.Fatal(err)
	}
	// The follower's stop closes the peers' connections, idle then, which
	// fails the sends; raft logs the end of its read of each on that
	// connection's goroutine, in its own time (awaited).
	for _, send := range sends {
		if err := send(); err == nil {
			t.Fatal("an RPC sent after the follower stopped was answered")
		}
	}
	var stopped string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		stopped = log.String()[from:]
		if slices.ContainsFunc(closedByStop, func(e string) bool { return strings.Contains(stopped, e) }) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no raft line naming what the stop closed (%q) within 10 s of the follower's stop: %s", closedByStop, stopped)
		}
	}
	for _, line := range loggedLines(t, stopped) {
		if line.Level == "error" {
			t.Errorf("the follower's clean stop logged an error: %s", line.Message)
		}
	}
}

// A failed Open's teardown is a stop too: a peer's RPC the transport
// Open made had taken — here a member of another cluster's, whose raft
// state the start refuses (ErrOtherCluster) — fails as the transport
// closes, and raft's line about it is info. Before, raft logged it at
// error level ("failed to decode incoming command: transport shutdown")
// beside the failed start, which is the error the operator is told.
func TestAFailedOpenLogsNoErrorForWhatItClosed(t *testing.T) {
	east, west := testPeers(t, 3), testPeers(t, 3)
	dir := joiningDir(t, east, "east")
	peer, err := raft.NewTCPTransport("127.0.0.1:0", nil, 1, 5*time.Second, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	sent := make(chan error, 1)
	defer func(orig func(raft.Transport)) { madeTransport = orig }(madeTransport)
	madeTransport = func(trans raft.Transport) {
		go func() {
			req := raft.AppendEntriesRequest{RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("9"), Addr: []byte(peer.LocalAddr())}}
			sent <- peer.AppendEntries(serverID(1), raft.ServerAddress(west[0].Raft), &req, &raft.AppendEntriesResponse{})
		}()
		// Taken and not answered: the transport's handler waits for the
		// answer or the transport's close.
		select {
		case <-trans.Consumer():
		case <-time.After(10 * time.Second):
			t.Error("the peer's RPC did not reach the transport in 10 s")
		}
	}
	var log testkit.SyncBuffer
	if _, err := openJoiningLogged(t, west, dir, "west", zerolog.New(&log)); !errors.Is(err, ErrOtherCluster) {
		t.Fatalf("started as a member of another cluster: %v, want ErrOtherCluster", err)
	}
	// The transport logs the RPC's failure before it closes the
	// connection, which fails the send.
	select {
	case err := <-sent:
		if err == nil {
			t.Fatal("the peer's RPC was answered")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the peer's RPC still waits 10 s after the failed Open closed the transport")
	}
	logged := log.String()
	if shutdown := raft.ErrTransportShutdown.Error(); !strings.Contains(logged, shutdown) {
		t.Fatalf("no raft line naming %q: %s", shutdown, logged)
	}
	for _, line := range loggedLines(t, logged) {
		if line.Level == "error" {
			t.Errorf("the failed Open logged an error: %s", line.Message)
		}
	}
}
