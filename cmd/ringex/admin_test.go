package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringex/ringex/gateway"
	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/internal/testnode"
	"github.com/ringex/ringex/node"
)

// With admin.tls the admin port speaks HTTPS: the token does not cross the
// network in clear. The admin commands reach it at https://host:port,
// trusting the CA $RINGEX_ADMIN_CA names; plain HTTP gets no answer, and
// a certificate nobody vouched for is refused.
func TestAdminOverTLS(t *testing.T) {
	ca := testkit.NewCA(t, "admin")
	certFile, keyFile, caFile := ca.WriteFiles(t, t.TempDir(), ca.Issue(t, "node", net.IPv4(127, 0, 0, 1)))
	a := testnode.Start(t, map[string]string{"journal.sync": "none", "admin.tls.cert_file": certFile, "admin.tls.key_file": keyFile})
	if resp, err := http.Get("http://" + a.Admin + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Fatal("the admin port answered plain HTTP")
		}
	}
	if _, err := ringex(t, nil, "snapshot", "--admin", "https://"+a.Admin); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("a certificate no trusted CA signed: %v", err)
	}
	t.Setenv(envAdminCA, caFile)
	out := mustRingex(t, "snapshot", "--admin", "https://"+a.Admin)
	wantLine(t, out, `^snapshot requested: being taken$`)
	out = mustRingex(t, "halt", "BTC-USD", "--admin", "https://"+a.Admin)
	wantLine(t, out, `^halt BTC-USD \(instrument 1\): accepted$`)
}

// RINGEX_ADMIN_CA, exported for the admin commands as the README says, is
// not a config key: every command that loads the config refused to start
// with it set ("matches no key"; found by an audit helper).
func TestAdminCAVariableIsNotAConfigKey(t *testing.T) {
	t.Setenv(envAdminCA, filepath.Join(t.TempDir(), "ca.pem"))
	if _, err := loadConfig("", nil); err != nil {
		t.Fatalf("with %s set: %v", envAdminCA, err)
	}
}

// A control command given a cluster's admin addresses goes to the one
// that leads: past a follower (503, not the leader), a member that is
// stopping, and a member that does not answer. A refusal of another kind (a wrong token) stops at the
// member that gave it: the command is not tried on the others.
func TestControlCommandFindsTheLeader(t *testing.T) {
	var took atomic.Int32
	follower := answering(t, http.StatusServiceUnavailable, "node: not the leader: node 3 leads; send this to its admin port", nil)
	down := testkit.ReserveAddrs(t, 1)[0] // nothing listens there
	leader := answering(t, http.StatusAccepted, "halt BTC-USD (instrument 1): accepted", &took)
	if out, err := ringex(t, nil, "halt", "BTC-USD", "--admin", follower+","+down+","+leader); err != nil || took.Load() != 1 {
		t.Fatalf("halt through a follower, a member down and the leader: %v, taken %d times\n%s", err, took.Load(), out)
	}
	// The follower named the leader the list lacks: the command says
	// so, not "none leads" (helper 271's walk: halt given two followers).
	if _, err := ringex(t, nil, "snapshot", "--admin", follower+","+down); err == nil || !strings.Contains(err.Error(), "no member took it: node 3 leads") ||
		!strings.Contains(err.Error(), "add its admin address to --admin") || strings.Contains(err.Error(), "none leads") {
		t.Fatalf("snapshot with no leader among the addresses: %v", err)
	}
	if _, err := ringex(t, nil, "snapshot", "--admin", down+","+testkit.ReserveAddrs(t, 1)[0]); err == nil || !strings.Contains(err.Error(), "no member took it (none leads, or none answered)") {
		t.Fatalf("snapshot with no member answering: %v", err)
	}
	// A member restarted one at a time (the runbook's procedures) answers
	// "node: stopping" while it settles; the leader after it takes the
	// command. Before, the command stopped there and failed.
	stopping := answering(t, http.StatusServiceUnavailable, "node: stopping", nil)
	if out, err := ringex(t, nil, "halt", "BTC-USD", "--admin", stopping+","+leader); err != nil || took.Load() != 2 {
		t.Fatalf("halt through a stopping member and the leader: %v, taken %d times in all\n%s", err, took.Load(), out)
	}
	unauthorized := answering(t, http.StatusUnauthorized, "admin: bad token", nil)
	if _, err := ringex(t, nil, "account", "suspend", "4", "--admin", unauthorized+","+leader); err == nil || !strings.Contains(err.Error(), "401") || took.Load() != 2 {
		t.Fatalf("suspend refused 401 by the first member: %v, taken %d times in all (want the two halts only)", err, took.Load())
	}
}

// answering is an admin port that answers every request code with body
// (and a newline, http.Error's); asked, unless nil, counts the requests.
// It returns its address.
func answering(t *testing.T, code int, body string, asked *atomic.Int32) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if asked != nil {
			asked.Add(1)
		}
		http.Error(w, body, code)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// cutAnswering is an admin port that answers every request code with the
// first half of body, its Content-Length the whole body's, and closes
// the connection: an answer cut before its end, as the client's timeout
// or a node stopping mid-answer cuts one. asked, unless nil, counts the
// requests. It returns its address.
func cutAnswering(t *testing.T, code int, body string, asked *atomic.Int32) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if asked != nil {
			asked.Add(1)
		}
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		fmt.Fprintf(buf, "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s",
			code, http.StatusText(code), len(body), body[:len(body)/2])
		buf.Flush()
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// An answer cut before its end (the client's 10 s timeout, a node
// stopping mid-answer) fails the command, saying that the node answered
// and the answer was cut: the part read was printed as the whole, exit
// 0, and ringex sessions and status failed to read it as JSON. A control
// command's success answer cut short was the member taking it: the
// command goes to no other member. A refusal cut short is still a
// refusal, passed on as one; a refusal is read up to 64 KiB.
func TestAdminAnswerCut(t *testing.T) {
	state := stateJSON(t, fakeState(1, nil))
	_, err := ringex(t, nil, "sessions", "--admin", cutAnswering(t, http.StatusOK, `{"Sessions":[]}`, nil))
	if err == nil || !strings.Contains(err.Error(), "the node answered 200 OK and the answer was cut after 7 bytes: unexpected EOF") {
		t.Fatalf("sessions, its answer cut: %v", err)
	}
	cut := cutAnswering(t, http.StatusOK, state, nil)
	out, err := ringex(t, nil, "status", "--admin", cut)
	if err == nil || err.Error() != cut+" answered, and the answer was cut" {
		t.Fatalf("status, its answer cut: %v\n%s", err, out)
	}
	wantLine(t, out, `^- +`+regexp.QuoteMeta(cut)+` +cut: the node answered 200 OK and the answer was cut after \d+ bytes: unexpected EOF$`)

	var cutAsked, took atomic.Int32
	leader := answering(t, http.StatusAccepted, "halt BTC-USD (instrument 1): accepted", &took)
	cutTaken := cutAnswering(t, http.StatusAccepted, "halt BTC-USD (instrument 1): accepted\n", &cutAsked)
	out, err = ringex(t, nil, "halt", "BTC-USD", "--admin", cutTaken+","+leader)
	if err == nil || !strings.Contains(err.Error(), cutTaken+": the node answered 202 Accepted and the answer was cut") ||
		!strings.Contains(err.Error(), "it took the request") || cutAsked.Load() != 1 || took.Load() != 0 {
		t.Fatalf("halt taken by the first member, its answer cut: %v, asked it %d times, the second took it %d\n%s", err, cutAsked.Load(), took.Load(), out)
	}
	follower := cutAnswering(t, http.StatusServiceUnavailable, "node: not the leader: node 3 leads; send this to its admin port\n", nil)
	if out, err := ringex(t, nil, "halt", "BTC-USD", "--admin", follower+","+leader); err != nil || took.Load() != 1 {
		t.Fatalf("halt through a follower whose refusal was cut, then the leader: %v, taken %d\n%s", err, took.Load(), out)
	}
	_, err = ringex(t, nil, "snapshot", "--admin", cutAnswering(t, http.StatusConflict, "node: snapshot skipped: the last one's state is still being copied\n", nil))
	if err == nil || !strings.Contains(err.Error(), "409 Conflict: node: snapshot skipped") || !strings.Contains(err.Error(), "(the answer was cut: unexpected EOF)") {
		t.Fatalf("snapshot refused, the refusal cut: %v", err)
	}
	_, err = ringex(t, nil, "snapshot", "--admin", answering(t, http.StatusInternalServerError, strings.Repeat("x", 1<<20), nil))
	if err == nil || len(err.Error()) > maxRefusalBody+200 || !strings.HasSuffix(err.Error(), "… (the first 64 KiB of the answer)") {
		t.Fatalf("snapshot refused at length: %d bytes of error, ending %q", len(fmt.Sprint(err)), fmt.Sprint(err)[max(0, len(fmt.Sprint(err))-80):])
	}
}

// A control command that finds no member leading for now — an election
// under way, a leader just elected — asks them all again until one
// takes it, and says so; it failed at once ("no member took it") when
// run during an election. A member that names another leader is not
// waited for (TestControlCommandFindsTheLeader).
func TestControlCommandWaitsOutAnElection(t *testing.T) {
	var asked, took atomic.Int32
	electing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch asked.Add(1) {
		case 1:
			http.Error(w, "node: not the leader: no leader known (an election is under way, or no majority is up)", http.StatusServiceUnavailable)
		case 2:
			http.Error(w, "node: not the leader: this node was just elected and applies earlier entries first; send it again in a moment", http.StatusServiceUnavailable)
		default:
			took.Add(1)
			w.WriteHeader(http.StatusAccepted)
			fmt.Fprintln(w, "snapshot: accepted")
		}
	}))
	defer electing.Close()
	follower := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "node: not the leader: no leader known (an election is under way, or no majority is up)", http.StatusServiceUnavailable)
	}))
	defer follower.Close()
	addrs := strings.TrimPrefix(follower.URL, "http://") + "," + strings.TrimPrefix(electing.URL, "http://")
	out, err := ringex(t, nil, "snapshot", "--admin", addrs)
	if err != nil || took.Load() != 1 || asked.Load() != 3 {
		t.Fatalf("snapshot during an election: %v, asked %d times, taken %d\n%s", err, asked.Load(), took.Load(), out)
	}
	if !strings.Contains(out, "no member leads for now") || !strings.Contains(out, "snapshot: accepted") {
		t.Fatalf("the command did not say it asks again, or not what the leader answered:\n%s", out)
	}
}

// A member answering that it maps its rings after its replay (503
// "starting: mapping rings", node.StartMappingRings) is restarting, as
// one replaying is: a control command goes on to the next member, and a
// lone node is asked again until it takes it. The command stopped at it
// and failed, the word unknown. ringex status shows it not ready, in the
// node's words.
func TestControlCommandPassesAMemberStarting(t *testing.T) {
	var took atomic.Int32
	mapping := answering(t, http.StatusServiceUnavailable, node.StartMappingRings, nil)
	pools := answering(t, http.StatusServiceUnavailable, node.StartMappingPools, nil) // before its replay
	leader := answering(t, http.StatusAccepted, "halt BTC-USD (instrument 1): accepted", &took)
	if out, err := ringex(t, nil, "halt", "BTC-USD", "--admin", mapping+","+pools+","+leader); err != nil || took.Load() != 1 {
		t.Fatalf("halt through members mapping their rings and their engine's pools, and the leader: %v, taken %d times\n%s", err, took.Load(), out)
	}

	var asked atomic.Int32
	lone := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if asked.Add(1) == 1 {
			http.Error(w, node.StartMappingRings, http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintln(w, "snapshot: accepted")
	}))
	defer lone.Close()
	if out, err := ringex(t, nil, "snapshot", "--admin", strings.TrimPrefix(lone.URL, "http://")); err != nil || asked.Load() != 2 {
		t.Fatalf("snapshot of a node mapping its rings: %v, asked %d times\n%s", err, asked.Load(), out)
	}

	out, err := ringex(t, nil, "status", "--admin", mapping)
	wantLine(t, out, `^- +`+regexp.QuoteMeta(mapping)+` +not ready: starting: mapping rings$`)
	if err == nil || !strings.Contains(err.Error(), mapping+" not ready: starting: mapping rings") {
		t.Fatalf("status of a node mapping its rings: %v\n%s", err, out)
	}
}

// `ringex halt --cancel-orders` asks the node to cancel the instrument's
// resting orders too; a plain halt does not.
func TestHaltCancelOrdersFlag(t *testing.T) {
	var mu sync.Mutex
	var asked []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		asked = append(asked, r.Method+" "+r.URL.RequestURI())
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)
	admin := strings.TrimPrefix(srv.URL, "http://")
	mustRingex(t, "halt", "BTC-USD", "--cancel-orders", "--admin", admin)
	mustRingex(t, "halt", "BTC-USD", "--admin", admin)
	want := []string{"POST /halt?instrument=BTC-USD&cancel_orders=true", "POST /halt?instrument=BTC-USD"}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(asked, "\n") != strings.Join(want, "\n") {
		t.Fatalf("asked %q, want %q", asked, want)
	}
	if _, err := ringex(t, nil, "resume", "BTC-USD", "--cancel-orders", "--admin", admin); err == nil {
		t.Fatal("resume took --cancel-orders")
	}
}

// `ringex snapshot` that the node answers 409 (it skipped the snapshot:
// one is still under way) fails, with the node's reason, and goes to no
// other member: the leader answered, and took no snapshot.
func TestSnapshotSkippedFails(t *testing.T) {
	var asked atomic.Int32
	skipping := answering(t, http.StatusConflict, "node: snapshot skipped: the last one's state is still being copied", &asked)
	other := answering(t, http.StatusAccepted, "snapshot requested: being taken", &asked)
	_, err := ringex(t, nil, "snapshot", "--admin", skipping+","+other)
	if err == nil || !strings.Contains(err.Error(), "409") || !strings.Contains(err.Error(), "still being copied") || asked.Load() != 1 {
		t.Fatalf("snapshot skipped by the node: %v, %d members asked; want the 409 and its reason from the first alone", err, asked.Load())
	}
}

// `ringex sessions close` and `ringex account suspend|resume` take a
// decimal id and nothing else: an argument with a '/', '?', '#', '%' or
// a space made another request (POST /sessions/1 for "1#x") or none
// ("%zz"), and ".." was redirected by the node's router (a 404, nothing
// closed). Such an argument is refused before any request, naming it; an
// id reaches the node as its one path segment.
func TestSessionsCloseTakesAnIdOnly(t *testing.T) {
	var mu sync.Mutex
	var asked []string
	mux := http.NewServeMux() // the node's patterns
	for _, pattern := range []string{"POST /sessions/{id}/close", "POST /accounts/{id}/suspend"} {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			asked = append(asked, r.URL.Path)
			mu.Unlock()
			http.Error(w, "no such live session", http.StatusNotFound)
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		asked = append(asked, "other "+r.Method+" "+r.URL.RequestURI())
		mu.Unlock()
		http.NotFound(w, r)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	admin := strings.TrimPrefix(srv.URL, "http://")
	ask := func(args ...string) ([]string, error) {
		mu.Lock()
		asked = nil
		mu.Unlock()
		_, err := ringex(t, nil, append(args, "--admin", admin)...)
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(asked), err
	}
	for _, arg := range []string{"12/34", "12?x=1", "12#x", "12%2F34", "%zz", "12 34", "..", ".", "0", "+1", "abc", "18446744073709551616"} {
		got, err := ask("sessions", "close", arg)
		if len(got) != 0 || err == nil || !strings.Contains(err.Error(), fmt.Sprintf("session %q: not a session id", arg)) {
			t.Errorf("sessions close %q: the node was asked %q, and the command said %v", arg, got, err)
		}
	}
	if got, err := ask("account", "suspend", "4294967296"); len(got) != 0 || err == nil || !strings.Contains(err.Error(), `account "4294967296": not an account id`) {
		t.Errorf("account suspend past 32 bits: the node was asked %q, and the command said %v", got, err)
	}
	if got, err := ask("sessions", "close", "18446744073709551615"); !slices.Equal(got, []string{"/sessions/18446744073709551615/close"}) ||
		err == nil || !strings.Contains(err.Error(), "no such live session") {
		t.Errorf("sessions close of an id: the node was asked %q, and the command said %v", got, err)
	}
}

// `ringex sessions` and `sessions close` ask one node, whose sessions
// they list or close: given a cluster's A,B,C, as the control commands
// and status take it, they say to give one (the leader's) and ask no
// node. They failed with a URL parse error ("invalid port … after host").
func TestSessionsRefuseAClusterList(t *testing.T) {
	var asked atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		http.NotFound(w, r)
	}))
	t.Cleanup(srv.Close)
	one := strings.TrimPrefix(srv.URL, "http://")
	list := one + "," + one
	for _, args := range [][]string{{"sessions"}, {"sessions", "close", "7"}} {
		out, err := ringex(t, nil, append(args, "--admin", list)...)
		if err == nil || !strings.Contains(err.Error(), "give one node's admin address") {
			t.Errorf("%s --admin %s: %v\n%s", strings.Join(args, " "), list, err, out)
		}
	}
	if n := asked.Load(); n != 0 {
		t.Errorf("the node was asked %d times", n)
	}
}

// An --admin list with an empty address (two commas together, one at an
// end, or none at all) is refused naming the flag, and no node is asked:
// status asked "" and printed it "down" (a control command asked it and
// went on), an address nobody gave.
func TestAdminRefusesAnEmptyAddress(t *testing.T) {
	var asked atomic.Int32
	node := answering(t, http.StatusAccepted, "snapshot: accepted", &asked)
	for _, c := range []struct{ admin, want string }{
		{node + ",," + node, "--admin " + node + ",," + node + ": address 2 of 3 is empty"},
		{node + ",", "--admin " + node + ",: address 2 of 2 is empty"},
		{" ", "--admin is empty"},
	} {
		for _, args := range [][]string{{"status"}, {"snapshot"}, {"halt", "BTC-USD"}} {
			out, err := ringex(t, nil, append(args, "--admin", c.admin)...)
			if err == nil || !strings.HasPrefix(err.Error(), c.want) {
				t.Errorf("%s --admin %q: %v, want %q\n%s", strings.Join(args, " "), c.admin, err, c.want, out)
			}
		}
	}
	if n := asked.Load(); n != 0 {
		t.Errorf("the node was asked %d times", n)
	}
}

// The other address lists refuse an empty address as --admin's does
// (addrList), naming the flag and the entry, and dial nothing: the
// client commands and bench dialled "" beside the gateways given (round
// after round, until --timeout), bench's subscribers were sent to ""
// in turn, and sessions asked "" (no node, its error naming none).
// client watch's --md-addr, one address or several, is refused empty
// or with an empty one: it was dialled as given, "" failing as a dial
// error.
func TestAddressListsRefuseAnEmptyAddress(t *testing.T) {
	var dialled, asked atomic.Int32
	gw := serveLoopback(t, func(c net.Conn) { dialled.Add(1); c.Close() })
	admin := answering(t, http.StatusOK, `{"Sessions":[]}`, &asked)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"client", "orders", "--timeout", "1s", "--addr", gw + ",," + gw}, "--addr " + gw + ",," + gw + ": address 2 of 3 is empty"},
		{[]string{"client", "shell", "--reconnect", "--timeout", "1s", "--addr", gw + ","}, "--addr " + gw + ",: address 2 of 2 is empty"},
		{[]string{"client", "orders", "--timeout", "1s", "--addr", " "}, "--addr is empty"},
		{[]string{"bench", "--duration", "1s", "--addr", "," + gw}, "bench: --addr ," + gw + ": address 1 of 2 is empty"},
		{[]string{"bench", "--duration", "1s", "--md-subscribers", "1", "--addr", gw, "--md-addr", gw + ",,"}, "bench: --md-addr " + gw + ",,: address 2 of 3 is empty"},
		{[]string{"client", "watch", "--instrument", "BTC-USD", "--timeout", "1s", "--md-addr", ""}, "--md-addr is empty"},
		{[]string{"client", "watch", "--instrument", "BTC-USD", "--timeout", "1s", "--md-addr", gw + ","}, "--md-addr " + gw + ",: address 2 of 2 is empty"},
		{[]string{"sessions", "--admin", ""}, "sessions: --admin is empty"},
		{[]string{"sessions", "--admin", admin + ","}, "sessions: --admin " + admin + ",: address 2 of 2 is empty"},
		{[]string{"sessions", "close", "7", "--admin", " "}, "session 7: --admin is empty"},
	} {
		out, err := ringex(t, strings.NewReader(""), c.args...)
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q\n%s", strings.Join(c.args, " "), err, c.want, out)
		}
	}
	if n, m := dialled.Load(), asked.Load(); n != 0 || m != 0 {
		t.Errorf("the gateway was dialled %d times, the admin port asked %d times", n, m)
	}
	// One address, spaces around it, is that address.
	mustRingex(t, "sessions", "--admin", " "+admin+" ")
}

// A 403 from the admin port says its own reason, and the CLI adds no
// token hint to it: only a missing or wrong token is refused 401. A
// token-less node reached under a name that is not loopback (a proxy that
// keeps the Host; a hosts-file alias) refuses for the Host — the CLI said
// to check --token, which the node does not have. A request a browser
// marks as from another site is refused for that.
func TestAdminForbiddenSaysItsOwnReason(t *testing.T) {
	t.Setenv("RINGEX_ADMIN_TOKEN", "")
	a := testnode.Start(t, map[string]string{"journal.sync": "none"})
	target, err := url.Parse("http://" + a.Admin)
	if err != nil {
		t.Fatal(err)
	}
	// proxy forwards to the node, changing each request with change.
	proxy := func(change func(*http.Request)) string {
		srv := httptest.NewServer(&httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			change(pr.Out)
		}})
		t.Cleanup(srv.Close)
		return strings.TrimPrefix(srv.URL, "http://")
	}
	for _, c := range []struct {
		name   string
		change func(*http.Request)
		want   string
	}{
		{"a Host that is not loopback", func(r *http.Request) { r.Host = "exchange-admin.example:7480" },
			`403 Forbidden: admin: the Host header names no loopback address: .*localhost, 127\.0\.0\.1 or \[::1\].*set admin\.token`},
		{"from another site's page", func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "cross-site") },
			`403 Forbidden: admin: request from another site's page`},
	} {
		_, err := ringex(t, nil, "sessions", "--admin", proxy(c.change))
		if err == nil || !regexp.MustCompile(c.want).MatchString(err.Error()) || strings.Contains(err.Error(), "token /") {
			t.Errorf("%s: %v\nwant %s, and no token hint", c.name, err, c.want)
		}
	}
	// The way the CLI addresses it, the same node answers.
	mustRingex(t, "sessions", "--admin", a.Admin)
}

// The admin commands send the token only to the addresses named: an
// answer redirecting elsewhere is not followed, and fails saying where
// it pointed. net/http followed it and sent the Authorization header
// along to any port of the same host, in clear if it named http://, and
// to its subdomains. The admin port never redirects a command's request.
func TestAdminTokenNotSentWhereRedirected(t *testing.T) {
	t.Setenv("RINGEX_ADMIN_TOKEN", "redirect-t0ken-0123456789abcdef")
	var reached atomic.Int32
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(elsewhere.Close)
	redirecting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+r.URL.RequestURI(), http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirecting.Close)
	admin := strings.TrimPrefix(redirecting.URL, "http://")
	for _, args := range [][]string{{"snapshot"}, {"sessions"}, {"status"}} {
		out, err := ringex(t, nil, append(args, "--admin", admin)...)
		if err == nil || !strings.Contains(err.Error()+out, "redirect") || !strings.Contains(err.Error()+out, elsewhere.URL) ||
			strings.Contains(err.Error()+out, "redirect-t0ken") {
			t.Errorf("ringex %s redirected: %v\n%s\nwant it failing, naming where the answer pointed, not the token", args[0], err, out)
		}
	}
	if n := reached.Load(); n != 0 {
		t.Fatalf("the redirect was followed %d times: the token went to %s, not named", n, elsewhere.URL)
	}
}

// The admin commands take the token from --token, $RINGEX_ADMIN_TOKEN and
// the file $RINGEX_ADMIN_TOKEN_FILE names. Any one of them is sent, and
// two or three that give the same token; two that disagree are refused
// before any request, naming the sources, not the tokens — the command
// preferred one silently (the flag, else the variable, else the file), so
// a stale variable beside the right file or flag got a 401 and no clue.
// Refused once, not once for each address of a cluster's list (as a
// member that did not answer, "none leads", or "down" in status).
func TestAdminTokenSourcesThatDisagreeAreRefused(t *testing.T) {
	var mu sync.Mutex
	var sent []string // each request's Authorization header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		sent = append(sent, r.Header.Get("Authorization"))
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)
	admin := strings.TrimPrefix(srv.URL, "http://")
	const right, stale = "right-t0ken-0123456789abcdef", "stale-t0ken-0123456789abcdef"
	file := func(token string) string {
		p := filepath.Join(t.TempDir(), "admin_token")
		if err := os.WriteFile(p, []byte(token+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	rightFile, staleFile := file(right), file(stale)
	const flag, env, inFile = "--token", "$RINGEX_ADMIN_TOKEN", "the file $RINGEX_ADMIN_TOKEN_FILE names"
	for _, tc := range []struct {
		flag, env, file string
		refused         []string // the sources the refusal names; nil: right is sent
	}{
		{right, "", "", nil},
		{"", right, "", nil},
		{"", "", rightFile, nil},
		{right, right, rightFile, nil},
		{right, stale, "", []string{flag, env}},
		{"", stale, rightFile, []string{env, inFile}},
		{stale, "", rightFile, []string{flag, inFile}},
		{right, right, staleFile, []string{flag, env, inFile}},
	} {
		t.Setenv("RINGEX_ADMIN_TOKEN", tc.env)
		t.Setenv("RINGEX_ADMIN_TOKEN_FILE", tc.file)
		what := fmt.Sprintf("--token %t, variable %t, file %t", tc.flag != "", tc.env != "", tc.file != "")
		for _, args := range [][]string{{"snapshot", "--admin", admin + "," + admin}, {"sessions", "--admin", admin}, {"status", "--admin", admin + "," + admin}} {
			if tc.flag != "" {
				args = append(args, "--token", tc.flag)
			}
			mu.Lock()
			sent = nil
			mu.Unlock()
			out, err := ringex(t, nil, args...)
			mu.Lock()
			got := slices.Clone(sent)
			mu.Unlock()
			if tc.refused == nil {
				if len(got) == 0 || slices.ContainsFunc(got, func(h string) bool { return h != "Bearer "+right }) {
					t.Errorf("%s, ringex %s: sent %q (%v)", what, args[0], got, err)
				}
				continue
			}
			msg := ""
			if err != nil {
				msg = err.Error()
			}
			if len(got) != 0 || err == nil || strings.Contains(msg+out, "t0ken") || strings.Count(msg+out, "give different admin tokens") != 1 ||
				slices.ContainsFunc(tc.refused, func(s string) bool { return !strings.Contains(msg, s) }) {
				t.Errorf("%s, ringex %s: sent %q, said %v\n%s\nwant refused once before any request, naming %q, not the tokens", what, args[0], got, err, out, tc.refused)
			}
		}
	}
}

// `ringex sessions` marks a session still logging on (GET /sessions'
// logging_on: its LogonAck not queued yet), which the node lists at once
// and closes only once acked; one logged on is not marked.
func TestSessionsMarksOneLoggingOn(t *testing.T) {
	list := `{"sessions":[{"id":"7","account":1,"from":"127.0.0.1:5001","since":"2026-12-07T10:00:00Z"},` +
		`{"id":"8","account":2,"from":"127.0.0.1:5002","since":"2026-12-07T10:00:01Z","logging_on":true}]}`
	out := mustRingex(t, "sessions", "--admin", answering(t, http.StatusOK, list, nil))
	wantLine(t, out, `^7 +1 +trading +127\.0\.0\.1:5001 +2026-12-07 10:00:00 +0$`)
	wantLine(t, out, `^8 +2 +trading +127\.0\.0\.1:5002 +2026-12-07 10:00:01 +0 \(logging on\)$`)
}

// Something at the --admin address that answers a success without end
// (no ringex node: a misdirected port, a stream) fails the command once
// the answer passes maxAnswerBody, saying so: adminDo read it whole with
// no bound, and the command's memory grew until the client's 10 s
// timeout.
func TestAdminRefusesAnAnswerWithoutEnd(t *testing.T) {
	chunk := bytes.Repeat([]byte("x"), 64<<10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	addr := strings.TrimPrefix(srv.URL, "http://")
	for _, args := range [][]string{{"sessions"}, {"status"}} {
		out, err := ringex(t, nil, append(args, "--admin", addr)...)
		if err == nil || !strings.Contains(err.Error()+out, fmt.Sprintf("passed %d MiB without ending", maxAnswerBody>>20)) {
			t.Errorf("%s --admin %s answering without end: %v, want it refused past the bound\n%.600s", args[0], addr, err, out)
		}
	}
}

// maxSessionAnswer, which the bound's comment counts sessions by, is
// what a session with the longest fields takes in GET /sessions's answer,
// encoded as the node encodes it.
func TestMaxSessionAnswerHoldsTheLongestSession(t *testing.T) {
	s := gateway.SessionInfo{ID: math.MaxUint64, Account: math.MaxUint32, DropCopy: true,
		From:  "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff%eth0]:65535",
		Since: time.Date(2026, 12, 7, 21, 15, 22, 123456789, time.FixedZone("", -(9*3600+30*60))), Unsent: 1 << 40, LoggingOn: true}
	size := func(n int) int {
		var b bytes.Buffer
		if err := json.NewEncoder(&b).Encode(map[string]any{"sessions": slices.Repeat([]gateway.SessionInfo{s}, n)}); err != nil {
			t.Fatal(err)
		}
		return b.Len()
	}
	if per := size(2) - size(1); per > maxSessionAnswer {
		t.Fatalf("a session takes %d bytes of GET /sessions's answer, more than maxSessionAnswer %d", per, maxSessionAnswer)
	}
}
