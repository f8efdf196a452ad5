package node

import (
	"testing"
	"time"

	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/output"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// The answer to a resend goes after every live report of the inputs
// before the request: the client tells a resent report it already read
// live from one it missed by that order (Client.Next skips a resent
// report it returned live, not a live one it returned resent). The
// execution sender stages a batch's live reports and commits them at the
// batch's end; a request in that batch that the resend worker answers by
// replaying the journal used to append its reports at once — ahead of
// the live reports of the same batch still staged. Here the sender's
// batch holds a live report of input X, staged, and a request for the
// reports after X-1: the live report must reach the client first.
func TestResendReplayFollowsTheLiveReportsOfItsBatch(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	setConfig(t, cfg, map[string]string{"gateway.recent_reports": "0", "gateway.status_rate": "0"}) // answered by replay
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	c := dial(t, addrs.Gateway, 4)
	in := cfg.Instruments[0]
	c.NewOrder(limit(1, wire.SideBuy, in.ReferencePrice-in.TickSize, 1))
	acc := next(t, c, report(wire.ExecKindAccepted)).Report
	s := n.gw.Session(c.Session)
	if s == nil {
		t.Fatal("the session is not logged on")
	}

	// The worker reached the wait for the sender's batch (with the fix),
	// or the client read a report the worker sent (without it).
	atBarrier, readOne := make(chan struct{}), make(chan struct{})
	defer func(orig func(*Node) bool) { afterSenderBatch = orig }(afterSenderBatch)
	afterSenderBatch = func(n *Node) bool { close(atBarrier); return n.stats.sender.Do(func() {}) }

	const tag = 77
	batch := make(chan struct{})
	go func() {
		defer close(batch)
		n.stats.sender.Do(func() { // on the sender's goroutine, as one of its batches
			var touched []*output.Outbox
			touched = n.stageReport(s, acc.Timestamp, touched, func(staged []byte) []byte { return proto.AppendExecutionReport(staged, 0, &acc) })
			ev := engine.Event{Type: engine.EvResend, Session: s.ID, Account: 4, OrderID: uint64(acc.InputSeq - 1), Seq: acc.InputSeq + 1, ClientOrderID: tag}
			touched = n.resendRequested(proto.NewEncoder(), &ev, touched)
			select {
			case <-atBarrier:
			case <-readOne:
			case <-time.After(10 * time.Second):
				t.Error("the worker neither sent a report nor waited for the sender in 10s")
			}
			for _, o := range touched {
				o.Commit(0)
			}
		})
	}()
	defer func() { <-batch }()

	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var order []uint64 // the seq of each report of input X read: 0 live, tag resent
	for len(order) < 2 {
		m, err := c.Next()
		if err != nil {
			t.Fatal(err)
		}
		if m.Type == wire.MessageExecutionReport && m.Report.InputSeq == acc.InputSeq {
			if len(order) == 0 {
				close(readOne)
			}
			order = append(order, m.Seq)
		}
	}
	if order[0] != 0 || order[1] != tag {
		t.Fatalf("the reports of input %d came with seqs %v: want the live one (0) before the resent one (%d)", acc.InputSeq, order, tag)
	}
}
