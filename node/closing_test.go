package node

import (
	"fmt"
	"testing"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// A session that reads, handed a burst of reports larger than its send
// buffer in one batch (the cancels of a mass cancel), is cut as a slow
// consumer — and, its socket having room, is told so: the Closing fits
// behind what it had read.
func TestSlowConsumerWithRoomToldWhy(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Set("gateway.send_buffer_bytes", fmt.Sprint(64*proto.ReportFrameBytes()))
	cfg.Set("gateway.max_frame_bytes", "1024")
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	in := cfg.Instruments[0]
	c := dial(t, addrs.Gateway, 1)
	for i := range uint64(200) { // one at a time: their acks never more than the buffer
		c.NewOrder(limit(i+1, wire.SideBuy, in.ReferencePrice-int64(1+i%50)*in.TickSize, 1))
		next(t, c, report(wire.ExecKindAccepted))
	}
	c.MassCancel(in.ID)
	if got := client.ClosedBy(expectClosed(t, c, "session handed more than its buffer")); got != "slow_consumer" {
		t.Fatalf("told %q, want slow_consumer", got)
	}
}
