package node

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// A chunked request whose body is empty — its first chunk the last, of
// size 0, as a client streaming a body it turned out to have nothing
// for sends — is served: it was answered 413 as too large, though it
// carries nothing. The admin port takes no body at all, so the limit
// is 0 bytes: one byte in a chunk, just over it, is refused 413 and the
// connection closed, as is a chunked body that stalls before its first
// chunk (within bodyGrace, not for good).
func TestAdminServesAnEmptyChunkedBody(t *testing.T) {
	addr := startTokenNode(t)
	head := func(method, path string) string {
		return method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + adminTestToken + "\r\nTransfer-Encoding: chunked\r\n\r\n"
	}
	checkRawAnswers(t, addr, []rawCase{
		{"an empty chunked POST", head("POST", "/snapshot") + "0\r\n\r\n", http.StatusAccepted, "", false},
		{"an empty chunked GET", head("GET", "/ports") + "0\r\n\r\n", http.StatusOK, "", false},
		{"an empty chunked body with an extension and a trailer", head("GET", "/ports") + "0;x=y\r\nX-Trailer: 1\r\n\r\n", http.StatusOK, "", false},
		{"a chunked body of one byte", head("POST", "/snapshot") + "1\r\nx\r\n0\r\n\r\n", http.StatusRequestEntityTooLarge, "", true},
		{"a chunked body of one byte, unfinished", head("POST", "/snapshot") + "1\r\nx", http.StatusRequestEntityTooLarge, "", true},
		{"a chunked body that stalls before its first chunk", head("POST", "/snapshot"), http.StatusRequestEntityTooLarge, "", true},
	})
}

// "OPTIONS *" goes through the port's guard like every request: net/http
// answered it itself, 200, before any handler, having read up to 4 KiB
// of its body with no deadline — one whose body stalled held its
// connection, one of adminMaxConnections, for good, no token needed.
// Now its body is refused 413 within bodyGrace, and without one it is
// answered 401 without the token, like every request but a probe's, and
// with it 400 (ServeMux: no path to serve), and closed.
func TestAdminGuardsOptionsStar(t *testing.T) {
	checkRawAnswers(t, startTokenNode(t), []rawCase{
		{"OPTIONS * with a body that stalls", "OPTIONS * HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\nab", http.StatusRequestEntityTooLarge, "", true},
		{"OPTIONS * without a body", "OPTIONS * HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", http.StatusUnauthorized, "unauthorized", true},
		{"OPTIONS * with the token", "OPTIONS * HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + adminTestToken + "\r\n\r\n", http.StatusBadRequest, "", true},
	})
}

// adminTestToken is the admin token of startTokenNode's node.
const adminTestToken = "t0ken-for-test"

// startTokenNode starts a node whose admin port asks for adminTestToken,
// stopped when the test ends, and returns its admin address.
func startTokenNode(t *testing.T) string {
	t.Helper()
	cfg := testConfig(t, t.TempDir())
	cfg.Set("admin.token", adminTestToken)
	_, addrs, _ := startNode(t, cfg)
	return addrs.Admin
}

// rawCase is a request written as it is to the admin port, and the
// answer it wants: the status, the body (trimmed) unless body is "",
// and whether the node closes the connection after it.
type rawCase struct {
	name, request string
	status        int
	body          string
	closed        bool
}

// checkRawAnswers sends each case's request on a connection of its own
// to the admin port at addr (rawAdminRequest) and reports the answers
// that are not the ones wanted.
func checkRawAnswers(t *testing.T, addr string, cases []rawCase) {
	t.Helper()
	for _, c := range cases {
		resp, body, closed, err := rawAdminRequest(addr, c.request)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		body = strings.TrimSpace(body)
		if resp.StatusCode != c.status || c.body != "" && body != c.body || closed != c.closed {
			t.Errorf("%s: %s %q, connection closed %v; want %d %q, closed %v", c.name, resp.Status, body, closed, c.status, c.body, c.closed)
		}
	}
}

// rawAdminRequest writes request, as it is, to a new connection to the
// admin port at addr, and reads one answer: the response, its body, and
// whether the node closed the connection after it — a GET /healthz sent
// next on it is not answered. An error if an answer has not come within
// 30 s: a hang, not a speed, fails the callers.
func rawAdminRequest(addr, request string) (resp *http.Response, body string, closed bool, err error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return nil, "", false, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.Write([]byte(request)); err != nil {
		return nil, "", false, err
	}
	br := bufio.NewReader(c)
	resp, err = http.ReadResponse(br, nil)
	if err != nil {
		return nil, "", false, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, "", false, err
	}
	healthz := "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
	if _, err := c.Write([]byte(healthz)); err != nil {
		return resp, string(b), true, nil
	}
	next, err := http.ReadResponse(br, nil)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return nil, "", false, fmt.Errorf("GET /healthz after the answer: %w", err)
	}
	if err != nil {
		return resp, string(b), true, nil // the end of the connection, or its reset
	}
	next.Body.Close()
	if next.StatusCode != http.StatusOK {
		return nil, "", false, fmt.Errorf("GET /healthz after the answer: %s", next.Status)
	}
	return resp, string(b), false, nil
}
