package node

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/journal"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
	"github.com/ringex/ringex/replay"
	"github.com/ringex/ringex/snapshot"
	"github.com/ringex/ringex/vfs"
)

func testConfig(t testing.TB, dir string) *config.Config {
	t.Helper()
	cfg := config.Default()
	setConfig(t, cfg, map[string]string{
		"node.data_dir": dir, "gateway.listen": "127.0.0.1:0", "marketdata.listen": "127.0.0.1:0",
		"admin.listen": "127.0.0.1:0", "rings.input_slots": "1024", "rings.output_slots": "1024", "gateway.recent_reports": "1024",
		"snapshot.schedule": "", "journal.segment_bytes": "1048576",
	})
	return cfg
}

func startNode(t testing.TB, cfg *config.Config) (*Node, Addrs, Recovered) {
	t.Helper()
	return startNodeWith(t, cfg, Options{})
}

// startNodeWith is startNode with Options (a test filesystem). The node
// is stopped when the test ends, if the test did not stop it: a node left
// running outlives its test, and its goroutines (the resend worker) read
// package variables the next test sets (a race the detector reported in
// TestResendCacheReleasedWhenIdle, after
// TestReplayOnlyUnderTheRulesTheJournalWasWrittenUnder left its last node).
func startNodeWith(t testing.TB, cfg *config.Config, opts Options) (*Node, Addrs, Recovered) {
	t.Helper()
	n, rec, err := NewWithOptions(cfg, zerolog.Nop(), opts)
	if err != nil {
		t.Fatal(err)
	}
	addrs, err := n.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Stop() })
	return n, addrs, rec
}

// startNodeLogging is startNodeWith with the node's log kept, for the
// test to read.
func startNodeLogging(t *testing.T, cfg *config.Config, opts Options) (*Node, Addrs, *testkit.SyncBuffer) {
	t.Helper()
	logs := new(testkit.SyncBuffer)
	n, _, err := NewWithOptions(cfg, zerolog.New(logs), opts)
	if err != nil {
		t.Fatal(err)
	}
	addrs, err := n.Start()
	if err != nil {
		t.Fatal(err)
	}
	return n, addrs, logs
}

// adminStatus sends the admin port at addr a request — under Host host
// unless "", with header and body — and returns the status it answered.
func adminStatus(t *testing.T, addr, method, path, host string, header map[string]string, body string) int {
	t.Helper()
	req, _ := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
	if host != "" {
		req.Host = host
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func dial(t testing.TB, addr string, account uint32) *client.Client {
	t.Helper()
	return dialWith(t, addr, account, config.Default().Accounts[account-1].Secret)
}

// dialWith is dial for an account of the test's own, logging on with
// secret.
func dialWith(t testing.TB, addr string, account uint32, secret string) *client.Client {
	t.Helper()
	return dialOptions(t, addr, account, secret, client.Options{AutoFlush: true})
}

// dialUnflushed is dial for a client whose messages wait for its Flush
// (or its Logout): all it sent go to the node in one write.
func dialUnflushed(t testing.TB, addr string, account uint32) *client.Client {
	t.Helper()
	return dialOptions(t, addr, account, config.Default().Accounts[account-1].Secret, client.Options{})
}

func dialOptions(t testing.TB, addr string, account uint32, secret string, opts client.Options) *client.Client {
	t.Helper()
	c, err := client.Dial(addr, account, secret, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// readAway reads and drops c's messages until its connection ends (the
// test's Cleanup closes it): a client that keeps up, beside a slow one.
func readAway(c *client.Client) {
	go func() {
		for {
			if _, err := c.Next(); err != nil {
				return
			}
		}
	}()
}

// restBids sends buy limit orders with client order ids from..to, spread
// over the 40 price levels below in's reference price, and waits for the
// report of the last (ordersWithin).
func restBids(t *testing.T, c *client.Client, in config.Instrument, from, to uint64) {
	t.Helper()
	for i := from; i <= to; i++ {
		c.NewOrder(limit(i, wire.SideBuy, in.ReferencePrice-int64(1+i%40)*in.TickSize, 1))
	}
	nextWithin(t, c, ordersWithin(int(to-from+1)), func(m client.Message) bool { return m.Report.ClientOrderID == to })
}

// ordersWithin bounds the wait for the reports of orders sent back to
// back before the first read: 5 s per thousand. Tens of thousands queued
// in the kernel's buffers, each batch fsynced, take over 5 s under -race
// on a loaded machine.
func ordersWithin(orders int) time.Duration {
	return 5 * time.Second * time.Duration(max(1, orders/1000))
}

// next reads messages until one satisfies want (bounded in time).
func next(t testing.TB, c *client.Client, want func(client.Message) bool) client.Message {
	t.Helper()
	return nextWithin(t, c, 5*time.Second, want)
}

// nextWithin is next with its bound: a test that queued tens of
// thousands of orders in the kernel's buffers before reading waits for
// the node's work on all of them (over 5 s under -race on a loaded
// machine).
func nextWithin(t testing.TB, c *client.Client, within time.Duration, want func(client.Message) bool) client.Message {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(within))
	for {
		m, err := c.Next()
		if err != nil {
			t.Fatalf("waiting for a message: %v", err)
		}
		if want(m) {
			return m
		}
	}
}

// readResend reads c until the ResendDone of the resend tagged tag (a
// Redial's), passing each message before it to each, and returns the
// ResendDone.
func readResend(t testing.TB, c *client.Client, tag uint64, within time.Duration, each func(client.Message)) proto.ResendDone {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(within))
	for {
		m, err := c.Next()
		if err != nil {
			t.Fatalf("waiting for resend %d to end: %v", tag, err)
		}
		if m.Type == wire.MessageResendDone && m.Seq == tag {
			return m.ResendDone
		}
		each(m)
	}
}

func report(kind wire.ExecKind) func(client.Message) bool {
	return func(m client.Message) bool { return m.Type == wire.MessageExecutionReport && m.Report.Kind == kind }
}

func limit(clOrd uint64, side wire.Side, price, qty int64) proto.NewOrder {
	return proto.NewOrder{ClientOrderID: clOrd, Instrument: 1, Side: side, Type: wire.OrderTypeLimit,
		TIF: wire.TimeInForceGTC, Price: price, Quantity: qty}
}

// restBuy sends order clOrd, a buy of one lot a tick below in's reference
// price (where it rests in the test books), and returns its Accepted.
func restBuy(t testing.TB, c *client.Client, in config.Instrument, clOrd uint64) client.Message {
	t.Helper()
	c.NewOrder(limit(clOrd, wire.SideBuy, in.ReferencePrice-in.TickSize, in.LotSize))
	return next(t, c, report(wire.ExecKindAccepted))
}

// Two accounts trade; both hear the fill; a cross-account cancel is
// rejected; a market-data subscriber sees a book that matches.
func TestEndToEndTrade(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	tick := cfg.Instruments[0].TickSize
	ref := cfg.Instruments[0].ReferencePrice
	buyer, seller := dial(t, addrs.Gateway, 1), dial(t, addrs.Gateway, 2)

	buyer.NewOrder(limit(11, wire.SideBuy, ref, 5))
	acc := next(t, buyer, report(wire.ExecKindAccepted))
	buyer.NewOrder(limit(12, wire.SideBuy, ref-tick, 3))
	next(t, buyer, report(wire.ExecKindAccepted))

	// Account 2 tries to cancel account 1's order: rejected, order intact.
	seller.Cancel(proto.Cancel{OrderID: acc.Report.OrderID})
	rej := next(t, seller, report(wire.ExecKindRejected))
	if rej.Report.Reason != 14 { // engine.ReasonUnknownOrder
		t.Fatalf("cross-account cancel: reason %d", rej.Report.Reason)
	}

	seller.NewOrder(limit(21, wire.SideSell, ref, 2))
	fill := next(t, seller, report(wire.ExecKindFill))
	if fill.Report.Quantity != 2 || fill.Report.Price != ref || fill.Report.Leaves != 0 {
		t.Fatalf("seller fill %+v", fill.Report)
	}
	maker := next(t, buyer, report(wire.ExecKindFill))
	if maker.Report.OrderID != acc.Report.OrderID || maker.Report.Leaves != 3 || maker.Report.ClientOrderID != 11 {
		t.Fatalf("buyer fill %+v", maker.Report)
	}

	md, err := client.DialMarketData(addrs.MarketData, client.Options{AutoFlush: true})
	if err != nil {
		t.Fatal(err)
	}
	defer md.Close()
	md.Subscribe(1)
	snap := next(t, md, func(m client.Message) bool { return m.Type == wire.MessageBookSnapshot })
	if len(snap.Bids) != 2 || snap.Bids[0].Price != ref || snap.Bids[0].Quantity != 3 || snap.Bids[1].Quantity != 3 {
		t.Fatalf("book snapshot bids %+v", snap.Bids)
	}
	// An update after the snapshot, numbered after it.
	seller.NewOrder(limit(22, wire.SideSell, ref+tick, 4))
	upd := next(t, md, func(m client.Message) bool { return m.Type == wire.MessageLevelUpdate })
	if upd.Level.Price != ref+tick || upd.Level.Quantity != 4 || upd.MDSeq != snap.MDSeq+1 {
		t.Fatalf("update %+v after snapshot seq %d", upd.Level, snap.MDSeq)
	}
}

// Restart: the journal replays, the state hash is the same, and clients
// continue where they were.
func TestRestartRecoversAndContinues(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	if err := cfg.Set("snapshot.on_stop", "false"); err != nil { // a journal to replay after the snapshot
		t.Fatal(err)
	}
	n, addrs, _ := startNode(t, cfg)
	ref := cfg.Instruments[0].ReferencePrice
	c := dial(t, addrs.Gateway, 1)
	for i := uint64(1); i <= 50; i++ {
		c.NewOrder(limit(i, wire.SideBuy, ref-int64(i)*cfg.Instruments[0].TickSize, 1))
	}
	last := next(t, c, func(m client.Message) bool { return m.Report.ClientOrderID == 50 })
	n.RequestSnapshot()
	waitUntil(t, func() bool { return n.stats.snapshots[snapshotWritten].Load() == 1 }) // taken before the next orders
	for i := uint64(51); i <= 60; i++ {
		c.NewOrder(limit(i, wire.SideBuy, ref-int64(i)*cfg.Instruments[0].TickSize, 1))
	}
	next(t, c, func(m client.Message) bool { return m.Report.ClientOrderID == 60 })
	// Stop with the session still open: closing it first would race the
	// account's cancel-on-disconnect against Stop (whichever came first
	// decided whether the orders survived; 1 run in 6 failed).
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	hashBefore := n.eng.StateHash()

	n2, addrs2, rec := startNode(t, cfg)
	defer n2.Stop()
	if rec.Hash != hashBefore || rec.LastSeq < 61 {
		t.Fatalf("recovered %+v, hash before %x", rec, hashBefore)
	}
	if rec.SnapshotSeq == 0 || rec.Replayed == 0 {
		t.Fatalf("expected a snapshot plus journal replay: %+v", rec)
	}
	c2 := dial(t, addrs2.Gateway, 1)
	c2.Cancel(proto.Cancel{OrderID: last.Report.OrderID})
	got := next(t, c2, report(wire.ExecKindCancelled))
	if got.Report.OrderID != last.Report.OrderID {
		t.Fatalf("cancelled %+v", got.Report)
	}
	c2.NewOrder(limit(1000, wire.SideBuy, ref, 1))
	next(t, c2, report(wire.ExecKindAccepted))
}

// The market-data port opens with the first subscriber and closes with
// the last: no fan-out consumer and no book events without subscribers.
func TestMarketDataPortLifecycle(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	c := dial(t, addrs.Gateway, 1)
	c.NewOrder(limit(1, wire.SideBuy, cfg.Instruments[0].ReferencePrice, 1))
	next(t, c, report(wire.ExecKindAccepted))
	if n.mdHub.active() || n.md.published() != -1 {
		t.Fatalf("market data flowing without subscribers (active %v, published %d)", n.mdHub.active(), n.md.published())
	}
	md, _ := client.DialMarketData(addrs.MarketData, client.Options{AutoFlush: true})
	md.Subscribe(1)
	next(t, md, func(m client.Message) bool { return m.Type == wire.MessageBookSnapshot })
	if !n.mdHub.active() {
		t.Fatal("port not open with a subscriber")
	}
	md.Close()
	waitUntil(t, func() bool { return !n.mdHub.active() })
	before := n.md.published()
	c.NewOrder(limit(2, wire.SideBuy, cfg.Instruments[0].ReferencePrice, 1))
	next(t, c, report(wire.ExecKindAccepted))
	if n.md.published() != before {
		t.Fatal("book events produced while the port is closed")
	}
	// Reopen: snapshot first again.
	md2, _ := client.DialMarketData(addrs.MarketData, client.Options{AutoFlush: true})
	defer md2.Close()
	md2.Subscribe(1)
	snap := next(t, md2, func(m client.Message) bool { return m.Type != wire.MessageNONE })
	if snap.Type != wire.MessageBookSnapshot || len(snap.Bids) != 1 || snap.Bids[0].Quantity != 2 {
		t.Fatalf("first message after reopen %+v", snap)
	}
}

// A client that stops reading is disconnected; the others keep trading.
func TestSlowClientDisconnected(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Set("gateway.send_buffer_bytes", "16384")
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	slow := dial(t, addrs.Gateway, 1) // never reads
	fast := dial(t, addrs.Gateway, 2)
	ref := cfg.Instruments[0].ReferencePrice
	go func() {
		for i := uint64(1); i <= 20000; i++ {
			if slow.NewOrder(limit(i%1000+1, wire.SideBuy, ref-int64(i%50), 1)) != nil {
				return
			}
			slow.MassCancel(1)
		}
	}()
	waitUntil(t, func() bool { return n.gw.Counters.Disconnects[6].Load() > 0 }) // slow_consumer
	fast.NewOrder(limit(7, wire.SideSell, ref+100, 1))
	next(t, fast, report(wire.ExecKindAccepted))
}

func TestAdminEndpoints(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Set("admin.token", "t0ken-for-test")
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	scheme := "Bearer"
	get := func(path, token string) (int, string) {
		req, _ := http.NewRequest("GET", "http://"+addrs.Admin+path, nil)
		if token != "" {
			req.Header.Set("Authorization", scheme+" "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/metrics", ""); code != http.StatusUnauthorized {
		t.Fatalf("metrics without token: %d", code)
	}
	// The scheme is case-insensitive (RFC 9110); the token is not.
	for _, sc := range []string{"bearer", "BEARER"} {
		scheme = sc
		if code, _ := get("/ports", "t0ken-for-test"); code != http.StatusOK {
			t.Fatalf("%q scheme with the token: %d", sc, code)
		}
	}
	scheme = "Basic"
	if code, _ := get("/ports", "t0ken-for-test"); code != http.StatusUnauthorized {
		t.Fatalf("Basic scheme with the token: %d", code)
	}
	scheme = "Bearer"
	if code, _ := get("/ports", "T0KEN-FOR-TEST"); code != http.StatusUnauthorized {
		t.Fatalf("the token in other case: %d", code)
	}
	code, body := get("/metrics", "t0ken-for-test")
	for _, name := range []string{"ringex_orders_total", "ringex_end_to_end_latency_seconds", "ringex_consumer_lag",
		"ringex_journal_fsync_seconds", "ringex_port_open", "ringex_disconnects_total", "ringex_rejects_total"} {
		if code != 200 || !strings.Contains(body, name) {
			t.Fatalf("metrics lack %s (%d)", name, code)
		}
	}
	if code, body := get("/ports", "t0ken-for-test"); code != 200 || !strings.Contains(body, `"gateway":true`) {
		t.Fatalf("ports %d %s", code, body)
	}
	for _, probe := range []string{"/healthz", "/readyz"} {
		if code, _ := get(probe, ""); code != 200 {
			t.Fatalf("%s needs no token: %d", probe, code)
		}
	}
	// Every GET but the probes, the profiles too: a heap profile or a
	// goroutine dump tells what the node holds.
	for _, path := range []string{"/sessions", "/ports", "/state", "/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/goroutine?debug=2",
		"/debug/pprof/cmdline", "/debug/pprof/profile?seconds=1", "/debug/pprof/trace?seconds=1"} {
		if code, _ := get(path, ""); code != http.StatusUnauthorized {
			t.Errorf("GET %s without the token: %d", path, code)
		}
	}
	for _, path := range []string{"/halt?instrument=1", "/resume?instrument=1", "/snapshot", "/accounts/4/suspend", "/accounts/4/resume", "/sessions/1/close"} {
		resp, err := http.Post("http://"+addrs.Admin+path, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("POST %s without the token: %d", path, resp.StatusCode)
		}
	}
	if st := n.stateNow(); len(st.Suspended) != 0 {
		t.Fatalf("suspended %v after refused requests", st.Suspended)
	}
}

// admin.listen "" turns the admin port off: nothing listens for it (a
// listener on "" would be every interface, without a token), and the
// node trades as usual.
func TestAdminPortOff(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	if err := cfg.Set("admin.listen", ""); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	n, addrs, _ := startNode(t, cfg)
	if addrs.Admin != "" || n.adminLn != nil || n.admin != nil {
		t.Fatalf("admin port off, but listening at %q", addrs.Admin)
	}
	c := dial(t, addrs.Gateway, 1)
	if err := c.NewOrder(limit(1, wire.SideBuy, cfg.Instruments[0].ReferencePrice, 1)); err != nil {
		t.Fatal(err)
	}
	next(t, c, report(wire.ExecKindAccepted))
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
}

// A token-less admin port (loopback only) refuses what a web page in the
// operator's browser can send it: cross-origin POSTs, and requests under
// a rebound domain name. Requests as the CLI, curl or Prometheus make them
// still work.
func TestAdminRefusesBrowserRequests(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	do := func(method, path, host string, header map[string]string) int {
		return adminStatus(t, addrs.Admin, method, path, host, header, "")
	}
	for _, c := range []struct {
		name   string
		header map[string]string
	}{
		{"Sec-Fetch-Site", map[string]string{"Sec-Fetch-Site": "cross-site"}},
		{"Origin", map[string]string{"Origin": "http://attacker.example"}},
	} {
		if code := do("POST", "/halt?instrument=1", "", c.header); code != http.StatusForbidden {
			t.Errorf("cross-origin halt (%s): %d, want 403", c.name, code)
		}
	}
	ref := cfg.Instruments[0].ReferencePrice
	c := dial(t, addrs.Gateway, 1)
	c.NewOrder(limit(1, wire.SideBuy, ref, 1))
	next(t, c, report(wire.ExecKindAccepted)) // not halted

	for _, site := range []string{"cross-site", "same-site"} { // a page's <img> or fetch: a GET can start a profile
		if code := do("GET", "/debug/pprof/profile?seconds=1", "", map[string]string{"Sec-Fetch-Site": site}); code != http.StatusForbidden {
			t.Errorf("a profile asked for by a page of another site (%s): %d, want 403", site, code)
		}
	}
	if code := do("GET", "/metrics", "", map[string]string{"Sec-Fetch-Site": "none"}); code != http.StatusOK {
		t.Errorf("metrics typed in the address bar: %d", code)
	}
	if code := do("GET", "/metrics", "rebound.attacker.example:7480", nil); code != http.StatusForbidden {
		t.Errorf("metrics under a rebound name: %d, want 403", code)
	}
	for _, host := range []string{"", "localhost:7480", "[::1]:7480"} {
		if code := do("GET", "/metrics", host, nil); code != http.StatusOK {
			t.Errorf("metrics with Host %q: %d", host, code)
		}
	}
	if code := do("POST", "/halt?instrument=1", "", nil); code != http.StatusAccepted {
		t.Fatalf("halt as the CLI sends it: %d", code)
	}
	c.NewOrder(limit(2, wire.SideBuy, ref, 1))
	next(t, c, func(m client.Message) bool {
		return m.Type == wire.MessageExecutionReport && m.Report.Kind == wire.ExecKindRejected && m.Report.ClientOrderID == 2
	})
	if code := do("POST", "/resume?instrument=1", "", map[string]string{"Sec-Fetch-Site": "same-origin"}); code != http.StatusAccepted {
		t.Fatalf("same-origin resume: %d", code)
	}
}

// An admin request with a body — none takes one — is answered 413 and
// its connection closed, even when the body never finishes arriving and
// the request has no token. Before, net/http read up to 256 KiB of the
// body with no deadline before answering anything: the connection (a
// goroutine, a file descriptor shared with the gateway and the journal)
// was held for good.
func TestAdminRefusesBodies(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Set("admin.token", "t0ken-for-test")
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	if answer, err := stalledBody(addrs.Admin, "x"); err != nil || !bytes.HasPrefix(answer, []byte("HTTP/1.1 413 ")) {
		t.Fatalf("a request whose body stalls: %v after %q, want 413 and closed", err, answer)
	}
	resp, err := http.Post("http://"+addrs.Admin+"/healthz", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge && resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("a POST with a body to /healthz: %d", resp.StatusCode)
	}
}

// Without admin.token the Host check refuses a request naming another
// host — and it too is answered and closed within the body grace when its
// body stalls (refuseBodies runs first): before, net/http read the body,
// with no deadline, before writing the 403.
func TestAdminRefusesBodiesBeforeTheHostCheck(t *testing.T) {
	cfg := testConfig(t, t.TempDir()) // no admin.token: loopback only, Host checked
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	if answer, err := stalledBody(addrs.Admin, "rebound.example"); err != nil || !bytes.HasPrefix(answer, []byte("HTTP/1.1 413 ")) {
		t.Fatalf("a request with a foreign Host whose body stalls: %v after %q, want 413 and closed", err, answer)
	}
}

// stalledBody sends the admin port at addr a POST naming host whose body
// stops after two of its bytes, and returns all it answers until it
// closes the connection (an error if it has not within 30 s: a hang, not
// a speed, fails the callers).
func stalledBody(addr, host string) ([]byte, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.Write([]byte("POST /snapshot HTTP/1.1\r\nHost: " + host + "\r\nContent-Length: 100000\r\n\r\nab")) // and no more
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	return io.ReadAll(c)
}

// The admin server's own errors — a failed TLS handshake, a plain-HTTP
// request to its TLS port — are warnings in the node's JSON log, not
// plain-text lines of the standard library's logger outside it.
func TestAdminServerErrorsInTheNodeLog(t *testing.T) {
	var std bytes.Buffer
	prevOut, prevFlags := stdlog.Writer(), stdlog.Flags()
	stdlog.SetOutput(&std)
	defer func() { stdlog.SetOutput(prevOut); stdlog.SetFlags(prevFlags) }()
	ca := testkit.NewCA(t, "admin")
	certFile, keyFile, _ := ca.WriteFiles(t, t.TempDir(), ca.Issue(t, "node", net.IPv4(127, 0, 0, 1)))
	cfg := testConfig(t, t.TempDir())
	cfg.Set("admin.tls.cert_file", certFile)
	cfg.Set("admin.tls.key_file", keyFile)
	var logs testkit.SyncBuffer
	n, _, err := New(cfg, zerolog.New(&logs))
	if err != nil {
		t.Fatal(err)
	}
	addrs, err := n.Start()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addrs.Admin + "/healthz") // curl without https://
	if err == nil {
		resp.Body.Close()
	}
	// net/http logs the handshake error after it answered and closed the
	// connection, on the connection's goroutine, which Stop does not
	// wait for: awaited.
	found := func() bool {
		for line := range strings.Lines(logs.String()) {
			var e map[string]any
			if json.Unmarshal([]byte(line), &e) == nil && e["component"] == "admin" && e["level"] == "warn" && strings.Contains(fmt.Sprint(e["message"]), "TLS handshake error") {
				return true
			}
		}
		return false
	}
	for deadline := time.Now().Add(5 * time.Second); !found() && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
	}
	n.Stop()
	if std.Len() != 0 {
		t.Errorf("the admin server wrote outside the node's log: %q", std.String())
	}
	if !found() {
		t.Errorf("no admin warning of the failed handshake in the node's log:\n%s", logs.String())
	}
}

// The fsync metrics count fsyncs: a journal that only writes
// (journal.sync: none, or any clustered node) adds nothing to them.
func TestFsyncMetricsOnlyWhenFsyncing(t *testing.T) {
	for _, c := range []struct {
		sync string
		want bool
	}{{"batch", true}, {"none", false}} {
		cfg := testConfig(t, t.TempDir())
		cfg.Set("journal.sync", c.sync)
		n, addrs, _ := startNode(t, cfg)
		cl := dial(t, addrs.Gateway, 1)
		cl.NewOrder(limit(1, wire.SideBuy, cfg.Instruments[0].ReferencePrice, 1))
		next(t, cl, report(wire.ExecKindAccepted))
		body := scrapeMetrics(t, addrs.Admin)
		n.Stop()
		for _, name := range []string{"ringex_journal_fsync_seconds_count", "ringex_journal_batch_records_count"} {
			m := regexp.MustCompile(`(?m)^` + name + ` (\d+)$`).FindStringSubmatch(string(body))
			if m == nil {
				t.Fatalf("journal.sync %s: no %s", c.sync, name)
			}
			if got := m[1] != "0"; got != c.want {
				t.Errorf("journal.sync %s: %s = %s", c.sync, name, m[1])
			}
		}
	}
}

// journal.max_batch bounds the records one fsync covers: a burst of
// orders arriving in one read is journaled in batches of at most that.
func TestJournalMaxBatch(t *testing.T) {
	const maxBatch, orders = 4, 400
	cfg := testConfig(t, t.TempDir())
	for k, v := range map[string]string{"journal.max_batch": "4", "gateway.rate_limit": "0", "gateway.disconnect_rate": "0"} {
		if err := cfg.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	c := dialUnflushed(t, addrs.Gateway, 1)
	for i := range orders { // one write: the gateway publishes them in bursts
		if err := c.NewOrder(limit(uint64(i+1), wire.SideBuy, cfg.Instruments[0].ReferencePrice, 1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	for range orders {
		next(t, c, report(wire.ExecKindAccepted))
	}
	body := string(scrapeMetrics(t, addrs.Admin))
	value := func(re string) int {
		m := regexp.MustCompile(`(?m)^` + re + ` (\d+)$`).FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no %s in /metrics", re)
		}
		v, _ := strconv.Atoi(m[1])
		return v
	}
	batches := value(`ringex_journal_batch_records_count`)
	within := value(`ringex_journal_batch_records_bucket\{le="4"\}`)
	if records := value(`ringex_journal_batch_records_sum`); records < orders {
		t.Fatalf("%d records journaled, want at least %d", records, orders)
	}
	if within != batches {
		t.Fatalf("%d of %d fsynced batches hold more than journal.max_batch (%d) records", batches-within, batches, maxBatch)
	}
}

// waitUntil waits up to 10 s for cond. On timeout it fails t naming the
// fatal error or the stop of each of members that has one (fates): a
// member whose stage failed is often why cond never came.
func waitUntil(t testing.TB, cond func() bool, members ...*Node) {
	t.Helper()
	waitWithin(t, 10*time.Second, cond, members...)
}

// waitWithin is waitUntil with its own time limit.
func waitWithin(t testing.TB, within time.Duration, cond func() bool, members ...*Node) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not reached in %v%s", within, fates(members))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// receiveWait bounds received's wait, and receivedEither's: the one
// limit of the package's tests for the event their next step needs.
const receiveWait = 10 * time.Second

// received is the next value on ch — what a goroutine of the test sends
// or a close — waited for up to 10 s. On timeout it fails t with
// failure and the fates of members, as waitUntil does.
func received[T any](t testing.TB, ch <-chan T, failure string, members ...*Node) T {
	t.Helper()
	v, _ := receivedWithin(t, receiveWait, ch, failure, members...)
	return v
}

// receivedWithin is received with its own time limit, as waitWithin is
// waitUntil's, saying too whether the value was sent (false: ch was
// closed).
func receivedWithin[T any](t testing.TB, within time.Duration, ch <-chan T, failure string, members ...*Node) (v T, sent bool) {
	t.Helper()
	select {
	case v, sent = <-ch:
		return v, sent
	case <-time.After(within):
		t.Fatalf("%s%s", failure, fates(members))
		panic("unreachable") // Fatalf does not return
	}
}

// receivedEither is received of whichever of a and b sends first (or
// is closed): its value, the other's zero, and fromA saying which.
func receivedEither[A, B any](t testing.TB, a <-chan A, b <-chan B, failure string, members ...*Node) (va A, vb B, fromA bool) {
	t.Helper()
	select {
	case va = <-a:
		return va, vb, true
	case vb = <-b:
		return va, vb, false
	case <-time.After(receiveWait):
		t.Fatalf("%s%s", failure, fates(members))
		panic("unreachable") // Fatalf does not return
	}
}

// fates says, for each of ns that has one, the fatal errors it delivered
// on Fatal and whether it was stopped, with Stop's result: "" when none
// has either, else one line per such member, for a failure message.
// The fatal errors are taken off the channel and put back in their
// order, so a test that reads Fatal afterwards still gets them. A Stop
// that has begun and not returned within a second is said to be under
// way (a wedged stop), not waited for.
func fates(ns []*Node) string {
	var b strings.Builder
	for _, n := range ns {
		if n == nil {
			continue
		}
		var said []string
		var errs []error
		for taken := false; !taken; {
			select {
			case err := <-n.fatal:
				errs, said = append(errs, err), append(said, "fatal: "+err.Error())
			default:
				taken = true
			}
		}
		for _, err := range errs { // put back, in order
			select {
			case n.fatal <- err:
			default: // fail sent another meanwhile: the channel keeps what it holds
			}
		}
		select {
		case <-n.stopCh: // Stop has begun: stopOnce.Do returns once it has returned
			done := make(chan error, 1)
			go func() { n.stopOnce.Do(func() {}); done <- n.stopErr }()
			select {
			case err := <-done:
				said = append(said, fmt.Sprintf("stopped (Stop: %v)", err))
			case <-time.After(time.Second):
				said = append(said, "stopping (Stop not returned after a second more)")
			}
		default:
		}
		if len(said) > 0 {
			fmt.Fprintf(&b, "\n  node %d: %s", n.cfg.Node.ID, strings.Join(said, "; "))
		}
	}
	return b.String()
}

// snapshot.every_inputs takes snapshots under load without a schedule or
// an operator.
func TestSnapshotEveryInputs(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	if err := cfg.Set("snapshot.every_inputs", "100"); err != nil {
		t.Fatal(err)
	}
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	c := dial(t, addrs.Gateway, 1)
	newest := func() int64 {
		seqs, _ := n.snaps.List()
		if len(seqs) == 0 {
			return 0
		}
		return slices.Max(seqs)
	}
	// Each request lands behind the inputs already queued: a snapshot
	// comes at least 100 inputs after the previous one.
	first, last := uint64(0), int64(0)
	for range 2 {
		restBids(t, c, cfg.Instruments[0], first+1, first+250)
		first += 250
		waitUntil(t, func() bool { return newest() >= last+100 })
		last = newest()
	}
}

// With rings.prefault the rings are mapped before the node opens its
// ports: Start has logged "rings mapped" by the time it returns, so no
// client order can race the mapping.
func TestRingsMappedBeforePortsOpen(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	// Rings big enough (about 64 MiB) that mapping them takes a while.
	for k, v := range map[string]string{"rings.prefault": "true", "rings.input_slots": "262144"} {
		if err := cfg.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	var logged testkit.SyncBuffer
	n, _, err := New(cfg, zerolog.New(&logged))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Start(); err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	out := logged.String()
	if !strings.Contains(out, `"rings mapped"`) && !strings.Contains(out, "cannot populate memory") {
		t.Fatalf("Start returned before the rings were mapped; log so far:\n%s", out)
	}
}

// A snapshot is written only once the journal holds every input up to it
// durably, also when the journal is not fsynced per batch (in a cluster,
// or journal.sync none): a recovery that found a snapshot past the
// journal's end could not continue the journal.
func TestSnapshotAfterTheJournalIsDurable(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	if err := cfg.Set("journal.sync", "none"); err != nil {
		t.Fatal(err)
	}
	tracker := vfs.NewSyncTracker(vfs.Default)
	n, addrs, _ := startNodeWith(t, cfg, Options{FS: tracker})
	defer n.Stop()
	c := dial(t, addrs.Gateway, 1)
	restBids(t, c, cfg.Instruments[0], 1, 300)
	if err := n.RequestSnapshot(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { s, _ := n.snaps.List(); return len(s) > 0 && s[len(s)-1] > 0 }) // past the fresh directory's at input 0
	for _, name := range tracker.Unsynced() {
		if strings.HasSuffix(name, ".journal") {
			t.Fatalf("journal segment %s written and not synced when the snapshot was", name)
		}
	}
}

// A snapshot is the state at the input it records though trading goes on
// while its state is copied, a step between engine batches at a time, and
// while the writer encodes it: every snapshot written, two of them
// requested with orders and cancels in flight and copied in ~70 steps
// each, has the hash a replay of the journal through its input gives; so
// has the admin's state, read while the snapshots are taken.
func TestSnapshotWhileTradingIsTheStateAtItsInput(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	if err := cfg.Set("snapshot.keep", "5"); err != nil {
		t.Fatal(err)
	}
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	n.copyStepBytes = 4 << 10 // ~45 orders a step: the copy spans many batches
	c := dial(t, addrs.Gateway, 3)
	ref, tick := cfg.Instruments[0].ReferencePrice, cfg.Instruments[0].TickSize
	restBids(t, c, cfg.Instruments[0], 1, 3000)
	for round := range 2 {
		base := uint64(3001 + round*1000)
		for i := base; i < base+1000; i++ {
			if i == base+500 {
				// One copy is taken at a time: a request while the first
				// is open would be skipped.
				waitUntil(t, func() bool { return n.stats.snapshots[snapshotWritten].Load() == int64(round) })
				if err := n.RequestSnapshot(); err != nil {
					t.Fatal(err)
				}
			}
			c.NewOrder(limit(i, wire.SideSell, ref+int64(1+i%40)*tick, 1))
			if i%4 == 0 {
				c.Cancel(proto.Cancel{OrigClientOrderID: i - base + 1 + uint64(round)*1000, Instrument: cfg.Instruments[0].ID})
			}
		}
	}
	st := n.stateNow()
	next(t, c, func(m client.Message) bool { return m.Report.ClientOrderID == 4999 })
	waitUntil(t, func() bool { return n.stats.snapshots[snapshotWritten].Load() >= 2 }) // the two asked for
	// The metrics count both, and the engine's wait for each copy.
	metrics := scrapeMetrics(t, addrs.Admin)
	for _, want := range []string{`ringex_snapshots_total{result="written"} 2`, `ringex_snapshots_total{result="skipped"} 0`,
		`ringex_snapshots_total{result="failed"} 0`, `ringex_snapshot_engine_pause_seconds_count 2`} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(want) + `$`).Match(metrics) {
			t.Errorf("metrics lack %s:\n%s", want, regexp.MustCompile(`(?m)^ringex_snapshot.*$`).FindAll(metrics, -1))
		}
	}
	if steps := n.stats.copySteps.Load(); steps < 2*50 {
		t.Errorf("the two copies took %d steps, want ~70 each", steps)
	}
	m := regexp.MustCompile(`(?m)^ringex_snapshot_sequence (\d+)$`).FindSubmatch(metrics)
	if m == nil {
		t.Fatal("no ringex_snapshot_sequence")
	}
	if seq, _ := strconv.ParseInt(string(m[1]), 10, 64); seq <= 3000 {
		t.Errorf("ringex_snapshot_sequence %d: want the second snapshot's input, past 3000", seq)
	}
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}

	replayed := func(through int64) uint64 {
		t.Helper()
		eng, err := engine.NewEngine(EngineConfig(cfg), discard{})
		if err != nil {
			t.Fatal(err)
		}
		if through > 0 {
			if _, err := replay.Run(cfg.JournalDir(), nil, 1, through, eng); err != nil {
				t.Fatal(err)
			}
		}
		return eng.StateHash()
	}
	seqs, err := n.snaps.List()
	if err != nil {
		t.Fatal(err)
	}
	taken := 0
	for _, seq := range seqs {
		snap, err := n.snaps.Read(seq)
		if err != nil {
			t.Fatal(err)
		}
		if want := replayed(seq); snap.Hash != want || engine.SnapshotHash(snap.Payload) != want {
			t.Errorf("snapshot at input %d: hash %016x (of its bytes %016x), replay %016x", seq, snap.Hash, engine.SnapshotHash(snap.Payload), want)
		}
		if seq > 3000 {
			taken++
		}
	}
	if taken < 2 {
		t.Fatalf("snapshots at inputs %v: want two taken while trading (past input 3000)", seqs)
	}
	if want := fmt.Sprintf("%016x", replayed(st.Seq)); st.Hash != want {
		t.Fatalf("admin state at input %d: hash %s, replay %s", st.Seq, st.Hash, want)
	}
}

// snapshotFaults fails the creation of snapshot files while failing is
// set; the journal's files are left alone.
// snapshotFaults fails snapshot writes while failing, and holds them
// until release is closed while holding (release made by the test).
type snapshotFaults struct {
	vfs.FS
	failing, holding atomic.Bool
	release          chan struct{}
	creates          atomic.Int32 // snapshot writes begun
}

func (f *snapshotFaults) Create(name string) (vfs.File, error) {
	if strings.HasSuffix(name, ".snap.tmp") {
		f.creates.Add(1)
		if f.failing.Load() {
			return nil, syscall.ENOSPC
		}
		if f.holding.Load() {
			<-f.release
		}
	}
	return f.FS.Create(name)
}

// The engine goroutine only copies: a snapshot asked for before the
// writer has reserved its state copies (at once after the start, the
// engine's pools already 65536 orders) has its copy reserved by the
// goroutine that drives the steps, not grown by the engine while trading
// waits (0.13–1.3 s for 1 M orders, see snapshotWriter).
func TestSnapshotCopyReservedOffTheEngine(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	// Copies the writer has not reserved: fresh ones, swapped in (and
	// none in the pool meanwhile, so its every-second reservation finds
	// nothing to grow).
	for range snapshotCopies {
		<-n.snapCopies
	}
	c := dial(t, addrs.Gateway, 1)
	restBids(t, c, cfg.Instruments[0], 1, 200)
	for range snapshotCopies {
		n.snapCopies <- new(engine.StateCopy)
	}
	before := n.stats.snapshots[snapshotWritten].Load()
	if err := n.RequestSnapshot(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { return n.stats.snapshots[snapshotWritten].Load() > before })
	if grown := n.stats.copiesGrown.Load(); grown != 0 {
		t.Fatalf("the engine goroutine grew %d snapshot copies itself", grown)
	}
}

// GET /state copies the engine's state in steps between batches, like a
// snapshot, and reports the state at the input it gives.
func TestStateCopiedInSteps(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, addrs, _ := startNode(t, cfg)
	n.copyStepBytes = 4 << 10      // ~45 orders a step
	c := dial(t, addrs.Gateway, 4) // no cancel-on-disconnect
	restBids(t, c, cfg.Instruments[0], 1, 500)
	st := n.stateNow()
	if steps := n.stats.stateCopySteps.Load(); steps < 10 {
		t.Errorf("the state was copied in %d steps, want one per ~45 orders", steps)
	}
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	if st.Seq != n.Final().LastSeq || st.Hash != fmt.Sprintf("%016x", n.Final().Hash) {
		t.Fatalf("state %d %s, the stopped node %+v", st.Seq, st.Hash, n.Final())
	}
	// Stopped, it reads the engine at once.
	if got := n.stateNow(); got.Hash != st.Hash {
		t.Fatalf("stopped node's state %s, want %s", got.Hash, st.Hash)
	}
}

// A snapshot that cannot be written is counted as failed (the metric the
// RingexSnapshotFailed alert watches) and the node trades on; the next
// one is written.
func TestSnapshotWriteFailureCounted(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	fs := &snapshotFaults{FS: vfs.Default}
	n, addrs, _ := startNodeWith(t, cfg, Options{FS: fs})
	defer n.Stop()
	c := dial(t, addrs.Gateway, 1)
	ref := cfg.Instruments[0].ReferencePrice
	fs.failing.Store(true)
	if err := n.RequestSnapshot(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { return n.stats.snapshots[snapshotFailed].Load() == 1 })
	fs.failing.Store(false)
	c.NewOrder(limit(1, wire.SideBuy, ref, 1))
	next(t, c, report(wire.ExecKindAccepted))
	if err := n.RequestSnapshot(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { return n.stats.snapshots[snapshotWritten].Load() == 1 })
	metrics := scrapeMetrics(t, addrs.Admin)
	for _, want := range []string{`ringex_snapshots_total{result="failed"} 1`, `ringex_snapshots_total{result="written"} 1`} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(want) + `$`).Match(metrics) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// A clean stop snapshots at the journal's end unless a snapshot is on
// disk there already — one asked for there that failed is not.
func TestStopSnapshotsAfterAFailedSnapshot(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	fs := &snapshotFaults{FS: vfs.Default}
	n, addrs, _ := startNodeWith(t, cfg, Options{FS: fs})
	c := dial(t, addrs.Gateway, 4) // no cancel-on-disconnect
	c.NewOrder(limit(1, wire.SideBuy, cfg.Instruments[0].ReferencePrice, 1))
	next(t, c, report(wire.ExecKindAccepted))
	fs.failing.Store(true)
	if err := n.RequestSnapshot(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { return n.stats.snapshots[snapshotFailed].Load() == 1 })
	fs.failing.Store(false)
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	n2, _, rec := startNode(t, testConfig(t, dir))
	defer n2.Stop()
	if rec.SnapshotSeq != n.Final().LastSeq || rec.Replayed != 0 {
		t.Fatalf("recovered %+v: want the stop's snapshot at input %d", rec, n.Final().LastSeq)
	}
}

// A second node on a data directory in use is refused, naming the holder,
// instead of appending to the same journal; once the first stops, the
// directory is free.
func TestDataDirLockedWhileInUse(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	n, _, _ := startNode(t, cfg)
	_, _, err := New(testConfig(t, dir), zerolog.Nop())
	if !errors.Is(err, ErrDataDirInUse) || !strings.Contains(err.Error(), strconv.Itoa(os.Getpid())) {
		t.Fatalf("second node on %s: %v; want ErrDataDirInUse naming pid %d", dir, err, os.Getpid())
	}
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	n2, _, err := New(testConfig(t, dir), zerolog.Nop())
	if err != nil {
		t.Fatalf("after the first stopped: %v", err)
	}
	if err := n2.discard(); err != nil {
		t.Fatal(err)
	}
}

// A node whose journal.dir (or snapshot.dir) names a directory another
// running node uses is refused too, though its data directory is its own.
func TestJournalAndSnapshotDirsLockedWhileInUse(t *testing.T) {
	first := testConfig(t, t.TempDir())
	n, _, _ := startNode(t, first)
	for key, dir := range map[string]string{"journal.dir": first.JournalDir(), "snapshot.dir": first.SnapshotDir()} {
		cfg := testConfig(t, t.TempDir())
		if err := cfg.Set(key, dir); err != nil {
			t.Fatal(err)
		}
		_, _, err := New(cfg, zerolog.Nop())
		if !errors.Is(err, ErrDataDirInUse) || !strings.Contains(err.Error(), dir) {
			t.Fatalf("second node with %s=%s: %v; want ErrDataDirInUse naming it", key, dir, err)
		}
	}
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, t.TempDir())
	cfg.Set("journal.dir", first.JournalDir())
	cfg.Set("snapshot.dir", first.SnapshotDir())
	n2, _, err := New(cfg, zerolog.Nop())
	if err != nil {
		t.Fatalf("after the first stopped: %v", err)
	}
	if err := n2.discard(); err != nil {
		t.Fatal(err)
	}
}

// One directory named twice by different paths — the data directory
// relative, snapshot.dir absolute — is one lock the node takes once: it
// refused to start, naming its own pid as the holder.
func TestOneDirectoryByTwoPathsIsOneLock(t *testing.T) {
	base := t.TempDir()
	t.Chdir(base)
	cfg := testConfig(t, "data")
	if err := cfg.Set("snapshot.dir", filepath.Join(base, "data")); err != nil {
		t.Fatal(err)
	}
	n, _, err := New(cfg, zerolog.Nop())
	if err != nil {
		t.Fatalf("data dir and snapshot dir one directory by two paths: %v", err)
	}
	if err := n.discard(); err != nil {
		t.Fatal(err)
	}
}

// Listing a new instrument or opening a new account is a config change
// and a (clean) restart: the node restores its newest snapshot (the new
// ones start empty) instead of refusing it for having fewer of them —
// which made recovery fall back to replaying the journal from its first
// input, or refuse to start once retention had archived the early
// segments.
// Removing an account that still has resting orders stops the node with
// ErrConfigChanged: restoring without them would drop live orders.
func TestRestartAfterTheConfigGainsAnAccountAndAnInstrument(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	n, addrs, _ := startNode(t, cfg)
	in := cfg.Instruments[0]
	c := dial(t, addrs.Gateway, 1)
	for i := uint64(1); i <= 20; i++ {
		c.NewOrder(limit(i, wire.SideBuy, in.ReferencePrice-int64(i)*in.TickSize, 1))
	}
	last := next(t, c, func(m client.Message) bool { return m.Report.ClientOrderID == 20 })
	if err := n.RequestSnapshot(); err != nil {
		t.Fatal(err)
	}
	c.NewOrder(limit(21, wire.SideBuy, in.ReferencePrice-21*in.TickSize, 1))
	next(t, c, func(m client.Message) bool { return m.Report.ClientOrderID == 21 })
	if err := n.Stop(); err != nil { // the session still open: no cancel-on-disconnect
		t.Fatal(err)
	}

	grown := testConfig(t, dir)
	listed := in
	listed.ID, listed.Symbol = 99, "NEW-USD"
	grown.Instruments = append(grown.Instruments, listed)
	grown.Accounts = append(grown.Accounts, config.Account{ID: 9, Name: "new", Secret: "secret-9"})
	n2, addrs2, rec := startNode(t, grown)
	if rec.SnapshotSeq != n.Final().LastSeq || rec.Replayed != 0 {
		t.Fatalf("recovered %+v: want the snapshot the stop took at input %d", rec, n.Final().LastSeq)
	}
	c2 := dial(t, addrs2.Gateway, 1)
	c2.Cancel(proto.Cancel{OrderID: last.Report.OrderID})
	if got := next(t, c2, report(wire.ExecKindCancelled)); got.Report.OrderID != last.Report.OrderID {
		t.Fatalf("cancelled %+v", got.Report)
	}
	c9, err := client.Dial(addrs2.Gateway, 9, "secret-9", client.Options{AutoFlush: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c9.Close()
	o := limit(1, wire.SideSell, listed.ReferencePrice, 1)
	o.Instrument = listed.ID
	c9.NewOrder(o)
	next(t, c9, report(wire.ExecKindAccepted))
	// Account 1's session stays open through the stop: closed first, its
	// cancel-on-disconnect could cancel the resting orders the check
	// below needs (it did, once, on a busy machine).
	c9.Close()
	if err := n2.Stop(); err != nil {
		t.Fatal(err)
	}

	shrunk := testConfig(t, dir)
	shrunk.Instruments = grown.Instruments
	shrunk.Accounts = slices.DeleteFunc(slices.Clone(grown.Accounts), func(a config.Account) bool { return a.ID == 1 })
	if _, _, err := New(shrunk, zerolog.Nop()); !errors.Is(err, engine.ErrConfigChanged) {
		t.Fatalf("account 1 removed with resting orders: %v, want engine.ErrConfigChanged", err)
	}
}

// A clean stop snapshots at the journal's end (snapshot.on_stop), so the
// next start replays nothing — with other limits, instruments or accounts
// no input is decided a second time. A stop with nothing new since the
// newest snapshot writes none.
func TestCleanStopSnapshotsAtTheJournalsEnd(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	n, addrs, _ := startNode(t, cfg)
	in := cfg.Instruments[0]
	c := dial(t, addrs.Gateway, 4) // no cancel-on-disconnect
	for i := uint64(1); i <= 30; i++ {
		c.NewOrder(limit(i, wire.SideBuy, in.ReferencePrice-int64(i)*in.TickSize, 1))
	}
	next(t, c, func(m client.Message) bool { return m.Report.ClientOrderID == 30 })
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	seqs, err := n.snaps.List() // the fresh directory's at input 0, and the stop's
	if err != nil || len(seqs) != 2 || seqs[1] != n.Final().LastSeq {
		t.Fatalf("snapshots %v (%v) after a clean stop at input %d", seqs, err, n.Final().LastSeq)
	}
	tight := testConfig(t, dir)
	tight.Accounts[3].MaxOpenOrders = 10 // 30 rest: a replay under it would refuse 20
	n2, _, rec := startNode(t, tight)
	if rec.SnapshotSeq != seqs[1] || rec.Replayed != 0 || rec.Hash != n.Final().Hash {
		t.Fatalf("recovered %+v, want the stop's snapshot at %d and hash %x, nothing replayed", rec, seqs[1], n.Final().Hash)
	}
	if err := n2.Stop(); err != nil {
		t.Fatal(err)
	}
	if again, _ := n2.snaps.List(); !slices.Equal(again, seqs) {
		t.Fatalf("snapshots %v after a stop with no new input, want %v", again, seqs)
	}
}

// Inputs journaled after a snapshot are replayed only under the rules
// (instruments, accounts, limits) they were decided under: after a
// crash, a restart with a changed limit is refused with ErrRulesChanged,
// where the replay would have refused orders that were accepted. With
// the old config it starts; after a clean stop the change is taken, the
// snapshot rewritten under it, and a later crash replays under it.
func TestReplayOnlyUnderTheRulesTheJournalWasWrittenUnder(t *testing.T) {
	dir := t.TempDir()
	crashy := testConfig(t, dir)
	crashy.Snapshot.OnStop = false // a stop that leaves a journal to replay, as a crash does
	in := crashy.Instruments[0]
	place := func(cfg *config.Config, from, to uint64) *Node {
		t.Helper()
		n, addrs, _ := startNode(t, cfg)
		c := dial(t, addrs.Gateway, 4) // no cancel-on-disconnect
		for i := from; i <= to; i++ {
			c.NewOrder(limit(i, wire.SideBuy, in.ReferencePrice-int64(i)*in.TickSize, 1))
		}
		next(t, c, func(m client.Message) bool { return m.Report.ClientOrderID == to })
		return n
	}
	n := place(crashy, 1, 5)
	n.RequestSnapshot()
	n.Stop()
	n = place(crashy, 6, 12) // 12 open orders; 7 after the snapshot
	n.Stop()

	tight := testConfig(t, dir)
	tight.Accounts[3].MaxOpenOrders = 8 // a replay would refuse orders 9–12
	if _, _, err := New(tight, zerolog.Nop()); !errors.Is(err, ErrRulesChanged) {
		t.Fatalf("restart with a changed limit and a journal to replay: %v, want ErrRulesChanged", err)
	}
	n2, _, rec := startNode(t, testConfig(t, dir)) // the old rules; a clean stop snapshots
	if rec.Replayed != 7 || n2.eng.LiveOrders() != 12 {
		t.Fatalf("with the old config: %+v, %d live orders", rec, n2.eng.LiveOrders())
	}
	n2.Stop()
	n3, _, rec := startNode(t, tight)
	if rec.Replayed != 0 || n3.eng.LiveOrders() != 12 {
		t.Fatalf("after a clean stop, with the changed limit: %+v, %d live orders", rec, n3.eng.LiveOrders())
	}
	n3.Stop()
	if snap, _, err := n3.snaps.Newest(0); err != nil || snap.Rules != EngineConfig(tight).Fingerprint() {
		t.Fatalf("newest snapshot rules %x (%v), want the changed config's", snap.Rules, err)
	}
	if got, want := n3.stateNow().Rules, fmt.Sprintf("%016x", EngineConfig(tight).Fingerprint()); got != want {
		t.Fatalf("/state rules %s, want %s", got, want)
	}
	tightCrashy := testConfig(t, dir)
	tightCrashy.Accounts[3].MaxOpenOrders = 8
	tightCrashy.Snapshot.OnStop = false
	n4, addrs4, _ := startNode(t, tightCrashy)
	c := dial(t, addrs4.Gateway, 4)
	c.Cancel(proto.Cancel{OrigClientOrderID: 12})
	next(t, c, report(wire.ExecKindCancelled))
	n4.Stop() // the cancel is journaled after the snapshot
	n5, _, rec := startNode(t, tightCrashy)
	if rec.Replayed != 1 || n5.eng.LiveOrders() != 11 {
		t.Fatalf("a journal written under the changed limit, replayed under it: %+v, %d live orders", rec, n5.eng.LiveOrders())
	}
}

// The operator's kill switch for one account, on the admin port: its
// resting orders are cancelled (the reports reach its session), its new
// orders are refused, other accounts trade on; the suspension holds
// across a restart that replays the journal and one from a snapshot, and
// lifting it lets the account trade again.
func TestAccountKillSwitch(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	cfg.Snapshot.OnStop = false // the first restart replays the suspension from the journal
	n, addrs, _ := startNode(t, cfg)
	in := cfg.Instruments[0]
	post := func(admin, path string) int {
		resp, err := http.Post("http://"+admin+path, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	suspendedOf := func(n *Node) []uint32 { return n.stateNow().Suspended }

	c4 := dial(t, addrs.Gateway, 4) // no cancel-on-disconnect
	c2 := dial(t, addrs.Gateway, 2)
	c4.NewOrder(limit(1, wire.SideBuy, in.ReferencePrice-in.TickSize, 1))
	c4.NewOrder(limit(2, wire.SideSell, in.ReferencePrice+in.TickSize, 1))
	next(t, c4, func(m client.Message) bool { return m.Report.ClientOrderID == 2 })
	c2.NewOrder(limit(3, wire.SideBuy, in.ReferencePrice-2*in.TickSize, 1))
	next(t, c2, report(wire.ExecKindAccepted))

	for _, path := range []string{"/accounts/99/suspend", "/accounts/x/suspend", "/accounts/0/resume",
		"/halt?instrument=999", "/resume?instrument=4294967295"} {
		if code := post(addrs.Admin, path); code != http.StatusNotFound {
			t.Errorf("POST %s: %d, want 404", path, code)
		}
	}
	if code := post(addrs.Admin, "/accounts/4/suspend"); code != http.StatusAccepted {
		t.Fatalf("suspend: %d", code)
	}
	for _, id := range []uint64{1, 2} {
		m := next(t, c4, report(wire.ExecKindCancelled))
		if m.Report.ClientOrderID != id || m.Report.Reason != uint8(engine.CancelAccountSuspended) {
			t.Fatalf("cancel %d: %+v", id, m.Report)
		}
	}
	rejected := func(c *client.Client, clOrd uint64) {
		t.Helper()
		c.NewOrder(limit(clOrd, wire.SideBuy, in.ReferencePrice, 1))
		m := next(t, c, func(m client.Message) bool { return m.Report.ClientOrderID == clOrd })
		if m.Report.Kind != wire.ExecKindRejected || m.Report.Reason != uint8(engine.ReasonAccountSuspended) {
			t.Fatalf("order %d of a suspended account: %+v", clOrd, m.Report)
		}
	}
	rejected(c4, 4)
	c2.NewOrder(limit(5, wire.SideBuy, in.ReferencePrice-2*in.TickSize, 1))
	next(t, c2, report(wire.ExecKindAccepted))
	if s := suspendedOf(n); !slices.Equal(s, []uint32{4}) {
		t.Fatalf("/state suspended %v", s)
	}
	waitForMetric(t, addrs.Admin, "ringex_accounts_suspended 1") // refreshed by the engine, at most 100 ms behind a scrape

	// Restarted replaying the journal (the stop took no snapshot), then
	// from the snapshot the next stop takes.
	for _, fromJournal := range []bool{true, false} {
		if err := n.Stop(); err != nil {
			t.Fatal(err)
		}
		var rec Recovered
		n, addrs, rec = startNode(t, testConfig(t, dir)) // snapshot.on_stop as by default
		if fromJournal != (rec.Replayed > 0) {
			t.Fatalf("recovered %+v: want the suspension from the journal %v", rec, fromJournal)
		}
		if s := suspendedOf(n); !slices.Equal(s, []uint32{4}) {
			t.Fatalf("after a restart (%+v): suspended %v", rec, s)
		}
		rejected(dial(t, addrs.Gateway, 4), 6)
	}
	if code := post(addrs.Admin, "/accounts/4/resume"); code != http.StatusAccepted {
		t.Fatalf("resume: %d", code)
	}
	c4 = dial(t, addrs.Gateway, 4)
	c4.NewOrder(limit(7, wire.SideBuy, in.ReferencePrice-in.TickSize, 1))
	next(t, c4, report(wire.ExecKindAccepted))
	if s := suspendedOf(n); len(s) != 0 {
		t.Fatalf("suspended %v after resume", s)
	}
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
}

// The operator's halt that clears a book, on the admin port: every
// resting order of the instrument, of both accounts and both sides, is
// cancelled (instrument-halted) and each owner's session hears of its
// own; the other instrument keeps its order; the action is audited; and
// a restart replaying the journal comes back to the same state — halted,
// the book empty. A parameter the endpoint does not know, or a
// cancel_orders that is no boolean, is refused and halts nothing.
func TestHaltCancellingOrdersOnTheAdminPort(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	cfg.Snapshot.OnStop = false // the restart replays the halt from the journal
	n, addrs, logs := startNodeLogging(t, cfg, Options{})
	btc, eth := cfg.Instruments[0], cfg.Instruments[1]
	post := func(path string) int {
		resp, err := http.Post("http://"+addrs.Admin+path, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	c4 := dial(t, addrs.Gateway, 4)
	c2 := dial(t, addrs.Gateway, 2)
	place := func(c *client.Client, clOrd uint64, in config.Instrument, side wire.Side, ticks int64) {
		t.Helper()
		o := limit(clOrd, side, in.ReferencePrice+ticks*in.TickSize, in.LotSize)
		o.Instrument = in.ID
		c.NewOrder(o)
		if m := next(t, c, func(m client.Message) bool { return m.Report.ClientOrderID == clOrd }); m.Report.Kind != wire.ExecKindAccepted {
			t.Fatalf("order %d: %+v", clOrd, m.Report)
		}
	}
	place(c4, 1, btc, wire.SideBuy, -1)
	place(c4, 2, btc, wire.SideSell, 1)
	place(c2, 3, btc, wire.SideBuy, -2)
	place(c2, 4, btc, wire.SideSell, 2)
	place(c2, 5, eth, wire.SideBuy, -1)

	for _, path := range []string{"/halt?instrument=" + btc.Symbol + "&cancel_orders=maybe",
		"/halt?instrument=" + btc.Symbol + "&cancel=1", "/halt?instrument=" + btc.Symbol + "&cancel_orders"} {
		if code := post(path); code != http.StatusBadRequest {
			t.Errorf("POST %s: %d, want 400", path, code)
		}
	}
	if h := n.stateNow().Halted; len(h) != 0 {
		t.Fatalf("refused requests halted %v", h)
	}
	if code := post("/halt?instrument=NOPE-USD"); code != http.StatusNotFound {
		t.Errorf("halt of an unknown instrument: %d, want 404", code)
	}
	for _, line := range []string{`"error":"refused 400: unknown parameter \"cancel\"`, `"error":"refused 404: no such instrument in the config","action":"halt"`} {
		if !strings.Contains(logs.String(), line) {
			t.Fatalf("no audit line %s for a refused halt:\n%s", line, logs.String())
		}
	}
	if code := post("/halt?instrument=" + btc.Symbol + "&cancel_orders=true"); code != http.StatusAccepted {
		t.Fatalf("halt with cancel_orders: %d", code)
	}
	for _, tt := range []struct {
		c     *client.Client
		clOrd []uint64
	}{{c4, []uint64{1, 2}}, {c2, []uint64{3, 4}}} { // each session its own, bids first
		for _, id := range tt.clOrd {
			m := next(t, tt.c, report(wire.ExecKindCancelled))
			if m.Report.ClientOrderID != id || m.Report.Reason != uint8(engine.CancelInstrumentHalted) || m.Report.Instrument != btc.ID {
				t.Fatalf("cancel of order %d: %+v", id, m.Report)
			}
		}
	}
	// live counts the account's live orders on instrument, asked in
	// sequence after everything before (the engine's answer, not a read
	// of it from here).
	live := func(c *client.Client, instrument uint32) int64 {
		t.Helper()
		c.OrderStatus(proto.OrderStatus{Instrument: instrument})
		return next(t, c, report(wire.ExecKindStatusDone)).Report.Quantity
	}
	if a, b, e := live(c4, btc.ID), live(c2, btc.ID), live(c2, eth.ID); a != 0 || b != 0 || e != 1 {
		t.Fatalf("live orders on %s: account 4 %d, account 2 %d; on %s: %d (want 0, 0, 1)", btc.Symbol, a, b, eth.Symbol, e)
	}
	if !strings.Contains(logs.String(), `"instrument":1,"action":"halt-cancel-orders"`) {
		t.Fatalf("no audit line for the halt:\n%s", logs.String())
	}
	before := n.stateNow()
	if !slices.Equal(before.Halted, []uint32{btc.ID}) {
		t.Fatalf("/state halted %v", before.Halted)
	}
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}

	n, addrs, rec := startNode(t, cfg)
	defer n.Stop()
	after := n.stateNow()
	if rec.Replayed == 0 || after.Seq != before.Seq || after.Hash != before.Hash || !slices.Equal(after.Halted, before.Halted) {
		t.Fatalf("restarted (%+v): seq %d hash %s halted %v; before seq %d hash %s halted %v", rec,
			after.Seq, after.Hash, after.Halted, before.Seq, before.Hash, before.Halted)
	}
	if got := live(dial(t, addrs.Gateway, 4), btc.ID); got != 0 {
		t.Fatalf("after the restart account 4 has %d live orders on %s", got, btc.Symbol)
	}
}

// The rules fingerprint covers the engine's semantics: builds before
// engine.Semantics gave the demo config 1fe91add81d30f7c, and a member of
// this build must not apply their inputs as its own (nor replay their
// journal tail) — the new commands would be refused where this build
// executes them.
func TestFingerprintCoversEngineSemantics(t *testing.T) {
	const before = 0x1fe91add81d30f7c // `rules` in /state of a 2026-12-03 (session 12) node, demo config
	if engine.Semantics < 2 {
		t.Skip("semantics 1 hashes no version")
	}
	if got := EngineConfig(config.Default()).Fingerprint(); got == before {
		t.Fatalf("fingerprint %016x is the one of builds with semantics 1", got)
	}
}

// scrapeMetrics GETs the node's /metrics (no token) and returns the body.
func scrapeMetrics(t *testing.T, admin string) []byte {
	t.Helper()
	resp, err := http.Get("http://" + admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// awaitMetric scrapes the node's /metrics until series reads want, for
// up to 5 s, and returns the last value read (a count the node makes
// after the client's last read: poll, never sleep).
func awaitMetric(t *testing.T, admin, series string, want float64) float64 {
	t.Helper()
	var got float64
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if got, _ = metricValue(scrapeMetrics(t, admin), series); got == want {
			break
		}
	}
	return got
}

// metricValue finds the sample named (with its labels) in a scrape.
func metricValue(body []byte, series string) (float64, bool) {
	for line := range bytes.Lines(body) {
		rest, ok := bytes.CutPrefix(line, []byte(series+" "))
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(string(bytes.TrimSpace(rest)), 64)
		return v, err == nil
	}
	return 0, false
}

// End-to-end latency is observed once the reports are written to the
// session's connection: one order, one sample, no longer than the
// client's own round trip around it.
func TestEndToEndObservedWhenWritten(t *testing.T) {
	n, addrs, _ := startNode(t, testConfig(t, t.TempDir()))
	defer n.Stop()
	c := dial(t, addrs.Gateway, 1)
	if got := n.stats.e2eSamples.Load(); got != 0 {
		t.Fatalf("%d samples before any order", got)
	}
	sent := time.Now()
	c.NewOrder(limit(1, wire.SideBuy, config.Default().Instruments[0].ReferencePrice, 1))
	next(t, c, report(wire.ExecKindAccepted))
	deadline := time.Now().Add(5 * time.Second)
	for n.stats.e2eSamples.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	roundTrip := time.Since(sent)
	if got := n.stats.e2eSamples.Load(); got != 1 {
		t.Fatalf("%d samples for one written report, want 1", got)
	}
	if sum := e2eSum(t, n); sum <= 0 || sum > roundTrip {
		t.Fatalf("observed %v, the client's round trip was %v", sum, roundTrip)
	}
}

// e2eSum is the sum of n's end-to-end latency samples.
func e2eSum(t testing.TB, n *Node) time.Duration {
	t.Helper()
	return observed(t, n.stats.e2e).sum
}

// latencies is what a latency histogram has observed.
type latencies struct {
	sum   time.Duration
	count uint64
}

// observed reads h, a latency histogram (a prometheus.Histogram, or one
// of a HistogramVec's).
func observed(t testing.TB, h prometheus.Observer) latencies {
	t.Helper()
	m := &dto.Metric{}
	if err := h.(prometheus.Metric).Write(m); err != nil {
		t.Fatal(err)
	}
	return latencies{time.Duration(m.GetHistogram().GetSampleSum() * 1e9), m.GetHistogram().GetSampleCount()}
}

// A session that mass-cancels tens of thousands of orders gets every
// Cancelled report: the default send buffer holds the reports of the
// engine's whole order capacity, which the execution sender stages faster
// than any client reads (with 4 MiB the session was cut off as a slow
// consumer after a few thousand).
func TestMassCancelOfManyOrdersKeepsTheSession(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Set("rings.output_slots", "65536") // the cancels in few sender batches, as with the default ring
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	eth := cfg.Instruments[1]
	c := dial(t, addrs.Gateway, 1) // no message rate, 100 000 open orders
	const orders = 60_000          // 9.1 MB of reports
	for k := 1; k <= orders; k++ {
		o := limit(uint64(k), wire.SideBuy, eth.ReferencePrice-int64(1+k%5000)*eth.TickSize, eth.LotSize)
		o.Instrument = eth.ID
		c.NewOrder(o)
	}
	nextWithin(t, c, time.Minute, func(m client.Message) bool { return m.Report.ClientOrderID == orders })
	c.MassCancel(eth.ID)
	c.SetReadDeadline(time.Now().Add(time.Minute))
	for cancelled := 0; cancelled < orders; {
		m, err := c.Next()
		if err != nil {
			t.Fatalf("after %d of %d cancels: %v", cancelled, orders, err)
		}
		if m.Type == wire.MessageExecutionReport && m.Report.Kind == wire.ExecKindCancelled {
			cancelled++
		}
	}
}

// The node warns when one mass cancel of an account's orders would send a
// session more reports than gateway.send_buffer_bytes holds: by the
// account's max_open_orders (its own, else engine.max_open_orders), which
// may pass engine.max_orders (the pools grow), else by the pools' size.
// The default config's buffer holds every account's (100 000 orders at
// most: 15.2 MB); lifting engine.max_open_orders leaves account 3, which
// has no limit of its own, to the pools' size.
func TestWarnsOfSendBufferBelowAMassCancel(t *testing.T) {
	var logs testkit.SyncBuffer
	warnMassCancelBursts(config.Default(), zerolog.New(&logs))
	if out := logs.String(); out != "" {
		t.Fatalf("want no warning in the default config:\n%s", out)
	}
	cfg := config.Default()
	cfg.Set("gateway.send_buffer_bytes", "1048576")
	var small testkit.SyncBuffer
	warnMassCancelBursts(cfg, zerolog.New(&small))
	out := small.String()
	for _, a := range []string{`"account":1,`, `"account":3,`} { // 100 000 orders, 1 MiB buffer
		if !strings.Contains(out, a) || !strings.Contains(out, "below the reports of one mass cancel") {
			t.Fatalf("no warning for %s:\n%s", a, out)
		}
	}
	if strings.Contains(out, `"account":4,`) { // 1000 open orders: 152 KB
		t.Fatalf("a warning for account 4:\n%s", out)
	}
	// 12 MB: account 3's 100 000 orders' reports (15.2 MB) are more, the
	// pools' 65 536 orders' (10 MB) less.
	cfg.Set("gateway.send_buffer_bytes", "12000000")
	var bound testkit.SyncBuffer
	warnMassCancelBursts(cfg, zerolog.New(&bound))
	if out := bound.String(); !strings.Contains(out, `"account":3,"orders":100000,`) {
		t.Fatalf("no warning for account 3 by engine.max_open_orders:\n%s", out)
	}
	cfg.Set("engine.max_open_orders", "0")
	cfg.Set("gateway.send_buffer_bytes", "1048576")
	var pools testkit.SyncBuffer
	warnMassCancelBursts(cfg, zerolog.New(&pools))
	if out := pools.String(); !strings.Contains(out, `"account":3,"orders":65536,`) {
		t.Fatalf("no warning for account 3 by the pools' 65536 orders:\n%s", out)
	}
}

// An account without max_open_orders of its own (the demo's account 3)
// trades under engine.max_open_orders, so that one mass cancel of its
// orders is bounded; with that 0 it has no limit, and an account's own
// limit is its own either way. The rules fingerprint follows.
func TestEngineConfigHoldsAccountsToTheOpenOrdersBound(t *testing.T) {
	cfg := config.Default()
	open := func(c *config.Config) []int64 {
		var limits []int64
		for _, a := range EngineConfig(c).Accounts {
			limits = append(limits, a.MaxOpenOrders)
		}
		return limits
	}
	if got, want := open(cfg), []int64{100_000, 100_000, 100_000, 1000}; !slices.Equal(got, want) {
		t.Fatalf("default config: the engine's max open orders %v, want %v", got, want)
	}
	bounded := EngineConfig(cfg).Fingerprint()
	setConfig(t, cfg, map[string]string{"engine.max_open_orders": "0"})
	if got, want := open(cfg), []int64{100_000, 100_000, 0, 1000}; !slices.Equal(got, want) {
		t.Fatalf("engine.max_open_orders 0: the engine's max open orders %v, want %v", got, want)
	}
	if EngineConfig(cfg).Fingerprint() == bounded {
		t.Fatal("the rules fingerprint is the same with account 3 bounded and not")
	}
}

// With the daily schedule and every_inputs both off, the node says at
// start that its journal is never pruned; with either on, nothing.
func TestWarnsOfNoSnapshots(t *testing.T) {
	for _, tc := range []struct {
		schedule, every string
		warns           bool
	}{{"", "0", true}, {"00:00", "0", false}, {"", "1000", false}} {
		cfg := config.Default()
		setConfig(t, cfg, map[string]string{"snapshot.schedule": tc.schedule, "snapshot.every_inputs": tc.every})
		var logs testkit.SyncBuffer
		warnNoSnapshots(cfg, zerolog.New(&logs))
		if got := strings.Contains(logs.String(), "grows until the disk is full"); got != tc.warns {
			t.Errorf("schedule %q, every_inputs %s: warned %v, want %v", tc.schedule, tc.every, got, tc.warns)
		}
	}
}

// The books' gauges are read at each scrape, as the engine has the books
// then: levels per side, halts, suspended accounts.
func TestBookGaugesAtScrape(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	in := cfg.Instruments[0]
	restBids(t, dial(t, addrs.Gateway, 1), in, 1, 3) // three levels
	waitForMetric(t, addrs.Admin, `ringex_book_levels{instrument="`+in.Symbol+`",side="bid"} 3`)
	waitForMetric(t, addrs.Admin, `ringex_book_levels{instrument="`+in.Symbol+`",side="ask"} 0`)
	waitForMetric(t, addrs.Admin, `ringex_instrument_halted{instrument="`+in.Symbol+`"} 0`)
	if err := n.Halt(in.ID); err != nil {
		t.Fatal(err)
	}
	waitForMetric(t, addrs.Admin, `ringex_instrument_halted{instrument="`+in.Symbol+`"} 1`)
	if err := n.SuspendAccount(2); err != nil {
		t.Fatal(err)
	}
	waitForMetric(t, addrs.Admin, "ringex_accounts_suspended 1")
}

// waitForMetric scrapes the node until its /metrics has line, whole (a
// scrape waits for the engine's book gauges at most bookGaugesWait).
func waitForMetric(t *testing.T, admin, line string) {
	t.Helper()
	waitUntil(t, func() bool { return bytes.Contains(scrapeMetrics(t, admin), []byte("\n"+line+"\n")) })
}

// A scrape does not wait for an engine held up in a batch (as one is
// behind a full output ring): the other metrics come at once, with the
// book gauges stored last, which catch up once the engine is free.
func TestScrapeWhileTheEngineIsHeld(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	in := cfg.Instruments[0]
	restBids(t, dial(t, addrs.Gateway, 1), in, 1, 1)
	release := holdEngine(t, n)
	defer release() // a failure before the release lets the engine go
	for range 3 {
		start := time.Now()
		body := scrapeMetrics(t, addrs.Admin)
		if took := time.Since(start); took > 5*time.Second || !bytes.Contains(body, []byte("ringex_consumer_lag")) {
			t.Fatalf("a scrape with the engine held took %v", took)
		}
	}
	release()
	waitForMetric(t, addrs.Admin, `ringex_book_levels{instrument="`+in.Symbol+`",side="bid"} 1`)
}

// The config refuses prices and quantities the engine would refuse every
// order for (ReasonOverflow), at the engine's own caps.
func TestConfigCapsAreTheEngines(t *testing.T) {
	for _, c := range []struct {
		tick, lot int64
		ok        bool
	}{{engine.MaxPrice, 1, true}, {engine.MaxPrice + 1, 1, false}, {1, engine.MaxQuantity, true}, {1, engine.MaxQuantity + 1, false}} {
		cfg := config.Default()
		cfg.Instruments[0].TickSize, cfg.Instruments[0].LotSize = c.tick, c.lot
		cfg.Instruments[0].ReferencePrice, cfg.Instruments[0].PriceBandTicks = 0, 0
		if err := cfg.Validate(); (err == nil) != c.ok {
			t.Errorf("tick %d, lot %d: %v, want valid %v", c.tick, c.lot, err, c.ok)
		}
	}
}

// Recovery falls back past damaged snapshots; one that lands on a
// snapshot of rules A, with the inputs after it decided under B and the
// config back at A, refuses (ErrRulesChanged) — the fallback snapshot
// agreeing with the config, it replayed the inputs of B under A. Here
// the snapshots of the change and of the last start are damaged: in
// their payloads, or in their headers (a bad first sector), where the
// rules are — a start under changed rules writes a rules mark beside the
// snapshot it rewrites, so the change is still known. (Before the mark,
// header damage made the rules unknown, a warning only, and the order B
// refused came to life.) The refusal names the record's file and the
// remedy.
func TestRecoveryPastDamageAcrossRulesChangedAndBack(t *testing.T) {
	for _, damage := range []struct {
		name string
		at   func(size int) int
	}{
		{"payload", func(size int) int { return size - 6 }},
		{"header", func(int) int { return 0 }},
	} {
		t.Run(damage.name, func(t *testing.T) { recoverPastDamagedRulesChange(t, damage.at) })
	}
}

// recoverPastDamagedRulesChange is TestRecoveryPastDamageAcrossRulesChangedAndBack
// with the byte at(size) of each damaged snapshot flipped.
func recoverPastDamagedRulesChange(t *testing.T, at func(size int) int) {
	dir := t.TempDir()
	cfg := func(maxOpen int64) *config.Config {
		c := testConfig(t, dir)
		c.Snapshot.Keep = 3
		c.Snapshot.JournalRetention = config.RetentionKeep
		if maxOpen > 0 {
			c.Accounts[3].MaxOpenOrders = maxOpen
		}
		return c
	}
	in := cfg(0).Instruments[0]
	run := func(c *config.Config, snapAfter uint64, ids ...uint64) {
		t.Helper()
		n, addrs, _ := startNode(t, c)
		cl := dial(t, addrs.Gateway, 4)
		for _, id := range ids {
			cl.NewOrder(limit(id, wire.SideBuy, in.ReferencePrice-int64(id)*in.TickSize, 1))
			next(t, cl, func(m client.Message) bool { return m.Type == wire.MessageExecutionReport })
			if id == snapAfter {
				waitSnapshot(t, n)
			}
		}
		cl.Close()
		if err := n.Stop(); err != nil {
			t.Fatal(err)
		}
	}
	run(cfg(0), 2, 1, 2, 3) // A: a snapshot after the second order, one at the stop
	run(cfg(3), 0, 4)       // B: that one rewritten; the fourth order refused; one at the stop
	run(cfg(0), 0)          // A: that one rewritten
	snaps, _ := snapshot.OpenStore(cfg(0).SnapshotDir(), nil)
	recs, err := snaps.RulesBetween(0, 1<<62)
	a, b := EngineConfig(cfg(0)).Fingerprint(), EngineConfig(cfg(3)).Fingerprint()
	if err != nil || len(recs) != 3 || recs[0].Rules != a || recs[1].Rules != b || recs[2].Rules != a {
		t.Fatalf("snapshots after 0: %+v (%v), want rules A, B, A", recs, err)
	}
	for _, r := range recs[1:] {
		p := filepath.Join(cfg(0).SnapshotDir(), fmt.Sprintf("%020d.snap", r.Seq))
		b, _ := os.ReadFile(p)
		b[at(len(b))] ^= 1
		os.WriteFile(p, b, 0o644)
	}
	if n, _, err := New(cfg(0), zerolog.Nop()); !errors.Is(err, ErrRulesChanged) {
		if err == nil {
			n.Stop()
		}
		t.Fatalf("recovery from the snapshot of A at 2, across inputs decided under B: %v, want ErrRulesChanged", err)
	} else if !strings.Contains(err.Error(), cfg(0).SnapshotDir()) || !strings.Contains(err.Error(), "backup") {
		// The refusal names the record's file and what to do.
		t.Fatalf("refused without naming the record's file or the remedy: %v", err)
	}
}

// snapshot.keep 2 "so a damaged newest one still leaves a good one": a
// data directory's first snapshot (here a clean stop's) is its only one
// besides the empty state of input 0, and the journal segments before it
// were archived at once (Prune returned it as the oldest kept): damaged,
// the node could not start — the snapshot of input 0 needs the journal
// from input 1. Prune retires nothing until keep snapshots verify.
func TestDamagedFirstSnapshotFallsBackToInputZero(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	in := cfg.Instruments[0]
	n, a, _ := startNode(t, cfg)
	mm := dial(t, a.Gateway, 3)
	restBids(t, mm, in, 1, 12000) // more than one 1 MiB segment
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	seqs, _ := n.snaps.List()
	arch, _ := filepath.Glob(filepath.Join(cfg.ArchiveDir(), "*.journal"))
	t.Logf("snapshots %v, archived %v", seqs, arch)
	damageSnapshot(t, cfg, seqs[len(seqs)-1]) // a bad sector in the newest snapshot
	n2, rec, err := New(cfg, zerolog.Nop())
	if err != nil {
		t.Fatalf("with the newest of keep=2 snapshots damaged the node does not start: %v", err)
	}
	defer n2.discard()
	if rec.LastSeq != 12000 {
		t.Fatalf("recovered %+v", rec)
	}
}

// A data directory whose state is only in snapshots — a cluster member
// that installed one has an empty journal after it — and none of them
// restores is not a fresh one: the node refuses to start (ErrStateLost)
// rather than open an empty exchange over every order and position it
// held. Before, it started empty and wrote a snapshot of input 0.
func TestDamagedSnapshotsWithNoJournalRefuse(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	in := cfg.Instruments[0]
	n, a, _ := startNode(t, cfg)
	restBids(t, dial(t, a.Gateway, 3), in, 1, 50)
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(cfg.JournalDir()); err != nil { // as an installed snapshot leaves it: nothing after
		t.Fatal(err)
	}
	seqs, _ := n.snaps.List()
	for _, seq := range seqs {
		damageSnapshot(t, cfg, seq)
	}
	n2, rec, err := New(cfg, zerolog.Nop())
	if err == nil {
		n2.discard()
		t.Fatalf("started from %d damaged snapshots and no journal: %+v, want ErrStateLost", len(seqs), rec)
	}
	if !errors.Is(err, ErrStateLost) {
		t.Fatalf("%v, want ErrStateLost", err)
	}
	if after, _ := n.snaps.List(); !slices.Equal(after, seqs) {
		t.Fatalf("snapshots %v after the refused start, were %v", after, seqs)
	}
}

// A data directory left by a build before 2026-12-03 (fb6c8b4 here)
// holds a journal and no snapshot, even after a clean stop. In
// testdata/pre-20261203 fb6c8b4 journaled: input 1, account 1 sells
// 0.0010 BTC at 60 500; input 2, account 2 (max_notional 60 000 000) buys
// 0.0010 at market, which fb6c8b4 (notional at the reference price)
// accepted and traded. This build replayed it under its own engine,
// refused input 2 (max-notional) and brought the filled sell back to
// life. It refuses the journal now (ErrRulesUnrecorded), as it refuses
// one whose snapshot records other rules.
func TestJournalWithoutRulesIsNotReplayed(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join("testdata", "pre-20261203", "journal", "00000000000000000001.journal")
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "journal"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "journal", filepath.Base(src)), b, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, dir)
	cfg.Accounts[1].MaxNotional = 60_000_000 // the config fb6c8b4 ran with
	n, rec, err := New(cfg, zerolog.Nop())
	if err == nil {
		n.discard()
		t.Fatalf("recovered %+v from a journal of unknown rules (%d live orders), want ErrRulesUnrecorded", rec, n.eng.LiveOrders())
	}
	if !errors.Is(err, ErrRulesUnrecorded) {
		t.Fatalf("%v, want ErrRulesUnrecorded", err)
	}
}

// A damaged snapshot of input 0 alone, with an empty journal, held the
// empty state: nothing is lost, and the node starts as on a fresh
// directory (writing that snapshot again), not refusing ErrStateLost.
func TestDamagedSnapshotOfInputZeroAloneStarts(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, _, _ := startNode(t, cfg)
	if err := n.Stop(); err != nil { // nothing traded: the snapshot of input 0 only
		t.Fatal(err)
	}
	if seqs, _ := n.snaps.List(); !slices.Equal(seqs, []int64{0}) {
		t.Fatalf("snapshots %v after a start and stop with no input, want [0]", seqs)
	}
	damageSnapshot(t, cfg, 0)
	n2, rec, err := New(cfg, zerolog.Nop())
	if err != nil {
		t.Fatalf("a damaged snapshot of input 0 and an empty journal: %v", err)
	}
	defer n2.discard()
	if rec.LastSeq != 0 {
		t.Fatalf("recovered %+v", rec)
	}
}

// damageSnapshot flips a byte in the middle of cfg's snapshot of input
// seq: a bad sector.
func damageSnapshot(t *testing.T, cfg *config.Config, seq int64) {
	t.Helper()
	path := filepath.Join(cfg.SnapshotDir(), fmt.Sprintf("%020d.snap", seq))
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Both kept snapshots damaged (the defaults: keep 2, journal_retention
// archive): recovery falls back to the snapshot of input 0, kept for
// this, and replays the journal's start from the archive, as ringex
// replay and resends read it — to exactly the state the node stopped in.
// Before, recovery did not read the archive and refused with a bare
// "the journal does not hold the inputs to start from", no advice.
func TestDamagedKeptSnapshotsRecoverThroughTheArchive(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	in := cfg.Instruments[0]
	n, a, _ := startNode(t, cfg)
	mm := dial(t, a.Gateway, 3)
	restBids(t, mm, in, 1, 6000)
	waitSnapshot(t, n)
	restBids(t, mm, in, 6001, 12000)
	waitSnapshot(t, n)
	restBids(t, mm, in, 12001, 18000)
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	seqs, _ := n.snaps.List()
	arch, _ := filepath.Glob(filepath.Join(cfg.ArchiveDir(), "*.journal"))
	if len(arch) == 0 || len(seqs) != 3 || seqs[0] != 0 {
		t.Fatalf("setup: snapshots %v and %d archived segments, want 0 and two more, and an archive", seqs, len(arch))
	}
	for _, s := range seqs[1:] { // the two kept: a failing snapshot disk
		damageSnapshot(t, cfg, s)
	}
	n2, rec, err := New(cfg, zerolog.Nop())
	if err != nil {
		t.Fatalf("refused though snapshot 0 restores and the archive and journal hold every input: %v", err)
	}
	defer n2.discard()
	if rec.Hash != n.Final().Hash || rec.LastSeq != n.Final().LastSeq || rec.SnapshotSeq != 0 {
		t.Fatalf("recovered %+v, the node stopped at %+v", rec, n.Final())
	}
}

// The one kept snapshot (keep 1) damaged, and the journal down to a
// single segment that holds no record: the roll to input L+1 made its
// header durable, the snapshot of L retired the segment holding L, and
// the power went before L+1's batch was. Recovery falls back to the
// snapshot of input 0 and replays from input 1 — reading, from an
// archive, every input to L and the exact state; with the segments
// deleted, refusing ErrStateLost. Before, the replay met no record at all,
// so nothing refused: the node started an empty exchange at input L+1,
// every order and position forgotten.
func TestDamagedSnapshotWithAnEmptyLastSegment(t *testing.T) {
	for _, retention := range []string{"archive", "delete"} {
		t.Run(retention, func(t *testing.T) {
			cfg := testConfig(t, t.TempDir())
			for k, v := range map[string]string{"snapshot.keep": "1", "snapshot.journal_retention": retention} {
				if err := cfg.Set(k, v); err != nil {
					t.Fatal(err)
				}
			}
			n, a, _ := startNode(t, cfg)
			restBids(t, dial(t, a.Gateway, 3), cfg.Instruments[0], 1, 12000)
			if err := n.Stop(); err != nil {
				t.Fatal(err)
			}
			final := n.Final()
			segs, _ := filepath.Glob(filepath.Join(cfg.JournalDir(), "*.journal"))
			// The roll's segment: the header naming input L+1 (with the
			// journal's cluster id, as the journal writes it), then the
			// preallocated zeros.
			st, err := journal.Inspect(cfg.JournalDir(), nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			scratch := t.TempDir()
			sj, _, err := journal.Open(scratch, journal.Options{SegmentBytes: cfg.Journal.SegmentBytes, ID: st.ID})
			if err != nil {
				t.Fatal(err)
			}
			err = sj.BeginAt(final.LastSeq + 1)
			sj.Close()
			if err != nil {
				t.Fatal(err)
			}
			roll, err := os.ReadFile(filepath.Join(scratch, journal.SegmentName(final.LastSeq+1)))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(cfg.JournalDir(), journal.SegmentName(final.LastSeq+1)), roll, 0o644); err != nil {
				t.Fatal(err)
			}
			for _, seg := range segs { // the retention of the snapshot of L (keep 1)
				if retention == "archive" {
					os.MkdirAll(cfg.ArchiveDir(), 0o755)
					err = os.Rename(seg, filepath.Join(cfg.ArchiveDir(), filepath.Base(seg)))
				} else {
					err = os.Remove(seg)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			damageSnapshot(t, cfg, final.LastSeq) // the one kept snapshot: a bad sector

			n2, rec, err := New(cfg, zerolog.Nop())
			if retention == "delete" {
				if err == nil {
					n2.discard()
					t.Fatalf("started at %+v with no input before %d and no snapshot restoring, want ErrStateLost", rec, final.LastSeq+1)
				}
				if !errors.Is(err, ErrStateLost) || !strings.Contains(err.Error(), cfg.ArchiveDir()) {
					t.Fatalf("refused with %v, want ErrStateLost naming where the missing segments go", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("refused though snapshot 0 restores and the archive holds every input: %v", err)
			}
			defer n2.discard()
			if rec.Hash != final.Hash || rec.LastSeq != final.LastSeq {
				t.Fatalf("recovered %+v, the node stopped at %+v", rec, final)
			}
		})
	}
}

// A node whose config names no cluster refuses a cluster member's data
// directory (raft state in <data_dir>/raft): started alone it would take
// orders apart from its cluster, from a journal that may lack inputs the
// cluster committed. Moved aside, the copy starts alone.
func TestStandaloneRefusesAMembersDataDir(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	if err := os.MkdirAll(filepath.Join(cfg.Node.DataDir, "raft"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfg.Node.DataDir, "raft", "stable"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if n, _, err := New(cfg, zerolog.Nop()); !errors.Is(err, ErrMemberDataDir) {
		if err == nil {
			n.discard()
		}
		t.Fatalf("a member's data directory started without a cluster: %v, want ErrMemberDataDir", err)
	}
	if err := os.Rename(filepath.Join(cfg.Node.DataDir, "raft"), filepath.Join(t.TempDir(), "raft")); err != nil {
		t.Fatal(err)
	}
	n, _, err := New(cfg, zerolog.Nop())
	if err != nil {
		t.Fatalf("with raft/ moved aside: %v", err)
	}
	n.discard()
}

// setConfig sets each key of settings in cfg (cfg.Set), failing the test
// on the first it refuses.
func setConfig(t testing.TB, cfg *config.Config, settings map[string]string) {
	t.Helper()
	for k, v := range settings {
		if err := cfg.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
}
