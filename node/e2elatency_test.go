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
	cfg := testConfig(t, t.TempDir())
	h := holdSender(t)
	var behind atomic.Int64 // how far the gateway's clock reads behind the wall clock
	n, addrs := startWithClock(t, cfg, func() time.Time { return time.Now().Add(-time.Duration(behind.Load())) })
	defer func() {
		h.release()
		n.Stop()
	}()
	in := cfg.Instruments[0]
	c := dial(t, addrs.Gateway, 1)
	order := func(id uint64) { c.NewOrder(limit(id, wire.SideBuy, in.ReferencePrice-in.TickSize, in.LotSize)) }
	order(1)
	first := next(t, c, report(wire.ExecKindAccepted)).Report.InputSeq
	applied := func(seq int64) {
		t.Helper()
		waitUntil(t, func() bool { return n.base+n.stats.engine.Sequence().Load() >= seq })
	}

	start := time.Now()
	h.holdNext() // the sender's batch of order 2: orders 3 and 4 go out together after it
	order(2)
	h.awaitHeld(t)
	behind.Store(int64(time.Hour))
	order(3) // received an hour ago
	applied(first + 2)
	behind.Store(0)
	order(4) // received now
	applied(first + 3)
	before := e2eSum(t, n)
	h.release()
	next(t, c, func(m client.Message) bool {
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
