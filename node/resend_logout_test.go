package node

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// A client that asks for a resend and logs out gets the whole answer,
// its ResendDone included, before the connection ends: the Logout waits
// for the resend's answer within the second it waits for the other
// answers. The gateway ended the session once the sender had passed the
// request, and the replay still under way was cut off with it — the
// reports not yet sent and the ResendDone lost. The replay is held until
// the Logout's wait for it begins (or, without it, the session is gone),
// so nothing is raced.
func TestLogoutWaitsForAResendUnderWay(t *testing.T) {
	var waitOnce sync.Once
	waiting := make(chan struct{})
	var asker atomic.Uint64 // the session that logs out
	awaitingResends = func(session uint64) {
		if session == asker.Load() {
			waitOnce.Do(func() { close(waiting) })
		}
	}
	t.Cleanup(func() { awaitingResends = nil })
	entered, proceed := heldReplays(t)
	cfg := testConfig(t, t.TempDir())
	cfg.Gateway.RecentReports = 0 // the answer is the worker's replay
	n, addrs, _ := startNode(t, cfg)
	t.Cleanup(func() { n.Stop() })
	in := cfg.Instruments[0]
	trader := dial(t, addrs.Gateway, 4)
	for i := range 2 {
		restBuy(t, trader, in, uint64(i+1))
	}

	c := dialUnflushed(t, addrs.Gateway, 4)
	asker.Store(c.Session)
	tag, _ := c.Resend(0)
	c.Logout() // flushes both in one write
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the resend did not reach the worker in 10 s")
	}
	waitUntil(t, func() bool {
		select {
		case <-waiting:
			return true
		default:
			return n.gw.Session(asker.Load()) == nil
		}
	})
	proceed <- struct{}{}

	resent, done, _ := resendAnswer(t, c, tag)
	if len(resent) != 2 || resent[0].Kind != wire.ExecKindAccepted || resent[1].Kind != wire.ExecKindAccepted ||
		done.Reason != proto.ResendComplete || done.Count != 2 {
		t.Fatalf("resend before a Logout: %d reports %+v, done %+v; want the two accepts, complete", len(resent), resent, done)
	}
	_, err := countUntilClosed(c, func(client.Message) bool { return false })
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		t.Fatal("a session that logged out still open after 10 s")
	}
}
