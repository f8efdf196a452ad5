package main

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ringex/ringex/internal/testnode"
	"github.com/ringex/ringex/loadgen"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// bench --help names every key --json prints, and those it leaves out
// when they have nothing to say (omitempty): a script reading the object
// was told of rejected_by_reason and rested as if always there, and
// found them missing from a run with no rejection or no --rest.
func TestBenchHelpNamesEveryJSONKeyAndThoseLeftOut(t *testing.T) {
	help := mustRingex(t, "bench", "--help")
	head, _, ok := strings.Cut(help[strings.Index(help, "--json prints one object"):], "):")
	if !ok {
		t.Fatalf("bench --help no longer says which --json keys are left out:\n%s", help)
	}
	for _, typ := range []reflect.Type{reflect.TypeFor[loadgen.Result](), reflect.TypeFor[loadgen.MarketDataLoad]()} {
		for f := range typ.Fields() {
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" || name == "-" {
				continue
			}
			if !regexp.MustCompile(`\b` + name + `\b`).MatchString(help) {
				t.Errorf("bench --help does not name the --json key %s", name)
			}
			if left := regexp.MustCompile(`\b` + name + `\b`).MatchString(head); left != (opts == "omitempty") {
				t.Errorf("bench --help says %s is left out when empty: %v; its tag: %q", name, left, f.Tag.Get("json"))
			}
		}
	}
}

// Rejected orders are counted by reason: orders far outside the
// instrument's price band are all rejected as price-band. A run none of
// whose orders was accepted measured nothing but rejections: it prints
// what it measured and fails, saying why (it exited 0 with "0 accepted
// orders/s", and the deploy scripts took its figures for a run's).
func TestBenchRejectsByReason(t *testing.T) {
	a := testnode.Start(t, map[string]string{"journal.sync": "none"})
	out, err := ringex(t, nil, "bench", "--addr", a.Gateway, "--rate", "500", "--duration", "300ms", "--connections", "1",
		"--instrument", "2", "--price", "100", "--json")
	if err == nil || !strings.Contains(err.Error(), "no order was accepted") || !strings.Contains(err.Error(), "price-band") {
		t.Errorf("a run of rejections only: error %v, want one saying none was accepted, and why", err)
	}
	var res struct {
		Sent     int64            `json:"sent"`
		Rejected int64            `json:"rejected"`
		ByReason map[string]int64 `json:"rejected_by_reason"`
	}
	if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &res); err != nil {
		t.Fatalf("%v in:\n%s", err, out)
	}
	if res.Sent == 0 || res.Rejected != res.Sent || len(res.ByReason) != 1 || res.ByReason["price-band"] != res.Sent {
		t.Fatalf("%d sent, %d rejected, by reason %v; want all price-band\n%s", res.Sent, res.Rejected, res.ByReason, out)
	}
}

// ringex bench --md-subscribers holds market-data subscribers of the
// traded instrument open through the run and says what they read: with
// the cross mix every order changes the book, so each subscriber reads
// at least an update per order pair, and none is too slow at this rate.
func TestBenchWithMarketDataSubscribers(t *testing.T) {
	a := testnode.Start(t, map[string]string{"journal.sync": "none"})
	out := mustRingex(t, "bench", "--addr", a.Gateway, "--rate", "2000", "--duration", "1s", "--connections", "2",
		"--md-subscribers", "3", "--md-addr", a.MarketData, "--json")
	var res struct {
		Sent       int64 `json:"sent"`
		MarketData *struct {
			Subscribers  int   `json:"subscribers"`
			Updates      int64 `json:"updates"`
			Disconnected int   `json:"disconnected"`
		} `json:"market_data"`
	}
	if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &res); err != nil {
		t.Fatalf("%v in:\n%s", err, out)
	}
	md := res.MarketData
	if md == nil || md.Subscribers != 3 || md.Disconnected != 0 || md.Updates < 3*res.Sent/2 {
		t.Fatalf("market data of a run of %d orders: %+v\n%s", res.Sent, md, out)
	}
	text := mustRingex(t, "bench", "--addr", a.Gateway, "--rate", "1000", "--duration", "200ms", "--connections", "2",
		"--md-subscribers", "1", "--md-addr", a.MarketData)
	wantLine(t, text, `^market data: 1 subscriber\(s\) read \d+ updates; the node cut off 0 before the run ended$`)
}

// ringex bench against a real node: the JSON carries every documented
// field, every order is answered, and none is rejected — four connections
// over two accounts must not reuse each other's client order ids.
func TestBenchAgainstNode(t *testing.T) {
	a := testnode.Start(t, map[string]string{"journal.sync": "none"})
	plot := filepath.Join(t.TempDir(), "latency.svg")
	out := mustRingex(t, "bench", "--addr", a.Gateway, "--rate", "4000", "--duration", "1s",
		"--connections", "4", "--accounts", "1,2", "--json", "--plot", plot)

	var res map[string]float64
	if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &res); err != nil {
		t.Fatalf("%v in:\n%s", err, out)
	}
	for _, k := range []string{"sent", "acked", "rejected", "throughput_per_s", "p50_us", "p90_us", "p99_us", "p999_us", "p9999_us", "max_us", "send_lag_p50_us", "send_lag_p99_us",
		"to_gateway_p50_us", "to_gateway_p99_us", "from_gateway_p50_us", "from_gateway_p99_us"} {
		if _, ok := res[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, out)
		}
	}
	if res["sent"] < 3000 || res["acked"] != res["sent"] {
		t.Errorf("sent %v, acked %v: want ~4000 sent and every one answered", res["sent"], res["acked"])
	}
	if res["rejected"] != 0 {
		t.Errorf("%v orders rejected", res["rejected"])
	}
	if !(res["p50_us"] > 0 && res["p50_us"] <= res["p99_us"] && res["p99_us"] <= res["max_us"]) {
		t.Errorf("percentiles out of order: %s", out)
	}
	// Each order was written before its report came back.
	if res["send_lag_p50_us"] > res["p50_us"] || res["send_lag_p99_us"] > res["p99_us"] {
		t.Errorf("sender lag above latency: %s", out)
	}
	// The legs (one clock here) are parts of a trip that began at or after
	// the order was due, so neither exceeds the whole, and the way back
	// passes through the node: it is not nothing.
	if res["to_gateway_p50_us"] > res["p50_us"] || res["from_gateway_p50_us"] > res["p50_us"] || res["from_gateway_p50_us"] == 0 {
		t.Errorf("legs out of bounds: %s", out)
	}
	svg, err := os.ReadFile(plot)
	if err != nil || !strings.HasPrefix(string(svg), "<svg") {
		t.Errorf("plot: %v %.100q", err, svg)
	}
}

// A run in which the node hangs up on connections still prints what it
// measured — the orders those connections sent count as sent, their
// answers as far as they came — and fails, saying how many it lost.
func TestBenchReportsLostConnections(t *testing.T) {
	a := testnode.Start(t, map[string]string{"journal.sync": "none"})
	// A proxy in front of the gateway that cuts every connection once it
	// has passed 400 reports back (or 5 s in), as a node does to a client
	// too slow to read its reports. (Cut at a fixed 300 ms, the run under
	// -race sometimes had no answer by then. The reports are fills too —
	// under -race in CI 150 a connection answered only 81 orders of both.)
	proxy := serveLoopback(t, func(in net.Conn) {
		out, err := net.Dial("tcp", a.Gateway)
		if err != nil {
			in.Close()
			return
		}
		cut := sync.OnceFunc(func() { in.Close(); out.Close() })
		time.AfterFunc(5*time.Second, cut)
		go io.Copy(out, in)
		go func() {
			buf := make([]byte, 4096)
			for back := 0; ; {
				n, err := out.Read(buf)
				if _, werr := in.Write(buf[:n]); werr != nil || err != nil {
					return
				}
				if back += n; back >= 400*proto.ReportFrameBytes() {
					cut()
					return
				}
			}
		}()
	})
	out, err := ringex(t, nil, "bench", "--addr", proxy, "--rate", "2000", "--duration", "2s",
		"--connections", "2", "--json")
	if err == nil || !strings.Contains(err.Error(), "2 of 2 connections lost") {
		t.Fatalf("bench through a proxy that hangs up: error %v, want 2 of 2 connections lost\n%s", err, out)
	}
	// Hung up on with no cause told, as a node killed under the run
	// leaves them: the error sends the operator to the node's stop, not
	// to "session closed" lines a killed node never wrote.
	if msg := err.Error(); !strings.Contains(msg, "the node giving no cause: it stopped or was killed") || strings.Contains(msg, "slow consumer") {
		t.Errorf("bench with every connection lost untold: error %q, want it to say the node gave no cause (stopped, killed, or the network), not a slow consumer", msg)
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):strings.LastIndex(out, "}")+1]), &raw); err != nil {
		t.Fatalf("%v in:\n%s", err, out)
	}
	res := map[string]float64{}
	for k, v := range raw {
		if f, ok := v.(float64); ok {
			res[k] = f
		}
	}
	// A proxy hanging up says nothing: both lost untold.
	if by, _ := raw["connections_lost_by_cause"].(map[string]any); len(by) != 1 || by[loadgen.Untold] != 2.0 {
		t.Errorf("connections_lost_by_cause %v, want untold 2: %s", raw["connections_lost_by_cause"], out)
	}
	if res["connections_lost"] != 2 || res["sent"] < 100 || res["acked"] < 100 || res["acked"] > res["sent"] || res["sent"] >= 4000 {
		t.Fatalf("result of a run cut after 400 reports a connection: %s", out)
	}
	// Over half the 4000 orders due were never answered (most never sent
	// — how many depends on how late the cut came under load), charged
	// from their due time to the run's end: the median order waited hundreds of
	// milliseconds. Charged from the hang-up, before they were due, each
	// was 1 µs, and the run's p50 fell to 1 µs.
	if res["unanswered"] < 2000 || res["p50_us"] < 100_000 {
		t.Errorf("p50 %v µs with %v of %v orders due never answered: %s", res["p50_us"], res["unanswered"], res["unanswered"]+res["acked"], out)
	}
}

// A node that closes the run's sessions saying why (a Closing) has the
// connections counted by that cause, and the error sends the operator to
// its "session closed" lines, not to a node stopped or killed: the cause
// was dropped where a connection's reader met the close, and every lost
// connection was counted untold — a leader deposed under a run (not_leader)
// and one stopped cleanly (shutdown) read as a crash.
func TestBenchCountsTheCauseTheNodeGave(t *testing.T) {
	a := testnode.Start(t, map[string]string{"journal.sync": "none"})
	type run struct {
		out string
		err error
	}
	done := make(chan run, 1)
	go func() {
		out, err := ringex(t, nil, "bench", "--addr", a.Gateway, "--rate", "1000", "--duration", "20s",
			"--connections", "2", "--json")
		done <- run{out, err}
	}()
	// An operator closes both sessions once both are logged on.
	var ids []string
	for end := time.Now().Add(10 * time.Second); len(ids) < 2; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("the run's 2 sessions not logged on in 10 s: %v", ids)
		}
		resp, err := http.Get("http://" + a.Admin + "/sessions")
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Sessions []struct {
				ID string `json:"id"`
			} `json:"sessions"`
		}
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		ids = ids[:0]
		for _, s := range body.Sessions {
			ids = append(ids, s.ID)
		}
	}
	for _, id := range ids {
		resp, err := http.Post("http://"+a.Admin+"/sessions/"+id+"/close", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("POST /sessions/%s/close: %s", id, resp.Status)
		}
	}
	var r run
	select {
	case r = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("bench still running 30 s after its sessions were closed")
	}
	if r.err == nil || !strings.Contains(r.err.Error(), "2 of 2 connections lost") || strings.Contains(r.err.Error(), "the node giving no cause") {
		t.Errorf("bench whose sessions an operator closed: error %v, want 2 of 2 connections lost, the cause told", r.err)
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(r.out[strings.Index(r.out, "{"):strings.LastIndex(r.out, "}")+1]), &raw); err != nil {
		t.Fatalf("%v in:\n%s", err, r.out)
	}
	if by, _ := raw["connections_lost_by_cause"].(map[string]any); len(by) != 1 || by["operator"] != 2.0 {
		t.Errorf("connections_lost_by_cause %v, want operator 2: %s", raw["connections_lost_by_cause"], r.out)
	}
}

// --rest rests its orders before the run and keeps their session alive
// through it — heartbeating past the node's read timeout — so they stay
// on the book; none of them trades with the run's orders or is rejected.
func TestBenchRestsOrders(t *testing.T) {
	// A read timeout shorter than the run, so the resting session must
	// heartbeat (every 2 s: a third of it, as the LogonAck asks). 6 s,
	// not 2, because a session is cut by a pause of its client or of the
	// node, not only by a client that does not heartbeat: the resting
	// session by one of about 3.2 s (the timeout, less a heartbeat
	// interval and the node's deadline step of an eighth), the run's
	// connections by one of about 5.2 s; at 2 s, loaded (20 runnable on 2
	// cores) the bench's own sender fell 2.7 s behind and the node cut a
	// connection in 3 runs of 20 — its unread reports lost with it. The
	// run outlasts the timeout by a second, at 400 orders a second.
	a := testnode.Start(t, map[string]string{"journal.sync": "none", "gateway.read_timeout": "6s", "gateway.heartbeat_interval": "300ms"})
	// As one of the run's accounts: the resting orders' client order ids
	// must not be the run's (1, 2, … on connection 0).
	out := mustRingex(t, "bench", "--addr", a.Gateway, "--rate", "400", "--duration", "7s",
		"--connections", "2", "--rest", "2000", "--rest-account", "1", "--json")
	var res map[string]float64
	if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &res); err != nil {
		t.Fatalf("%v in:\n%s", err, out)
	}
	if res["rested"] != 2000 || res["acked"] != res["sent"] || res["sent"] < 2000 || res["rejected"] != 0 {
		t.Fatalf("rested %v, sent %v, acked %v, rejected %v: %s", res["rested"], res["sent"], res["acked"], res["rejected"], out)
	}
	resp, err := http.Get("http://" + a.Admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	metrics, _ := io.ReadAll(resp.Body)
	if m := regexp.MustCompile(`ringex_disconnects_total\{cause="heartbeat_timeout"\} ([0-9]+)`).FindSubmatch(metrics); m != nil && string(m[1]) != "0" {
		t.Fatalf("%s sessions timed out: the resting session was not kept alive", m[1])
	}
	m := regexp.MustCompile(`ringex_orders_total\{type="new_order"\} ([0-9]+)`).FindSubmatch(metrics)
	if m == nil {
		t.Fatalf("no new_order count in:\n%s", metrics)
	}
	if n, _ := strconv.Atoi(string(m[1])); float64(n) < 2000+res["sent"] {
		t.Fatalf("the node counted %d new orders, want the 2000 rested and the %v sent", n, res["sent"])
	}
	// The run crossed at --price only: half its orders traded, none
	// with a resting order (which would have left a resting one filled).
	tm := regexp.MustCompile(`ringex_trades_total ([0-9]+)`).FindSubmatch(metrics)
	if tm == nil {
		t.Fatalf("no trade count in:\n%s", metrics)
	}
	if n, _ := strconv.Atoi(string(tm[1])); float64(n) > res["sent"]/2 {
		t.Fatalf("%d trades for %v orders crossing each other: resting orders traded", n, res["sent"])
	}
}

// Prices follow the instrument's tick and band from the config: the
// passive mix on BTC-USD (tick 50) places no order off its tick, and
// --rest on ETH-USD (band ±10 000 ticks) rests every order inside the
// band.
func TestBenchPricesInTheInstrumentsTicks(t *testing.T) {
	a := testnode.Start(t, map[string]string{"journal.sync": "none"})
	for _, args := range [][]string{
		{"--mix", "passive", "--instrument", "1", "--price", "6000000"},
		{"--rest", "1000", "--instrument", "2", "--price", "300000"},
	} {
		out := mustRingex(t, append([]string{"bench", "--addr", a.Gateway, "--rate", "1000", "--duration", "300ms",
			"--connections", "1", "--json"}, args...)...)
		var res map[string]any
		if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &res); err != nil {
			t.Fatalf("%v in:\n%s", err, out)
		}
		if res["sent"].(float64) == 0 || res["rejected"].(float64) != 0 {
			t.Fatalf("%v: %v sent, %v rejected (%v)", args, res["sent"], res["rejected"], res["rejected_by_reason"])
		}
	}
}

// Each order is answered once, whatever else names it: with the passive
// mix over a rate-limited account, some cancels are rejected too, with
// the client order id of the order they name — counted before as a
// second answer (acked above sent), which also let the sender run past
// its window.
func TestBenchCountsEachOrderOnce(t *testing.T) {
	a := testnode.Start(t, map[string]string{"journal.sync": "none"})
	// Account 4: 1 000 messages/s, a burst of 1 000. At 1 500 orders/s
	// (and a cancel each) a loaded machine spread them past the burst's
	// refill and nothing was refused; at 3 000 they overrun it even
	// spread over 1.5 s.
	out := mustRingex(t, "bench", "--addr", a.Gateway, "--rate", "3000", "--duration", "600ms", "--connections", "1",
		"--accounts", "4", "--mix", "passive", "--instrument", "2", "--price", "300000", "--json")
	var res map[string]any
	if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &res); err != nil {
		t.Fatalf("%v in:\n%s", err, out)
	}
	if res["acked"] != res["sent"] || res["rejected"].(float64) == 0 {
		t.Fatalf("%v sent, %v acked, %v rejected (%v): want each order answered once, some rate-limited",
			res["sent"], res["acked"], res["rejected"], res["rejected_by_reason"])
	}
}

// serveSilentNode serves a node that logs every connection on and never
// answers an order.
func serveSilentNode(t *testing.T) string {
	t.Helper()
	return serveLoopback(t, func(conn net.Conn) {
		defer conn.Close()
		if _, err := proto.NewFrameReader(conn, 1<<16).Next(); err != nil {
			return
		}
		conn.Write(proto.NewEncoder().LogonAck(1, 7, 5000, 0))
		io.Copy(io.Discard, conn) // takes every order, answers none
	})
}

// A node that takes orders and never answers: the run still ends (within
// drainWait after its end), every order due in it is charged the time it
// waited — none dropped from the latencies — and the run fails.
func TestBenchChargesUnansweredOrders(t *testing.T) {
	silent := serveSilentNode(t)
	start := time.Now()
	out, err := ringex(t, nil, "bench", "--addr", silent, "--rate", "1000", "--duration", "500ms",
		"--connections", "1", "--window", "64", "--json")
	if err == nil || !strings.Contains(err.Error(), "never sent or never answered") {
		t.Fatalf("bench against a node that answers nothing: error %v\n%s", err, out)
	}
	if d := time.Since(start); d > 2*drainWait {
		t.Fatalf("the run took %v", d)
	}
	var res map[string]float64
	if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):strings.LastIndex(out, "}")+1]), &res); err != nil {
		t.Fatalf("%v in:\n%s", err, out)
	}
	// 500 orders due; the window let 64 out. Each waited from its due
	// time to the end of the wait, over drainWait.
	if res["unanswered"] != 500 || res["acked"] != 0 || res["p50_us"] < float64(drainWait.Microseconds()) {
		t.Fatalf("result: %s", out)
	}
}

// serveLoopback listens on a loopback port until the test ends, handing
// each connection to handle on a goroutine of its own, and returns the
// address.
func serveLoopback(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go handle(conn)
		}
	}()
	return ln.Addr().String()
}

// A run whose market-data subscribers the node cut (--md-subscribers)
// measured subscribers that did not keep up, not what they cost: it
// printed "the node cut off 2" and exited 0, so a script reading
// only the exit status took it for a clean run. It fails now, saying how
// many and why. The cut is a proxy in front of the market-data port that
// hangs up 300 ms after the first bytes it passed back (the book
// snapshot), as the node does to a slow subscriber.
func TestBenchFailsWhenTheNodeCutsItsSubscribers(t *testing.T) {
	a := testnode.Start(t, map[string]string{"journal.sync": "none"})
	proxy := cuttingProxy(t, a.MarketData, 300*time.Millisecond)
	out, err := ringex(t, nil, "bench", "--addr", a.Gateway, "--rate", "1000", "--duration", "2s", "--connections", "1",
		"--md-subscribers", "2", "--md-addr", proxy)
	var cut *subscribersCut
	if !errors.As(err, &cut) || cut.n != 2 || cut.of != 2 ||
		!strings.Contains(err.Error(), "the node cut 2 of 2 market-data subscribers before the run ended") ||
		!strings.Contains(err.Error(), "slow consumer") {
		t.Fatalf("bench whose subscribers were cut: error %v, want 2 of 2 cut and why\n%s", err, out)
	}
	wantLine(t, out, `^market data: 2 subscriber\(s\) read \d+ updates; the node cut off 2 before the run ended \(untold 2\); untold: .*$`)
}

// The end of a run is not a cut: a node stopped once the run's duration
// was over (a script's `ringex serve` ended with the run), while the
// bench still waited for the last answers, hung up on its market-data
// subscribers too, and the run was failed for subscribers "cut before
// the run ended" — as slow consumers — after a duration in which they
// kept up. Here the orders go to a node that never answers them, so the
// bench waits drainWait past the end, and the proxy in front of the
// market-data port hangs up about a second after the end.
func TestBenchEndOfRunIsNotACut(t *testing.T) {
	a := testnode.Start(t, map[string]string{"journal.sync": "none"})
	silent := serveSilentNode(t)
	proxy := cuttingProxy(t, a.MarketData, 1600*time.Millisecond) // the run starts within ~0.1 s and lasts 0.5 s
	out, err := ringex(t, nil, "bench", "--addr", silent, "--rate", "1000", "--duration", "500ms", "--connections", "1",
		"--window", "64", "--md-subscribers", "2", "--md-addr", proxy)
	var cut *subscribersCut
	if errors.As(err, &cut) || err == nil || !strings.Contains(err.Error(), "never sent or never answered") {
		t.Fatalf("bench whose subscribers were hung up on after the run's end: error %v, want the unanswered orders alone\n%s", err, out)
	}
	wantLine(t, out, `^market data: 2 subscriber\(s\) read \d+ updates; the node cut off 0 before the run ended$`)
}

// A node that answers every order of the run and hangs up once it is
// over (stopped as a scripted run ended) did not lose a connection: the
// run measured all it sent. The bench called it "connections lost
// before the end" when the hang-up came with the last answers, before
// the sender saw them all answered (it looks every millisecond). Here
// the node answers each order at once but holds the answers of those
// after its first 350 ms, and sends them 200 ms after the run's 500 ms
// with the end of the connection.
func TestBenchHangUpAfterEveryAnswerIsNotALoss(t *testing.T) {
	addr := serveLoopback(t, func(conn net.Conn) {
		defer conn.Close()
		fr, enc := proto.NewFrameReader(conn, 1<<16), proto.NewEncoder()
		if _, err := fr.Next(); err != nil { // the logon
			return
		}
		conn.Write(enc.LogonAck(1, 7, 5000, 0))
		var mu sync.Mutex
		var held []byte
		var first time.Time
		for {
			f, err := fr.Next()
			if err != nil {
				return
			}
			var m proto.Msg
			if proto.VerifyMsg(f, &m) != nil || m.Type != wire.MessageNewOrder {
				continue
			}
			o := m.NewOrder(f)
			r := enc.ExecutionReport(0, &proto.Report{Kind: wire.ExecKindAccepted, OrderID: uint64(proto.Seq(f)), ClientOrderID: o.ClientOrderID,
				Instrument: o.Instrument, Side: o.Side, Price: o.Price, Quantity: o.Quantity, Leaves: o.Quantity})
			mu.Lock()
			if first.IsZero() {
				first = time.Now()
				time.AfterFunc(700*time.Millisecond, func() {
					mu.Lock()
					conn.Write(held)
					mu.Unlock()
					conn.Close()
				})
			}
			if time.Since(first) < 350*time.Millisecond {
				conn.Write(r)
			} else {
				held = append(held, r...)
			}
			mu.Unlock()
		}
	})
	out, err := ringex(t, nil, "bench", "--addr", addr, "--rate", "1000", "--duration", "500ms", "--connections", "1", "--json")
	if err != nil {
		t.Fatalf("bench whose every order was answered, hung up on after the run: %v\n%s", err, out)
	}
	var res map[string]float64
	if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):strings.LastIndex(out, "}")+1]), &res); err != nil {
		t.Fatalf("%v in:\n%s", err, out)
	}
	if res["acked"] != res["sent"] || res["sent"] < 400 || res["connections_lost"] != 0 {
		t.Fatalf("result: %s", out)
	}
}

// cuttingProxy serves a proxy to the market-data port at md that hangs
// up each connection after the first bytes it passed back (the book
// snapshot), as the node does to a slow subscriber: after, later, or 10 s
// after it opened at the latest.
func cuttingProxy(t *testing.T, md string, after time.Duration) string {
	return serveLoopback(t, func(in net.Conn) {
		out, err := net.Dial("tcp", md)
		if err != nil {
			in.Close()
			return
		}
		cut := sync.OnceFunc(func() { in.Close(); out.Close() })
		time.AfterFunc(10*time.Second, cut)
		go io.Copy(out, in)
		buf := make([]byte, 4096)
		for first := true; ; first = false {
			n, err := out.Read(buf)
			if _, werr := in.Write(buf[:n]); werr != nil || err != nil {
				cut()
				return
			}
			if first {
				time.AfterFunc(after, cut)
			}
		}
	})
}
