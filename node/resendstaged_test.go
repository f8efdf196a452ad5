package node

import (
	"testing"
	"time"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// An answer to a resend that the execution sender sends itself is sized
// on what waits in the session's send buffer and on what the same batch
// staged for it. On the first alone, five requests of one session going
// out in one batch were each answered in line — 100 reports, ~15 KB,
// each — 76 KB over a 64 KiB buffer, and the session was cut as a slow
// consumer, though it read everything. (A batch's live reports cannot do
// it: they are in the answer's range, and the answer is sized for two
// reports an event.) Now those that do not fit beside the first go to
// the worker (or are told it is busy), and the session stays.
func TestInlineResendCountsTheBatchStaged(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Gateway.SendBufferBytes = 64 << 10
	h := holdSender(t)
	n, addrs, _ := startNode(t, cfg)
	defer func() {
		h.release()
		n.Stop()
	}()
	in := cfg.Instruments[0]
	c := dial(t, addrs.Gateway, 3)
	const orders = 200
	for i := uint64(1); i <= orders; i++ {
		c.NewOrder(limit(i, wire.SideBuy, in.ReferencePrice-int64(1+i%40)*in.TickSize, 1))
	}
	lastAccept := nextWithin(t, c, 20*time.Second, func(m client.Message) bool { return m.Report.ClientOrderID == orders }).Report.InputSeq

	h.holdNext() // the sender's next batch is held: the order status answer's
	if err := c.OrderStatus(proto.OrderStatus{OrigClientOrderID: 1, Instrument: in.ID}); err != nil {
		t.Fatal(err)
	}
	h.awaitHeld(t)
	const requests = 5
	tags := map[uint64]bool{}
	for range requests {
		tag, err := c.Resend(lastAccept - 100) // the last 100 accepts: in line, alone
		if err != nil {
			t.Fatal(err)
		}
		tags[tag] = true
	}
	last := lastAccept + 1 + requests // after the status query
	waitUntil(t, func() bool { return n.base+n.stats.engine.Sequence().Load() >= last })
	h.release()

	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	for len(tags) > 0 {
		m, err := c.Next()
		if err != nil {
			t.Fatalf("%d answers still due: %v — the session was cut", len(tags), err)
		}
		if m.Type == wire.MessageResendDone {
			delete(tags, m.Seq)
		}
	}
}
