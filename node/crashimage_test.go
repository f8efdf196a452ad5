package node

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/journal"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// crashRig is a set of trading sessions of one node, one per account.
type crashRig struct {
	t  *testing.T
	cs map[uint32]*client.Client
}

func newCrashRig(t *testing.T, gw string) *crashRig {
	r := &crashRig{t: t, cs: map[uint32]*client.Client{}}
	for _, a := range []uint32{1, 2, 3, 4} {
		r.cs[a] = dial(t, gw, a)
	}
	return r
}

// barrier lists every account's live orders (OrderStatus) and reads each
// session up to its StatusDone, returning every report read, timestamps
// cleared.
func (r *crashRig) barrier() []string { return r.barrierFrom(1) }

func (r *crashRig) barrierFrom(first uint32) []string {
	var out []string
	order := []uint32{first}
	for _, a := range []uint32{1, 2, 3, 4} {
		if a != first {
			order = append(order, a)
		}
	}
	for _, a := range order {
		c := r.cs[a]
		if err := c.OrderStatus(proto.OrderStatus{}); err != nil {
			r.t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			m, err := c.Next()
			if err != nil {
				r.t.Fatalf("account %d: %v", a, err)
			}
			if m.Type != wire.MessageExecutionReport {
				continue
			}
			rep := m.Report
			rep.Timestamp = 0
			out = append(out, fmt.Sprintf("acct%d %+v", a, rep))
			if rep.Kind == wire.ExecKindStatusDone {
				break
			}
		}
	}
	return out
}

func (r *crashRig) send(a uint32, f func(c *client.Client) error) []string {
	if err := f(r.cs[a]); err != nil {
		r.t.Fatal(err)
	}
	return r.barrierFrom(a)
}

// workload phase: varied trading on instrument 1 and 2.
func phase(r *crashRig, cfg *config.Config, base uint64) []string {
	in := cfg.Instruments[0]
	ref, tick := in.ReferencePrice, in.TickSize
	var log []string
	add := func(s []string) { log = append(log, s...) }
	// resting bids of account 1 with client ids
	for i := uint64(1); i <= 6; i++ {
		add(r.send(1, func(c *client.Client) error {
			return c.NewOrder(limit(base+i, wire.SideBuy, ref-int64(i%3)*tick, 2))
		}))
	}
	// account 2 sells into them: trades, partial fills
	add(r.send(2, func(c *client.Client) error { return c.NewOrder(limit(base+100, wire.SideSell, ref-tick, 5)) }))
	// account 1 replaces: keep priority, lose priority
	add(r.send(1, func(c *client.Client) error {
		return c.Replace(proto.Replace{OrigClientOrderID: base + 3, ClientOrderID: base + 33, Price: ref, Quantity: 1, Instrument: 1})
	}))
	add(r.send(1, func(c *client.Client) error {
		return c.Replace(proto.Replace{OrigClientOrderID: base + 5, ClientOrderID: base + 55, Price: ref - 5*tick, Quantity: 4, Instrument: 1})
	}))
	// account 3 post-only and self-trade
	add(r.send(3, func(c *client.Client) error {
		o := limit(base+200, wire.SideSell, ref+tick, 3)
		o.PostOnly = true
		return c.NewOrder(o)
	}))
	add(r.send(3, func(c *client.Client) error {
		o := limit(base+201, wire.SideBuy, ref+tick, 1)
		o.STP = wire.SelfTradeCancelResting
		return c.NewOrder(o)
	}))
	// account 4: orders on instrument 2
	in2 := cfg.Instruments[1]
	for i := uint64(1); i <= 3; i++ {
		add(r.send(4, func(c *client.Client) error {
			o := limit(base+300+i, wire.SideSell, in2.ReferencePrice+int64(i)*in2.TickSize, 1)
			o.Instrument = 2
			return c.NewOrder(o)
		}))
	}
	// duplicate client id, cancel by client id
	add(r.send(1, func(c *client.Client) error { return c.NewOrder(limit(base+1, wire.SideBuy, ref-10*tick, 1)) }))
	add(r.send(1, func(c *client.Client) error {
		return c.Cancel(proto.Cancel{OrigClientOrderID: base + 2, Instrument: 1})
	}))
	return log
}

// A varied workload, a snapshot midway, more trading, then a crash image
// of the data directory (a copy while the node runs: what kill -9 leaves,
// the journal fsynced per batch). A node started on the image has the
// state of the running node, and both answer the same next inputs with
// the same reports: order ids, trade ids, rejects, listings.
func TestCrashImageEqualsLiveState(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	setConfig(t, cfg, map[string]string{"gateway.status_rate": "0"})
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	r := newCrashRig(t, addrs.Gateway)
	phase(r, cfg, 1000)
	if err := n.Halt(2); err != nil {
		t.Fatal(err)
	}
	if err := n.RequestSnapshot(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { return n.stats.snapshots[snapshotWritten].Load() >= 1 })
	phase(r, cfg, 2000)
	if err := n.SuspendAccount(4); err != nil {
		t.Fatal(err)
	}
	if err := n.Halt(3); err != nil {
		t.Fatal(err)
	}
	if err := n.Resume(2); err != nil {
		t.Fatal(err)
	}
	r.barrier()

	// The crash image.
	img := t.TempDir()
	if err := os.CopyFS(img, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(img, "LOCK"))
	os.Remove(filepath.Join(img, "journal", "LOCK"))
	os.Remove(filepath.Join(img, "snapshots", "LOCK"))
	var liveHash uint64
	var liveSeq int64
	n.stats.engine.Do(func() { liveHash, liveSeq = n.eng.StateHash(), n.view.seq })

	cfg2 := testConfig(t, img)
	setConfig(t, cfg2, map[string]string{"gateway.status_rate": "0"})
	n2, addrs2, rec := startNode(t, cfg2)
	defer n2.Stop()
	if rec.Hash != liveHash || rec.LastSeq != liveSeq {
		t.Fatalf("recovered input %d hash %x; live node at input %d hash %x", rec.LastSeq, rec.Hash, liveSeq, liveHash)
	}
	if rec.SnapshotSeq == 0 || rec.Replayed == 0 {
		t.Fatalf("want snapshot + journal: %+v", rec)
	}
	time.Sleep(200 * time.Millisecond)
	t.Logf("n2 journal last %d after start (recovered %d)", n2.journal.LastSeq(), rec.LastSeq)
	r2 := newCrashRig(t, addrs2.Gateway)
	for id := uint32(1); id <= 3; id++ {
		var got [2]string
		for i, md := range []string{addrs.MarketData, addrs2.MarketData} {
			c := dialMD(t, md)
			c.Subscribe(id)
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			for {
				m, err := c.Next()
				if err != nil {
					t.Fatal(err)
				}
				if m.Type == wire.MessageBookSnapshot {
					got[i] = fmt.Sprintf("halted=%v last=%d bids=%v asks=%v", m.Halted, m.LastPrice, m.Bids, m.Asks)
					break
				}
			}
		}
		if got[0] != got[1] {
			t.Errorf("instrument %d book: live %s, recovered %s", id, got[0], got[1])
		}
		t.Logf("instrument %d: %s", id, got[0])
	}
	time.Sleep(200 * time.Millisecond)
	t.Logf("n2 journal last %d after logons; n1 %d", n2.journal.LastSeq(), n.journal.LastSeq())
	a, b := r.barrier(), r2.barrier()
	// continue identically on both
	a = append(a, phase(r, cfg, 3000)...)
	b = append(b, phase(r2, cfg2, 3000)...)
	if !slices.Equal(a, b) {
		for _, d := range []string{dir, img} {
			rd, _ := journal.NewReaderOf([]string{filepath.Join(d, "journal")}, nil, liveSeq+1)
			var rec journal.Record
			var line []string
			for rd.Next(&rec) == nil {
				typ, _, _ := proto.Verify(rec.Payload)
				line = append(line, fmt.Sprintf("%d:a%d:k%d:%s", rec.Seq, rec.Account, rec.Kind, wire.EnumNamesMessage[typ]))
			}
			t.Logf("%s: %v", d, line)
		}
		for i := range max(len(a), len(b)) {
			var x, y string
			if i < len(a) {
				x = a[i]
			}
			if i < len(b) {
				y = b[i]
			}
			if x != y {
				t.Errorf("live:      %s\nrecovered: %s", x, y)
			}
		}
	}
	t.Logf("%d reports compared; recovered %+v", len(a), rec)
	if keep := os.Getenv("AUDIT_KEEP"); keep != "" {
		os.CopyFS(keep, os.DirFS(img))
		n2.stats.engine.Do(func() { t.Logf("n2 at %d hash %016x", n2.view.seq, n2.eng.StateHash()) })
	}
}
