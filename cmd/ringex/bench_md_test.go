package main

import (
	"net"
	"testing"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// A cluster member not yet current — just started, not caught up with
// its leader (node/mdcurrent.go) — answers a Subscribe
// SubscribeReject{NotCurrent}: bench's market-data subscriber sends it
// again until the snapshot comes, within its 5 s, where it gave up at
// the first refusal. Here a port refuses the first two Subscribes and
// answers the third with the book.
func TestBenchSubscriberTriesAgainWhileNotCurrent(t *testing.T) {
	addr, subscribes := notCurrentPort(t, 2)
	c, err := client.DialMarketData(addr, client.Options{AutoFlush: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := subscribed(c, 1); err != nil {
		t.Fatalf("subscribing to a member current at the third Subscribe: %v (Subscribes answered: %d)", err, len(subscribes))
	}
	if n := len(subscribes); n != 3 {
		t.Fatalf("%d Subscribes sent, want 3: two refused NotCurrent, then the snapshot", n)
	}
}

// notCurrentPort serves a fake market-data port (serveLoopback) that
// refuses the first refusals Subscribes of a connection NotCurrent, as a
// cluster member catching up since its start does, and answers the next
// with instrument 1's book snapshot; a ListInstruments is answered
// (nodeFrames). Each Subscribe's number, from 1, goes on the channel it
// returns, up to its 64th.
func notCurrentPort(t *testing.T, refusals int) (string, chan int) {
	t.Helper()
	subscribes := make(chan int, 64)
	addr := serveLoopback(t, func(conn net.Conn) {
		defer conn.Close()
		enc := proto.NewEncoder()
		fr := nodeFrames(conn)
		for n := 1; ; {
			f, err := fr.Next()
			if err != nil {
				return
			}
			if typ, _, err := proto.Verify(f); err != nil || typ != wire.MessageSubscribe {
				continue
			}
			select {
			case subscribes <- n:
			default:
			}
			if n <= refusals {
				conn.Write(enc.SubscribeReject(0, 1, wire.SubscribeRejectReasonNotCurrent))
			} else {
				conn.Write(enc.BookSnapshot(0, proto.BookSnapshot{Instrument: 1, MDSeq: 1, InputSeq: 4}))
			}
			n++
		}
	})
	return addr, subscribes
}
