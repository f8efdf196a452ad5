package node

import (
	"testing"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// The market-data port never answers a Logon TooManyLogons, NotLeader
// or a Redirect: client.DialMarketDataLogon takes each for an answer
// only an order-entry port gives (ErrWrongPort), and a program pointed
// at the right port would be told it is the wrong one. Each situation
// in which a member's order-entry port gives one is made — logons of
// an account faster than gateway.logon_rate, a follower that knows the
// leader, a member cut off that knows none — its order-entry answer
// checked, and a logon at the same member's market-data port is
// answered with the port's own LogonAck (session 0).
func TestMarketDataPortAnswersNoOrderEntryRefusal(t *testing.T) {
	ns := startTestClusterWith(t, map[string]string{"marketdata.require_logon": "true", "gateway.logon_rate": "1"})
	mdAddr := func(n *Node) string { return n.mdLn.Addr().String() }

	// Logons faster than the rate: the leader's order entry refuses one
	// within a few (a logon a second; the lead may move meanwhile).
	var leader *Node
	for try := 1; ; try++ {
		leader = readyLeader(t, ns, nil)
		m := orderEntryLogon(t, leader.gw.Addr().String())
		if m.Type == wire.MessageLogonReject && m.LogonReject == wire.LogonRejectReasonTooManyLogons {
			break
		}
		if try == 10 {
			t.Fatalf("order entry answered %d logons of account 1, the last with %s %s: none refused over gateway.logon_rate",
				try, wire.EnumNamesMessage[m.Type], m.LogonReject)
		}
	}
	for range 3 {
		mdLogon(t, mdAddr(leader), 1)
	}

	// A follower that knows the leader: a Redirect to it.
	var follower *Node
	waitUntil(t, func() bool {
		for _, n := range ns {
			if m := orderEntryLogon(t, n.gw.Addr().String()); m.Type == wire.MessageRedirect {
				follower = n
				return true
			}
		}
		return false
	}, ns...)
	mdLogon(t, mdAddr(follower), 1)

	// Cut off, it soon knows no leader (a candidate): NotLeader. Cut
	// off, it is elected by nobody.
	follower.cl.r.Isolate(true)
	defer follower.cl.r.Isolate(false)
	waitUntil(t, func() bool {
		m := orderEntryLogon(t, follower.gw.Addr().String())
		return m.Type == wire.MessageLogonReject && m.LogonReject == wire.LogonRejectReasonNotLeader
	}, ns...)
	mdLogon(t, mdAddr(follower), 1)
}

// orderEntryLogon is the first answer of the order-entry port at addr
// to the Logon client.DialMarketDataLogon sends (a drop copy's, account
// 1), read as it comes.
func orderEntryLogon(t *testing.T, addr string) client.Message {
	t.Helper()
	c := dialMD(t, addr) // connected only: it sends nothing of its own
	defer c.Close()
	c.SendRaw(proto.NewEncoder().DropCopyLogon(1, 1, config.Default().Accounts[0].Secret))
	return next(t, c, func(m client.Message) bool { return m.Type != wire.MessageHeartbeat })
}
