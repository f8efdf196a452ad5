package loadgen

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

const (
	minMicros = 1
	maxMicros = 3_600_000_000 // an hour: ~190 KB a histogram, four a connection
	sigDigits = 3
)

// Recorder accumulates latencies from many connections. Each connection
// records into its own histogram (no lock on the hot path) and Merge
// combines them at the end.
type Recorder struct {
	mu    sync.Mutex
	hists []*hdrhistogram.Histogram
	// ReasonName names a reject reason in Result.RejectedByReason (nil:
	// its number).
	ReasonName func(reason uint8) string
}

// ConnRecorder is the per-connection part of a Recorder. Record is the
// connection's reader's, RecordSendLag its sender's: each histogram has
// one writer.
type ConnRecorder struct {
	hist *hdrhistogram.Histogram
	// lag is how late the sender wrote each order against its due time:
	// the part of the latency that is the load generator's own.
	lag *hdrhistogram.Histogram
	// toGateway and fromGateway split each answered order at the
	// gateway's receive stamp (RecordLegs).
	toGateway, fromGateway *hdrhistogram.Histogram
	// Sent and Acked count orders written and first reports received;
	// Rejected counts the acks that were rejections. Unanswered counts
	// orders due in the run that got no answer by its end (never sent,
	// or sent and never answered): RecordUnanswered charges each the
	// time it waited, so a stall keeps its worst latencies.
	Sent, Acked, Rejected, Unanswered int64
	// rejectedBy counts rejections by reason (RecordRejectReason).
	rejectedBy [256]int64
}

// NewConn returns a recorder for one connection.
func (r *Recorder) NewConn() *ConnRecorder {
	h := hdrhistogram.New(minMicros, maxMicros, sigDigits)
	r.mu.Lock()
	r.hists = append(r.hists, h)
	r.mu.Unlock()
	return &ConnRecorder{hist: h, lag: newPartHist(), toGateway: newPartHist(), fromGateway: newPartHist()}
}

// newPartHist holds a part of the latency (sender lag, a leg of the
// trip), which can be 0 µs.
func newPartHist() *hdrhistogram.Histogram { return hdrhistogram.New(0, maxMicros, sigDigits) }

// micros is d in whole microseconds, within lo … maxMicros.
func micros(d time.Duration, lo int64) int64 { return min(max(d.Microseconds(), lo), maxMicros) }

// RecordLegs splits the trip of an order written at sent and answered at
// received at gateway, the gateway's receive stamp the report carries:
// client → gateway and gateway → client (through the node). The stamp is
// the node's clock, so the legs mean something only when the load
// generator runs on the node's host (or the clocks agree to the
// microsecond); a leg the clocks make negative counts as 0.
func (c *ConnRecorder) RecordLegs(sent, gateway, received time.Time) {
	_ = c.toGateway.RecordValue(micros(gateway.Sub(sent), 0))
	_ = c.fromGateway.RecordValue(micros(received.Sub(gateway), 0))
}

// RecordSendLag records that an order due at due was written at sent.
func (c *ConnRecorder) RecordSendLag(due, sent time.Time) {
	_ = c.lag.RecordValue(micros(sent.Sub(due), 0))
}

// Record the first report of an order that was due at due and answered at
// received, rejected or not.
func (c *ConnRecorder) Record(due, received time.Time, rejected bool) {
	if rejected {
		c.Rejected++
	}
	_ = c.hist.RecordValue(micros(received.Sub(due), minMicros)) // in range by construction
	c.Acked++
}

// RecordUnanswered records an order due at due that had no answer when
// the run gave up on it at at: its latency is at least at − due.
func (c *ConnRecorder) RecordUnanswered(due, at time.Time) {
	_ = c.hist.RecordValue(micros(at.Sub(due), minMicros))
	c.Unanswered++
}

// RecordRejectReason counts a rejection's reason; the reader calls it
// beside Record for a rejected order.
func (c *ConnRecorder) RecordRejectReason(reason uint8) { c.rejectedBy[reason]++ }

// Result is the summary `ringex bench --json` prints. Field names are part
// of the CLI's contract.
type Result struct {
	Sent           int64   `json:"sent"`
	Acked          int64   `json:"acked"`
	Rejected       int64   `json:"rejected"`
	Connections    int     `json:"connections"`
	TargetRate     int     `json:"target_rate_per_s"`
	DurationS      float64 `json:"duration_s"`
	ThroughputPerS float64 `json:"throughput_per_s"` // accepted orders (acked, not rejected) per second
	P50us          int64   `json:"p50_us"`
	P90us          int64   `json:"p90_us"`
	P99us          int64   `json:"p99_us"`
	P999us         int64   `json:"p999_us"`
	P9999us        int64   `json:"p9999_us"`
	MaxUs          int64   `json:"max_us"`
	// How late the load generator itself wrote the orders (paced runs
	// only): latency below this is out of the server's hands.
	SendLagP50us int64 `json:"send_lag_p50_us"`
	SendLagP99us int64 `json:"send_lag_p99_us"`
	// The two legs of an order's trip, split at the gateway's receive
	// stamp: written → received by the gateway, and → its report read.
	// On the node's host only (one clock; see RecordLegs).
	ToGatewayP50us   int64 `json:"to_gateway_p50_us"`
	ToGatewayP99us   int64 `json:"to_gateway_p99_us"`
	FromGatewayP50us int64 `json:"from_gateway_p50_us"`
	FromGatewayP99us int64 `json:"from_gateway_p99_us"`
	// ConnectionsLost counts connections the node hung up on before the
	// run ended (a slow consumer, say); their unanswered orders are in
	// Sent and not in Acked.
	ConnectionsLost int `json:"connections_lost"`
	// ConnectionsLostByCause counts them by the cause the node gave as it
	// closed each (a Closing: rate_limit, slow_consumer, not_leader, …),
	// "untold" for those it gave none (a node before Closing, a crash, a
	// client too slow to be told, a broken network).
	ConnectionsLostByCause map[string]int `json:"connections_lost_by_cause,omitempty"`
	// Unanswered counts orders due in the run with no answer at its end
	// (never sent, or never answered); their waits are in the latencies.
	Unanswered int64 `json:"unanswered"`
	// Rested is how many orders rested on the book through the run
	// (ringex bench --rest).
	Rested int `json:"rested,omitempty"`
	// RejectedByReason splits Rejected by reject reason (omitted when
	// nothing was rejected).
	RejectedByReason map[string]int64 `json:"rejected_by_reason,omitempty"`
	// MarketData is what the market-data subscribers held open through
	// the run read (ringex bench --md-subscribers; nil without).
	MarketData *MarketDataLoad `json:"market_data,omitempty"`

	hist *hdrhistogram.Histogram
}

// MarketDataLoad is what a run's market-data subscribers got.
type MarketDataLoad struct {
	Subscribers int   `json:"subscribers"`
	Updates     int64 `json:"updates"` // level updates, trades and trading status read, all subscribers
	// Disconnected counts subscribers the node cut off before the run
	// ended; DisconnectedByCause counts them by the cause the node gave
	// (slow_consumer, not_current, …; "untold": none given).
	Disconnected        int            `json:"disconnected"`
	DisconnectedByCause map[string]int `json:"disconnected_by_cause,omitempty"`
}

// Untold is the cause counted for a connection the node closed without
// saying why.
const Untold = "untold"

// byCause lists counts by cause (or reason), names sorted:
// "slow_consumer 2, untold 1".
func byCause[N int | int64](counts map[string]N) string {
	var by []string
	for _, name := range slices.Sorted(maps.Keys(counts)) {
		by = append(by, fmt.Sprintf("%s %d", name, counts[name]))
	}
	return strings.Join(by, ", ")
}

// Summarize merges the connections' histograms into a Result.
func (r *Recorder) Summarize(conns []*ConnRecorder, elapsed time.Duration, rate int) Result {
	merged := hdrhistogram.New(minMicros, maxMicros, sigDigits)
	res := Result{Connections: len(conns), TargetRate: rate, DurationS: elapsed.Seconds()}
	r.mu.Lock()
	for _, h := range r.hists {
		merged.Merge(h)
	}
	r.mu.Unlock()
	lag, to, from := newPartHist(), newPartHist(), newPartHist()
	for _, c := range conns {
		lag.Merge(c.lag)
		to.Merge(c.toGateway)
		from.Merge(c.fromGateway)
		res.Sent += c.Sent
		res.Acked += c.Acked
		res.Rejected += c.Rejected
		res.Unanswered += c.Unanswered
		for reason, n := range c.rejectedBy {
			if n == 0 {
				continue
			}
			if res.RejectedByReason == nil {
				res.RejectedByReason = map[string]int64{}
			}
			name := strconv.Itoa(reason)
			if r.ReasonName != nil {
				name = r.ReasonName(uint8(reason))
			}
			res.RejectedByReason[name] += n
		}
	}
	if elapsed > 0 {
		// Accepted orders only: a run whose orders were all rejected
		// (an unknown instrument, say) measured the node's rejections.
		res.ThroughputPerS = float64(res.Acked-res.Rejected) / elapsed.Seconds()
	}
	res.P50us = merged.ValueAtQuantile(50)
	res.P90us = merged.ValueAtQuantile(90)
	res.P99us = merged.ValueAtQuantile(99)
	res.P999us = merged.ValueAtQuantile(99.9)
	res.P9999us = merged.ValueAtQuantile(99.99)
	res.MaxUs = merged.Max()
	res.SendLagP50us, res.SendLagP99us = lag.ValueAtQuantile(50), lag.ValueAtQuantile(99)
	res.ToGatewayP50us, res.ToGatewayP99us = to.ValueAtQuantile(50), to.ValueAtQuantile(99)
	res.FromGatewayP50us, res.FromGatewayP99us = from.ValueAtQuantile(50), from.ValueAtQuantile(99)
	res.hist = merged
	return res
}

// WriteJSON prints the result as one JSON object.
func (res Result) WriteJSON(w io.Writer) error {
	return json.NewEncoder(w).Encode(res)
}

// WriteText prints the result for a person.
func (res Result) WriteText(w io.Writer) error {
	_, err := fmt.Fprintf(w, `sent %d, acked %d (%d rejected) in %.2fs over %d connections: %.0f accepted orders/s
latency (due → report) µs: p50 %d  p90 %d  p99 %d  p99.9 %d  p99.99 %d  max %d
sender lag (due → written) µs: p50 %d  p99 %d
written → gateway receive µs: p50 %d  p99 %d;  gateway receive → report read µs: p50 %d  p99 %d (one clock: on the node's host only)
`, res.Sent, res.Acked, res.Rejected, res.DurationS, res.Connections, res.ThroughputPerS,
		res.P50us, res.P90us, res.P99us, res.P999us, res.P9999us, res.MaxUs, res.SendLagP50us, res.SendLagP99us,
		res.ToGatewayP50us, res.ToGatewayP99us, res.FromGatewayP50us, res.FromGatewayP99us)
	if err == nil && len(res.RejectedByReason) > 0 {
		_, err = fmt.Fprintf(w, "rejected by reason: %s\n", byCause(res.RejectedByReason))
	}
	if err == nil && res.Rested > 0 {
		_, err = fmt.Fprintf(w, "%d orders rested on the book through the run\n", res.Rested)
	}
	if md := res.MarketData; err == nil && md != nil {
		// By the causes the node gave; for those it gave none, the
		// likely ones.
		why := ""
		if md.Disconnected > 0 {
			why = " (" + byCause(md.DisconnectedByCause) + ")"
		}
		if md.DisconnectedByCause[Untold] > 0 {
			why += "; untold: read too slowly, or a cluster member out of touch with its leader — " +
				"its ringex_marketdata_closed_total{cause} says which"
		}
		_, err = fmt.Fprintf(w, "market data: %d subscriber(s) read %d updates; the node cut off %d before the run ended%s\n",
			md.Subscribers, md.Updates, md.Disconnected, why)
	}
	if err == nil && res.Unanswered > 0 {
		_, err = fmt.Fprintf(w, "unanswered at the end: %d orders (never sent or never answered; counted in the latencies with the time they waited)\n", res.Unanswered)
	}
	if err == nil && res.ConnectionsLost > 0 {
		_, err = fmt.Fprintf(w, "connections lost before the end: %d of %d (%s)\n", res.ConnectionsLost, res.Connections, byCause(res.ConnectionsLostByCause))
	}
	return err
}
