package node

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/output"
	"github.com/ringex/ringex/proto"
)

// A market-data connection cut as a slow consumer while its client
// still sends — the Closing in the node's socket, the connection open
// until the client takes it (output's cutLinger) — stops reading at the
// cut, and the client reads what the socket took for it, the Closing,
// and the end of the stream. Its reader moved its read deadline at
// every message, undoing the cut's wake-up (a read deadline in the
// past), and read on until the close: the client read the end of the
// stream without the Closing.
func TestCutSubscriberReadsNoMoreOfItsClient(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.MarketData.MessageRate = 0 // no limit: its heartbeats end nothing
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	conn, err := net.Dial("tcp", addrs.MarketData)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	enc := proto.NewEncoder()
	defer testkit.KeepSending(conn, enc.Heartbeat(0))()
	out := onlyMDOutbox(t, n)
	// More than the client's socket takes unread, so that the node's
	// holds the rest, the Closing after it, when the cut comes.
	var owed []byte
	for i := 0; len(owed) < 1<<20; i++ {
		owed = append(owed, enc.Heartbeat(uint64(i+1))...)
	}
	before := n.stats.mdBytesOut.Load()
	if err := out.Send(owed); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { return n.stats.mdBytesOut.Load()-before >= int64(len(owed)) })
	if err := out.Send(make([]byte, cfg.MarketData.SendBufferBytes+1)); !errors.Is(err, output.ErrOverflow) {
		t.Fatalf("a frame over the send buffer: %v, want the cut", err)
	}
	wantClosed(t, n, mdSlowConsumer, 1)
	testkit.ReadToClosing(t, conn, "slow_consumer")
}
