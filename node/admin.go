package node

import (
	"cmp"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/gateway"
)

// openAdmin opens the admin port (admin.listen; "" turns it off:
// net.Listen would take it for every interface on a random port, with no
// token to ask for) and serves on it what adminServes holds: the probes
// alone until Start hands it every endpoint.
func (n *Node) openAdmin() error {
	if n.cfg.Admin.Listen == "" {
		return nil
	}
	tcp, err := net.Listen("tcp", n.cfg.Admin.Listen)
	if err != nil {
		return fmt.Errorf("node: admin: %w", err)
	}
	waiting := newWaitingConns()
	var ln net.Listener = newLimitListener(tcp, adminMaxConnections, waiting)
	if t := n.cfg.Admin.TLS; t.Enabled() {
		tcfg, err := serverTLS("admin.tls", t)
		if err != nil {
			ln.Close()
			return err
		}
		ln = tls.NewListener(ln, tcfg)
	}
	for _, w := range adminExposure(n.cfg) {
		n.log.Warn().Msg(w)
	}
	n.adminLn = ln
	n.adminServes.Store(new(n.recoveringHandler()))
	// No write timeout: /debug/pprof/profile and trace answer after the
	// seconds they were asked for (at most maxProfileSeconds). Idle keep-alive connections are
	// closed after a minute (without IdleTimeout they stayed open for
	// good). Its own errors (a failed TLS handshake, a plain-HTTP request
	// to the TLS port, a panic in a handler) go to the node's log as
	// warnings: net/http wrote them as plain-text lines outside it.
	// "OPTIONS *" is served by the handler, through guard, as every
	// request is: net/http answered it itself, having read up to 4 KiB of
	// its body with no deadline — a stalled one held its connection for
	// good, no token needed.
	n.admin = &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*n.adminServes.Load()).ServeHTTP(w, r) }),
		ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Minute, ConnState: waiting.track, DisableGeneralOptionsHandler: true,
		ErrorLog: stdlog.New(warnWriter{n.log.With().Str("component", "admin").Logger()}, "", 0)}
	go n.admin.Serve(ln)
	return nil
}

// adminExposure says, for the log at start, what leaves the admin token
// open to others: a port off loopback without admin.tls, where it
// crosses the network in clear with every request, a token shorter than
// config.MinSecretBytes (shortToken), a token file every local user may
// read (config.TokenFileWarning), and a token given with --set, in the
// command line every local user reads (config.TokenFlagWarning). Never
// the token.
func adminExposure(cfg *config.Config) []string {
	var warn []string
	host, _, err := net.SplitHostPort(cfg.Admin.Listen)
	if err == nil && !config.IsLoopback(host) && !cfg.Admin.TLS.Enabled() {
		warn = append(warn, fmt.Sprintf("admin: listening off loopback (admin.listen %s) without admin.tls: the admin token travels in clear "+
			"with every request, for anyone on the path to read; set admin.tls.cert_file and admin.tls.key_file, or listen on loopback", cfg.Admin.Listen))
	}
	if t := len(cfg.Admin.Token); t > 0 && t < config.MinSecretBytes {
		warn = append(warn, fmt.Sprintf(shortToken, t, config.MinSecretBytes))
	}
	for _, w := range []string{cfg.TokenFileWarning(), cfg.TokenFlagWarning()} {
		if w != "" {
			warn = append(warn, "admin: "+w)
		}
	}
	return warn
}

// shortToken warns, at start, of an admin.token shorter than
// config.MinSecretBytes, which config validation refuses only off
// loopback. On loopback it is guessed too: nothing slows guesses (a
// wrong one costs a request), every local user may send them, and a
// port with a token answers requests addressed to any name — guard
// refuses other names only without one — so a web page that rebound its
// own domain to 127.0.0.1 guesses from an operator's browser, at the
// browser's pace, where without a token guard refuses it whatever it
// sends.
const shortToken = "admin: admin.token is %d bytes, shorter than %d: nothing slows guesses at it, and with a token the port answers " +
	"requests addressed to any name, so every local user, and a web page that rebound its domain to 127.0.0.1 from an operator's browser, " +
	"can guess a short one; give it %[2]d random bytes or more (openssl rand -hex 16)"

// What the admin port answers (503) to every request but /healthz
// before the node is live: StartReplaying while New restores the
// snapshot and replays the journal; StartMappingPools while it maps the
// engine's pools before that (rings.prefault; engine.max_orders sizes
// them: milliseconds at the default 65536 orders, seconds near its top);
// StartMappingRings once Start maps the rings (rings.prefault: tens of
// seconds for the default rings' 5.5 GB on a loaded machine), after the
// replay. The words are part of what ringex's control commands read (a
// member restarting: the command goes to the next): a step of the start
// added later is named "starting: …" too, which a CLI reads as
// StartMappingRings; one that does not know a word prints it as the
// node gives it.
const (
	StartReplaying    = "replaying"
	StartMappingPools = "starting: mapping engine pools"
	StartMappingRings = "starting: mapping rings"
)

// recoveringHandler is the admin port while New replays the journal and
// Start maps the rings: /healthz "ok" (the process is alive), /readyz
// and every other endpoint of the live port (adminRoutes) 503
// StartReplaying — StartMappingPools while New maps the engine's pools,
// StartMappingRings from when Start's mapping begins — under the same
// guard as the live endpoints: with admin.token, a request without it
// is answered 401 before the state's word, as it is once live. A path
// no endpoint has is 404 and a method none takes 405, as once live:
// every path answered 503, and a typo in a script run while the node
// restarted read as "not ready yet, try again".
func (n *Node) recoveringHandler() http.Handler {
	notLive := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		word := StartReplaying
		switch {
		case n.mappingPools.Load():
			word = StartMappingPools
		case n.mappingRings.Load():
			word = StartMappingRings
		}
		http.Error(w, word, http.StatusServiceUnavailable)
	})
	recovering := http.NewServeMux()
	for _, p := range adminRoutes {
		if p == "GET /healthz" {
			recovering.HandleFunc(p, func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
			continue
		}
		recovering.Handle(p, notLive)
	}
	return n.guard(recovering)
}

// adminRoutes are the patterns adminHandler's mux serves (pprofHandlers,
// clusterAdmin and memberAdmin's included), for recoveringHandler, which
// answers them 503 before the node is live and the rest 404: the live
// mux cannot be built before Start (its metrics read the gateway). A
// test holds the list to the routes the source registers.
var adminRoutes = []string{
	"GET /healthz", "GET /readyz", "GET /metrics", "GET /instruments", "GET /ports", "GET /sessions", "GET /state",
	"GET /debug/pprof/", "GET /debug/pprof/profile", "GET /debug/pprof/trace",
	"POST /snapshot", "POST /halt", "POST /resume", "POST /accounts/{id}/suspend", "POST /accounts/{id}/resume",
	"POST /sessions/{id}/close", "POST /cluster/isolate", "POST /cluster/replace",
}

// adminHandler serves health, readiness, metrics, port states, snapshot,
// halt (optionally clearing the instrument's book)/resume and the
// accounts' kill switch. With a token configured
// every endpoint but the probes /healthz and /readyz (they tell only
// "ok", "ready", or why not: "follower", "stopping", …) requires "Authorization: Bearer <token>".
func (n *Node) adminHandler() http.Handler {
	mux := http.NewServeMux()
	reg := prometheus.NewRegistry()
	n.registerMetrics(reg)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	// Ready: this node takes trading sessions. A cluster follower
	// redirects them (a load balancer routing on readiness sends clients
	// to the leader), and a stopping node is about to close them.
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		select {
		case <-n.stopping():
			http.Error(w, "stopping", http.StatusServiceUnavailable)
			return
		default:
		}
		switch {
		case !n.live.Load():
			http.Error(w, StartReplaying, http.StatusServiceUnavailable)
		case n.refuseInput():
			http.Error(w, n.roleNotReady(), http.StatusServiceUnavailable)
		default:
			w.Write([]byte("ready\n"))
		}
	})
	metrics := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	mux.Handle("GET /metrics", n.auth(onlyParams(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.bookGauges()
		metrics.ServeHTTP(w, r)
	}))))
	n.pprofHandlers(mux) // profiling for operators, bounded (adminpprof.go)
	n.clusterAdmin(mux)
	// The reference data the node serves a client's ListInstruments, in
	// id order, from its config (which only a restart changes): what
	// `ringex status` compares across members whose GET /state
	// reference differs, to name the instrument.
	instruments := slices.SortedFunc(slices.Values(n.cfg.Instruments), func(a, b config.Instrument) int { return cmp.Compare(a.ID, b.ID) })
	mux.Handle("GET /instruments", n.auth(onlyParams(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"instruments": instruments})
	}))))
	mux.Handle("GET /ports", n.auth(onlyParams(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"ports": n.ports.snapshot(), "streams": n.streams()})
	}))))
	// 202 only when a snapshot is being taken (the writer then writes
	// it, or counts it failed); 409 when the engine skipped it (one is
	// still under way): it answered 202 to a skipped one, and a script
	// took it for a snapshot coming.
	mux.Handle("POST /snapshot", n.auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !n.queryOK(w, r, "snapshot") {
			return
		}
		err := n.RequestSnapshot()
		n.audit(r, "snapshot", "", 0, err)
		switch {
		case errors.Is(err, ErrSnapshotSkipped):
			http.Error(w, err.Error(), http.StatusConflict)
			return
		case err != nil:
			http.Error(w, n.refusal(err), http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusAccepted)
		w.Write([]byte("snapshot requested: being taken\n"))
	})))
	instrument := func(r *http.Request) (uint32, string, int, string) {
		q := r.URL.Query().Get("instrument")
		if q == "" {
			return 0, "", http.StatusBadRequest, "instrument=<symbol or id> required"
		}
		// Resolved by this node's config, not the caller's: a CLI that
		// looked a symbol up in another config would halt another
		// instrument.
		in, ok := n.lookupInstrument(q)
		if !ok { // journaled, it would change nothing: a typo
			return 0, "", http.StatusNotFound, "no such instrument in the config"
		}
		return in.ID, fmt.Sprintf("%s (instrument %d)", in.Symbol, in.ID), 0, ""
	}
	halt := n.control("halt", "instrument", instrument, n.Halt, "instrument", "cancel_orders")
	haltAndCancel := n.control("halt-cancel-orders", "instrument", instrument, n.HaltAndCancelOrders, "instrument", "cancel_orders")
	mux.Handle("POST /halt", n.auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !n.queryOK(w, r, "halt", "instrument", "cancel_orders") {
			return
		}
		cancel, err := haltCancelsOrders(r.URL.Query())
		if err != nil {
			n.audit(r, "halt", "", 0, fmt.Errorf("refused %d: %w", http.StatusBadRequest, err))
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if cancel {
			haltAndCancel.ServeHTTP(w, r)
			return
		}
		halt.ServeHTTP(w, r)
	})))
	mux.Handle("POST /resume", n.auth(n.control("resume", "instrument", instrument, n.Resume, "instrument")))
	account := func(r *http.Request) (uint32, string, int, string) {
		id, err := strconv.ParseUint(r.PathValue("id"), 10, 32)
		if err != nil || !n.hasAccount(uint32(id)) {
			return 0, "", http.StatusNotFound, "no such account in the config"
		}
		return uint32(id), fmt.Sprintf("account %d", id), 0, ""
	}
	mux.Handle("POST /accounts/{id}/suspend", n.auth(n.control("suspend", "account", account, n.SuspendAccount)))
	mux.Handle("POST /accounts/{id}/resume", n.auth(n.control("resume", "account", account, n.ResumeAccount)))
	mux.Handle("GET /sessions", n.auth(onlyParams(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"sessions": n.gw.Sessions()})
	}))))
	mux.Handle("POST /sessions/{id}/close", n.auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !n.queryOK(w, r, "close") {
			return
		}
		id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
		if err != nil {
			// Audited naming no session: ParseUint's id, 0 or the
			// largest, is none asked for.
			n.audit(r, "close", "", 0, fmt.Errorf("refused %d: %w: %w", http.StatusNotFound, errNoSession, err))
			http.Error(w, errNoSession.Error(), http.StatusNotFound)
			return
		}
		if !n.gw.CloseSession(id) {
			err = errNoSession
		}
		n.audit(r, "close", "session", id, err)
		if err != nil {
			http.Error(w, errNoSession.Error(), http.StatusNotFound)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})))
	return n.guard(mux)
}

// roleNotReady says why a cluster member takes no sessions: follower,
// candidate (an election, no leader), leader (elected, applying earlier
// entries first), and joining.
func (n *Node) roleNotReady() string {
	if n.cl == nil || n.cl.r == nil {
		return "follower"
	}
	st := n.cl.r.Status()
	role := strings.ToLower(st.State)
	if role == "leader" {
		role += " (not ready: applying earlier entries)"
	}
	if st.Joining {
		role += " (joining)"
	}
	return role
}

// refusal is the answer to a control input the node refused: on a
// cluster member that is not the leader, which member leads — control
// inputs go to the leader's admin port (the node knows its peers'
// gateway and raft addresses, not their admin ones).
func (n *Node) refusal(err error) string {
	if !errors.Is(err, ErrNotLeader) || n.cl == nil {
		return err.Error()
	}
	id := n.cl.r.LeaderID() // the id alone: no name lookup to wait on
	if id == n.cfg.Node.ID {
		return fmt.Sprintf("%v: this node was just elected and applies earlier entries first; send it again in a moment", err)
	}
	if id != 0 {
		return fmt.Sprintf("%v: node %d leads; send this to its admin port", err, id)
	}
	return fmt.Sprintf("%v: no leader known (an election is under way, or no majority is up)", err)
}

// control serves an operator's control input: its query holds only the
// parameters params names, each once (queryOK); target reads what the
// request names (or the status and message refusing it), publish
// journals the command, and the audit log records it. 202 Accepted: the
// engine has applied it (journaled; in a cluster, committed); 503 on a
// node that takes no inputs (a follower), that is stopping, or that lost
// the lead before the input committed (ErrControlUnconfirmed).
func (n *Node) control(action, kind string, target func(*http.Request) (id uint32, label string, status int, msg string),
	publish func(uint32) error, params ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !n.queryOK(w, r, action, params...) {
			return
		}
		id, label, status, msg := target(r)
		if status != 0 {
			// Audited too: "who tried to halt what at 14:32" has an
			// answer when the request named no instrument it could.
			n.audit(r, action, "", 0, fmt.Errorf("refused %d: %s", status, strings.TrimSpace(msg)))
			http.Error(w, msg, status)
			return
		}
		err := publish(id)
		n.audit(r, action, kind, uint64(id), err)
		if err != nil {
			http.Error(w, n.refusal(err), http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintf(w, "%s %s: accepted\n", action, label)
	})
}

// queryOK answers 400, audited as action, a request whose query does not
// parse, names a parameter that is not one of params, or gives one more
// than once, and reports whether the request may go on. Read as
// url.Values.Get does, the first of a repeated parameter was taken and
// the rest, like an unknown one, dropped without a word: POST
// /halt?instrument=1&instrument=2 halted 1 alone and answered 202, and
// POST /accounts/4/suspend?cancel_orders=false suspended the account,
// cancelling its orders, as if the parameter were not there.
func (n *Node) queryOK(w http.ResponseWriter, r *http.Request, action string, params ...string) bool {
	err := checkQuery(r.URL.RawQuery, r.URL.Path, params)
	if err == nil {
		return true
	}
	n.audit(r, action, "", 0, fmt.Errorf("refused %d: %w", http.StatusBadRequest, err))
	http.Error(w, err.Error(), http.StatusBadRequest)
	return false
}

// checkQuery is queryOK's verdict on the raw query of the POST to path.
func checkQuery(raw, path string, params []string) error {
	return checkMethodQuery(http.MethodPost, raw, path, params)
}

// checkMethodQuery is the verdict on the raw query of a request of
// method for path that takes params: nil, or why it is refused — it
// does not parse, names a parameter not in params, or gives one more
// than once.
func checkMethodQuery(method, raw, path string, params []string) error {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return fmt.Errorf("the query does not parse: %w", err)
	}
	for k, v := range q {
		if !slices.Contains(params, k) {
			if len(params) == 0 {
				return fmt.Errorf("unknown parameter %q: %s %s takes none", k, method, path)
			}
			return fmt.Errorf("unknown parameter %q: %s %s takes %s", k, method, path, listed(params))
		}
		if len(v) != 1 {
			return fmt.Errorf("%s given %d times: %s %s takes it once", k, len(v), method, path)
		}
	}
	return nil
}

// listed is params for a message: "a", "a and b", "a, b and c".
func listed(params []string) string {
	if len(params) < 2 {
		return strings.Join(params, "")
	}
	return strings.Join(params[:len(params)-1], ", ") + " and " + params[len(params)-1]
}

// onlyParams serves, through h, a request that reads only what its
// query holds — the parameters params names, each once — and answers
// any other 400 naming the parameter (checkMethodQuery): a GET ignored
// what it did not read, and GET /sessions?acount=7, or ?account=7 where
// no filter is, answered for every account as if asked for one.
func onlyParams(h http.Handler, params ...string) http.Handler {
	return paramsBy(func(string) []string { return params }, h)
}

// paramsBy is onlyParams for an endpoint whose parameters depend on the
// path (a pprof profile's): params says which.
func paramsBy(params func(path string) []string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := checkMethodQuery(r.Method, r.URL.RawQuery, r.URL.Path, params(r.URL.Path)); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// haltCancelsOrders reads POST /halt's cancel_orders, from a query
// queryOK took (instrument and cancel_orders, each once: a misspelt one
// would halt and keep the orders the operator meant to cancel): true
// also cancels every resting order of the instrument; absent, false. A
// value that is no boolean is refused.
func haltCancelsOrders(q url.Values) (bool, error) {
	if !q.Has("cancel_orders") {
		return false, nil
	}
	cancel, err := strconv.ParseBool(q.Get("cancel_orders"))
	if err != nil {
		return false, fmt.Errorf("cancel_orders=%q: want true or false", q.Get("cancel_orders"))
	}
	return cancel, nil
}

// errNoSession: the session to close is not logged on (or the id is not one).
var errNoSession = errors.New("no such live session")

// audit logs an operator's action on the admin port — what, on which
// instrument or account, from where, and whether the node took it — so
// "who halted BTC at 14:32" has an answer. Never the request's headers:
// they hold the token; nor the token where the request put it in its
// URL (withoutToken). The error is cut to auditErrorMax bytes (logCut):
// a refusal names what the request gave (an unknown parameter, a
// malformed address), up to a MiB, and every refused request is a line.
func (n *Node) audit(r *http.Request, action, kind string, id uint64, err error) {
	ev := n.log.Info()
	if err != nil {
		ev = n.log.Warn().Str(zerolog.ErrorFieldName, logCut(n.withoutToken(err.Error()), auditErrorMax))
	}
	switch kind {
	case "":
	case "session": // above 2^53: a decimal string, as GET /sessions sends it
		ev = ev.Stringer(kind, gateway.LogID(id))
	default: // an instrument, account or member: a small number
		ev = ev.Uint64(kind, id)
	}
	ev.Str("action", action).Str("remote", r.RemoteAddr).Msg("admin action")
}

// auditErrorMax bounds, in bytes, the error an audit line holds: the
// longest refusal the node words itself is a few hundred bytes.
const auditErrorMax = 1024

// withoutToken is s with every copy of admin.token replaced. What the
// log says of a request repeats the request's own text — its path, the
// parameter or value its query was refused for — and a token put in the
// URL (a bare parameter, a parameter's value, a path segment) was logged
// with it, at warn. A token so short that it matches inside a line's
// words is replaced there too: the line reads oddly, the token stays out.
func (n *Node) withoutToken(s string) string {
	if t := n.cfg.Admin.Token; t != "" {
		return strings.ReplaceAll(s, t, "<admin.token>")
	}
	return s
}

// lookupInstrument finds the configured instrument with symbol s (any
// case) or, failing that, id s.
func (n *Node) lookupInstrument(s string) (config.Instrument, bool) {
	for _, in := range n.cfg.Instruments {
		if strings.EqualFold(in.Symbol, s) {
			return in, true
		}
	}
	id, err := strconv.ParseUint(s, 10, 32)
	for _, in := range n.cfg.Instruments {
		if err == nil && uint64(in.ID) == id {
			return in, true
		}
	}
	return config.Instrument{}, false
}

// hasAccount reports whether the config has the account.
func (n *Node) hasAccount(id uint32) bool {
	for _, a := range n.cfg.Accounts {
		if a.ID == id {
			return true
		}
	}
	return false
}

// guard keeps browsers out of the admin port. A web page can make the
// operator's browser send requests to 127.0.0.1: a cross-origin POST
// (halt, resume, snapshot, cluster/isolate) is a "simple" request that
// needs no preflight, so http.CrossOriginProtection refuses POSTs that
// browsers mark cross-origin (Sec-Fetch-Site, Origin). Without a token the
// port is loopback-only (config validation), and a request whose Host is
// not a loopback name comes from a page that rebound its own domain to
// 127.0.0.1 to read the answers: refused too. So is any request — GETs
// included: a page's <img> can start /debug/pprof/profile?seconds=600 —
// that the browser marks as sent from another site (Sec-Fetch-Site
// cross-site or same-site). The CLI, curl and Prometheus send neither
// browser header and name the address they dial.
//
// With a token, guard asks for it before the routes are matched, on
// every request but a probe's (probe): the mux answered a request
// without it for a path no route has 404, a method its route does not
// take 405 (naming, in Allow, the ones it does) and a path it would
// clean or complete (//sessions, /debug/pprof) 307 to the route's path
// — each before the route's own check (auth), so that whoever reached
// the port could list the routes with no token at all. The routes keep
// their own check.
func (n *Node) guard(h http.Handler) http.Handler {
	if n.cfg.Admin.Token != "" {
		h = n.tokenFirst(h)
	}
	h = n.refuseOtherSites(h)
	if n.cfg.Admin.Token != "" {
		return n.refuseBodies(h) // a rebinding page cannot know the token (a short one it may guess: shortToken)
	}
	return n.refuseBodies(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.Host)
		if err != nil {
			host = r.Host
		}
		if !config.IsLoopback(strings.Trim(host, "[]")) {
			n.refused(w, r, refusedHost)
			http.Error(w, hostRefused, http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	}))
}

// tokenFirst serves a probe (probe) as it is and any other request only
// with the token (auth), whatever its method and path.
func (n *Node) tokenFirst(h http.Handler) http.Handler {
	authed := n.auth(h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if probe(r) {
			h.ServeHTTP(w, r)
			return
		}
		authed.ServeHTTP(w, r)
	})
}

// probe reports whether r asks for a probe, public by contract: GET (or
// HEAD) of /healthz or /readyz, the path as the probes send it. Any
// other form of it (//healthz, /healthz/, POST) asks for the token like
// every other request.
func probe(r *http.Request) bool {
	return (r.Method == http.MethodGet || r.Method == http.MethodHead) && (r.URL.Path == "/healthz" || r.URL.Path == "/readyz")
}

// hostRefused answers a request guard refuses for its Host: it names the
// cause and the two ways past it, not the token (a wrong one is 401).
const hostRefused = "admin: the Host header names no loopback address: without admin.token this port answers only " +
	"requests addressed to localhost, 127.0.0.1 or [::1] (a guard against DNS rebinding); " +
	"address it by one of those (--admin 127.0.0.1:PORT), or set admin.token on the node"

// refuseBodies answers a request that carries a body — no admin endpoint
// takes one: the parameters are in the URL — 413, and closes its
// connection having read no more of the body than bodyGrace brings.
// Without it net/http, before answering (even 401), read up to 256 KiB
// of body with no deadline: a request whose body stalled held its
// connection, goroutine and file descriptor for good, token or not.
// A chunked body whose first chunk is the last (size 0) is empty, and
// its request served: it was answered 413 as too large (emptyChunked).
func (n *Node) refuseBodies(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > 0 || r.ContentLength < 0 && !emptyChunked(w, r) {
			n.refused(w, r, refusedBody) // the connection closed
			http.NewResponseController(w).SetReadDeadline(time.Now().Add(bodyGrace))
			http.Error(w, "admin: requests take no body (parameters go in the URL)", http.StatusRequestEntityTooLarge)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// bodyGrace bounds how long a refused request's body is read, and how
// long emptyChunked waits for the first chunk.
const bodyGrace = 2 * time.Second

// emptyChunked reports whether the body of a request of unknown length
// (ContentLength -1: chunked) is empty, reading at most one byte of it
// and waiting at most bodyGrace for it: a body that brings a byte, or
// nothing within the grace, is not. An empty one leaves the connection
// as it found it, with no read deadline (the admin server sets none
// past the header), for the handler and the next request.
func emptyChunked(w http.ResponseWriter, r *http.Request) bool {
	rc := http.NewResponseController(w)
	if rc.SetReadDeadline(time.Now().Add(bodyGrace)) != nil {
		return false
	}
	if _, err := io.ReadFull(r.Body, make([]byte, 1)); err != io.EOF {
		return false
	}
	return rc.SetReadDeadline(time.Time{}) == nil
}

// refuseOtherSites refuses requests a browser sent from another site's
// page, whatever their method, and those CrossOriginProtection refuses
// (it judges only the methods that change state).
func (n *Node) refuseOtherSites(h http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Header.Get("Sec-Fetch-Site") {
		case "cross-site", "same-site":
			n.refused(w, r, refusedOtherSite)
			http.Error(w, "admin: request from another site's page", http.StatusForbidden)
			return
		}
		if err := cop.Check(r); err != nil {
			n.refused(w, r, refusedOtherSite)
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func (n *Node) auth(h http.Handler) http.Handler {
	token := n.cfg.Admin.Token
	if token == "" {
		return h
	}
	// Digests are compared, as the gateway compares secrets: of fixed
	// length, they take the same time whatever was sent, where comparing
	// the tokens returned at once on a length that differs — telling the
	// token's length.
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The scheme is case-insensitive (RFC 9110 11.1): "bearer" too.
		scheme, got, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		gotSum := sha256.Sum256([]byte(got))
		if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare(gotSum[:], want[:]) != 1 {
			n.refused(w, r, refusedToken)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// streams reports which consumers are deployed.
func (n *Node) streams() map[string]bool {
	return map[string]bool{
		"input->journaller":             true,
		"input->replicator":             true,
		"input->unmarshaler":            true,
		"input->engine":                 true,
		"execution->sender":             n.ports.snapshot()["execution"],
		"marketdata->marketdata-fanout": n.mdHub.active(),
	}
}

// refusedReason says why the admin port refused a request before its
// handler ran.
type refusedReason int

const (
	refusedToken     refusedReason = iota // no or a wrong admin.token
	refusedHost                           // a Host that is not a loopback name, on a port without a token
	refusedOtherSite                      // sent by a browser from another site's page
	refusedBody                           // carried a body
	refusedReasons
)

var refusedReasonNames = [refusedReasons]string{"token", "host", "other_site", "body"}

// adminRefusals counts the admin port's refusals by reason and keeps
// their log to one line per refusedLogEvery: a scanner guessing tokens
// makes thousands a second, and each would be a log line.
type adminRefusals struct {
	count [refusedReasons]atomic.Int64
	log   logEvery
}

// refusedLogEvery bounds how often a refusal is logged.
const refusedLogEvery = 10 * time.Second

// refused counts a refusal, ends its connection, and logs it — who asked
// for what: the method and the path, each cut to refusedLogMax bytes,
// the token taken out of the path first (withoutToken); never the query
// or the headers (either may hold a token, right or wrong) — unless one
// was logged within refusedLogEvery; the next line logged says how many
// were not.
func (n *Node) refused(w http.ResponseWriter, r *http.Request, why refusedReason) {
	// The connection ends with the answer: kept alive, a client refused
	// each time held one of the port's adminMaxConnections for the idle
	// minute.
	w.Header().Set("Connection", "close")
	a := &n.stats.adminRefusals
	a.count[why].Add(1)
	ok, heldBack := a.log.allow(refusedLogEvery)
	if !ok {
		return
	}
	n.log.Warn().Str("reason", refusedReasonNames[why]).Str("remote", r.RemoteAddr).Str("method", logCut(r.Method, refusedLogMax)).
		Str("path", logCut(n.withoutToken(r.URL.Path), refusedLogMax)).Int64("not_logged_before", heldBack).Msg("admin: refused a request")
}

// refusedLogMax bounds, in bytes, the method and the path a refusal's
// log line holds. Whoever reaches the port chooses them, no token
// needed, up to net/http's header limit (a MiB): whole, a line every
// refusedLogEvery held a MiB for the people who read the log and the
// stores it is shipped to.
const refusedLogMax = 256

// logCut is s when it is max bytes or shorter; otherwise its first max
// bytes or fewer, ending before a rune that would not fit whole, marked
// as cut with s's length: "/aaa… (cut from 1048576 bytes)".
func logCut(s string, max int) string {
	if len(s) <= max {
		return s
	}
	i := max
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return fmt.Sprintf("%s… (cut from %d bytes)", s[:i], len(s))
}
