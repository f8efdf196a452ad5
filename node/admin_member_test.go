package node

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/replicator"
	"github.com/rs/zerolog"
)

// POST /cluster/replace takes id, raft and gateway, each once, both
// addresses dialable host:port; anything else is refused before the
// leader is asked (a misspelt parameter would move the member elsewhere
// than meant).
func TestReplaceRequest(t *testing.T) {
	for _, tt := range []struct {
		query string
		want  replicator.Peer
		ok    bool
	}{
		{"id=3&raft=10.0.0.13:7500&gateway=10.0.0.13:7400", replicator.Peer{ID: 3, Raft: "10.0.0.13:7500", Gateway: "10.0.0.13:7400"}, true},
		{"id=3&raft=n3.example:7500&gateway=n3.example:7400", replicator.Peer{ID: 3, Raft: "n3.example:7500", Gateway: "n3.example:7400"}, true},
		{"id=0&raft=10.0.0.13:7500&gateway=10.0.0.13:7400", replicator.Peer{}, false},
		{"id=x&raft=10.0.0.13:7500&gateway=10.0.0.13:7400", replicator.Peer{}, false},
		{"id=3&raft=10.0.0.13&gateway=10.0.0.13:7400", replicator.Peer{}, false},
		{"id=3&raft=:7500&gateway=10.0.0.13:7400", replicator.Peer{}, false},
		{"id=3&raft=0.0.0.0:7500&gateway=10.0.0.13:7400", replicator.Peer{}, false},
		{"id=3&raft=10.0.0.13:0&gateway=10.0.0.13:7400", replicator.Peer{}, false},
		{"id=3&raft=10.0.0.13:7500", replicator.Peer{}, false},
		{"id=3&raft=10.0.0.13:7500&gateway=10.0.0.13:7400&gw=x", replicator.Peer{}, false},
		{"id=3&id=4&raft=10.0.0.13:7500&gateway=10.0.0.13:7400", replicator.Peer{}, false},
		{"id=3&raft=n3%3Dx:7500&gateway=10.0.0.13:7400", replicator.Peer{}, false}, // '=': no peers entry holds it
	} {
		p, err := replaceRequest(tt.query)
		if (err == nil) != tt.ok || p != tt.want {
			t.Errorf("%s: %+v, %v; want %+v, ok %v", tt.query, p, err, tt.want, tt.ok)
		}
	}
}

// POST /cluster/replace words its refusal of a query as every admin
// endpoint does (checkQuery), naming the parameter: a repeated one was
// "id given 2 times", naming no endpoint, and a query that did not
// parse was the parser's bare `invalid URL escape "%zz"`. The status
// stays 400, before the leader is asked (the node here has no cluster:
// a request that got past the check would fail on it).
func TestReplaceRefusesAQueryAsEveryEndpointDoes(t *testing.T) {
	n := &Node{cfg: config.Default(), log: zerolog.Nop()}
	mux := http.NewServeMux()
	n.memberAdmin(mux)
	for _, tt := range []struct{ query, body string }{
		{"id=3&id=4&raft=10.0.0.13:7500&gateway=10.0.0.13:7400", "id given 2 times: POST /cluster/replace takes it once"},
		{"id=3&raft=10.0.0.13:7500&gateway=10.0.0.13:7400&%zz", `the query does not parse: invalid URL escape "%zz"`},
		{"id=3&raft=10.0.0.13:7500&gateway=10.0.0.13:7400&gw=x", `unknown parameter "gw": POST /cluster/replace takes id, raft and gateway`},
		{"id=3&raft=10.0.0.13:7500&gateway=10.0.0.13:7400;x=1", "the query does not parse: invalid semicolon separator in query"},
	} {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/cluster/replace?"+tt.query, nil))
		if body := strings.TrimSpace(w.Body.String()); w.Code != http.StatusBadRequest || body != tt.body {
			t.Errorf("POST /cluster/replace?%s: %d %q, want 400 %q", tt.query, w.Code, body, tt.body)
		}
	}
}

// A replace is refused when the member's new gateway is a raft address
// — its own or another member's — or another member's gateway, or its
// new raft address another member's gateway: the rule cluster.peers is
// held to (config.PeerAddressClashes), so the peers the answer gives are
// ones the members start with. It moved the member, and the peers it
// named were refused at the next start, or sent redirected clients to a
// consensus port. The member's own former addresses, and a member whose
// gateway is not known here, are not compared.
func TestReplaceRefusesAnAddressTaken(t *testing.T) {
	members := []replicator.Peer{
		{ID: 1, Raft: "10.0.0.11:7500", Gateway: "10.0.0.11:7400"},
		{ID: 2, Raft: "10.0.0.12:7500", Gateway: "10.0.0.12:7400"},
		{ID: 3, Raft: "10.0.0.13:7500", Gateway: "10.0.0.13:7400"},
		{ID: 4, Raft: "10.0.0.14:7500"}, // moved on another leader: gateway not known here
	}
	for _, tt := range []struct {
		raft, gateway string
		refusal       string // "": taken
	}{
		{"10.0.0.23:7500", "10.0.0.23:7400", ""},
		{"10.0.0.13:7500", "10.0.0.13:7400", ""}, // where it is: nothing to refuse
		{"10.0.0.23:7500", "10.0.0.13:7500", ""}, // its own former raft address
		{"10.0.0.23:7500", "10.0.0.14:7400", ""}, // member 4's gateway, not known here
		{"10.0.0.23:7500", "10.0.0.23:7500", `gateway="10.0.0.23:7500" is also its own raft address`},
		{"10.0.0.23:7500", "10.0.0.12:7500", `gateway="10.0.0.12:7500" is also the raft address of member 2`},
		{"10.0.0.23:7500", "10.0.0.11:7400", `gateway="10.0.0.11:7400" is also the gateway of member 1`},
		{"10.0.0.12:7400", "10.0.0.23:7400", `raft="10.0.0.12:7400" is also the gateway of member 2`},
		{"10.0.0.11:7500", "10.0.0.23:7400", `raft="10.0.0.11:7500" is also the raft address of member 1`},
		{"[::ffff:10.0.0.23]:7500", "10.0.0.23:7500", "is also its own raft address"}, // one socket spelled two ways
	} {
		err := addressesClash(members, replicator.Peer{ID: 3, Raft: tt.raft, Gateway: tt.gateway})
		if tt.refusal == "" && err != nil || tt.refusal != "" && (err == nil || !strings.Contains(err.Error(), tt.refusal)) {
			t.Errorf("member 3 to raft %s gateway %s: %v; want refused %q", tt.raft, tt.gateway, err, tt.refusal)
		}
	}
}

// dialable refuses a host the C library's resolver reads as an IPv4
// address other than as written a.b.c.d: with the cgo resolver
// (GODEBUG=netdns=cgo, macOS) net.Dial took "0:port" and "0.0:port" to
// this machine, as it takes 0.0.0.0, and "2130706433:port" to 127.0.0.1,
// where Go's resolver looked each up as a name and found none. What it
// takes is a.b.c.d, IPv6 and names, a name's labels starting with digits
// included.
func TestDialable(t *testing.T) {
	for _, tt := range []struct {
		addr, refusal string // refusal "": taken
	}{
		{"10.0.0.13:7500", ""},
		{"127.0.0.1:7500", ""},
		{"[::1]:7500", ""},
		{"n3.example:7500", ""},
		{"0.n3.example:7500", ""},
		{"3com.example:7500", ""},
		{"0x7f.example:7500", ""},
		{"0.0.0.0:7500", "0.0.0.0 is no address to dial"},
		{"[::]:7500", ":: is no address to dial"},
		{"0:7500", "0 is 0.0.0.0 to the C library's resolver: no address to dial"},
		{"0.0:7500", "0.0 is 0.0.0.0 to the C library's resolver: no address to dial"},
		{"00:7500", "00 is 0.0.0.0 to the C library's resolver: no address to dial"},
		{"0x0:7500", "0x0 is 0.0.0.0 to the C library's resolver: no address to dial"},
		{"2130706433:7500", "2130706433 is 127.0.0.1 to the C library's resolver and a host name to Go's: write 127.0.0.1"},
		{"127.1:7500", "write 127.0.0.1"},
		{"0x7f000001:7500", "write 127.0.0.1"},
		{"0177.0.0.1:7500", "write 127.0.0.1"},
		{"010.0.0.13:7500", "write 8.0.0.13"},
		{"10.65549:7500", "write 10.1.0.13"},
	} {
		err := dialable(tt.addr)
		if tt.refusal == "" && err != nil || tt.refusal != "" && (err == nil || !strings.Contains(err.Error(), tt.refusal)) {
			t.Errorf("%s: %v; want refused %q", tt.addr, err, tt.refusal)
		}
	}
}

// POST /cluster/isolate takes on=true or on=false, once, and nothing
// else: ?on=true&on=false isolated the member (the first was taken).
func TestIsolateRequest(t *testing.T) {
	for _, tt := range []struct {
		query  string
		on, ok bool
	}{
		{"on=true", true, true},
		{"on=false", false, true},
		{"", false, false},
		{"on=maybe", false, false},
		{"on=true&on=false", false, false},
		{"on=false&on=true", false, false},
		{"on=true&member=2", false, false},
		{"on=true&%zz", false, false},
	} {
		on, err := isolateRequest(tt.query)
		if (err == nil) != tt.ok || on != tt.on {
			t.Errorf("%q: %v, %v; want %v, ok %v", tt.query, on, err, tt.on, tt.ok)
		}
	}
}

// FuzzAdminQuery: the admin port's parsers of a request's query —
// POST /cluster/replace, POST /cluster/isolate, POST /halt, the pprof
// seconds — never panic on any query; a replacement they take is read
// from id, raft and gateway given once each and nothing else, and is a
// member the answer's peers entry names as config reads it, in the file
// and in RINGEX_CLUSTER_PEERS (the operator is told to put it in
// cluster.peers); an isolation taken is on= given once and nothing
// else; a halt's query taken holds instrument and cancel_orders at most
// once each, and cancel_orders is read as ParseBool reads it (false when
// absent); a profile's seconds are above 0 and at most
// maxProfileSeconds.
func FuzzAdminQuery(f *testing.F) {
	f.Add("id=3&raft=10.0.0.13:7500&gateway=10.0.0.13:7400")
	f.Add("id=3&raft=n3.example:7500&gateway=[::1]:7400")
	f.Add("on=true")
	f.Add("seconds=0x1p2")
	f.Add("seconds=%2B5&on=1")
	f.Add("instrument=BTC-USD&cancel_orders=T")
	f.Add("instrument=1&cancel_orders=yes")
	f.Add("instrument=1&instrument=2")
	f.Fuzz(func(t *testing.T, raw string) {
		if p, err := replaceRequest(raw); err == nil {
			q, _ := url.ParseQuery(raw)
			for k, v := range q {
				if k != "id" && k != "raft" && k != "gateway" || len(v) != 1 {
					t.Fatalf("%q: POST /cluster/replace's query taken with %s=%q", raw, k, v)
				}
			}
			// As the config file's list holds it, and as
			// RINGEX_CLUSTER_PEERS and --set give it.
			want := config.Peer{ID: p.ID, Raft: p.Raft, Gateway: p.Gateway}
			entry := fmt.Sprintf("%d=%s=%s", p.ID, p.Raft, p.Gateway)
			var back config.Peer
			if err := back.UnmarshalText([]byte(entry)); err != nil || back != want {
				t.Fatalf("%q: took %+v, whose peers entry %q config reads as %+v, %v", raw, p, entry, back, err)
			}
			c := config.Default()
			if err := c.Set("cluster.peers", entry); err != nil || len(c.Cluster.Peers) != 1 || c.Cluster.Peers[0] != want {
				t.Fatalf("%q: took %+v, whose peers entry %q sets cluster.peers to %+v, %v", raw, p, entry, c.Cluster.Peers, err)
			}
		}
		if on, err := isolateRequest(raw); err == nil {
			q, _ := url.ParseQuery(raw)
			if v, perr := strconv.ParseBool(q.Get("on")); len(q) != 1 || len(q["on"]) != 1 || perr != nil || v != on {
				t.Fatalf("%q: isolation %v taken from %v", raw, on, q)
			}
		}
		if checkQuery(raw, "/halt", []string{"instrument", "cancel_orders"}) == nil {
			q, _ := url.ParseQuery(raw)
			for k, v := range q {
				if k != "instrument" && k != "cancel_orders" || len(v) != 1 {
					t.Fatalf("%q: POST /halt's query taken with %s=%q", raw, k, v)
				}
			}
			cancel, err := haltCancelsOrders(q)
			want, perr := strconv.ParseBool(q.Get("cancel_orders"))
			if !q.Has("cancel_orders") {
				want, perr = false, nil
			}
			if (err != nil) != (perr != nil) || cancel != want {
				t.Fatalf("%q: cancel_orders read as %v, %v", raw, cancel, err)
			}
		}
		for _, fraction := range []bool{false, true} {
			if secs, err := profileSeconds(raw, fraction, 30); err == nil && !(secs > 0 && secs <= maxProfileSeconds) {
				t.Fatalf("%q: %v seconds taken", raw, secs)
			}
		}
	})
}

// A node alone answers the cluster's control requests 404 saying it is
// no cluster member — after the token, as a member does — where the mux
// answered "404 page not found", and ringex cluster replace sent to it
// printed that alone, as for a mistyped path. Another method is 405, as
// on a member — with the token: without it, 401 like every request
// (guard asks for the token before the routes are matched).
func TestClusterRequestsToANodeAloneSaySo(t *testing.T) {
	var cases []rawCase
	for _, c := range []struct {
		request, body string
		status        int
	}{
		{"POST /cluster/replace?id=3&raft=10.0.0.13:7500&gateway=10.0.0.13:7400", "POST /cluster/replace: this node is not a cluster member (cluster.peers is empty)", 404},
		{"POST /cluster/isolate?on=true", "POST /cluster/isolate: this node is not a cluster member (cluster.peers is empty)", 404},
		{"GET /cluster/isolate", "Method Not Allowed", 405},
	} {
		wrong := rawCase{c.request + " with a wrong token", c.request + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer wrong\r\n\r\n", 401, "unauthorized", true}
		cases = append(cases, rawCase{c.request, c.request + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + adminTestToken + "\r\n\r\n", c.status, c.body, false}, wrong)
	}
	checkRawAnswers(t, startTokenNode(t), cases)
}
