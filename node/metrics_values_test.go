package node

import (
	"io"
	"math"
	"net"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// rateLimitedNode runs a node whose sessions may send 5 messages a second
// (and are never disconnected for their rate); stopped when t ends.
func rateLimitedNode(t *testing.T) (*Node, Addrs) {
	t.Helper()
	cfg := testConfig(t, t.TempDir())
	for k, v := range map[string]string{"journal.sync": "none", "gateway.rate_limit": "5", "gateway.disconnect_rate": "1000000"} {
		if err := cfg.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	n, addrs, _ := startNode(t, cfg)
	t.Cleanup(func() { n.Stop() })
	return n, addrs
}

// docs/metrics.md: the gateway's own refusals are in ringex_orders_total
// as in ringex_rejects_total, "so the reject share is at most 1". A
// session over gateway.rate_limit that sent heartbeats (no command at
// all) got rejects counted with no command counted, and a reject report
// per heartbeat (found by an audit helper): over the rate, a heartbeat is
// still dropped unanswered.
func TestRateLimitedHeartbeatsAreNotRejects(t *testing.T) {
	n, addrs := rateLimitedNode(t)
	c := dial(t, addrs.Gateway, 1)
	const sent = 50
	for i := 0; i < sent; i++ {
		c.Heartbeat()
	}
	// An order after them is answered after anything the session's reader
	// answered to a heartbeat: refused over the rate by that reader, or
	// taken to the engine by it. Every report before its answer was one.
	in := n.cfg.Instruments[0]
	c.NewOrder(limit(1, wire.SideBuy, in.ReferencePrice-in.TickSize, in.LotSize))
	got, ok := reportsUntil(c, 10*time.Second, func(r proto.Report) bool { return r.ClientOrderID == 1 })
	if !ok {
		t.Fatalf("no answer to the order after the heartbeats within 10 s; read %+v", got)
	}
	reports := len(got) - 1
	body := scrapeMetrics(t, addrs.Admin)
	orders, rejects := sumFamily(body, "ringex_orders_total"), sumFamily(body, "ringex_rejects_total")
	t.Logf("%d heartbeats sent, %d reject reports received; ringex_orders_total %v, ringex_rejects_total %v", sent, reports, orders, rejects)
	if rejects > orders || reports != 0 {
		t.Errorf("heartbeats over the rate: %d reject reports; reject share %v/%v", reports, rejects, orders)
	}
}

// A Logout sent while over gateway.rate_limit ends the session: it was
// answered with a reject and the session stayed logged on.
func TestLogoutOverTheRateLimitLogsOut(t *testing.T) {
	n, addrs := rateLimitedNode(t)
	c := dial(t, addrs.Gateway, 1)
	for i := 0; i < 20; i++ {
		c.Heartbeat()
	}
	c.Logout()
	if v := awaitMetric(t, addrs.Admin, `ringex_disconnects_total{cause="logout"}`, 1); v != 1 {
		t.Errorf("Logout sent: %d sessions live, ringex_disconnects_total{cause=\"logout\"} %v", n.gw.Live(), v)
	}
}

// Every subscriber's book snapshot is market data queued to it: the
// second subscriber's counts in ringex_bytes_out_total{port="marketdata"}
// as the first's did (only snapshots staged while the port opened were).
// Each step waits for the first's bytes all counted, then the second's:
// read once 100 ms had passed, the count could still miss the first's
// (counted once its write returns, which may be after the client read
// it), and the first's landing late passed the test without the
// second's counted at all.
func TestMarketDataSnapshotBytesCounted(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	setConfig(t, cfg, map[string]string{"journal.sync": "none",
		// No heartbeat to a subscriber during the test: the count is
		// of the snapshots alone.
		"gateway.heartbeat_interval": "1h", "gateway.read_timeout": "2h"})
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	in := cfg.Instruments[0]
	c := dial(t, addrs.Gateway, 1)
	for i := uint64(1); i <= 20; i++ {
		c.NewOrder(limit(i, wire.SideBuy, in.ReferencePrice-int64(i)*in.TickSize, 1))
	}
	next(t, c, func(m client.Message) bool { return m.Report.ClientOrderID == 20 })
	// subscribe subscribes a connection of its own to instrument 1 and
	// returns the bytes it read up to its book snapshot: all the node
	// wrote to it.
	subscribe := func() int64 {
		t.Helper()
		conn, counted, fr := dialCounted(t, addrs.MarketData)
		t.Cleanup(func() { conn.Close() })
		conn.Write(proto.NewEncoder().Subscribe(1, 1))
		for {
			payload, err := fr.Next()
			if err != nil {
				t.Fatalf("before the book snapshot: %v", err)
			}
			if typ, _, _ := proto.Verify(payload); typ == wire.MessageBookSnapshot {
				return counted.n
			}
		}
	}
	// counted waits until the count is want: each write is counted once
	// it returns, which may be after the client read it.
	counted := func(want int64) int64 {
		for deadline := time.Now().Add(5 * time.Second); n.stats.mdBytesOut.Load() != want && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
		}
		return n.stats.mdBytesOut.Load()
	}
	first := subscribe() // opens the port
	if got := counted(first); got != first {
		t.Fatalf("ringex_bytes_out_total{port=\"marketdata\"} = %d, the first subscriber read %d bytes", got, first)
	}
	second := subscribe() // port open: snapshot sent at once
	t.Logf("first subscriber's snapshot: %d bytes; second subscriber's: %d bytes", first, second)
	if got := counted(first + second); got != first+second {
		t.Errorf("ringex_bytes_out_total{port=\"marketdata\"} = %d, the two subscribers read %d and %d bytes: the second's book snapshot not counted",
			got, first, second)
	}
}

// ringex_bytes_out_total{port="marketdata"} counts the bytes written to
// subscribers' connections: a subscriber that stops reading and is cut
// off as a slow consumer, then reads all the node's kernel had taken for
// it, read exactly what was counted. Before, the count was of bytes
// staged for it, those of the batch that overflowed its send buffer and
// all it had queued unwritten included: dropped, never sent.
func TestMarketDataBytesOutCountsWritesNotDrops(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Set("marketdata.send_buffer_bytes", "262144")
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	// It never reads until cut; its small receive window keeps the
	// kernel from absorbing megabytes before the node notices.
	slow := dialSmallWindow(t, addrs.MarketData)
	if _, err := slow.Write(proto.NewEncoder().Subscribe(1, 1)); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { return n.mdHub.served() == 1 })
	trader := dial(t, addrs.Gateway, 1)
	readAway(trader) // the trader reads its reports: it is not the slow one
	in := cfg.Instruments[0]
	for i := uint64(1); n.mdHub.closed[mdSlowConsumer].Load() == 0; i++ { // level updates until it is cut
		if i > 200_000 {
			t.Fatal("the subscriber that does not read was not cut off")
		}
		if trader.NewOrder(limit(i%1000+1, wire.SideBuy, in.ReferencePrice-int64(1+i%50)*in.TickSize, 1)) != nil || trader.MassCancel(1) != nil {
			t.Fatal("trader cut off")
		}
	}
	// The node closed the connection, but not what its kernel holds
	// for it: the subscriber reads that to the end.
	slow.SetReadDeadline(time.Now().Add(10 * time.Second))
	read, err := io.Copy(io.Discard, slow)
	if err != nil {
		t.Fatalf("reading what the node wrote to the subscriber cut off: %v", err)
	}
	// Each write is counted once it returns: give the writer the moment.
	for deadline := time.Now().Add(5 * time.Second); n.stats.mdBytesOut.Load() != read && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if counted := n.stats.mdBytesOut.Load(); counted != read {
		t.Fatalf("ringex_bytes_out_total{port=\"marketdata\"} = %d, the only subscriber read %d bytes (%d counted that it never got)", counted, read, counted-read)
	}
}

// ringex_bytes_out_total{port="gateway"} counts what trading connections
// took: a session's logon answer, reports, a resend rebuilt from the
// journal and its ResendDone, and a refused logon's answer — exactly what
// the clients read. Before, it counted what the sender and the resend
// worker queued: no logon answers or heartbeats, and bytes queued for a
// session cut off before they were written.
func TestGatewayBytesOutCountsWhatClientsRead(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Set("journal.sync", "none")
	cfg.Set("gateway.recent_reports", "0") // the resend is rebuilt by the worker
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	in := cfg.Instruments[0]
	read := int64(0)
	session := func(account uint32, secret string, work func(conn net.Conn, enc *proto.Encoder, fr *proto.FrameReader)) {
		t.Helper()
		conn, counted, fr := dialCounted(t, addrs.Gateway)
		defer conn.Close()
		enc := proto.NewEncoder()
		conn.Write(enc.Logon(1, account, secret))
		work(conn, enc, fr)
		for { // to the node's close: every byte it wrote
			if _, err := fr.Next(); err != nil {
				break
			}
		}
		read += counted.n
	}
	session(1, config.Default().Accounts[0].Secret, func(conn net.Conn, enc *proto.Encoder, fr *proto.FrameReader) {
		for i := uint64(1); i <= 3; i++ {
			conn.Write(enc.NewOrder(i+1, limit(i, wire.SideBuy, in.ReferencePrice-in.TickSize, 1)))
		}
		conn.Write(enc.ResendReports(5, 0))
		for {
			payload, err := fr.Next()
			if err != nil {
				t.Fatalf("before the ResendDone: %v", err)
			}
			if typ, _, _ := proto.Verify(payload); typ == wire.MessageResendDone {
				break
			}
		}
		conn.Write(enc.Logout(6))
	})
	session(1, "not the secret", func(net.Conn, *proto.Encoder, *proto.FrameReader) {})
	// Each write is counted once it returns: give the writer the moment.
	for deadline := time.Now().Add(5 * time.Second); n.gw.Counters.BytesOut.Load() != read && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if counted := n.gw.Counters.BytesOut.Load(); counted != read {
		t.Fatalf("ringex_bytes_out_total{port=\"gateway\"} = %d, the clients read %d bytes", counted, read)
	}
	if min := int64(3 * 2 * proto.ReportFrameBytes()); read < min { // three reports, each resent
		t.Fatalf("the clients read %d bytes, less than the %d of the reports and their resends (test setup)", read, min)
	}
}

// dialCounted connects to addr with a 10 s deadline and returns the
// connection, the count of the bytes read from it, and its frame reader,
// which reads through the count.
func dialCounted(t *testing.T, addr string) (net.Conn, *countingReader, *proto.FrameReader) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	counted := &countingReader{r: conn}
	return conn, counted, proto.NewFrameReader(counted, 1<<20)
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	k, err := c.r.Read(p)
	c.n += int64(k)
	return k, err
}

// ringex_bytes_in_total counts every byte a client sent, the logon frame
// too (it was read before the loop that counted).
func TestBytesInCountsTheLogon(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Set("journal.sync", "none")
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	in := cfg.Instruments[0]
	conn, err := net.Dial("tcp", addrs.Gateway)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	enc := proto.NewEncoder()
	sent := 0
	w := func(b []byte) { conn.Write(b); sent += len(b) }
	w(enc.Logon(1, 1, config.Default().Accounts[0].Secret))
	fr := proto.NewFrameReader(conn, 1<<20)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := fr.Next(); err != nil {
		t.Fatal(err)
	}
	w(enc.NewOrder(2, limit(1, wire.SideBuy, in.ReferencePrice-in.TickSize, 1)))
	w(enc.Heartbeat(3))
	if _, err := fr.Next(); err != nil {
		t.Fatal(err)
	}
	if got := awaitMetric(t, addrs.Admin, `ringex_bytes_in_total{port="gateway"}`, float64(sent)); got != float64(sent) {
		t.Errorf("ringex_bytes_in_total = %v, client sent %d bytes", got, sent)
	}
}

// docs/metrics.md: ringex_gc_pause_seconds has buckets 1 µs … ~1 s. Every
// one is served, at 0 while no pause fits under it: a bucket series that
// appears only with its first count loses that count to rate()/increase()
// (RingexGCPauseLong: count minus le="0.032768" then fires on a 100 µs pause).
func TestGCPauseServesEveryBucket(t *testing.T) {
	c := newGCPauses()
	h := &metrics.Float64Histogram{ // one pause of ~100 µs
		Buckets: []float64{math.Inf(-1), 0, 99e-6, 101e-6, math.Inf(1)},
		Counts:  []uint64{0, 0, 1, 0},
	}
	_, _, cum := rebucket(h, c.buckets)
	if len(cum) != len(c.buckets) {
		t.Errorf("one 100 µs pause: %d of the %d documented buckets served", len(cum), len(c.buckets))
	}
	_, _, cum = rebucket(&metrics.Float64Histogram{Buckets: h.Buckets, Counts: []uint64{0, 0, 0, 0}}, c.buckets)
	m := prometheus.MustNewConstHistogram(c.desc, 0, 0, cum, "total")
	var pb dto.Metric
	m.Write(&pb)
	if got := len(pb.GetHistogram().GetBucket()); got != len(c.buckets) {
		t.Errorf("no pause yet: %d of the %d documented buckets served (le=\"0.032768\" among the missing)", got, len(c.buckets))
	}
}

// ringex_logon_guard_entries shows the failed-logon guard's tables: an
// address with a failed logon is counted under table="address".
func TestLogonGuardEntriesMetric(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	if err := cfg.Set("gateway.failed_logons_per_minute", "2"); err != nil {
		t.Fatal(err)
	}
	n, addrs, _ := startNode(t, cfg)
	t.Cleanup(func() { n.Stop() })
	if _, err := client.Dial(addrs.Gateway, 1, "not-the-secret", client.Options{Timeout: 5 * time.Second}); err == nil {
		t.Fatal("a wrong secret logged on")
	}
	if v := awaitMetric(t, addrs.Admin, `ringex_logon_guard_entries{table="address"}`, 1); v != 1 {
		t.Errorf(`ringex_logon_guard_entries{table="address"} = %v after one failed logon, want 1`, v)
	}
	if v, ok := metricValue(scrapeMetrics(t, addrs.Admin), `ringex_logon_guard_entries{table="network"}`); !ok || v != 0 {
		t.Errorf(`ringex_logon_guard_entries{table="network"} = %v (served %v), want 0`, v, ok)
	}
}
