package cluster

import (
	"errors"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// mdSnapshot subscribes to the demo instrument on addr: its book
// snapshot, or the SubscribeReject that answered.
func mdSnapshot(t *testing.T, addr string) client.Message {
	t.Helper()
	md, err := client.DialMarketData(addr, client.Options{AutoFlush: true})
	if err != nil {
		t.Fatal(err)
	}
	defer md.Close()
	md.Subscribe(testkit.DemoInstrument)
	md.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		m, err := md.Next()
		if err != nil {
			t.Fatalf("subscribing on %s: %v", addr, err)
		}
		if m.Type == wire.MessageBookSnapshot || m.Type == wire.MessageSubscribeReject {
			return m
		}
	}
}

// subscribedCurrent dials the market-data port at addr and subscribes
// to the demo instrument until it is answered the book snapshot
// (testkit.SubscribeCurrent: a member refuses Subscribe NotCurrent from
// its start until it has caught up), within 10 s; it returns the
// connection, the snapshot read.
func subscribedCurrent(t *testing.T, addr string) *client.Client {
	t.Helper()
	md, err := client.DialMarketData(addr, client.Options{AutoFlush: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := testkit.SubscribeCurrent(md, testkit.DemoInstrument, time.Now().Add(10*time.Second)); err != nil {
		md.Close()
		t.Fatalf("market data at %s: %v", addr, err)
	}
	return md
}

// restOrders rests n orders of account 4 (which keeps its orders when it
// logs off) at the leader of gateways, each acknowledged (restAtLeader).
func restOrders(t *testing.T, gateways []string, base uint64, n int) {
	t.Helper()
	orders := make([]proto.NewOrder, n)
	for i := range orders {
		orders[i] = testkit.RestingOrder(base+uint64(i), int64(1+i%5), 1)
	}
	restAtLeader(t, gateways, orders...).Close()
}

// restAtLeader logs account 4 (which keeps its orders when it logs
// off) on at the leader of gateways and rests orders there, each
// Accepted (sendAtLeader); it returns the client, logged on at the
// leader that accepted the last.
func restAtLeader(t *testing.T, gateways []string, orders ...proto.NewOrder) *client.Client {
	t.Helper()
	cl, _ := sendAtLeader(t, gateways, 4, "demo-secret-4", wire.ExecKindAccepted, orders...)
	return cl
}

// sendAtLeader logs account on at the leader of gateways and sends
// orders there one at a time, each answered want, and returns the
// client, logged on at the leader that answered the last, and the
// answers. An order's answer is its first report of kind want, or its
// rejection. A leader that stops leading closes its sessions not_leader
// — on a loaded machine a pause runs its lease out at any time — and
// sendAtLeader logs on at the next leader and asks it for the account's
// reports of the inputs since the last answer (resendAtLeader): the
// order's answer among them says a leader before committed it, and it
// is not sent again (an IOC sent again would trade twice); without one
// the order is sent again. Any other answer, or no leader answering them
// all within 30 s, fails the test.
func sendAtLeader(t *testing.T, gateways []string, account uint32, secret string, want wire.ExecKind, orders ...proto.NewOrder) (*client.Client, []proto.Report) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	cl := logOnAtLeader(t, gateways, account, secret, deadline)
	var answers []proto.Report
	after := int64(-1) // the last answer's input: the reports after it are asked for again
	for _, o := range orders {
		answer := func(r proto.Report) bool {
			return r.ClientOrderID == o.ClientOrderID && (r.Kind == want || r.Kind == wire.ExecKindRejected)
		}
		cl.NewOrder(o)
		r, err := nextReport(cl, answer)
		for notLeader(err) {
			t.Logf("order %d at %s: %v; asking the next leader whether it committed it", o.ClientOrderID, cl.RemoteAddr(), err)
			cl.Close()
			var resent []proto.Report
			cl, resent, _ = resendAtLeader(t, gateways, account, secret, after, deadline)
			if i := slices.IndexFunc(resent, answer); i >= 0 {
				r, err = resent[i], nil
				break
			}
			cl.NewOrder(o)
			r, err = nextReport(cl, answer)
		}
		if err != nil || r.Kind != want {
			cl.Close()
			t.Fatalf("order %d at %s: %v; answered %s (reason %d), want %s", o.ClientOrderID, cl.RemoteAddr(), err,
				wire.EnumNamesExecKind[r.Kind], r.Reason, wire.EnumNamesExecKind[want])
		}
		answers = append(answers, r)
		after = r.InputSeq
	}
	return cl, answers
}

// resendAtLeader logs account on at the leader of gateways and asks it
// for the account's reports of the inputs after after (Client.Resend);
// it returns the client, logged on at the leader that answered, the
// reports it resent and its ResendDone (resendAnswered). A leader that
// stops leading before its answer's end closes the session not_leader,
// and the next leader is asked; any other error, or none taking the
// logon by deadline, fails the test.
func resendAtLeader(t *testing.T, gateways []string, account uint32, secret string, after int64, deadline time.Time) (*client.Client, []proto.Report, client.Message) {
	t.Helper()
	for {
		cl := logOnAtLeader(t, gateways, account, secret, deadline)
		tag, err := cl.Resend(after)
		if err != nil {
			cl.Close()
			t.Fatalf("account %d's resend after input %d at %s: %v", account, after, cl.RemoteAddr(), err)
		}
		var resent []proto.Report
		if done, ok := resendAnswered(t, cl, tag, &resent, true); ok {
			cl.SetReadDeadline(deadline)
			return cl, resent, done
		}
		cl.Close()
	}
}

// logOnAtLeader logs account on at the leader of gateways
// (client.DialCluster, until deadline), its reads bounded by deadline.
func logOnAtLeader(t *testing.T, gateways []string, account uint32, secret string, deadline time.Time) *client.Client {
	t.Helper()
	cl, err := client.DialCluster(gateways, account, secret, client.Options{AutoFlush: true}, time.Until(deadline))
	if err != nil {
		t.Fatalf("account %d at the leader of %v: %v", account, gateways, err)
	}
	cl.SetReadDeadline(deadline)
	return cl
}

// nextReport reads cl until a report that is, or a read's error.
func nextReport(cl *client.Client, is func(proto.Report) bool) (proto.Report, error) {
	for {
		m, err := cl.Next()
		if err != nil {
			return proto.Report{}, err
		}
		if m.Type == wire.MessageExecutionReport && is(m.Report) {
			return m.Report, nil
		}
	}
}

// notLeader reports whether err is the node's closing of the session
// because it stopped leading.
func notLeader(err error) bool {
	var closed *client.ClosedError
	return errors.As(err, &closed) && closed.Cause == wire.ClosingCauseNotLeader
}

// A leader found and then cut off before the orders reach it, as a
// re-election under load leaves it: restAtLeader rests them at the next
// leader — the cut-off one, if it took the logon, closes the session
// not_leader once it steps down, and the order it never committed is
// sent there again.
func TestRestAtLeaderFollowsTheLead(t *testing.T) {
	c := startCluster(t)
	l := c.leader(10 * time.Second)
	l.admin(t, "/cluster/isolate?on=true")
	cl := restAtLeader(t, c.gatewaysFrom(l), testkit.RestingOrder(1, 1, 1), testkit.RestingOrder(2, 1, 1))
	defer cl.Close()
	if got := c.at(cl.RemoteAddr()); got == l {
		t.Fatalf("the orders rested at node %d, cut off from the others", l.id)
	}
}

// A member cut off from the others (a follower, as when the network
// between members splits) stops serving its frozen book: within a few
// seconds its subscriber is told NotCurrent and closed, and a Subscribe
// there is refused, while the market trades on at the leader. Before,
// the subscriber heard nothing at all — no update, no status, no close —
// and a new one got the stale book. Healed, the member serves again, a
// book that takes in everything the leader's does (its input_seq at
// least the leader's).
func TestCutOffMemberStopsServingMarketData(t *testing.T) {
	c := startCluster(t)
	l := c.leader(10 * time.Second)
	f := c.other(l)
	md := subscribedCurrent(t, f.proc.MarketData())
	defer md.Close()

	f.admin(t, "/cluster/isolate?on=true")
	cut := time.Now()
	restOrders(t, []string{l.gateway, c.other(l, f).gateway}, 100, 5) // f is cut off
	// Bounded well past mdLeaderGrace (2 s): it waits no longer on a
	// healthy node, and the old code never closed.
	md.SetReadDeadline(cut.Add(8 * time.Second))
	var told bool
	for {
		m, err := md.Next()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("8 s after member %d was cut off, its subscriber is still open and was told nothing (NotCurrent: %v)", f.id, told)
		}
		if err != nil {
			break // closed
		}
		if m.Type == wire.MessageSubscribeReject {
			told = told || m.Instrument == testkit.DemoInstrument && m.SubscribeReject == wire.SubscribeRejectReasonNotCurrent
		}
	}
	if !told {
		t.Fatalf("member %d closed its subscriber without SubscribeReject{NotCurrent}", f.id)
	}
	t.Logf("cut-off member %d closed its subscriber %v after the cut", f.id, time.Since(cut).Round(time.Millisecond))
	if m := mdSnapshot(t, f.proc.MarketData()); m.Type != wire.MessageSubscribeReject || m.SubscribeReject != wire.SubscribeRejectReasonNotCurrent {
		t.Fatalf("Subscribe on the cut-off member %d answered %s, want SubscribeReject{NotCurrent}", f.id, wire.EnumNamesMessage[m.Type])
	}

	f.admin(t, "/cluster/isolate?on=false")
	want := mdSnapshot(t, l.proc.MarketData())
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := mdSnapshot(t, f.proc.MarketData())
		// The same book, not the same input_seq: a snapshot's is at or
		// after the book's last change, later on a member that rebuilt
		// its image later (proto/README.md).
		if got.Type == wire.MessageBookSnapshot && slices.Equal(got.Bids, want.Bids) && slices.Equal(got.Asks, want.Asks) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("healed member %d: %s at input %d 20 s on, want the leader's book at input %d", f.id,
				wire.EnumNamesMessage[got.Type], got.InputSeq, want.InputSeq)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
