package node

import (
	"slices"
	"testing"
	"time"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// After a failover the new leader's engine may still be applying inputs
// the old leader committed, applied and reported, when the client that
// read those reports logs on to it again (the leader is ready once every
// committed entry is in its input ring, not once its engine applied
// them). Their reports then reach the new session live — to every
// trading session of the account, the session that entered the orders
// being the old leader's. The client read them before the failover: its
// Redial must not return them again. Before, one of an input below the
// last it read (not in Redial's resend, not among the last input's
// reports it skips) was returned a second time.
func TestRedialAfterFailoverSkipsReportsTheOldLeaderSent(t *testing.T) {
	ns := startTestCluster(t)
	addrs := gatewayAddrs(ns)
	in := ns[0].cfg.Instruments[0]
	// The bot logs on to the leader, whose followers' engines fall behind
	// (a GC pause, a slow disk: they take the leader's batches into their
	// rings and apply none), and reads its orders' reports; the leader is
	// then cut off and stopped, seen leading in one term throughout
	// (cutOffLeaderAfter). A lead moved before the logon had the bot on a
	// member whose engine was held (Dial follows the redirect), one moved
	// before the cut left a follower's reports read. Each try's orders
	// have client order ids of their own: those of a try let go may have
	// been committed all the same.
	const orders = 3
	var (
		bot     *client.Client
		read    []reportKey
		release func() // the followers' engines, held
		dialErr error
		tries   uint64
	)
	defer func() {
		if release != nil {
			release()
		}
	}()
	old := cutOffLeaderAfter(t, ns, func(n *Node) func() {
		tries++
		var holds []func()
		for _, f := range ns {
			if f != n {
				holds = append(holds, holdEngine(t, f))
			}
		}
		release = func() {
			for _, r := range holds {
				r()
			}
		}
		read = nil
		bot, dialErr = client.Dial(n.gw.Addr().String(), 4, config.Default().Accounts[3].Secret, client.Options{AutoFlush: true})
		for i := uint64(1); dialErr == nil && i <= orders && bot.RemoteAddr() == n.gw.Addr().String(); i++ {
			id := tries*orders + i
			bot.NewOrder(limit(id, wire.SideBuy, in.ReferencePrice-int64(i)*in.TickSize, 1))
			var acked proto.Report
			if acked, dialErr = acceptedWithin(bot, id); dialErr == nil {
				read = append(read, reportKeyOf(acked))
			}
		}
		c, r := bot, release
		return func() {
			if c != nil {
				c.Close()
			}
			r()
		}
	})
	defer old.cl.r.Isolate(false)
	if dialErr != nil {
		t.Fatalf("the leader did not accept the bot's orders before its cut: %v", dialErr)
	}
	defer bot.Close()
	if len(read) != orders {
		t.Fatalf("the bot was logged on to %s, not to the leader %s", bot.RemoteAddr(), old.gw.Addr())
	}

	// The leader goes; the bot's connection ends with it.
	if err := old.Stop(); err != nil {
		t.Fatal(err)
	}
	bot.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		if _, err := bot.Next(); err != nil {
			break
		}
	}
	nb, tag, err := bot.Redial(addrs, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nb.Close()
	leader := readyLeader(t, ns, old)
	if got := leader.base + leader.stats.engine.Sequence().Load(); got >= read[0].input {
		t.Fatalf("the new leader had applied input %d before the bot logged on (test setup: want it behind %d)", got, read[0].input)
	}
	release()

	readResend(t, nb, tag, 10*time.Second, func(m client.Message) {
		if m.Type != wire.MessageExecutionReport {
			return
		}
		if k := reportKeyOf(m.Report); slices.Contains(read, k) {
			t.Errorf("Redial returned again (resent %v) the %s of order %d, input %d, read from the old leader (the bot read inputs %d..%d)",
				m.Resent(), m.Report.Kind, m.Report.ClientOrderID, k.input, read[0].input, read[orders-1].input)
		}
	})
}
