package node

import (
	"bufio"
	"bytes"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// sumFamily sums every series of a metric family in a scrape.
func sumFamily(body []byte, family string) float64 {
	var sum float64
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, family+"{") && !strings.HasPrefix(line, family+" ") {
			continue
		}
		f, _ := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		sum += f
	}
	return sum
}

// ringex_marketdata_closed_total's causes are those docs/metrics.md
// lists (in any order), and each the port says in a Closing is named as that Closing's
// cause, with '-' for '_' (proto/README.md, Closing causes): a shutdown
// is "shutdown" on both ports.
func TestMarketDataCloseCauseNames(t *testing.T) {
	for end, c := range mdClosings(config.Default()) {
		if want := strings.ReplaceAll(proto.ClosingCauseName(c.Cause), "_", "-"); mdCauseNames[mdCounted(end)] != want {
			t.Errorf("end %d is counted as %q and sent as Closing{%s}, want %q", end, mdCauseNames[mdCounted(end)], proto.ClosingCauseName(c.Cause), want)
		}
	}
	doc, err := os.ReadFile("../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for line := range strings.Lines(string(doc)) {
		if cells := strings.Split(line, "|"); len(cells) > 3 && strings.TrimSpace(cells[1]) == "`ringex_marketdata_closed_total`" {
			listed = strings.Split(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(cells[3]), "`cause` =")), ", ")
		}
	}
	slices.Sort(listed)
	if counted := slices.Sorted(slices.Values(mdCauseNames[:])); !slices.Equal(listed, counted) {
		t.Errorf("docs/metrics.md lists the causes %q; the port counts %q", listed, counted)
	}
}

// The reject share (ringex_rejects_total ÷ ringex_orders_total, the
// dashboard's panel and RingexRejectRate) is at most 1, whoever refused:
// the gateway's own refusals (rate-limited) were counted as rejects but
// not as commands — 50 orders at a rate limit of 5 showed 900 %.
func TestRejectShareIsAShare(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Set("gateway.rate_limit", "5")
	cfg.Set("gateway.disconnect_rate", "1000000")
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	c := dial(t, addrs.Gateway, 1)
	in := cfg.Instruments[0]
	const sent = 50
	for i := uint64(1); i <= sent; i++ {
		c.NewOrder(limit(i, wire.SideBuy, in.ReferencePrice-in.TickSize, 1))
	}
	for got := 0; got < sent; {
		m := next(t, c, func(m client.Message) bool { return m.Type == wire.MessageExecutionReport })
		if m.Report.Kind == wire.ExecKindAccepted || m.Report.Kind == wire.ExecKindRejected {
			got++
		}
	}
	var body []byte
	waitUntil(t, func() bool {
		body = scrapeMetrics(t, addrs.Admin)
		return sumFamily(body, "ringex_orders_total") >= sent
	})
	orders, rejects := sumFamily(body, "ringex_orders_total"), sumFamily(body, "ringex_rejects_total")
	if orders != sent || rejects == 0 || rejects > orders {
		t.Fatalf("%d orders sent: ringex_orders_total %v, ringex_rejects_total %v", sent, orders, rejects)
	}
}

// A scrape does not wait for an engine held in a batch when a market-data
// subscriber arrives meanwhile: opening the port waits for the engine,
// and the stream gauges waited for the port's lock.
func TestScrapeWhileTheEngineIsHeldAndTheMarketDataPortOpens(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	release := holdEngine(t, n)
	defer release()
	md, err := client.DialMarketData(addrs.MarketData, client.Options{AutoFlush: true})
	if err != nil {
		t.Fatal(err)
	}
	defer md.Close()
	md.Subscribe(cfg.Instruments[0].ID)
	// The hub opens the port: it deploys the fan-out, then, holding the
	// port's lock, switchMarketData waits for the held engine. Polled,
	// not slept on: scraped before, the port was not opening yet.
	waitUntil(t, func() bool { return n.mdHub.deployed.Load() != nil })
	if n.mdHub.portMu.TryLock() {
		n.mdHub.portMu.Unlock()
		t.Fatal("the port opened with the engine held: the scrape below would not test a port opening")
	}
	hc := http.Client{Timeout: 3 * time.Second}
	start := time.Now()
	resp, err := hc.Get("http://" + addrs.Admin + "/metrics")
	if err != nil {
		t.Fatalf("a scrape with the engine held and a subscriber arriving: %v after %v", err, time.Since(start))
	}
	resp.Body.Close()
}

// A receive stamp ahead of this node's clock — a cluster follower's
// inputs carry the leader's gateway's stamps, and clocks differ — counts
// as no latency, not a negative one that the histogram would count in
// its lowest bucket and take off its sum.
func TestStageLatencyNeverNegative(t *testing.T) {
	var s stats
	s.init(1)
	leaderStamp := time.Now().Add(50 * time.Millisecond).UnixNano() // the leader's clock 50 ms ahead
	s.engineStage.Observe(sinceRecv(leaderStamp).Seconds())
	var m dto.Metric
	if err := s.engineStage.(prometheus.Metric).Write(&m); err != nil {
		t.Fatal(err)
	}
	if sum := m.GetHistogram().GetSampleSum(); sum < 0 {
		t.Fatalf("ringex_stage_latency_seconds{stage=engine} sum %v after one observation: a negative latency", sum)
	}
}
