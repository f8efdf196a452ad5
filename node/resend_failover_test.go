package node

import (
	"slices"
	"testing"
	"time"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/config"
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
	old := readyLeader(t, ns, nil)
	addrs := gatewayAddrs(ns)
	// The followers' engines fall behind (a GC pause, a slow disk): they
	// take the leader's batches into their rings and apply none.
	release := make(chan struct{})
	released := false
	defer func() {
		if !released {
			close(release)
		}
	}()
	for _, f := range ns {
		if f == old {
			continue
		}
		held := make(chan struct{})
		go f.stats.engine.Do(func() { close(held); <-release })
		<-held
	}

	in := ns[0].cfg.Instruments[0]
	bot, err := client.Dial(old.gw.Addr().String(), 4, config.Default().Accounts[3].Secret, client.Options{AutoFlush: true})
	if err != nil {
		t.Fatal(err)
	}
	defer bot.Close()
	const orders = 3
	var read []reportKey
	for i := uint64(1); i <= orders; i++ {
		bot.NewOrder(limit(i, wire.SideBuy, in.ReferencePrice-int64(i)*in.TickSize, 1))
		read = append(read, reportKeyOf(next(t, bot, report(wire.ExecKindAccepted)).Report))
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
	close(release)
	released = true

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
