package gateway

import (
	"bytes"
	"testing"
	"time"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/output"
	"github.com/ringex/ringex/proto"
)

// replaceSession ends c's session as the node does for a logon that
// replaces it (Logon.replaces_session); the replacing client is closed
// when the test ends.
func replaceSession(t *testing.T, g *Gateway, c *client.Client) {
	t.Helper()
	nc, err := client.Dial(g.Addr().String(), 1, "one", client.Options{ReplacesSession: c.Session})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
}

// A session the node ends takes no more of its client's frames from the
// network: the frames its reader had read are published, and none its
// client's socket still held. The node ends a session through its
// outbox, which keeps the connection open while it writes (here a client
// that reads nothing holds it for the outbox's close grace), and a shut
// read side still hands over what the socket had queued: a client's
// orders went on into the ring after an operator closed its session, or
// after the gateway closed.
func TestEndedSessionReadsNoMore(t *testing.T) {
	for _, tc := range []struct {
		cause Cause
		end   func(t *testing.T, g *Gateway, c *client.Client)
	}{
		{CauseOperator, func(t *testing.T, g *Gateway, c *client.Client) { g.CloseSession(c.Session) }},
		{CauseReplaced, replaceSession},
		{CauseNotLeader, func(t *testing.T, g *Gateway, c *client.Client) { g.DropSessions() }},
		// The read sides shut at once (StopTaking's first step); the
		// outbox stays open for the reports owed until Close, which
		// returns once the reader, waiting on the full ring, ends.
		{CauseShutdown, func(t *testing.T, g *Gateway, c *client.Client) { g.endReading(); go g.Close() }},
	} {
		t.Run(tc.cause.String(), func(t *testing.T) {
			g, ring := startGateway(t, Config{SendBufferBytes: 32 << 20})
			c, err := client.Dial(g.Addr().String(), 1, "one", client.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			s := g.Session(c.Session)
			hb := fillPastTheSocket(s) // the outbox writes until its close grace ends
			ring.setBlocked(true)
			enc := proto.NewEncoder()
			var burst []byte
			for i := range 10000 {
				burst = append(burst, enc.NewOrder(uint64(i+1), order(uint64(i+1)))...)
			}
			read := (64 << 10) / (len(burst) / 10000) // the most the reader holds read: proto.NewFrameReader's buffer
			sent := make(chan struct{})
			go func() {
				defer close(sent)
				for range 16 {
					if c.SendRaw(burst) != nil || c.Flush() != nil {
						return
					}
				}
			}()
			ring.awaitWaiting(t)
			tc.end(t, g, c)
			for deadline := time.Now().Add(5 * time.Second); tc.cause != CauseShutdown && s.Out.Append(hb) != output.ErrClosed; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("the session's outbox still open 5 s after it was ended")
				}
			}
			ring.setBlocked(false)
			awaitDisconnects(t, g, tc.cause, 1)
			published := 0
			ring.mu.Lock()
			for _, f := range ring.frames {
				if f.session == s.ID {
					published++
				}
			}
			ring.mu.Unlock()
			if published > read {
				t.Fatalf("%d orders published of the ended session; its reader had read at most %d", published, read)
			}
			c.Close()
			<-sent
		})
	}
}

// fillPastTheSocket queues 16 MiB of heartbeats (the frame returned) on
// s, more than the loopback socket buffers take: a client that reads
// none of it keeps the session's writer writing.
func fillPastTheSocket(s *Session) (hb []byte) {
	hb = proto.NewEncoder().Heartbeat(0)
	s.Out.Send(bytes.Repeat(hb, 16<<20/len(hb)))
	return hb
}
