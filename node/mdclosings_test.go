package node

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/output"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// A market-data connection the port ends for crossing a limit is told
// which limit, with its setting and value, and one that sent a frame the
// port does not take is told what was wrong with it: a slow consumer's
// send buffer, the node's send budget (one sentence said both), the
// message rate, the read timeout; a frame too large (with the limit in
// bytes), empty, not a message, an order-entry message (one sentence
// said all four). A cut by the stall time goes only to a client whose
// socket has room after a write made no progress, which a test cannot
// arrange: its frame, which every subscriber's outbox is given, is read
// as built.
func TestMarketDataClosingNamesTheLimitCrossed(t *testing.T) {
	const buffer = 4 << 20
	for _, tc := range []struct {
		name string
		set  map[string]string
		end  func(t *testing.T, n *Node, c *client.Client)
		says string
	}{
		{"send buffer", nil, func(t *testing.T, n *Node, _ *client.Client) {
			if err := onlyMDOutbox(t, n).Send(make([]byte, buffer+1)); !errors.Is(err, output.ErrOverflow) {
				t.Fatalf("a frame over the send buffer: %v, want the outbox cut (ErrOverflow)", err)
			}
		}, "more than marketdata.send_buffer_bytes (4194304 bytes) waited unsent"},
		{"send budget", map[string]string{"node.send_budget_bytes": "1048576"}, func(t *testing.T, n *Node, _ *client.Client) {
			if err := onlyMDOutbox(t, n).Send(make([]byte, 2<<20)); !errors.Is(err, output.ErrOverBudget) {
				t.Fatalf("a frame over the budget: %v, want the outbox cut (ErrOverBudget)", err)
			}
		}, "node.send_budget_bytes (1048576 bytes), was spent"},
		{"message rate", map[string]string{"marketdata.message_rate": "5"}, func(t *testing.T, _ *Node, c *client.Client) {
			c.SendRaw(bytes.Repeat(proto.NewEncoder().Heartbeat(0), 20))
		}, "marketdata.message_rate (5)"},
		{"idle", map[string]string{"gateway.heartbeat_interval": "250ms", "gateway.read_timeout": "1s"}, func(*testing.T, *Node, *client.Client) {},
			"subscribed to nothing for gateway.read_timeout (1s)"},
		{"frame too large", nil, func(t *testing.T, _ *Node, c *client.Client) {
			c.SendRaw(proto.AppendFrame(nil, make([]byte, mdMaxFrameBytes+1)))
		}, "a frame over 1024 bytes, the largest the market-data port reads"},
		{"empty frame", nil, func(t *testing.T, _ *Node, c *client.Client) {
			c.SendRaw(proto.AppendFrame(nil, nil))
		}, "a frame of length 0"},
		{"not a message", nil, func(t *testing.T, _ *Node, c *client.Client) {
			c.SendRaw(proto.AppendFrame(nil, bytes.Repeat([]byte{0xff}, 40)))
		}, "a frame that is not a valid message"},
		{"order entry", nil, func(t *testing.T, _ *Node, c *client.Client) {
			c.SendRaw(proto.NewEncoder().MassCancel(2, 1))
		}, "an order-entry message: this is the market-data port; send orders to the order-entry port"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t, t.TempDir())
			setConfig(t, cfg, map[string]string{"marketdata.send_buffer_bytes": "4194304"})
			setConfig(t, cfg, tc.set)
			n, addrs, _ := startNode(t, cfg)
			c := dialMD(t, addrs.MarketData)
			tc.end(t, n, c)
			err := expectClosed(t, c, "the connection")
			if ce, ok := errors.AsType[*client.ClosedError](err); !ok || !strings.Contains(ce.Text, tc.says) {
				t.Fatalf("the subscriber read %v, want a Closing saying %q", err, tc.says)
			}
		})
	}
	cfg := testConfig(t, t.TempDir())
	setConfig(t, cfg, map[string]string{"gateway.heartbeat_interval": "250ms", "gateway.read_timeout": "1s"})
	n, _, _ := startNode(t, cfg)
	payload := n.mdHub.cuts.Stalled[proto.PrefixSize:]
	if _, pos, err := proto.Verify(payload); err != nil {
		t.Fatal(err)
	} else if cause, text := proto.ClosingAt(payload, pos); cause != wire.ClosingCauseSlowConsumer || !strings.Contains(text, "it took nothing written to it for gateway.read_timeout (1s)") {
		t.Fatalf("a stalled subscriber is told %s %q", proto.ClosingCauseName(cause), text)
	}
}
