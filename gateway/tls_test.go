package gateway

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"testing"
	"time"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// selfSigned makes a certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	ca := testkit.NewCA(t, "ringex test")
	return ca.Issue(t, "ringex test", net.IPv4(127, 0, 0, 1)), ca.Pool
}

// With TLS configured, a TLS client logs on and trades; a plain-TCP client
// gets nothing through and its connection is closed, counted tls_handshake
// (it was logon_failed, with a client's wrong secrets).
func TestTLSListener(t *testing.T) {
	cert, pool := selfSigned(t)
	g, ring := startGateway(t, Config{HeartbeatTimeout: time.Second,
		TLS: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}})

	c, err := client.Dial(g.Addr().String(), 1, "one", client.Options{AutoFlush: true,
		TLS: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}})
	if err != nil {
		t.Fatalf("TLS logon: %v", err)
	}
	defer c.Close()
	c.NewOrder(order(7))
	f := ring.waitFor(t, 1)[0]
	if f.typ != wire.MessageNewOrder || f.account != 1 {
		t.Fatalf("published %+v", f)
	}

	// Plain TCP: the Logon bytes are not a TLS handshake.
	raw, err := net.Dial("tcp", g.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.Write(proto.NewEncoder().Logon(1, 1, "one"))
	raw.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 256)
	for {
		n, err := raw.Read(buf)
		if err != nil {
			break // closed by the server
		}
		if _, _, verr := proto.Verify(buf[min(n, proto.PrefixSize):n]); verr == nil && n > proto.PrefixSize {
			t.Fatal("plain-TCP client got a protocol answer from a TLS listener")
		}
	}
	time.Sleep(50 * time.Millisecond)
	if n := len(ring.waitFor(t, 1)); n != 1 {
		t.Fatalf("%d frames published; the plain client published something", n)
	}
	// Counted as what it was: a failed handshake, not a failed logon.
	awaitDisconnects(t, g, CauseTLSHandshake, 1)
	if n := g.Counters.Disconnects[CauseLogonFailed].Load(); n != 0 {
		t.Fatalf("logon_failed disconnects %d, want 0: the plain client never got to a Logon", n)
	}
}

// A client that refuses the port's certificate (it trusts no CA that
// signed it — or the certificate expired, or names another host) and a
// connection closed before its handshake ended (a port probe, a load
// balancer's TCP health check) are counted tls_handshake, as a plain-TCP
// client is — what an operator is told to look for when the count rises.
func TestTLSHandshakeFailuresCounted(t *testing.T) {
	cert, _ := selfSigned(t)
	g, _ := startGateway(t, Config{HeartbeatTimeout: 5 * time.Second,
		TLS: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}})

	untrusting, err := client.Dial(g.Addr().String(), 1, "one", client.Options{
		TLS: &tls.Config{RootCAs: x509.NewCertPool(), MinVersion: tls.VersionTLS12}})
	if err == nil {
		untrusting.Close()
		t.Fatal("a client trusting no CA of the port's certificate logged on")
	}
	awaitDisconnects(t, g, CauseTLSHandshake, 1)

	probe, err := net.Dial("tcp", g.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	probe.Close()
	awaitDisconnects(t, g, CauseTLSHandshake, 2)
	if n := g.Counters.Disconnects[CauseLogonFailed].Load(); n != 0 {
		t.Fatalf("logon_failed disconnects %d, want 0: neither got to a Logon", n)
	}
}

// A TLS port that refuses a connection (over a connection limit) does it
// off the accept loop and within a second: the refusal's write runs the
// TLS handshake, which read the client's hello with no deadline on the
// accept goroutine — one connection that sent nothing stopped the port
// from accepting anyone, for good.
func TestTLSRefusalDoesNotHoldTheAcceptLoop(t *testing.T) {
	cert, pool := selfSigned(t)
	g, _ := startGateway(t, Config{MaxConnectionsPerAddress: 1, HeartbeatTimeout: 10 * time.Second,
		TLS: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}})
	opts := client.Options{AutoFlush: true, Timeout: 3 * time.Second, TLS: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	first, err := client.Dial(g.Addr().String(), 1, "one", opts)
	if err != nil {
		t.Fatal(err)
	}
	silent, err := net.Dial("tcp", g.Addr().String()) // refused: the address has its one; sends no hello
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	// The port has accepted and refused it (a sleep here could let
	// first's close free the address's slot before the accept: the
	// silent one then held it for its 10 s logon timeout).
	for deadline := time.Now().Add(5 * time.Second); g.Counters.Disconnects[CauseMaxPerAddress].Load() == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the silent connection was never refused")
		}
	}
	first.Close()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		c, err := client.Dial(g.Addr().String(), 1, "one", opts)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no logon after the refused silent connection: %v", err)
		}
	}
}

// stalledReader is a connection whose reads never return: a TLS client
// on it sends its hello, then takes nothing of the server's answer.
type stalledReader struct {
	net.Conn
	stop chan struct{}
}

func (s stalledReader) Read([]byte) (int, error) { <-s.stop; return 0, net.ErrClosed }

// The logon's deadline bounds writes too: on a TLS port reading the logon
// runs the handshake, and a server flight larger than the socket buffers
// (a long certificate chain) to a client that sends its hello and never
// reads held the connection, and its slot, for ever — only a read deadline
// was set.
func TestTLSHandshakeToAClientThatNeverReadsEnds(t *testing.T) {
	cert, _ := selfSigned(t)
	// An 8 MiB chain entry: the server's flight cannot all fit in the
	// loopback socket buffers (the server sends its chain unchecked).
	cert.Certificate = append(cert.Certificate, make([]byte, 8<<20))
	g, _ := startGateway(t, Config{HeartbeatTimeout: time.Second,
		TLS: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}})
	raw, err := net.Dial("tcp", g.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	defer raw.Close()
	go tls.Client(stalledReader{raw, stop}, &tls.Config{InsecureSkipVerify: true}).Handshake()
	awaitAccepted(t, g)
	time.Sleep(200 * time.Millisecond) // the server is writing its flight
	for deadline := time.Now().Add(10 * time.Second); g.conns.Load() != 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the gateway still holds the connection 10 s into a handshake whose client never reads (%d open)", g.conns.Load())
		}
	}
}

// A connection silent until gateway.read_timeout before its Logon — on a
// TLS port one that never finishes its handshake, on a plain port one
// that never sends its Logon — is counted idle, as the market-data port
// counts one silent through its handshake: it offered no logon to fail.
// Before, order entry counted both logon_failed (the cause of wrong
// secrets), the market-data port idle.
func TestSilentBeforeLogonCountedIdle(t *testing.T) {
	cert, _ := selfSigned(t)
	for _, tc := range []struct {
		name string
		tls  *tls.Config
	}{
		{"TLS port, no handshake", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}},
		{"plain port, no Logon", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, _ := startGateway(t, Config{HeartbeatTimeout: 200 * time.Millisecond, TLS: tc.tls})
			silent, err := net.Dial("tcp", g.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer silent.Close()
			awaitDisconnects(t, g, CauseIdle, 1)
			if n, m := g.Counters.Disconnects[CauseLogonFailed].Load(), g.Counters.Disconnects[CauseTLSHandshake].Load(); n != 0 || m != 0 {
				t.Fatalf("logon_failed %d, tls_handshake %d, want 0: it was silent", n, m)
			}
		})
	}
}

// heldDeadline is a connection whose first SetDeadline — the reader's
// logon deadline, set as it begins — waits until the test releases it.
type heldDeadline struct {
	net.Conn
	setting chan struct{} // closed once the reader sets its deadline
	release chan struct{}
	held    bool
}

func (c *heldDeadline) SetDeadline(t time.Time) error {
	if !c.held {
		c.held = true
		close(c.setting)
		<-c.release
	}
	return c.Conn.SetDeadline(t)
}

// A TLS connection evicted before its reader set its logon deadline
// (the eviction's wake-up overwritten by it) is refused without a read:
// the LogonReject's write runs the handshake, which reads the client's
// hello. That read had the logon deadline, read_timeout — only the write
// was bounded — so a client that never sent its hello held its slot
// among the evicted (at most 64, then no more evictions: logons refused)
// for read_timeout, not the second a refusal takes.
func TestTLSConnectionEvictedBeforeItsReadIsClosedWithinASecond(t *testing.T) {
	cert, _ := selfSigned(t)
	held := &heldDeadline{setting: make(chan struct{}), release: make(chan struct{})}
	g, _ := startGatewayWrapping(t, Config{MaxConnections: 1, HeartbeatTimeout: time.Minute,
		TLS: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}},
		func(c net.Conn) net.Conn { held.Conn = c; return held })
	silent, err := net.Dial("tcp", g.Addr().String()) // sends no hello
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	select {
	case <-held.setting:
	case <-time.After(5 * time.Second):
		t.Fatal("the first connection's reader never began")
	}
	second, err := net.Dial("tcp", g.Addr().String()) // over max_connections: evicts the first
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	awaitEvicting(t, g, 1)
	close(held.release)
	silent.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := silent.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Fatalf("the evicted connection, silent before its handshake: %v 10 s on (read_timeout 1m), want it closed within the refusal's second", err)
	}
}
