package node

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/proto"
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
// ops, and read-ms per cancel (read-ns/report). The normal order path in
// the same run, for comparison: the time from the first of the orders
// sent (outside the timer) to the last of their Accepted reports read,
// per order (place-ns/order). The clients run in the same process, on
// the same cores, as the node.
//
//	go test ./node -run '^$' -bench HaltCancelManySessions -benchtime 3x -cpuprofile cpu.out
//
// On the shared 2-core dev VM (2026-12-07, load average 10–12 from other
// work), 22 ops in 8 runs: every cancel read and the other order acked
// 0.77–2.76 s after the halt, the engine done 0.36–2.71 s after it (its
// turn is most of the wait: the sender was within 0.1 s of it in 14 ops,
// at most 0.65 s behind); placing the orders took 2.3–6.9 µs an order,
// the halt 0.8–2.8 µs a report. Three runs later, at load average 5.5–6:
// means of 0.39, 0.68 and 1.68 s from the halt to the last cancel read,
// the order path 0.87, 2.1 and 3.8 µs an order. From CPU profiles of the halts alone
// (two runs of three ops; the process had half to three quarters of a
// core: 2.1–2.4 s of samples in 3.1–3.7 s), per cancel the node spent
// 0.55–0.65 µs of CPU: the engine's turn 0.23–0.30 (retiring and
// unindexing the order 0.11–0.16, the execution ring's copy and publish
// 0.07–0.09), the execution sender 0.19–0.22 (staging in the outbox
// 0.12–0.15, of which the FlatBuffers report 0.05), socket writes
// 0.11–0.12; the clients reading 0.08–0.10 more. On the order path in
// the same runs the sender spent 0.09 µs, staging 0.07, and the writes
// 0.06 per Accepted report: a session's reports come one after another
// there, while the halt's go to another session's outbox at each report
// (cache misses). Nothing is written per report: 8–65 sender batches of
// 15 000–125 000 reports went out in 3 700–15 000 writes, 65–270
// reports a write. A runtime trace of one halt: in its first 1.2 s the
// sender ran 0.71 s and waited 0.44 s for a processor, behind the
// sessions' 1 000 writers (and the clients' readers); the engine ran
// 0.34 s of its 0.37 s turn.
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
			testkit.EachReport(c, func(r proto.Report) {
				switch r.Kind {
				case wire.ExecKindAccepted:
					accepted.Add(1)
				case wire.ExecKindCancelled:
					cancelled.Add(1)
				}
			})
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
	var placeMs, engineMs, senderMs, readMs, victimMs float64
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	for b.Loop() {
		b.StopTimer()
		accepted.Store(0)
		cancelled.Store(0)
		placing := time.Now()
		for k, c := range traders {
			for i := range perAccount {
				o := limit(uint64(i+1), wire.SideBuy, eth.ReferencePrice-int64(1+(k+i)%5000)*eth.TickSize, eth.LotSize)
				o.Instrument = eth.ID
				c.NewOrder(o)
			}
			c.Flush()
		}
		waitWithin(b, ordersWithin(orders), func() bool { return accepted.Load() == orders }, n)
		placeMs += ms(time.Since(placing))
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
	b.ReportMetric(placeMs/ops*1e6/orders, "place-ns/order")
}

// The accounts and orders of BenchmarkHaltCancelManySessions: 1 000 000
// orders, each account's 1 000 on 1 000 levels.
const haltCancelAccounts, haltCancelPerAccount = 1000, 1000
