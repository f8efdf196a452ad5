package node

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// mdRefusedCase is one of the market-data port's refusals of a
// connection that never made its slot its own (mdRefusal), made on a
// raw client's connection: first is what the client sends on
// connecting (nil: nothing), and evict, when set, has a newcomer take
// its slot once it is served.
type mdRefusedCase struct {
	name  string
	cause int
	why   wire.LogonRejectReason
	first func(enc *proto.Encoder) []byte
	evict bool
}

var mdRefusedCases = []mdRefusedCase{
	{"wrong secret", mdLogonFailed, wire.LogonRejectReasonBadSecret,
		func(enc *proto.Encoder) []byte { return enc.Logon(1, 1, "not-the-secret") }, false},
	// Its first Heartbeat, sent on, is refused.
	{"a message before the Logon", mdNotLoggedOn, wire.LogonRejectReasonNotLoggedOn, nil, false},
	{"evicted", mdEvicted, wire.LogonRejectReasonTooManyConnections,
		func(enc *proto.Encoder) []byte { return enc.Logon(1, 2, config.Default().Accounts[1].Secret) }, true},
}

// startRefusing starts a node for tc (marketdata.require_logon; two
// connections at most; no message rate, so that a client that keeps
// sending is refused for what tc makes, never for its rate) with a
// subscriber streaming from it, and dials the connection to refuse,
// returned once it is served.
func startRefusing(t *testing.T) (*Node, Addrs, *mdFeedCheck, *client.Client, net.Conn) {
	t.Helper()
	n, addrs, feed := startWithFeedCheck(t, map[string]string{"marketdata.require_logon": "true",
		"marketdata.max_connections": "2", "marketdata.message_rate": "0"})
	streaming := subscribed(t, mdLogon(t, addrs.MarketData, 1))
	feed.more(streaming)
	conn, err := net.Dial("tcp", addrs.MarketData)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	waitUntil(t, func() bool { return n.mdHub.served() == 2 })
	return n, addrs, feed, streaming, conn
}

// evictFor has a newcomer evict the connection to refuse, for tc's
// eviction, once it is listed: the newcomer logs on (returned; nil for
// the other refusals, made by what their client sends).
func (tc mdRefusedCase) evictFor(t *testing.T, n *Node, addrs Addrs) *client.Client {
	t.Helper()
	if !tc.evict {
		return nil
	}
	waitUntil(t, func() bool { return n.mdHub.waiting.Listed() == 1 })
	return mdLogon(t, addrs.MarketData, 2)
}

// wantAllUpdates checks that the subscriber streaming, and the newcomer
// (nil: none) once subscribed, get the next update.
func wantAllUpdates(t *testing.T, feed *mdFeedCheck, streaming, newcomer *client.Client) {
	t.Helper()
	if newcomer == nil {
		feed.more(streaming)
		return
	}
	feed.more(streaming, subscribed(t, newcomer))
}

// A refused connection whose client never reads and keeps sending past
// its answer is closed, and its slot given back, within mdRefusedLinger
// — well within the outbox's close grace (1 s), the bound the test
// takes, counted from before the refusal was made — as order entry's
// refusals are; a subscriber streaming meanwhile gets every
// update, and so does the newcomer that evicted it. The port closed it
// within the close grace: a second after the refusal, always.
func TestMarketDataRefusedClientStillSendingIsClosedWithinTheRefusalsLinger(t *testing.T) {
	for _, tc := range mdRefusedCases {
		t.Run(tc.name, func(t *testing.T) {
			n, addrs, feed, streaming, conn := startRefusing(t)
			enc := proto.NewEncoder()
			served := 1 // the subscriber streaming; and the newcomer, when one evicts the connection
			if tc.evict {
				served = 2
			}
			if tc.first != nil {
				if _, err := conn.Write(tc.first(enc)); err != nil {
					t.Fatal(err)
				}
			}
			start := time.Now() // the refusal comes after: what follows, or the newcomer
			defer testkit.KeepSending(conn, bytes.Clone(enc.Heartbeat(0)))()
			newcomer := tc.evictFor(t, n, addrs)
			waitUntil(t, func() bool { return n.mdHub.closed[tc.cause].Load() == 1 && n.mdHub.served() == served }, n)
			if took := time.Since(start); took >= time.Second {
				t.Fatalf("refused and closed %v after the refusal's start, want less than the close grace (1 s): its linger (%v)", took, mdRefusedLinger)
			}
			wantAllUpdates(t, feed, streaming, newcomer)
		})
	}
}

// A refused client that sent on past its first message without waiting
// for the answer — pipelined — and then reads, reads its answer
// (LogonReject) and then the end of the stream, not a reset: the
// lingering close after the answer, shorter for a refusal than for a
// session's end, still reads and drops what it sent before closing.
func TestMarketDataRefusedClientStillSendingReadsItsAnswerThenTheEnd(t *testing.T) {
	for _, tc := range mdRefusedCases {
		t.Run(tc.name, func(t *testing.T) {
			n, addrs, feed, streaming, conn := startRefusing(t)
			enc := proto.NewEncoder()
			var pipelined []byte
			if tc.first != nil {
				pipelined = append(pipelined, tc.first(enc)...)
			}
			// More than the node's socket takes unread.
			pipelined = append(pipelined, bytes.Repeat(enc.Heartbeat(0), 8000)...)
			sent := make(chan struct{})
			go func() {
				defer close(sent)
				conn.Write(pipelined)
			}()
			defer func() { conn.Close(); <-sent }()
			if tc.evict {
				<-sent // served, its heartbeats read, before the newcomer comes
			}
			newcomer := tc.evictFor(t, n, addrs)
			var answers [][]byte
			for _, p := range mdFramesToEnd(t, conn) {
				if typ, _ := proto.Type(p); typ != wire.MessageLogonAck { // the evicted one's, first
					answers = append(answers, p)
				}
			}
			if len(answers) != 1 || logonRejectOf(answers[0]) != tc.why {
				t.Fatalf("read %d answers, the first LogonReject %s; want LogonReject %s alone, then the end of the stream",
					len(answers), logonRejectOf(append(answers, nil)[0]), tc.why)
			}
			wantClosed(t, n, tc.cause, 1)
			wantAllUpdates(t, feed, streaming, newcomer)
		})
	}
}

// mdFramesToEnd reads conn to the end of its stream, within 10 s, and
// returns the frames read but its Heartbeats, in order; it fails the
// test unless the stream ends cleanly (no reset).
func mdFramesToEnd(t *testing.T, conn net.Conn) [][]byte {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	all, err := io.ReadAll(conn)
	if err != nil {
		t.Errorf("the connection ended with %v after %d bytes, want the end of the stream", err, len(all))
	}
	var frames [][]byte
	for fr := proto.NewFrameReader(bytes.NewReader(all), 1<<20); ; {
		payload, err := fr.Next()
		if err != nil {
			return frames
		}
		if typ, _ := proto.Type(payload); typ != wire.MessageHeartbeat {
			frames = append(frames, payload)
		}
	}
}

// logonRejectOf is the reason of frame, a LogonReject (None for any
// other frame).
func logonRejectOf(frame []byte) wire.LogonRejectReason {
	typ, pos, err := proto.Verify(frame)
	if err != nil || typ != wire.MessageLogonReject {
		return wire.LogonRejectReasonNone
	}
	return proto.LogonRejectAt(frame, pos)
}
