package node

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"
)

// The admin port holds at most adminMaxConnections connections. Before,
// it held every connection it was given — one that got its 401 stayed
// open, idle, for a minute — so whoever reached the port, token or not,
// could take the process's file descriptors (LimitNOFILE 65536 in the
// systemd unit) from the gateway's clients and the journal's next
// segment: the other ports bound theirs (max_connections).
//
// Full, a new connection takes the slot of the one that has waited
// longest for a request: held idle — 64 keep-alive connections each
// asking /healthz, no token needed, within the idle minute — the slots
// kept the operator out for good. Only requests under way hold them.
func TestAdminPortBoundsItsConnections(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Set("admin.token", "t0ken-for-test-0123456789")
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	healthz, _ := http.NewRequest("GET", "http://"+addrs.Admin+"/healthz", nil) // no token needed; kept alive
	ask := func(c net.Conn) error {
		if err := healthz.Write(c); err != nil {
			return err
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), healthz)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return errors.New(resp.Status)
		}
		return nil
	}
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for range adminMaxConnections {
		c, err := net.Dial("tcp", addrs.Admin)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
		if err := ask(c); err != nil {
			t.Fatal(err)
		}
	}
	extra, err := net.Dial("tcp", addrs.Admin)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	extra.SetDeadline(time.Now().Add(10 * time.Second))
	if err := ask(extra); err != nil {
		t.Fatalf("a connection past %d idle ones: %v, want it served", adminMaxConnections, err)
	}
	// One of the held connections — the one idle longest, which the
	// test cannot name: net/http marks a connection idle after its
	// answer is written, racing the test's next dial — was closed to
	// make room; the others still serve.
	closed := 0
	for _, c := range held {
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if err := ask(c); err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("a held connection: %v, want it served or closed", err)
			}
			closed++
		}
	}
	if closed != 1 {
		t.Fatalf("%d of the %d idle connections closed for the new one, want 1", closed, adminMaxConnections)
	}
}

// limitListener full: a connection accepted takes the slot of the one
// waiting longest for a request; with every one under way, it waits for
// one to close. (Over HTTP, a request is under way only in its handler:
// net/http counts a connection active once it has read a whole header,
// and until then it is waiting, however few bytes it has sent.)
func TestLimitListenerTakesAWaitingConnectionsSlot(t *testing.T) {
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	waiting := newWaitingConns()
	ln := newLimitListener(tcp, 2, waiting)
	defer ln.Close()
	accept := func() <-chan net.Conn {
		got := make(chan net.Conn, 1)
		go func() {
			c, err := net.Dial("tcp", tcp.Addr().String())
			if err != nil {
				t.Error(err)
				return
			}
			t.Cleanup(func() { c.Close() })
			if sc, err := ln.Accept(); err == nil {
				got <- sc
			}
		}()
		return got
	}
	taken := func(got <-chan net.Conn, what string) net.Conn {
		return received(t, got, what+": not accepted in 10 s")
	}
	a, b := taken(accept(), "the first"), taken(accept(), "the second")
	waiting.track(a, http.StateIdle)
	waiting.track(b, http.StateActive)
	taken(accept(), "the third, one of two slots held idle")
	if _, err := a.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("the idle connection, full: %v; want it closed for the new one", err)
	}
	// Now b and the new one are under way.
	next := accept()
	select {
	case c := <-next:
		t.Fatalf("a connection accepted past 2 under way: %v", c.RemoteAddr())
	case <-time.After(time.Second):
	}
	b.Close()
	taken(next, "once one under way closed, the fourth")
}

// A request the admin port refuses — no or a wrong token, a Host that
// names no loopback address, another site's page — ends its connection:
// kept alive, it held one of the adminMaxConnections slots for the idle
// minute, and a client refused each time could hold them all.
func TestAdminRefusalClosesTheConnection(t *testing.T) {
	for _, token := range []string{"t0ken-for-test-0123456789", ""} {
		cfg := testConfig(t, t.TempDir())
		cfg.Set("admin.token", token)
		n, addrs, _ := startNode(t, cfg)
		for _, tc := range []struct {
			host   string
			header map[string]string
			want   int
		}{
			{"", map[string]string{"Authorization": "Bearer wrong-token-plugh"}, http.StatusUnauthorized},
			{"", map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
			{"rebound.example", nil, http.StatusForbidden},
		} {
			if token == "" && tc.want == http.StatusUnauthorized || token != "" && tc.host != "" {
				continue // no token to get wrong; with one, any Host is taken
			}
			req, _ := http.NewRequest("GET", "http://"+addrs.Admin+"/state", nil)
			req.Host = tc.host
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want || !resp.Close {
				t.Errorf("token %v, %+v: %s, connection closed %v; want %d and closed", token != "", tc, resp.Status, resp.Close, tc.want)
			}
		}
		n.Stop()
	}
}

// A write to an admin connection whose client does not read fails after
// adminWriteStall: a request is under way while its answer is written,
// and without a bound a client sending requests and reading none of the
// answers held its slot for good (64 of them, the port). A deadline
// net/http or TLS asked for is kept when earlier.
func TestAdminWriteToAClientNotReadingIsBounded(t *testing.T) {
	orig := adminWriteStall
	adminWriteStall = 200 * time.Millisecond
	defer func() { adminWriteStall = orig }()
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := newLimitListener(tcp, 2, newWaitingConns())
	defer ln.Close()
	client, err := net.Dial("tcp", tcp.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close() // never read
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	wrote := make(chan error, 1)
	go func() {
		chunk := make([]byte, 1<<20)
		for {
			if _, err := c.Write(chunk); err != nil {
				wrote <- err
				return
			}
		}
	}()
	var ne net.Error
	if err := received(t, wrote, "a write to a client not reading still blocked after 10 s"); !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("the write to a client not reading: %v, want a timeout", err)
	}
	other, err := net.Dial("tcp", tcp.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	c2, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	c2.SetWriteDeadline(time.Now().Add(-time.Second)) // asked, earlier than the stall
	if _, err := c2.Write([]byte("x")); err == nil {
		t.Fatal("a write past the deadline asked for went through")
	}
	c2.SetWriteDeadline(time.Time{}) // none asked: the stall alone
	if _, err := c2.Write([]byte("x")); err != nil {
		t.Fatalf("a write to a client with room: %v", err)
	}
}
