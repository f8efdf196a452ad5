package prometheus

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/internal/testnode"
	"github.com/ringex/ringex/node"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// repoFile is a path in the repository, from this package's directory.
func repoFile(t *testing.T, rel string) string {
	t.Helper()
	_, self, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("no caller")
	}
	return filepath.Join(filepath.Dir(self), "..", "..", filepath.FromSlash(rel))
}

func readRepoFile(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(repoFile(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// trader sends crossing orders from two accounts (accepts, fills) and one
// order off the tick (a reject), and waits until each round is answered,
// so every counter, the fsync and the end-to-end histograms have samples.
type trader struct {
	buyer, seller *client.Client
	next          uint64
	rounds        int
}

func newTrader(t *testing.T, a node.Addrs) *trader {
	t.Helper()
	dial := func(acct uint32) *client.Client {
		c, err := client.Dial(a.Gateway, acct, config.Default().Accounts[acct-1].Secret, client.Options{AutoFlush: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	return &trader{buyer: dial(1), seller: dial(2)}
}

// round trades once, and draws one reject every tenth round (the first
// included) — rarely enough that the reject-rate alert stays quiet on this
// healthy node; it returns when both answered.
func (tr *trader) round() error {
	reject := tr.rounds%10 == 0
	tr.rounds++
	ref := config.Default().Instruments[0].ReferencePrice
	order := func(side wire.Side, price int64) proto.NewOrder {
		tr.next++
		return proto.NewOrder{ClientOrderID: tr.next, Instrument: 1, Side: side, Type: wire.OrderTypeLimit,
			TIF: wire.TimeInForceGTC, Price: price, Quantity: 1}
	}
	if err := tr.buyer.NewOrder(order(wire.SideBuy, ref)); err != nil {
		return err
	}
	if err := tr.seller.NewOrder(order(wire.SideSell, ref)); err != nil {
		return err
	}
	want := []wire.ExecKind{wire.ExecKindFill}
	if reject {
		if err := tr.seller.NewOrder(order(wire.SideSell, ref+1)); err != nil { // off the 50-unit tick
			return err
		}
		want = append(want, wire.ExecKindRejected)
	}
	if err := awaitReports(tr.seller, want...); err != nil {
		return err
	}
	return awaitReports(tr.buyer, wire.ExecKindFill)
}

// awaitReports reads until a report of each kind has arrived, in any
// order (which of two sessions' orders reaches the ring first is open).
func awaitReports(c *client.Client, kinds ...wire.ExecKind) error {
	want := map[wire.ExecKind]bool{}
	for _, k := range kinds {
		want[k] = true
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for len(want) > 0 {
		m, err := c.Next()
		if err != nil {
			return fmt.Errorf("waiting for reports %v: %w", want, err)
		}
		if m.Type == wire.MessageExecutionReport {
			delete(want, m.Report.Kind)
		}
	}
	return nil
}

// subscribe opens the market-data port (it is open only while someone
// subscribes) and keeps it open for the test.
func subscribe(t *testing.T, a node.Addrs) {
	t.Helper()
	md, err := client.DialMarketData(a.MarketData, client.Options{AutoFlush: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { md.Close() })
	md.Subscribe(1)
	md.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		m, err := md.Next()
		if err != nil {
			t.Fatal(err)
		}
		if m.Type == wire.MessageBookSnapshot {
			return
		}
	}
}

// scrape reads the node's /metrics.
func scrape(t *testing.T, admin string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %s", resp.Status)
	}
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// served is what a node serves: each family's type, label names and
// label values.
type served struct {
	types  map[string]string                     // family -> counter, gauge, histogram
	labels map[string]map[string]struct{}        // family -> label names
	values map[string]map[string]map[string]bool // family -> label -> values
}

func newServed(fams map[string]*dto.MetricFamily) served {
	s := served{types: map[string]string{}, labels: map[string]map[string]struct{}{}, values: map[string]map[string]map[string]bool{}}
	for name, f := range fams {
		if !strings.HasPrefix(name, "ringex_") {
			continue
		}
		s.types[name] = strings.ToLower(f.GetType().String())
		s.labels[name] = map[string]struct{}{}
		s.values[name] = map[string]map[string]bool{}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				s.labels[name][l.GetName()] = struct{}{}
				if s.values[name][l.GetName()] == nil {
					s.values[name][l.GetName()] = map[string]bool{}
				}
				s.values[name][l.GetName()][l.GetValue()] = true
			}
		}
	}
	return s
}

// family maps a series name to its family: a histogram's _bucket, _sum
// and _count series belong to it.
func (s served) family(series string) (string, bool) {
	if _, ok := s.types[series]; ok {
		return series, true
	}
	for _, suf := range []string{"_bucket", "_sum", "_count"} {
		base, ok := strings.CutSuffix(series, suf)
		if ok && s.types[base] == "histogram" {
			return base, true
		}
	}
	return "", false
}

// tradedNode starts a node, trades a few rounds with market data
// subscribed, and returns its addresses and what it serves.
func tradedNode(t *testing.T) (node.Addrs, served) {
	t.Helper()
	a := testnode.Start(t, map[string]string{"rings.input_slots": "4096", "rings.output_slots": "4096"})
	subscribe(t, a)
	tr := newTrader(t, a)
	for i := 0; i < 5; i++ {
		if err := tr.round(); err != nil {
			t.Fatal(err)
		}
	}
	return a, newServed(scrape(t, a.Admin))
}
