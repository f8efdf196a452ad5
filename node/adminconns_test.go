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
		req, _ := http.NewRequest("GET", "http://"+addrs.Admin+"/healthz", nil) // no token needed; kept alive
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
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /healthz: %s", resp.Status)
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
