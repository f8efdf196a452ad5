package node

import (
	"net/http"
	"strings"
	"testing"
)

// Every GET endpoint behind the token refuses, 400 naming it, a query
// parameter it does not read — one of several, repeated, or on an
// endpoint that reads none — where it answered as if it were not there:
// GET /sessions?acount=7 listed every account's sessions,
// /debug/pprof/trace?secs=5 took the default second, and
// /debug/pprof/goroutine?gc=1 collected no garbage. What an endpoint
// reads is served as before. The probes, public by contract, take any
// query: a prober's cache-buster must not fail them.
func TestAdminGetsRefuseUnknownParameters(t *testing.T) {
	addr := startTokenNode(t)
	bearer := map[string]string{"Authorization": "Bearer " + adminTestToken}
	for _, c := range []struct{ target, want string }{
		{"/sessions?acount=7", `unknown parameter "acount": GET /sessions takes none`},
		{"/sessions?account=7", `unknown parameter "account": GET /sessions takes none`},
		{"/ports?verbose", `unknown parameter "verbose": GET /ports takes none`},
		{"/instruments?symbol=BTC-USD", `unknown parameter "symbol": GET /instruments takes none`},
		{"/state?member=2", `unknown parameter "member": GET /state takes none`},
		{"/metrics?name[]=ringex_trades_total", `unknown parameter "name[]": GET /metrics takes none`},
		{"/sessions?%zz", "the query does not parse"},
		{"/debug/pprof/?debug=1", `unknown parameter "debug": GET /debug/pprof/ takes none`},
		{"/debug/pprof/heap?debug=1&gcc=1", `unknown parameter "gcc": GET /debug/pprof/heap takes debug, gc and seconds`},
		{"/debug/pprof/goroutine?gc=1", `unknown parameter "gc": GET /debug/pprof/goroutine takes debug and seconds`},
		{"/debug/pprof/goroutine?debug=1&debug=2", "debug given 2 times: GET /debug/pprof/goroutine takes it once"},
		{"/debug/pprof/trace?secs=5", `unknown parameter "secs": GET /debug/pprof/trace takes seconds`},
	} {
		if code, body := adminRaw(t, addr, "GET", c.target, bearer); code != http.StatusBadRequest || !strings.Contains(body, c.want) {
			t.Errorf("GET %s: %d %q, want 400 %q", c.target, code, logCut(strings.TrimSpace(body), 200), c.want)
		}
	}
	for _, target := range []string{"/sessions", "/ports", "/instruments", "/state", "/metrics", "/debug/pprof/",
		"/debug/pprof/goroutine?debug=1", "/debug/pprof/heap?gc=1&debug=1", "/debug/pprof/trace?seconds=0.01"} {
		if code, body := adminRaw(t, addr, "GET", target, bearer); code != http.StatusOK {
			t.Errorf("GET %s: %d %q, want 200", target, code, logCut(body, 200))
		}
	}
	for _, target := range []string{"/healthz?ts=1", "/readyz?ts=1"} {
		if code, body := adminRaw(t, addr, "GET", target, nil); code != http.StatusOK {
			t.Errorf("GET %s: %d %q, want 200", target, code, body)
		}
	}
}
