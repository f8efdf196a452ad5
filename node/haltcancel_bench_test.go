package node

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/proto/wire"
)

// BenchmarkHaltCancelManySessions: the operator halts an instrument with
// cancel_orders while haltCancelAccounts accounts, each logged on once
// and reading its reports, rest haltCancelPerAccount orders each in it;
// another account sends one IOC order on another instrument just after
// the halt is published. Per op it reports how long after the halt the
// engine had published every cancel (engine-ms), the execution sender
// had handled them (sender-ms), the clients had read them (read-ms), the
// other account's order was acked (victim-ms), each the mean over the
// ops, and read-ms per cancel (read-ns/report). The clients run in the
// same process, on the same cores, as the node.
//
//	go test ./node -run '^$' -bench HaltCancelManySessions -benchtime 3x -cpuprofile cpu.out
func BenchmarkHaltCancelManySessions(b *testing.B) {
	const accounts, perAccount = haltCancelAccounts, haltCancelPerAccount
	const orders = accounts * perAccount
	cfg := testConfig(b, b.TempDir())
	setConfig(b, cfg, map[string]string{
		"journal.sync":                        "none",
		"engine.max_orders":                   fmt.Sprint(orders + 1024),
		"rings.output_slots":                  fmt.Sprint(1 << 20),
		"gateway.recent_reports":              fmt.Sprint(1 << 20),
		"gateway.max_connections":             fmt.Sprint(accounts + 64),
		"gateway.max_connections_per_address": "0",
		"gateway.logon_rate":                  "0",
	})
	first := uint32(len(cfg.Accounts) + 1)
	for a := first; a < first+accounts; a++ {
		cfg.Accounts = append(cfg.Accounts, config.Account{ID: a, Name: fmt.Sprint("bench-", a), Secret: fmt.Sprint("bench-secret-", a),
			MaxOrderQty: 1000})
	}
	n, addrs, _ := startNode(b, cfg)
	defer n.Stop()
	eth, btc := cfg.Instruments[1], cfg.Instruments[0]
	var accepted, cancelled atomic.Int64
	var readers sync.WaitGroup
	traders := make([]*client.Client, accounts)
	for k := range traders {
		a := first + uint32(k)
		c, err := client.Dial(addrs.Gateway, a, fmt.Sprint("bench-secret-", a), client.Options{})
		if err != nil {
			b.Fatal(err)
		}
		traders[k] = c
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				m, err := c.Next()
				if err != nil {
					return
				}
				if m.Type != wire.MessageExecutionReport {
					continue
				}
				switch m.Report.Kind {
				case wire.ExecKindAccepted:
					accepted.Add(1)
				case wire.ExecKindCancelled:
					cancelled.Add(1)
				}
			}
		}()
	}
	defer func() {
		for _, c := range traders {
			c.Close()
		}
		readers.Wait()
	}()
	victim := dial(b, addrs.Gateway, 2)
	victimOrder(b, victim, btc, 1) // logged on and answered before the first halt
	id := uint64(1)
	var engineMs, senderMs, readMs, victimMs float64
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	for b.Loop() {
		b.StopTimer()
		accepted.Store(0)
		cancelled.Store(0)
		for k, c := range traders {
			for i := range perAccount {
				o := limit(uint64(i+1), wire.SideBuy, eth.ReferencePrice-int64(1+(k+i)%5000)*eth.TickSize, eth.LotSize)
				o.Instrument = eth.ID
				c.NewOrder(o)
			}
			c.Flush()
		}
		waitWithin(b, ordersWithin(orders), func() bool { return accepted.Load() == orders }, n)
		b.StartTimer()
		pub0 := n.exec.published()
		start := time.Now()
		halted := make(chan error, 1)
		go func() { halted <- n.HaltAndCancelOrders(eth.ID) }()
		type done struct{ engine, sender, read time.Duration }
		drained := make(chan done, 1)
		go func() {
			var d done
			d.engine, d.sender = senderCaughtUp(n, pub0, orders, start, time.Minute)
			for time.Since(start) < time.Minute && cancelled.Load() < orders {
				time.Sleep(100 * time.Microsecond)
			}
			if cancelled.Load() == orders {
				d.read = time.Since(start)
			}
			drained <- d
		}()
		waitUntil(b, func() bool { return n.exec.published() > pub0 }, n) // the engine is cancelling
		id++
		victimOrder(b, victim, btc, id)
		victimAck := time.Since(start)
		d := <-drained
		if err := <-halted; err != nil {
			b.Fatal(err)
		}
		if d.read == 0 {
			b.Fatalf("%d of %d cancels read in a minute (engine %v, sender %v)", cancelled.Load(), orders, d.engine, d.sender)
		}
		b.Logf("engine %v, sender %v, read %v, victim acked %v after the halt", d.engine, d.sender, d.read, victimAck)
		engineMs += ms(d.engine)
		senderMs += ms(d.sender)
		readMs += ms(d.read)
		victimMs += ms(victimAck)
		b.StopTimer()
		if err := n.Resume(eth.ID); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	ops := float64(b.N)
	b.ReportMetric(engineMs/ops, "engine-ms")
	b.ReportMetric(senderMs/ops, "sender-ms")
	b.ReportMetric(readMs/ops, "read-ms")
	b.ReportMetric(victimMs/ops, "victim-ms")
	b.ReportMetric(readMs/ops*1e6/orders, "read-ns/report")
}

// The accounts and orders of BenchmarkHaltCancelManySessions: 1 000 000
// orders, each account's 1 000 on 1 000 levels.
const haltCancelAccounts, haltCancelPerAccount = 1000, 1000
