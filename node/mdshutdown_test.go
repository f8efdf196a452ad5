package node

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/output"
	"github.com/ringex/ringex/proto"
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

// A subscriber still sending as the node stops reads its Closing, then
// the end of the stream: the port closed the connection with its
// messages unread, the kernel answered them with a reset, and the
// subscriber read "connection reset by peer" — after the Closing, or in
// its place when the reset dropped it from the node's socket.
func TestMarketDataSubscriberStillSendingReadsTheEnd(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.MarketData.MessageRate = 0 // no limit: its heartbeats end nothing
	n, addrs, _ := startNode(t, cfg)
	sub := subscribeMD(t, addrs.MarketData, 1)
	stop := make(chan struct{})
	sent := make(chan struct{})
	sending := make(chan struct{})
	go func() {
		defer close(sent)
		burst := bytes.Repeat(proto.NewEncoder().Heartbeat(0), 1000)
		for i := 0; ; i++ {
			if i == 10 {
				close(sending)
			}
			select {
			case <-stop:
				return
			default:
			}
			if sub.SendRaw(burst) != nil || sub.Flush() != nil {
				return
			}
		}
	}()
	defer func() { close(stop); <-sent }()
	received(t, sending, "the subscriber's first sends still not taken after 10 s")
	// Owed more than the loopback sockets hold, so that the port is
	// still writing while the subscriber's messages pile up unread.
	n.mdHub.liveMu.Lock()
	var outs []*output.Outbox
	for _, s := range n.mdHub.listed {
		outs = append(outs, s.out)
	}
	n.mdHub.liveMu.Unlock()
	for _, out := range outs {
		if err := out.Send(bytes.Repeat(proto.NewEncoder().Heartbeat(0), 100000)); err != nil {
			t.Fatal(err)
		}
	}
	stopped := make(chan error, 1)
	go func() { stopped <- n.Stop() }()
	err := expectClosed(t, sub, "the subscriber's connection")
	wantToldWhy(t, err, "shutdown")
	if !errors.Is(err, io.EOF) {
		t.Fatalf("the connection ended with %v, want the end of the stream after the Closing", err)
	}
	if err := received(t, stopped, "Stop still waiting after 10 s"); err != nil {
		t.Fatal(err)
	}
}
