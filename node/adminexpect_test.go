package node

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// A client sending "Expect: 100-continue" waits for "100 Continue"
// before it sends its body. The admin port asks for a chunked body (the
// length unknown: it may be empty) with the read that sees whether it
// is (emptyChunked), so the client is told to go on at once — it does
// not wait out bodyGrace for a 413 — and its empty body is served on a
// connection kept open; a chunk of a byte is 413 and the connection
// closed. A body of a known length is refused 413 without a 100
// Continue, so the client never sends it. Each step waits for the
// answer before the next is sent: a port that did not send 100 Continue
// would answer 413 in its place once bodyGrace ran out.
func TestAdminAnswersExpectContinue(t *testing.T) {
	addr := startTokenNode(t)
	head := func(method, path, auth, framing string) string {
		return method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + auth + "Expect: 100-continue\r\n" + framing + "\r\n"
	}
	auth := "Authorization: Bearer " + adminTestToken + "\r\n"
	const chunked = "Transfer-Encoding: chunked\r\n"
	for _, c := range []struct {
		name, head string
		cont       bool   // 100 Continue wanted before the answer
		body       string // sent after the 100 Continue
		status     int
		closed     bool
	}{
		{"an empty chunked POST", head("POST", "/snapshot", auth, chunked), true, "0\r\n\r\n", http.StatusAccepted, false},
		{"an empty chunked GET", head("GET", "/ports", auth, chunked), true, "0\r\n\r\n", http.StatusOK, false},
		{"a chunked body of one byte", head("POST", "/snapshot", auth, chunked), true, "1\r\nx\r\n0\r\n\r\n", http.StatusRequestEntityTooLarge, true},
		{"an empty chunked GET without the token", head("GET", "/ports", "", chunked), true, "0\r\n\r\n", http.StatusUnauthorized, true},
		{"a body of 5 bytes", head("POST", "/snapshot", auth, "Content-Length: 5\r\n"), false, "", http.StatusRequestEntityTooLarge, true},
		{"no body", head("GET", "/ports", auth, ""), false, "", http.StatusOK, false},
	} {
		status, cont, closed, err := expectContinue(addr, c.head, c.body)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if status != c.status || cont != c.cont || closed != c.closed {
			t.Errorf("%s: %d, 100 Continue first %v, connection closed %v; want %d, %v, %v", c.name, status, cont, closed, c.status, c.cont, c.closed)
		}
	}
}

// expectContinue sends head (a request's line and headers) on a new
// connection to the admin port at addr and reads the first answer; a
// 100 Continue, it sends body and reads the final answer. It returns
// the final status, whether a 100 Continue came first, and whether the
// node closed the connection after the answer (a GET /healthz sent next
// is not answered). Bounded: 30 s, for a hang.
func expectContinue(addr, head, body string) (status int, cont, closed bool, err error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return 0, false, false, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(c, head); err != nil {
		return 0, false, false, err
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return 0, false, false, err
	}
	if resp.StatusCode == http.StatusContinue {
		cont = true
		if _, err := io.WriteString(c, body); err != nil {
			return 0, cont, false, err
		}
		if resp, err = http.ReadResponse(br, nil); err != nil {
			return 0, cont, false, err
		}
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
		return resp.StatusCode, cont, true, nil
	}
	next, err := http.ReadResponse(br, nil)
	if err != nil {
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			return 0, cont, false, err
		}
		return resp.StatusCode, cont, true, nil
	}
	next.Body.Close()
	if strings.TrimSpace(next.Status) == "" || next.StatusCode != http.StatusOK {
		return 0, cont, false, io.ErrUnexpectedEOF
	}
	return resp.StatusCode, cont, false, nil
}
