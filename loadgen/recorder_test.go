package loadgen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSummarizePercentilesAndJSON(t *testing.T) {
	r := Recorder{ReasonName: func(reason uint8) string { return fmt.Sprintf("reason-%d", reason) }}
	a, b := r.NewConn(), r.NewConn()
	base := time.Unix(0, 0)
	// 1..1000 µs spread over two connections; every tenth rejected, half
	// of them for reason 7 and half for reason 9.
	for i := 1; i <= 1000; i++ {
		c := a
		if i%2 == 0 {
			c = b
		}
		c.Sent++
		c.Record(base, base.Add(time.Duration(i)*time.Microsecond), i%10 == 0)
		if i%20 == 10 {
			c.RecordRejectReason(7)
		} else if i%20 == 0 {
			c.RecordRejectReason(9)
		}
	}
	for i := 1; i <= 100; i++ { // written 1…100 µs late
		a.RecordSendLag(base, base.Add(time.Duration(i)*time.Microsecond))
	}
	for i := 1; i <= 100; i++ { // 2i µs to the gateway, 3i back
		b.RecordLegs(base, base.Add(time.Duration(2*i)*time.Microsecond), base.Add(time.Duration(5*i)*time.Microsecond))
	}
	// A gateway clock a second behind: 0 to it (not negative), 1 s back.
	b.RecordLegs(base, base.Add(-time.Second), base.Add(time.Microsecond))
	res := r.Summarize([]*ConnRecorder{a, b}, 2*time.Second, 500)
	// 101 samples each: to 0, 2, …, 200; from 3, …, 300, 1 000 001.
	if res.ToGatewayP50us != 100 || res.ToGatewayP99us != 198 || res.FromGatewayP50us != 153 || res.FromGatewayP99us != 300 {
		t.Fatalf("legs: to gateway p50 %d p99 %d, from p50 %d p99 %d; want 100, 198, 153, 300",
			res.ToGatewayP50us, res.ToGatewayP99us, res.FromGatewayP50us, res.FromGatewayP99us)
	}
	if res.SendLagP50us != 50 || res.SendLagP99us != 99 {
		t.Fatalf("send lag p50 %d p99 %d, want 50 and 99", res.SendLagP50us, res.SendLagP99us)
	}
	if res.Sent != 1000 || res.Acked != 1000 || res.Rejected != 100 {
		t.Fatalf("sent %d acked %d rejected %d", res.Sent, res.Acked, res.Rejected)
	}
	if want := map[string]int64{"reason-7": 50, "reason-9": 50}; !maps.Equal(res.RejectedByReason, want) {
		t.Fatalf("rejected by reason %v, want %v", res.RejectedByReason, want)
	}
	if res.ThroughputPerS != 450 { // 1000 answered, 100 of them rejected, in 2 s
		t.Fatalf("throughput %v, want 450: accepted orders only", res.ThroughputPerS)
	}
	near := func(got, want int64) bool { return got >= want-want/100-1 && got <= want+want/100+1 }
	if !near(res.P50us, 500) || !near(res.P90us, 900) || !near(res.P99us, 990) || !near(res.MaxUs, 1000) {
		t.Fatalf("percentiles %+v", res)
	}
	var buf bytes.Buffer
	if err := res.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"sent", "acked", "rejected", "throughput_per_s", "p50_us", "p90_us", "p99_us", "p999_us", "p9999_us", "max_us", "send_lag_p50_us", "send_lag_p99_us",
		"to_gateway_p50_us", "to_gateway_p99_us", "from_gateway_p50_us", "from_gateway_p99_us"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, buf.String())
		}
	}
	var svg bytes.Buffer
	if err := res.WritePlotSVG(&svg, "test <run>"); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(svg.String(), "<svg") || !strings.Contains(svg.String(), "polyline") || !strings.Contains(svg.String(), "test &lt;run&gt;") {
		t.Fatalf("svg = %.200s", svg.String())
	}
}

func TestScheduleOpenLoop(t *testing.T) {
	start := time.Unix(100, 0)
	s := NewSchedule(start, 1000, 4) // 250/s per connection: every 4 ms
	if got := s.Due(10, start.Add(time.Hour)); !got.Equal(start.Add(40 * time.Millisecond)) {
		t.Fatalf("due = %v", got)
	}
	now := start.Add(time.Second)
	if got := NewSchedule(start, 0, 4).Due(10, now); !got.Equal(now) {
		t.Fatal("rate 0 must be due now")
	}
}

// The connections' schedules interleave: together their orders are due
// one every 1/rate. Every connection's order i was due at the same
// instant, so --rate R over N connections sent bursts of N every N/R,
// and latency grew with --connections at the same rate.
func TestConnectionSchedulesInterleave(t *testing.T) {
	start := time.Unix(100, 0)
	const rate, conns = 1000, 4
	s := NewSchedule(start, rate, conns)
	var due []time.Time
	for c := range conns {
		cs := s.Conn(c, conns)
		for i := range int64(10) {
			due = append(due, cs.Due(i, start))
		}
	}
	slices.SortFunc(due, time.Time.Compare)
	for i, d := range due {
		if want := start.Add(time.Duration(i) * time.Second / rate); !d.Equal(want) {
			t.Fatalf("order %d of the run due at %v, want %v (one every %v)", i, d.Sub(start), want.Sub(start), time.Second/rate)
		}
	}
	if now := start.Add(time.Second); !NewSchedule(start, 0, conns).Conn(3, conns).Due(5, now).Equal(now) {
		t.Fatal("rate 0: an order is due when it is sent, on every connection")
	}
}

// Latency is measured from the due time: a stall shows in every delayed
// order (no coordinated omission).
func TestLatencyFromDueTime(t *testing.T) {
	var r Recorder
	c := r.NewConn()
	start := time.Unix(0, 0)
	s := NewSchedule(start, 1000, 1) // every 1 ms
	// The server stalls for 100 ms: orders 0..99 are all answered at 100 ms.
	for i := int64(0); i < 100; i++ {
		c.Record(s.Due(i, start), start.Add(100*time.Millisecond), false)
	}
	res := r.Summarize([]*ConnRecorder{c}, time.Second, 1000)
	if res.P50us < 45_000 || res.MaxUs < 99_000 {
		t.Fatalf("stall hidden: p50 %d max %d", res.P50us, res.MaxUs)
	}
}

// The text output names lost connections only when there were any.
func TestWriteTextRejectedByReason(t *testing.T) {
	var b strings.Builder
	res := Result{Rejected: 5, RejectedByReason: map[string]int64{"rate-limited": 2, "max-open-orders": 3}}
	if err := res.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "rejected by reason: max-open-orders 3, rate-limited 2\n") {
		t.Fatalf("%q", b.String())
	}
}

func TestWriteTextLostConnections(t *testing.T) {
	for _, tc := range []struct {
		lost int
		want bool
	}{{0, false}, {1, true}} {
		var b strings.Builder
		if err := (Result{Connections: 4, ConnectionsLost: tc.lost}).WriteText(&b); err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(b.String(), "connections lost before the end: 1 of 4"); got != tc.want {
			t.Errorf("%d lost: %q", tc.lost, b.String())
		}
	}
}

// The market-data line counts the subscribers the node cut off by the
// cause it gave each, and names the likely ones for those it gave none.
func TestWriteTextMarketDataCut(t *testing.T) {
	for _, tc := range []struct {
		cut     int
		byCause map[string]int
		want    string
	}{
		{0, nil, "market data: 2 subscriber(s) read 40 updates; the node cut off 0 before the run ended\n"},
		{2, map[string]int{"slow_consumer": 1, "not_current": 1},
			"market data: 2 subscriber(s) read 40 updates; the node cut off 2 before the run ended (not_current 1, slow_consumer 1)\n"},
		{2, map[string]int{"slow_consumer": 1, Untold: 1}, "market data: 2 subscriber(s) read 40 updates; the node cut off 2 before the run ended " +
			"(slow_consumer 1, untold 1); untold: read too slowly, or a cluster member out of touch with its leader — " +
			"its ringex_marketdata_closed_total{cause} says which\n"},
	} {
		var b strings.Builder
		res := Result{MarketData: &MarketDataLoad{Subscribers: 2, Updates: 40, Disconnected: tc.cut, DisconnectedByCause: tc.byCause}}
		if err := res.WriteText(&b); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), tc.want) {
			t.Errorf("%d cut off: %q, want the line %q", tc.cut, b.String(), tc.want)
		}
	}
}

// A run of d at rate r has r×d orders due before its end, whatever the
// rate: the interval is not rounded first. 1s/3 rounded down to
// 333 333 333 ns put a fourth order at 999 999 999 ns, so `--rate 3
// --duration 1s` sent 4.
func TestScheduleDueCountIsRateTimesDuration(t *testing.T) {
	start := time.Unix(100, 0)
	for _, tc := range []struct {
		rate, conns int
		d           time.Duration
	}{{3, 1, time.Second}, {7, 3, 2 * time.Second}, {1_000_003, 4, time.Second}, {100_000, 16, time.Second}} {
		end := start.Add(tc.d)
		s := NewSchedule(start, tc.rate, tc.conns)
		var due int64
		for c := range tc.conns {
			cs := s.Conn(c, tc.conns)
			for i := int64(0); cs.Due(i, start).Before(end); i++ {
				due++
			}
		}
		if want := int64(tc.rate) * int64(tc.d/time.Second); due != want {
			t.Errorf("rate %d over %d connections for %v: %d orders due, want %d", tc.rate, tc.conns, tc.d, due, want)
		}
	}
}

// Due times stay exact far into a long run: order k of the run is due
// at k/rate seconds even where k×1e9 would overflow int64.
func TestScheduleDueLongRun(t *testing.T) {
	start := time.Unix(100, 0)
	const rate, conns = 1_000_000, 64
	s := NewSchedule(start, rate, conns).Conn(5, conns)
	i := int64(200_000_000) // the run's order 12.8e9 + 5: 12 800 s in
	want := start.Add(12_800*time.Second + 5*time.Microsecond)
	if got := s.Due(i, start); !got.Equal(want) {
		t.Fatalf("due %v, want %v", got.Sub(start), want.Sub(start))
	}
}
