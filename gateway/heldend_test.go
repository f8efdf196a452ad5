package gateway

import (
	"testing"
	"time"

	"github.com/ringex/ringex/client"
)

// pastTheCloseGrace is longer than the outboxes' close grace (output's
// closeGrace, 1 s): a reader held that long on the ring holds its
// session's end past the grace the Closing was given when the session
// ended.
const pastTheCloseGrace = 1200 * time.Millisecond

// heldEnd is a session ended while its reader waits on a full ring: the
// gateway of cfg, its client, and the ring, held until the test lets it
// go. One ended by the node waits to publish the order it read (ring
// blocked); one that ended itself — silent past gateway.read_timeout, of
// a cancel-on-disconnect account — waits to publish its MassCancel
// (holdControl), unregistered but not yet told.
type heldEnd struct {
	cause Cause
	start func(t *testing.T, cfg Config) (*Gateway, *fakeRing, *client.Client)
}

var heldEnds = []heldEnd{
	{CauseOperator, func(t *testing.T, cfg Config) (*Gateway, *fakeRing, *client.Client) {
		g, ring, c, s := heldPublishing(t, cfg)
		if !g.CloseSession(s.ID) {
			t.Fatal("session not live")
		}
		return g, ring, c
	}},
	{CauseSlowConsumer, func(t *testing.T, cfg Config) (*Gateway, *fakeRing, *client.Client) {
		g, ring, c, s := heldPublishing(t, cfg)
		cutOutbox(t, s, cfg.SendBufferBytes)
		return g, ring, c
	}},
	{CauseHeartbeatTimeout, func(t *testing.T, cfg Config) (*Gateway, *fakeRing, *client.Client) {
		g, ring := startGateway(t, cfg)
		ring.setHoldControl(true)
		c, err := client.Dial(g.Addr().String(), 2, "two", client.Options{AutoFlush: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		ring.awaitWaiting(t) // silent past the read timeout: its MassCancel waits
		return g, ring, c
	}},
}

// A session the node ends — an operator's close, a cut as a slow
// consumer, a heartbeat timeout — while its reader waits on a full ring
// is told its end once the ring takes the reader's input, however long
// that took: its Closing is written after its unregistration
// (Outbox.EndAfter), within a close grace counted from then. It was
// counted from the end, and a reader held past it left the Closing's
// write its deadline spent: the client read the end of the stream,
// untold (operator, heartbeat_timeout; a cut's Closing has a deadline of
// its own, set when it is written).
func TestASessionEndedWhileItsReaderWaitsOnTheRingIsTold(t *testing.T) {
	for _, end := range heldEnds {
		t.Run(end.cause.String(), func(t *testing.T) {
			g, ring, c := end.start(t, Config{SendBufferBytes: unregisterFirstBuffer, HeartbeatTimeout: 2 * time.Second})
			time.Sleep(pastTheCloseGrace) // a deadline passing, not a wait for the gateway
			ring.setBlocked(false)
			ring.setHoldControl(false)
			if told := closedBy(t, c); told != end.cause.String() {
				t.Fatalf("the client was told %q, want %q", told, end.cause)
			}
			awaitDisconnects(t, g, end.cause, 1)
		})
	}
}

// A session ended while its reader waits on a ring that stays full is
// still told and closed, within gateway.read_timeout and its close
// grace: its end waits for its unregistration no longer. It waited for
// ever, the client's connection open and its writer running for as long
// as the ring was full.
func TestASessionEndedWhileTheRingStaysFullStillCloses(t *testing.T) {
	for _, end := range heldEnds {
		if end.cause == CauseSlowConsumer {
			continue // told only if its socket takes the Closing at once: read in the test above
		}
		t.Run(end.cause.String(), func(t *testing.T) {
			_, ring, c := end.start(t, Config{SendBufferBytes: unregisterFirstBuffer, HeartbeatTimeout: 500 * time.Millisecond})
			defer func() { // the reader, and then the gateway's Close, end once the ring takes its input
				ring.setBlocked(false)
				ring.setHoldControl(false)
			}()
			if told := closedBy(t, c); told != end.cause.String() {
				t.Fatalf("the client was told %q, want %q", told, end.cause)
			}
		})
	}
}
