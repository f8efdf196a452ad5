package gateway

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/client"
	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// failingListener fails its first fails Accepts the way the kernel does
// when the process is out of descriptors, then accepts.
type failingListener struct {
	net.Listener
	fails atomic.Int32
}

func (l *failingListener) Accept() (net.Conn, error) {
	if l.fails.Add(-1) >= 0 {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.Addr(), Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	return l.Listener.Accept()
}

func TestAcceptRetriesUntilClosed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fl := &failingListener{Listener: ln}
	fl.fails.Store(3)
	go func() {
		if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
			c.Close()
		}
	}()
	conn, err := Accept(fl, zerolog.Nop(), "test")
	if err != nil {
		t.Fatalf("three EMFILEs, then a connection: %v", err)
	}
	conn.Close()
	ln.Close()
	if _, err := Accept(fl, zerolog.Nop(), "test"); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("closed listener: %v", err)
	}
}

// A failed accept — the process out of descriptors for a moment — does
// not end the order-entry port: the next client logs on.
func TestGatewaySurvivesAFailedAccept(t *testing.T) {
	g, err := New(Config{Listen: "127.0.0.1:0", Accounts: []Account{{ID: 1, Secret: "one"}}}, newFakeRing())
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Listen(); err != nil {
		t.Fatal(err)
	}
	fl := &failingListener{Listener: g.ln}
	fl.fails.Store(1)
	g.ln = fl
	served := make(chan error, 1)
	go func() { served <- g.Serve() }()
	c, err := client.Dial(g.Addr().String(), 1, "one", client.Options{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatalf("logon after a failed accept: %v", err)
	}
	c.Close()
	g.Close()
	if err := <-served; err != nil {
		t.Fatalf("Serve after Close: %v", err)
	}
}

// One address holds at most MaxConnectionsPerAddress connections, logged
// on or not: the next is refused TooManyConnections, while the address's
// session goes on and another address logs on, and the address gets its
// room back as its connections close.
func TestConnectionsPerAddress(t *testing.T) {
	g, ring := startGateway(t, Config{MaxConnectionsPerAddress: 3, HeartbeatTimeout: 10 * time.Second})
	var silent []net.Conn
	for range 2 { // connected, never logged on
		c, err := net.Dial("tcp", g.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		silent = append(silent, c)
	}
	gw := g.Addr().String()
	ok, why, session := testkit.LogonFrom(t, gw, "127.0.0.1", 1, "one")
	if !ok {
		t.Fatalf("third connection of the address: %v", why)
	}
	if ok, why, _ := testkit.LogonFrom(t, gw, "127.0.0.1", 1, "one"); ok || why != wire.LogonRejectReasonTooManyConnections {
		t.Fatalf("fourth connection of the address: %v %v", ok, why)
	}
	if n := g.Counters.Disconnects[CauseMaxPerAddress].Load(); n != 1 {
		t.Fatalf("%d refused per address, want 1", n)
	}
	if ok, why, _ := testkit.LogonFrom(t, gw, "127.0.0.2", 1, "one"); !ok {
		t.Fatalf("another address: %v", why)
	}
	// The refusal cost the address nothing it held: its session's order
	// reaches the ring, under the session's account.
	if _, err := session.Write(proto.NewEncoder().NewOrder(2, order(1))); err != nil {
		t.Fatalf("the address's session, after its fourth connection was refused: %v", err)
	}
	if f := ring.waitFor(t, 1); f[0].account != 1 || f[0].typ != wire.MessageNewOrder {
		t.Fatalf("the address's session's order: %+v", f[0])
	}
	silent[0].Close()
	awaitLogonAcked(t, gw, "127.0.0.1", 1, "one", "the address, after a connection closed,")
}

// One account has at most MaxSessionsPerAccount sessions logged on, from
// any addresses: the next logon is refused TooManySessions while its
// live sessions go on, another account logs on, and the account gets its
// room back as a session ends. (The message rates are per session: an
// account opening sessions without bound multiplied them.)
func TestSessionsPerAccount(t *testing.T) {
	g, _ := startGateway(t, Config{MaxSessionsPerAccount: 2, HeartbeatTimeout: 10 * time.Second})
	gw := g.Addr().String()
	_, _, first := testkit.LogonFrom(t, gw, "127.0.0.1", 1, "one")
	if ok, why, _ := testkit.LogonFrom(t, gw, "127.0.0.2", 1, "one"); !ok {
		t.Fatalf("the account's second session: %v", why)
	}
	if ok, why, _ := testkit.LogonFrom(t, gw, "127.0.0.3", 1, "one"); ok || why != wire.LogonRejectReasonTooManySessions {
		t.Fatalf("the account's third session: %v %v", ok, why)
	}
	if n := g.Counters.Disconnects[CauseMaxPerAccount].Load(); n != 1 {
		t.Fatalf("%d refused per account, want 1", n)
	}
	if ok, why, _ := testkit.LogonFrom(t, gw, "127.0.0.1", 2, "two"); !ok {
		t.Fatalf("another account: %v", why)
	}
	first.Close()
	awaitLogonAcked(t, gw, "127.0.0.3", 1, "one", "the account, after a session ended,")
}

// At most maxRefusing connections are refused at once (each may take a
// second: a peer that reads nothing); beyond, a connection is closed
// unanswered at once, so a flood holds no descriptors past the limits.
func TestRefusalsAreBounded(t *testing.T) {
	r := NewRefuser(new(atomic.Int64))
	const n = maxRefusing + 36
	peers := make([]net.Conn, n)
	for i := range n {
		ours, theirs := net.Pipe() // a write waits for a read that never comes
		peers[i] = theirs
		r.Refuse(ours)
	}
	closedAtOnce := 0
	for _, p := range peers {
		p.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		if _, err := p.Read(make([]byte, 1)); errors.Is(err, io.EOF) {
			closedAtOnce++
		}
	}
	if closedAtOnce != n-maxRefusing {
		t.Fatalf("%d of %d closed unanswered, want %d", closedAtOnce, n, n-maxRefusing)
	}
	r.Wait() // the rest within their second
	for _, p := range peers {
		p.Close()
	}
}

// Connections that never send a Logon hold a slot only until a client
// needs it: with every slot taken, a logon closes the oldest of them —
// told TooManyConnections — instead of being refused, so connections
// sitting on the logon deadline (read_timeout) from a few addresses
// cannot keep every client out. Logged-on sessions are never closed for
// room: with every slot logged on, the next connection is refused.
//
// On a TLS port the same slots bound the handshakes (each runs on its
// connection's reader, within read_timeout): connections that never send
// their hello make room for a TLS logon the same way — the oldest closed
// within a second, all it is told before its handshake — and with every
// slot logged on a TLS client is refused TooManyConnections, its
// handshake run by the refusal, while the session logged on first
// trades on.
func TestIdleConnectionsMakeRoomForALogon(t *testing.T) {
	cert, pool := selfSigned(t)
	for _, tc := range []struct {
		name   string
		server *tls.Config
		client *tls.Config
	}{
		{"plain", nil, nil},
		{"TLS", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
			&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, ring := startGateway(t, Config{MaxConnections: 3, HeartbeatTimeout: 10 * time.Second, TLS: tc.server})
			gw := g.Addr().String()
			opts := client.Options{AutoFlush: true, TLS: tc.client}
			session, err := client.Dial(gw, 1, "one", opts)
			if err != nil {
				t.Fatal(err)
			}
			defer session.Close()
			var idle []net.Conn
			for range 2 { // connected, never logged on (on the TLS port: no hello)
				c, err := net.Dial("tcp", gw)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				idle = append(idle, c)
			}
			c, err := client.Dial(gw, 2, "two", opts)
			if err != nil {
				t.Fatalf("logon with the other slots held by connections that never logged on: %v", err)
			}
			defer c.Close()
			idle[0].SetReadDeadline(time.Now().Add(5 * time.Second))
			payload, err := proto.NewFrameReader(idle[0], 4096).Next()
			switch {
			case tc.server != nil:
				if err == nil || isTimeout(err) {
					t.Fatalf("the oldest connection, in its handshake: %v, want it closed", err)
				}
			case err != nil:
				t.Fatalf("the oldest idle connection: %v, want a LogonReject", err)
			default:
				if typ, pos, err := proto.Verify(payload); err != nil || typ != wire.MessageLogonReject ||
					proto.LogonRejectAt(payload, pos) != wire.LogonRejectReasonTooManyConnections {
					t.Fatalf("the oldest idle connection was sent %v (%v), want LogonReject TooManyConnections", typ, err)
				}
			}
			c2, err := client.Dial(gw, 1, "one", opts)
			if err != nil {
				t.Fatalf("logon with the last idle connection holding a slot: %v", err)
			}
			defer c2.Close()
			// Every slot logged on, or being closed: refused as before.
			if _, err := client.Dial(gw, 1, "one", opts); !errors.Is(err, client.ErrTooManyConnections) {
				t.Fatalf("logon with every slot logged on: %v, want TooManyConnections", err)
			}
			if err := session.NewOrder(order(1)); err != nil {
				t.Fatal(err)
			}
			if f := ring.waitFor(t, 1); f[0].account != 1 {
				t.Fatalf("the first session's order: %+v", f[0])
			}
		})
	}
}
