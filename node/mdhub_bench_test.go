package node

import (
	"fmt"
	"testing"

	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/output"
)

// discardConn takes every write: a subscriber that keeps up.
type discardConn struct{}

func (discardConn) Write(p []byte) (int, error) { return len(p), nil }
func (discardConn) Close() error                { return nil }

// BenchmarkMDBroadcast: one market-data frame given to the subscribers of
// its instrument, per op — the fan-out's work per book event. The
// subscribers follow the default config's three instruments round robin
// (so each event reaches a third of them); a batch ends every 256 events,
// as the fan-out stages and commits per ring batch.
func BenchmarkMDBroadcast(b *testing.B) {
	for _, subs := range []int{3, 96, 1024} {
		b.Run(fmt.Sprintf("subscribers=%d", subs), func(b *testing.B) {
			h := newMDHub(&Node{cfg: config.Default()})
			h.ready = true // subscribe sends the snapshot at once; no port to open
			for i := range subs {
				sub := &subscriber{out: output.NewOutbox(discardConn{}, 8<<20, 0, nil)}
				defer sub.out.Close()
				h.subscribe(sub, uint32(1+i%3), true)
			}
			frame := make([]byte, 64)
			var touched []*output.Outbox
			for i := 0; b.Loop(); i++ {
				h.publish(h.feeds[uint32(1+i%3)], frame)
				if i%256 == 255 {
					touched = h.stageFilled(touched)
					for _, o := range touched {
						_ = o.Commit(0)
					}
					touched = touched[:0]
				}
			}
		})
	}
}

// BenchmarkSubscribeDeepBook: one subscription to a book 20 000 levels a
// side deep (the default ETH-USD band full), per op — the snapshot it is
// sent, while the book does not change between subscriptions (a
// reconnect storm after a restart or failover: every subscriber at once).
func BenchmarkSubscribeDeepBook(b *testing.B) {
	h := newMDHub(&Node{cfg: config.Default()})
	h.ready = true
	f := h.feeds[2]
	for i := int64(1); i <= 20_000; i++ {
		f.book.Apply(engine.Buy, 300_000-i, 5, 1)
		f.book.Apply(engine.Sell, 300_000+i, 5, 1)
	}
	sub := &subscriber{out: output.NewOutbox(discardConn{}, 64<<20, 0, nil)}
	defer sub.out.Close()
	b.ReportAllocs()
	for b.Loop() {
		h.subscribe(sub, 2, true)
		h.unsubscribe(sub, 2, false)
	}
}
