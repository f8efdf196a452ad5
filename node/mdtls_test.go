package node

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/proto/wire"
	"github.com/rs/zerolog"
)

// mdTLSConfig is testConfig with marketdata.tls set to a certificate for
// 127.0.0.1, and the client TLS that trusts it.
func mdTLSConfig(t *testing.T) (*config.Config, *tls.Config) {
	t.Helper()
	ca := testkit.NewCA(t, "marketdata")
	certFile, keyFile, _ := ca.WriteFiles(t, t.TempDir(), ca.Issue(t, "node", net.IPv4(127, 0, 0, 1)))
	cfg := testConfig(t, t.TempDir())
	setConfig(t, cfg, map[string]string{"marketdata.tls.cert_file": certFile, "marketdata.tls.key_file": keyFile})
	return cfg, &tls.Config{RootCAs: ca.Pool, MinVersion: tls.VersionTLS12}
}

// silentPlain connects to addr over plain TCP and says nothing: to a TLS
// port, a handshake that never starts.
func silentPlain(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedWithin fails unless the node closes c within d.
func closedWithin(t *testing.T, c net.Conn, d time.Duration, what string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	var buf [512]byte
	for {
		_, err := c.Read(buf[:])
		if err == nil {
			continue
		}
		if ne := net.Error(nil); errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("%s still open after %v", what, d)
		}
		return
	}
}

// With marketdata.tls the port serves a subscriber over TLS — its Logon,
// with marketdata.require_logon, no longer crossing the network in
// clear — and every update reaches it in order. A plain-TCP client's
// Logon is never read: its connection is closed, counted tls-handshake
// (it was counted malformed, with clients' oversize frames).
func TestMarketDataTLS(t *testing.T) {
	cfg, clientTLS := mdTLSConfig(t)
	cfg.Set("marketdata.require_logon", "true")
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	feed := newMDFeedCheck(t, cfg, addrs.Gateway)
	streaming, err := client.DialMarketDataLogon(addrs.MarketData, 1, cfg.Accounts[0].Secret, client.Options{AutoFlush: true, TLS: clientTLS})
	if err != nil {
		t.Fatalf("market-data logon over TLS: %v", err)
	}
	defer streaming.Close()
	subscribed(t, streaming)
	feed.more(streaming)

	if c, err := client.DialMarketDataLogon(addrs.MarketData, 1, cfg.Accounts[0].Secret, client.Options{AutoFlush: true, Timeout: 5 * time.Second}); err == nil {
		c.Close()
		t.Fatal("a plain-TCP Logon to the TLS port was answered")
	}
	waitUntil(t, func() bool { return n.mdHub.closed[mdTLSHandshake].Load() == 1 && n.mdHub.served() == 1 })
	wantClosed(t, n, mdMalformed, 0)
	feed.more(streaming)
	feed.more(streaming)
}

// A client that never starts its TLS handshake — plain TCP, silent — is
// closed at gateway.read_timeout (idle) and its slot given back, while a
// TLS subscriber as silent, following an instrument, is served on
// (heartbeats). Without a bound it held one of marketdata.max_connections.
func TestMarketDataTLSHandshakeBounded(t *testing.T) {
	cfg, clientTLS := mdTLSConfig(t)
	setConfig(t, cfg, map[string]string{"gateway.heartbeat_interval": "250ms", "gateway.read_timeout": "1s"})
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	sub, err := client.DialMarketData(addrs.MarketData, client.Options{AutoFlush: true, TLS: clientTLS})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	subscribed(t, sub)
	silent := silentPlain(t, addrs.MarketData)
	waitUntil(t, func() bool { return n.mdHub.served() == 2 })
	closedWithin(t, silent, 10*time.Second, "a silent plain-TCP connection to the TLS port")
	waitUntil(t, func() bool { return n.mdHub.served() == 1 })
	wantClosed(t, n, mdIdle, 1)
	wantClosed(t, n, mdEvicted, 0)
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); { // two read timeouts
		if m := next(t, sub, func(client.Message) bool { return true }); m.Type != wire.MessageHeartbeat {
			t.Fatalf("silent subscriber of a quiet market sent %s", wire.EnumNamesMessage[m.Type])
		}
	}
	if n.mdHub.served() != 1 {
		t.Fatalf("%d served, want the TLS subscriber", n.mdHub.served())
	}
}

// A connection still in its TLS handshake holds a slot as one that has
// not logged on does: a connection beyond marketdata.max_connections
// evicts it at once — well before gateway.read_timeout (30 s here) — and
// is served; the streaming subscriber sees nothing of it.
func TestMarketDataTLSEvictsAStalledHandshake(t *testing.T) {
	cfg, clientTLS := mdTLSConfig(t)
	setConfig(t, cfg, map[string]string{"marketdata.max_connections": "2", "gateway.read_timeout": "30s"})
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	feed := newMDFeedCheck(t, cfg, addrs.Gateway)
	dialTLS := func() *client.Client {
		c, err := client.DialMarketData(addrs.MarketData, client.Options{AutoFlush: true, TLS: clientTLS})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	streaming := subscribed(t, dialTLS())
	feed.more(streaming)

	stalled := silentPlain(t, addrs.MarketData)
	waitUntil(t, func() bool { return n.mdHub.served() == 2 })
	newcomer := subscribed(t, dialTLS())
	closedWithin(t, stalled, 10*time.Second, "the connection stalled in its handshake")
	wantClosed(t, n, mdEvicted, 1)
	feed.more(streaming, newcomer)
	waitUntil(t, func() bool { return n.mdHub.served() == 2 && n.mdHub.waiting.Listed() == 0 })

	// With both slots subscribed, one more is refused: told so over TLS.
	refused := dialTLS()
	m := next(t, refused, func(m client.Message) bool { return m.Type == wire.MessageLogonReject })
	if m.LogonReject != wire.LogonRejectReasonTooManyConnections {
		t.Fatalf("a connection over the limit: LogonReject %s", m.LogonReject)
	}
	feed.more(streaming, newcomer)
}

// A connection still in its TLS handshake when the node stops is
// closed at once and counted under shutdown — it was counted as a
// failed handshake (tls-handshake), which reads as a client or
// certificate problem.
func TestStopCountsAHandshakeItEnds(t *testing.T) {
	cfg, _ := mdTLSConfig(t)
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	silentPlain(t, addrs.MarketData)
	waitUntil(t, func() bool { return n.mdHub.served() == 1 })
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	wantClosed(t, n, mdTLSHandshake, 0)
	wantClosed(t, n, mdShutdown, 1) // Stop waited for its goroutine
}

// The "live" line says which ports speak TLS: an operator reading the
// start of the log saw the market-data port's address, not whether a
// subscriber must dial it with --tls.
func TestLiveLineNamesTheTLSPorts(t *testing.T) {
	cfg, _ := mdTLSConfig(t)
	var mu sync.Mutex
	var log bytes.Buffer
	n, _, err := New(cfg, zerolog.New(zerolog.SyncWriter(&lockedWriter{mu: &mu, w: &log})))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Start(); err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	mu.Lock()
	defer mu.Unlock()
	for _, line := range strings.Split(log.String(), "\n") {
		if strings.Contains(line, `"message":"live"`) {
			for _, want := range []string{`"gateway_tls":false`, `"marketdata_tls":true`, `"admin_tls":false`} {
				if !strings.Contains(line, want) {
					t.Fatalf("the live line lacks %s: %s", want, line)
				}
			}
			return
		}
	}
	t.Fatalf("no live line:\n%s", log.String())
}

// lockedWriter writes to w under mu, so that a test can read what a
// node logs from its goroutines.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
