package node

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/ringex/ringex/internal/testkit"
)

// The market-data port's shutdown closes its TLS subscribers without a
// close_notify: tls.Conn's Close writes one with a 5 s deadline, and to
// a subscriber that stopped reading each took that long, one after
// another under liveMu — a node's Stop waiting 5 s per stalled
// subscriber. The pipe below takes no write its peer does not read.
func TestMarketDataShutdownDoesNotWaitForStalledTLSSubscribers(t *testing.T) {
	ca := testkit.NewCA(t, "md")
	h := &mdHub{live: map[net.Conn]netip.Addr{}}
	for range 2 {
		server, _ := ca.TLSPipe(t) // its client reads no more
		h.live[server] = netip.MustParseAddr("127.0.0.1")
	}
	shut := make(chan struct{})
	go func() { h.shutdown(); close(shut) }()
	select {
	case <-shut:
	case <-time.After(4 * time.Second):
		t.Fatal("shutdown still closing stalled TLS subscribers after 4 s (a close_notify each, 5 s deadline)")
	}
}
