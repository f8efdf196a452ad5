package node

import (
	"testing"
	"time"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/proto/wire"
)

// BenchmarkMassCancelBesideOthers: one session mass-cancels 100 000
// orders (15.2 MB of Cancelled reports, under its 16 MiB send buffer)
// per op while another account sends IOC orders one at a time. It
// reports the other account's worst round trip meanwhile (victim-worst-ms),
// against its median alone (victim-alone-ms), and how long after the
// mass cancel the engine and the execution sender had handled every
// cancel (engine-ms, sender-ms). The sender staged the burst in one
// buffer grown ~1.25× at a time, faulted in afresh at every burst: 0.05–0.5 s
// on the dev VM during which the other account's reports waited behind
// it; staged in chunks, it takes about the burst's size once.
//
//	go test ./node -run '^$' -bench MassCancelBesideOthers -benchtime 2x
func BenchmarkMassCancelBesideOthers(b *testing.B) {
	cfg := testConfig(b, b.TempDir())
	setConfig(b, cfg, map[string]string{
		"rings.output_slots": "262144",
		"journal.sync":       "none",
		"engine.max_orders":  "262144",
	})
	n, addrs, _ := startNode(b, cfg)
	defer n.Stop()
	eth, in := cfg.Instruments[1], cfg.Instruments[0]
	mm := dial(b, addrs.Gateway, 3)
	victim := dial(b, addrs.Gateway, 2)
	victimOrders(b, victim, in, 1_000_000, 200*time.Millisecond)
	_, alone := victimOrders(b, victim, in, 2_000_000, time.Second)
	const orders = 100_000
	var worst, engineDone, senderDone time.Duration
	id := uint64(3_000_000)
	for b.Loop() {
		for from := 1; from <= orders; from += 10000 {
			for k := from; k < from+10000; k++ {
				o := limit(uint64(k), wire.SideBuy, eth.ReferencePrice-int64(1+k%5000)*eth.TickSize, eth.LotSize)
				o.Instrument = eth.ID
				mm.NewOrder(o)
			}
			next(b, mm, func(m client.Message) bool { return m.Report.ClientOrderID == uint64(from+9999) })
		}
		pub0 := n.exec.published()
		start := time.Now()
		mm.MassCancel(eth.ID)
		type done struct {
			engine, sender time.Duration
			err            error
		}
		read := make(chan done, 1)
		go func() {
			var d done
			d.engine, d.sender = senderCaughtUp(n, pub0, orders, start, 5*time.Second)
			// The mass-cancelling client then reads its cancels (15.2 MB:
			// its send buffer holds them meanwhile).
			mm.SetReadDeadline(time.Now().Add(20 * time.Second))
			for c := 0; c < orders; {
				m, err := mm.Next()
				if err != nil {
					d.err = err
					break
				}
				if m.Type == wire.MessageExecutionReport && m.Report.Kind == wire.ExecKindCancelled {
					c++
				}
			}
			read <- d
		}()
		for range 100 {
			id++
			worst = max(worst, victimOrder(b, victim, in, id))
		}
		d := <-read
		if d.err != nil {
			b.Fatalf("the mass-cancelling client: %v", d.err)
		}
		engineDone, senderDone = max(engineDone, d.engine), max(senderDone, d.sender)
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(worst), "victim-worst-ms")
	b.ReportMetric(ms(alone), "victim-alone-ms")
	b.ReportMetric(ms(engineDone), "engine-ms")
	b.ReportMetric(ms(senderDone), "sender-ms")
}

// senderCaughtUp polls, until within has passed since start, for the
// engine to have published events more events to the execution ring past
// pub0 and then for the execution sender to have handled them all, and
// returns how long after start each was first seen (0: not within).
func senderCaughtUp(n *Node, pub0, events int64, start time.Time, within time.Duration) (engine, sender time.Duration) {
	for time.Since(start) < within && sender == 0 {
		if engine == 0 && n.exec.published()-pub0 >= events {
			engine = time.Since(start)
		}
		if engine != 0 && n.stats.sender.Sequence().Load() >= pub0+events {
			sender = time.Since(start)
		}
		time.Sleep(100 * time.Microsecond)
	}
	return engine, sender
}
