package gateway

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/ringex/ringex/proto"
)

// firstWrapped hands out its first connection as wrap makes it, the
// rest as they come. Only the gateway's Serve calls Accept.
type firstWrapped struct {
	net.Listener
	wrap func(net.Conn) net.Conn // nil once used
}

func (l *firstWrapped) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if err != nil || l.wrap == nil {
		return conn, err
	}
	wrap := l.wrap
	l.wrap = nil
	return wrap(conn), nil
}

// heldConn is a connection whose gateway's first read waits until the
// test releases it, and then returns what the test scripted — whatever
// the socket holds, and whatever its read deadline says by then.
type heldConn struct {
	net.Conn
	reading chan struct{} // closed once the gateway's first read waits
	release chan struct{}
	data    []byte // the first read's bytes; then EOF
	read    bool
}

func (c *heldConn) Read(p []byte) (int, error) {
	if c.read {
		return 0, io.EOF
	}
	c.read = true
	close(c.reading)
	<-c.release
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	return copy(p, c.data), nil
}

// awaitEvicting waits, at most 5 s, until n connections of g are
// evicted and their readers not yet gone.
func awaitEvicting(t *testing.T, g *Gateway, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		g.awaiting.mu.Lock()
		evicting := g.awaiting.evicting
		g.awaiting.mu.Unlock()
		if evicting == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections evicted, want %d", evicting, n)
		}
	}
}

// An evicted connection whose read ended at the moment of its eviction
// is counted for what it read: its Logon frame's bytes are in BytesIn
// (ringex_bytes_in_total, "their logon frames included") and it is told
// TooManyConnections (max_connections); one whose client was gone (EOF)
// is counted as such a connection is when nobody needs its slot
// (logon_failed), not as evicted. Before, the Logon's bytes were not
// counted, and the EOF was counted max_connections.
func TestEvictedConnectionCountedForWhatItRead(t *testing.T) {
	logon := append([]byte(nil), proto.NewEncoder().Logon(1, 1, "one")...)
	for _, tc := range []struct {
		name  string
		data  []byte
		cause Cause
		bytes int64
	}{
		{"logon", logon, CauseMaxConnections, int64(len(logon))},
		{"eof", nil, CauseLogonFailed, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := New(Config{Listen: "127.0.0.1:0", MaxConnections: 1, HeartbeatTimeout: 10 * time.Second,
				Accounts: []Account{{ID: 1, Secret: "one"}}}, newFakeRing())
			if err != nil {
				t.Fatal(err)
			}
			if err := g.Listen(); err != nil {
				t.Fatal(err)
			}
			held := &heldConn{reading: make(chan struct{}), release: make(chan struct{}), data: tc.data}
			g.ln = &firstWrapped{Listener: g.ln, wrap: func(c net.Conn) net.Conn { held.Conn = c; return held }}
			go g.Serve()
			t.Cleanup(g.Close)
			first, err := net.Dial("tcp", g.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer first.Close()
			select {
			case <-held.reading:
			case <-time.After(5 * time.Second):
				t.Fatal("the first connection's reader never read")
			}
			// The second connection, over max_connections, evicts the
			// first, still reading for its Logon.
			second, err := net.Dial("tcp", g.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer second.Close()
			awaitEvicting(t, g, 1)
			close(held.release) // its read returns: the Logon, or EOF
			for deadline := time.Now().Add(5 * time.Second); g.Counters.Disconnects[tc.cause].Load() == 0; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("the evicted connection not counted %s (max_connections %d, logon_failed %d)", tc.cause,
						g.Counters.Disconnects[CauseMaxConnections].Load(), g.Counters.Disconnects[CauseLogonFailed].Load())
				}
			}
			wantCountedOnce(t, g, tc.cause, CauseMaxConnections, CauseLogonFailed)
			if n := g.Counters.BytesIn.Load(); n != tc.bytes {
				t.Errorf("BytesIn %d, want %d (what the evicted connection read)", n, tc.bytes)
			}
		})
	}
}
