package node

import (
	"sync/atomic"
	"testing"
	"time"
)

// A leader stepping down drops its sessions before it names the new
// leader: that took Leader, whose name lookups wait up to 2 s each on a
// resolver that does not answer, and its trading sessions stayed open
// meanwhile, their inputs refused, the next leadership signal waiting
// too. Here the step-down is held where the role is logged until the
// session's client has seen its connection end (10 s at most). Before,
// the role was logged first: the client's connection was still open.
func TestStepDownDropsSessionsBeforeNamingTheLeader(t *testing.T) {
	var old atomic.Pointer[Node]
	ended := make(chan struct{})
	var droppedFirst, held atomic.Bool
	roleLogHook = func(n *Node, leader bool) {
		if leader || n != old.Load() {
			return
		}
		select {
		case <-ended:
			droppedFirst.Store(true)
		case <-time.After(10 * time.Second):
		}
		held.Store(true)
	}
	t.Cleanup(func() { roleLogHook = nil }) // after the members stop: registered before they start
	ns := startTestCluster(t)
	leader := readyLeader(t, ns, nil)
	c := dial(t, leader.gw.Addr().String(), 1)
	defer c.Close()
	old.Store(leader)
	leader.cl.r.Isolate(true)
	defer leader.cl.r.Isolate(false)
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	for {
		if _, err := c.Next(); err != nil {
			break
		}
	}
	close(ended)
	waitWithin(t, 20*time.Second, held.Load)
	if !droppedFirst.Load() {
		t.Fatal("the step-down reached the role's log line with the session still open")
	}
}
