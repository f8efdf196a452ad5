package gateway

import (
	"testing"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/input"
	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// endsBeforeTheClientKnows are ends of a session, the reader's own and
// the node's, each followed by its client reading its connection to the
// end (unregisterFirst's tests).
var endsBeforeTheClientKnows = []nodeEnd{
	{CauseFrameTooLarge, func(t *testing.T, g *Gateway, c *client.Client) {
		c.SendRaw(proto.AppendFrame(nil, make([]byte, 300)))
	}},
	{CauseOperator, func(t *testing.T, g *Gateway, c *client.Client) {
		if !g.CloseSession(c.Session) {
			t.Fatal("session not live")
		}
	}},
	{CauseSlowConsumer, func(t *testing.T, g *Gateway, c *client.Client) {
		cutOutbox(t, g.Session(c.Session), unregisterFirstBuffer)
	}},
}

// unregisterFirstBuffer is the send buffer of unregisterFirst's
// sessions: cutOutbox cuts one with a frame over it.
const unregisterFirstBuffer = 64 << 10

// A session the gateway ends — for a frame too large, an operator's
// close, a cut as a slow consumer — is unregistered before its client
// can tell its connection ended: a client that logs on again the moment
// it reads its end is taken at gateway.max_sessions_per_account 1. Its
// Closing was written, and its connection closed, before its reader
// unregistered it (told, counted, then unregistered), and the logon
// was refused TooManySessions — final for the client, which does not
// retry it (client.ErrTooManySessions).
func TestAnEndedSessionsClientLogsOnAgainAtOnce(t *testing.T) {
	for _, end := range endsBeforeTheClientKnows {
		t.Run(end.cause.String(), func(t *testing.T) {
			g, _ := startGateway(t, Config{MaxSessionsPerAccount: 1, MaxFrameBytes: 256, SendBufferBytes: unregisterFirstBuffer})
			c, _ := logOnSession(t, g)
			end.end(t, g, c)
			testkit.ReadToEnd(t, c, "the ended session's connection")
			again, err := client.Dial(g.Addr().String(), 1, "one", client.Options{})
			if err != nil {
				t.Fatalf("logging on again once the %s session's connection ended: %v", end.cause, err)
			}
			again.Close()
		})
	}
}

// A cancel-on-disconnect account's last session, ended by the gateway,
// publishes its MassCancel however soon its client logs on again after
// reading its end — ahead of the new session's orders. The new logon
// registered before the ended session was unregistered, which then was
// not its account's last, and published none: the account's orders
// stayed live although its only client's connection had ended.
func TestAQuickReconnectLeavesTheEndedSessionsCancelOnDisconnect(t *testing.T) {
	for _, end := range endsBeforeTheClientKnows {
		t.Run(end.cause.String(), func(t *testing.T) {
			g, ring := startGateway(t, Config{MaxFrameBytes: 256, SendBufferBytes: unregisterFirstBuffer})
			c, err := client.Dial(g.Addr().String(), 2, "two", client.Options{AutoFlush: true})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			end.end(t, g, c)
			testkit.ReadToEnd(t, c, "the ended session's connection")
			again, err := client.Dial(g.Addr().String(), 2, "two", client.Options{AutoFlush: true})
			if err != nil {
				t.Fatal(err)
			}
			defer again.Close()
			again.NewOrder(order(1))
			frames := ring.waitFor(t, 1)
			if f := frames[0]; f.kind != input.KindControl || f.typ != wire.MessageMassCancel || f.account != 2 {
				t.Fatalf("first published %v (kind %v) of account %d, want the ended session's MassCancel of account 2, ahead of the new session's order", f.typ, f.kind, f.account)
			}
		})
	}
}
