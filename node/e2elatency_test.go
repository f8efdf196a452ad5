package node

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/proto/wire"
)

// A write of a session's reports is observed at the latency of the
// oldest report it carries: the session's reports of inputs received an
// hour apart, sent in one sender batch, are recorded at the hour. The
// sender gave every session its batch's newest receive stamp and the
// outbox kept the newest of the commits a write carried, so the write
// was recorded at its newest report's latency — the least of them.
func TestEndToEndObservedAtTheOldestReportOfAWrite(t *testing.T) {
	h := holdSender(t)
	o := startClockedOrders(t, h)
	n := o.n
	applied := func(seq int64) { // the sender is held, not the engine
		t.Helper()
		waitUntil(t, func() bool { return n.base+n.stats.engine.Sequence().Load() >= seq })
	}

	start := time.Now()
	o.anHourApart(t, h, applied) // the sender's batch of order 2: orders 3 and 4 go out together after it
	before := e2eSum(t, n)
	h.release()
	next(t, o.c, func(m client.Message) bool {
		return m.Report.Kind == wire.ExecKindAccepted && m.Report.ClientOrderID == 4
	})

	// The writes of orders 2 to 4 (one or two: the first commit may still
	// wait when the second is made) are observed once the client has
	// read them, on the writer's goroutine: polled for.
	var got time.Duration
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if got = e2eSum(t, n) - before; got >= time.Hour {
			break
		}
	}
	// Order 2's write, if its own, is observed at most since start.
	if most := time.Hour + 2*time.Since(start); got < time.Hour || got > most {
		t.Fatalf("the writes of reports received an hour and a moment ago were observed at %v in all, want from 1h to %v", got, most)
	}
}

// clockedOrders is a node alone whose gateway's clock a test sets back,
// and a session of account 1 on it that has placed order 1, accepted.
type clockedOrders struct {
	n      *Node
	c      *client.Client
	behind atomic.Int64 // how far the gateway's clock reads behind the wall clock
	first  int64        // order 1's input
}

// startClockedOrders starts the node, h holding one of its stages when
// asked; at the test's end h is released, then the node stopped.
func startClockedOrders(t *testing.T, h *batchHold) *clockedOrders {
	t.Helper()
	o := &clockedOrders{}
	var addrs Addrs
	o.n, addrs = startWithClock(t, testConfig(t, t.TempDir()), func() time.Time { return time.Now().Add(-time.Duration(o.behind.Load())) })
	t.Cleanup(func() {
		h.release()
		o.n.Stop()
	})
	o.c = dial(t, addrs.Gateway, 1)
	o.order(1)
	o.first = next(t, o.c, report(wire.ExecKindAccepted)).Report.InputSeq
	return o
}

// order places order id, a buy resting a tick below the first
// instrument's reference price.
func (o *clockedOrders) order(id uint64) {
	in := o.n.cfg.Instruments[0]
	o.c.NewOrder(limit(id, wire.SideBuy, in.ReferencePrice-in.TickSize, in.LotSize))
}

// anHourApart has h hold its stage at the batch of order 2, then places
// order 3 received an hour ago and order 4 received now, each waited
// for with until (its input, first+2 and first+3, published or applied)
// before the clock moves: the held stage's next batch takes orders 3 and
// 4 together. The stage stays held; the test releases h.
func (o *clockedOrders) anHourApart(t *testing.T, h *batchHold, until func(seq int64)) {
	t.Helper()
	h.holdNext()
	o.order(2)
	h.awaitHeld(t)
	o.behind.Store(int64(time.Hour))
	o.order(3)
	until(o.first + 2)
	o.behind.Store(0)
	o.order(4)
	until(o.first + 3)
}
