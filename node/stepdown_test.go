package node

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/config"
)

// A leader stepping down drops its sessions before it names the new
// leader: that took Leader, whose name lookups wait up to 2 s each on a
// resolver that does not answer, and its trading sessions stayed open
// meanwhile, their inputs refused, the next leadership signal waiting
// too. Here the step-down is held where the role is logged until the
// session's client has seen its connection end (10 s at most). Before,
// the role was logged first: the client's connection was still open.
func TestStepDownDropsSessionsBeforeNamingTheLeader(t *testing.T) {
	// One try per leader seen: a member that lost the lead before the
	// cut (a loaded machine's pause) stepped down outside the test.
	type try struct {
		n                  *Node
		c                  *client.Client
		dialErr            error
		ended              chan struct{}
		droppedFirst, held atomic.Bool
	}
	var cur atomic.Pointer[try]
	roleLogHook = func(n *Node, leader bool) {
		tr := cur.Load()
		if leader || tr == nil || n != tr.n {
			return
		}
		select {
		case <-tr.ended:
			tr.droppedFirst.Store(true)
		case <-time.After(10 * time.Second):
		}
		tr.held.Store(true)
	}
	t.Cleanup(func() { roleLogHook = nil }) // after the members stop: registered before they start
	ns := startTestCluster(t)
	leader := cutOffLeaderAfter(t, ns, func(n *Node) func() {
		tr := &try{n: n, ended: make(chan struct{})}
		tr.c, tr.dialErr = client.Dial(n.gw.Addr().String(), 1, config.Default().Accounts[0].Secret, client.Options{AutoFlush: true})
		cur.Store(tr)
		return func() { // its step-down held, if it came: let it go
			if tr.c != nil {
				tr.c.Close()
			}
			close(tr.ended)
		}
	})
	defer leader.cl.r.Isolate(false)
	tr := cur.Load()
	if tr.dialErr != nil {
		t.Fatalf("the leader refused the session: %v", tr.dialErr)
	}
	defer tr.c.Close()
	tr.c.SetReadDeadline(time.Now().Add(20 * time.Second))
	for {
		if _, err := tr.c.Next(); err != nil {
			break
		}
	}
	close(tr.ended)
	waitWithin(t, 20*time.Second, tr.held.Load)
	if !tr.droppedFirst.Load() {
		t.Fatal("the step-down reached the role's log line with the session still open")
	}
}
