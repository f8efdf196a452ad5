package node

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/config"
)

// With admin.token, a request without it is answered 401 "unauthorized"
// whatever its method and path, but a probe's (GET or HEAD of /healthz
// and /readyz): the mux answered it first — 404 for a path no route has,
// 405 naming in Allow the methods a route takes, 307 to a route's path
// for one it cleans or completes, 400 for "OPTIONS *" — so whoever
// reached the port listed its routes with no token. With the token the
// mux answers those as before.
func TestAdminAsksTheTokenBeforeRouting(t *testing.T) {
	addr := startTokenNode(t)
	probes := []struct{ method, path, body string }{
		{"GET", "/healthz", "ok"}, {"HEAD", "/healthz", ""}, {"GET", "/readyz", "ready"}, {"HEAD", "/readyz", ""},
	}
	for _, p := range probes {
		if code, body := adminRaw(t, addr, p.method, p.path, nil); code != http.StatusOK || strings.TrimSpace(body) != p.body {
			t.Errorf("%s %s without the token: %d %q, want 200 %q", p.method, p.path, code, body, p.body)
		}
	}
	routed := []struct {
		method, target string
		status         int // with the token
	}{
		{"GET", "/nosuch", http.StatusNotFound},
		{"GET", "/sessions/", http.StatusNotFound},
		{"GET", "/healthz/", http.StatusNotFound},
		{"GET", "//sessions", http.StatusTemporaryRedirect},
		{"GET", "//healthz", http.StatusTemporaryRedirect},
		{"GET", "/x/../state", http.StatusTemporaryRedirect},
		{"GET", "/debug/pprof", http.StatusTemporaryRedirect},
		{"GET", "/cluster/isolate", http.StatusMethodNotAllowed},
		{"DELETE", "/halt", http.StatusMethodNotAllowed},
		{"POST", "/healthz", http.StatusMethodNotAllowed},
		{"PUT", "/readyz", http.StatusMethodNotAllowed},
		{"OPTIONS", "*", http.StatusBadRequest},
	}
	bearer := map[string]string{"Authorization": "Bearer " + adminTestToken}
	for _, c := range routed {
		for _, h := range []map[string]string{nil, {"Authorization": "Bearer wrong"}} {
			if code, body := adminRaw(t, addr, c.method, c.target, h); code != http.StatusUnauthorized || strings.TrimSpace(body) != "unauthorized" {
				t.Errorf("%s %s with header %v: %d %q, want 401 \"unauthorized\"", c.method, c.target, h, code, body)
			}
		}
		if code, body := adminRaw(t, addr, c.method, c.target, bearer); code != c.status {
			t.Errorf("%s %s with the token: %d %q, want %d", c.method, c.target, code, body, c.status)
		}
	}
}

// While the node recovers, the admin port asks for the token as it does
// once live: without it, every request but a probe's is 401 — it was 503
// and the start's word, on every path. With it, an endpoint of the live
// port is 503 and the word, a path none has 404 and a method its route
// does not take 405: they were 503, and a mistyped path read as "not
// ready yet".
func TestAdminWhileRecoveringAsksTheTokenAndKnowsItsRoutes(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	setConfig(t, cfg, map[string]string{"rings.prefault": "true", "admin.token": adminTestToken})
	addr, release := heldMappingPools(t, cfg)

	bearer := map[string]string{"Authorization": "Bearer " + adminTestToken}
	for _, c := range []struct {
		method, target string
		header         map[string]string
		status         int
		body           string
	}{
		{"GET", "/healthz", nil, http.StatusOK, "ok"},
		{"GET", "/readyz", nil, http.StatusServiceUnavailable, StartMappingPools},
		{"GET", "/state", nil, http.StatusUnauthorized, "unauthorized"},
		{"GET", "/metrics", nil, http.StatusUnauthorized, "unauthorized"},
		{"POST", "/halt?instrument=1", nil, http.StatusUnauthorized, "unauthorized"},
		{"GET", "/nosuch", nil, http.StatusUnauthorized, "unauthorized"},
		{"POST", "/metrics", nil, http.StatusUnauthorized, "unauthorized"},
		{"GET", "/state", map[string]string{"Authorization": "Bearer wrong"}, http.StatusUnauthorized, "unauthorized"},
		{"GET", "/healthz", bearer, http.StatusOK, "ok"},
		{"GET", "/readyz", bearer, http.StatusServiceUnavailable, StartMappingPools},
		{"GET", "/state", bearer, http.StatusServiceUnavailable, StartMappingPools},
		{"GET", "/debug/pprof/heap", bearer, http.StatusServiceUnavailable, StartMappingPools},
		{"POST", "/halt?instrument=1", bearer, http.StatusServiceUnavailable, StartMappingPools},
		{"POST", "/accounts/4/suspend", bearer, http.StatusServiceUnavailable, StartMappingPools},
		{"GET", "/nosuch", bearer, http.StatusNotFound, "404 page not found"},
		{"POST", "/metrics", bearer, http.StatusMethodNotAllowed, "Method Not Allowed"},
	} {
		if code, body := adminRaw(t, addr, c.method, c.target, c.header); code != c.status || strings.TrimSpace(body) != c.body {
			t.Errorf("%s %s with header %v while recovering: %d %q, want %d %q", c.method, c.target, c.header, code, strings.TrimSpace(body), c.status, c.body)
		}
	}
	release().Stop()
}

// heldMappingPools runs New on cfg (with rings.prefault: it maps the
// engine's pools) and holds it while it maps them: admin is its admin
// port, answering meanwhile. release lets New go on and returns the
// node it made, for the caller to stop. A test that ends without
// releasing it — failed — releases it at its cleanup and stops the node
// New made, within receiveWait.
func heldMappingPools(t *testing.T, cfg *config.Config) (admin string, release func() *Node) {
	t.Helper()
	addr, hold := make(chan string, 1), make(chan struct{})
	unhold := sync.OnceFunc(func() { close(hold) })
	mapPoolsHook = func(n *Node) { addr <- n.adminLn.Addr().String(); <-hold }
	t.Cleanup(func() { mapPoolsHook = nil })
	type made struct {
		n   *Node
		err error
	}
	done := make(chan made, 1)
	go func() { n, _, err := New(cfg, zerolog.Nop()); done <- made{n, err} }()
	var released atomic.Bool
	t.Cleanup(func() { // runs before the hook's (last registered, first run)
		if released.Load() {
			return
		}
		unhold()
		select {
		case m := <-done:
			if m.n != nil {
				m.n.Stop()
			}
		case <-time.After(receiveWait):
		}
	})
	admin = received(t, addr, "New did not begin mapping the engine's pools within 10 s")
	return admin, func() *Node {
		t.Helper()
		released.Store(true)
		unhold()
		m := received(t, done, "New did not return within 10 s of the pools' mapping")
		if m.err != nil {
			t.Fatal(m.err)
		}
		return m.n
	}
}

// adminRoutes, what the port answers 503 while it recovers, is every
// route the source registers on the live mux (adminPatterns): a route
// added without it would be 404 while the node recovers.
func TestAdminRoutesListEveryRoute(t *testing.T) {
	got, want := slices.Sorted(slices.Values(adminRoutes)), slices.Sorted(slices.Values(adminPatterns(t)))
	if !slices.Equal(got, want) {
		t.Fatalf("adminRoutes %q; the source registers %q", got, want)
	}
}
