package node

import (
	"bufio"
	"net"
	"net/http"
	"testing"
	"time"
)

// The admin port holds at most adminMaxConnections connections; the next
// waits in the kernel's backlog (no file descriptor) until one closes.
// Before, it held every connection it was given — one that got its 401
// stayed open, idle, for a minute — so whoever reached the port, token or
// not, could take the process's file descriptors (LimitNOFILE 65536 in
// the systemd unit) from the gateway's clients and the journal's next
// segment: the other ports bound theirs (max_connections).
func TestAdminPortBoundsItsConnections(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Set("admin.token", "t0ken-for-test-0123456789")
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	ask := func(c net.Conn) (*http.Response, error) {
		req, _ := http.NewRequest("GET", "http://"+addrs.Admin+"/state", nil) // no token: 401, kept alive
		if err := req.Write(c); err != nil {
			return nil, err
		}
		return http.ReadResponse(bufio.NewReader(c), req)
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
		resp, err := ask(c)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("no token: %s", resp.Status)
		}
	}
	extra, err := net.Dial("tcp", addrs.Admin)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	answered := make(chan error, 1)
	go func() {
		resp, err := ask(extra)
		if err == nil {
			resp.Body.Close()
		}
		answered <- err
	}()
	// Never answered while the others are held, however long one waits;
	// the unbounded port answered at once.
	select {
	case err := <-answered:
		t.Fatalf("a connection past %d held ones was served (%v)", adminMaxConnections, err)
	case <-time.After(time.Second):
	}
	held[0].Close()
	if err := <-answered; err != nil {
		t.Fatalf("once a held connection closed, the waiting one: %v", err)
	}
}
