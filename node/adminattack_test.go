package node

import (
	"bufio"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/proto/wire"
)

// adminPatterns reads the admin port's routes out of the package's
// source: the pattern of every mux.Handle and mux.HandleFunc call, so
// that a route added later is attacked by the tests that range over them
// without a list kept by hand.
func adminPatterns(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(x ast.Node) bool {
			call, ok := x.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || (sel.Sel.Name != "Handle" && sel.Sel.Name != "HandleFunc") {
				return true
			}
			if recv, ok := sel.X.(*ast.Ident); !ok || recv.Name != "mux" {
				return true
			}
			lit, ok := call.Args[0].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				t.Fatalf("%s: a route whose pattern is no literal: the attack tests cannot read it", fset.Position(call.Pos()))
			}
			p, _ := strconv.Unquote(lit.Value)
			if !slices.Contains(patterns, p) {
				patterns = append(patterns, p)
			}
			return true
		})
	}
	if len(patterns) < 10 {
		t.Fatalf("read %d admin routes from the source (%v): the reading is broken", len(patterns), patterns)
	}
	return patterns
}

// adminRaw sends the admin port at addr one request written byte for
// byte — the method and request target as given, not cleaned or escaped
// by a client — with header (its Host, when it has one, in place of
// addr), and returns the status and body answered (bounded: 10 s).
func adminRaw(t *testing.T, addr, method, target string, header map[string]string) (int, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	var req strings.Builder
	host := addr
	if h, ok := header["Host"]; ok {
		host = h
	}
	fmt.Fprintf(&req, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n", method, target, host)
	for k, v := range header {
		if k != "Host" {
			fmt.Fprintf(&req, "%s: %s\r\n", k, v)
		}
	}
	req.WriteString("\r\n")
	if _, err := io.WriteString(c, req.String()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// With admin.token set, every admin route but the probes refuses a
// request without the token, with a wrong one, with the token in the
// query instead of the header, under HEAD and OPTIONS, and under path
// tricks (a doubled slash, a dot-dot segment, an escaped slash or
// letter) — none answers 2xx, and none acts: no instrument halted, no
// account suspended, no snapshot taken, the session named still logged
// on. The routes are read from the source (adminPatterns), so a route
// added later is attacked too.
func TestAdminRoutesRefuseEveryAttackWithoutTheToken(t *testing.T) {
	const tok = "admin-token-xyzzy-0123456789"
	cfg := testConfig(t, t.TempDir())
	cfg.Set("admin.token", tok)
	n, addrs, _ := startNode(t, cfg)
	c := dial(t, addrs.Gateway, 1)
	in := cfg.Instruments[0]
	restBuy(t, c, in, 1)
	snapshots := func() (sum int64) {
		for i := range n.stats.snapshots {
			sum += n.stats.snapshots[i].Load()
		}
		return sum
	}
	snapsBefore := snapshots()
	attacked := attackAdminRoutes(t, addrs.Admin, tok, c.Session)
	st := n.stateNow()
	if len(st.Halted) != 0 || len(st.Suspended) != 0 || snapshots() != snapsBefore {
		t.Errorf("after %d refused requests: halted %v, suspended %v, %d snapshots asked for", attacked, st.Halted, st.Suspended, snapshots()-snapsBefore)
	}
	c.OrderStatus(proto.OrderStatus{})
	if m := next(t, c, report(wire.ExecKindStatus)); m.Report.ClientOrderID != 1 {
		t.Fatalf("account 1's session after the attacks: %+v, want its order 1 live", m.Report)
	}
}

// A cluster member serves the cluster's routes too (POST /cluster/isolate
// and /cluster/replace, which a node alone answers 404 after the token
// check): on the leader they refuse the same attacks, and the membership
// is as before.
func TestClusterAdminRoutesRefuseEveryAttackWithoutTheToken(t *testing.T) {
	const tok = "admin-token-xyzzy-0123456789"
	ns := startTestClusterWith(t, map[string]string{"admin.token": tok})
	leader := readyLeader(t, ns, nil)
	before := leader.cl.r.Members()
	attacked := attackAdminRoutes(t, leader.adminLn.Addr().String(), tok, 1)
	if after := leader.cl.r.Members(); !slices.Equal(after, before) {
		t.Errorf("after %d refused requests the membership is %v, was %v", attacked, after, before)
	}
	if l := readyLeader(t, ns, nil); l != leader {
		t.Errorf("after %d refused requests member %d leads, not %d", attacked, l.cfg.Node.ID, leader.cfg.Node.ID)
	}
}

// attackAdminRoutes sends the admin port at addr, whose token is tok,
// every attack of TestAdminRoutesRefuseEveryAttackWithoutTheToken on
// every route but the probes, session naming the session the routes'
// {id} takes, and fails the test for each one not refused: the route's
// own method without the right token answers 401 (the cluster's routes
// too on a node alone, which says it is none only to the token), and
// nothing answers 2xx. It returns how many requests it sent.
func attackAdminRoutes(t *testing.T, addr, tok string, session uint64) (attacked int) {
	t.Helper()
	concrete := strings.NewReplacer("{id}", fmt.Sprint(session))
	wrongTokens := []map[string]string{
		nil,
		{"Authorization": "Bearer wrong-token-plugh"},
		{"Authorization": "Bearer " + tok + "x"},
		{"Authorization": tok},            // no scheme
		{"Authorization": "Basic " + tok}, // another scheme
		{"X-Admin-Token": tok},            // another header
		{"Authorization": "Bearer "},      // a scheme without a token
	}
	for _, pattern := range adminPatterns(t) {
		method, path, ok := strings.Cut(pattern, " ")
		if !ok {
			method, path = "GET", pattern
		}
		path = concrete.Replace(path)
		switch path {
		case "/healthz", "/readyz": // the probes: public by contract, they tell only "ok", "ready" or why not
			continue
		}
		own := http.StatusUnauthorized
		for _, h := range wrongTokens {
			attacked++
			if code, _ := adminRaw(t, addr, method, path, h); code != own {
				t.Errorf("%s %s with header %v: %d, want %d", method, path, h, code, own)
			}
		}
		for _, q := range []string{"token", "access_token", "auth"} {
			attacked++
			target := path + "?" + q + "=" + tok
			if code, _ := adminRaw(t, addr, method, target, nil); code != own {
				t.Errorf("%s %s (the token in the query): %d, want %d", method, target, code, own)
			}
		}
		segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
		tricks := []string{
			"/" + path,                             // //sessions
			"/x/.." + path,                         // /x/../sessions
			"/x/%2E%2E" + path,                     // the dot-dot escaped
			path + "/",                             // a trailing slash
			"/%2F" + strings.TrimPrefix(path, "/"), // an escaped slash first
			"/" + strings.Join(segs, "%2F"),        // every slash but the first escaped
			"/" + fmt.Sprintf("%%%02X", path[1]) + path[2:], // the first letter escaped
			"/./" + strings.TrimPrefix(path, "/"),
		}
		for _, m := range []string{method, "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH", strings.ToLower(method)} {
			for _, target := range append([]string{path}, tricks...) {
				for _, h := range wrongTokens[:2] {
					attacked++
					code, body := adminRaw(t, addr, m, target, h)
					if code/100 == 2 {
						t.Errorf("%s %s with header %v: %d %q — served without the token", m, target, h, code, body)
					}
				}
			}
		}
	}
	// OPTIONS * goes through the guard like every request (net/http
	// answered it itself, before any handler): it must tell nothing
	// either.
	attacked++
	if code, body := adminRaw(t, addr, "OPTIONS", "*", nil); code != http.StatusUnauthorized || strings.TrimSpace(body) != "unauthorized" {
		t.Errorf("OPTIONS *: %d %q, want 401 \"unauthorized\"", code, body)
	}
	return attacked
}

// Without admin.token (the port on loopback alone), every admin route,
// the probes too, refuses 403 a request under a Host that names no
// loopback address — what a page that rebound its own domain to
// 127.0.0.1 sends — whatever its method or path: the guard answers before
// the routes are matched. Near misses of a loopback name are names too.
func TestTokenlessAdminRoutesRefuseOtherHosts(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, addrs, _ := startNode(t, cfg)
	concrete := strings.NewReplacer("{id}", "1")
	hosts := []string{"rebound.attacker.example", "rebound.attacker.example:7480", "localhost.attacker.example",
		"127.0.0.1.attacker.example:7480", "LOCALHOST", "127.0.0.1:7480:80", "0.0.0.0", "[::]:7480"}
	var attacked int
	for _, pattern := range adminPatterns(t) {
		method, path, ok := strings.Cut(pattern, " ")
		if !ok {
			method, path = "GET", pattern
		}
		path = concrete.Replace(path)
		for _, m := range []string{method, "HEAD", "OPTIONS"} {
			for _, target := range []string{path, "/" + path, "/x/.." + path} {
				for _, host := range hosts {
					attacked++
					if code, body := adminRaw(t, addrs.Admin, m, target, map[string]string{"Host": host}); code != http.StatusForbidden {
						t.Errorf("%s %s under Host %q: %d %q, want 403", m, target, host, code, body)
					}
				}
			}
		}
	}
	if st := n.stateNow(); len(st.Halted) != 0 || len(st.Suspended) != 0 {
		t.Errorf("after %d refused requests: halted %v, suspended %v", attacked, st.Halted, st.Suspended)
	}
}
