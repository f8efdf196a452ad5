package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"unicode"

	"github.com/ringex/ringex/node"
	"github.com/ringex/ringex/replicator"
)

// forging is what a node could send in any string it answers with: a
// newline followed by a line of ringex status' own (node 1's), and a
// terminal escape (OSC 0, which sets the window's title). It holds no
// ':' (a raft address holding it is not looked up: no host:port) and no
// upper case (a role is lower-cased).
const forging = "x\n1    forged 00000000000000aa\x1b]0;owned\a"

// onlyPrintable fails unless every rune of s is printable (a space is,
// a newline or escape is not).
func onlyPrintable(t *testing.T, what, s string) {
	t.Helper()
	if i := strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }); i >= 0 {
		t.Fatalf("%s holds %q at byte %d: %q", what, s[i], i, s)
	}
}

// withRules is st with its rules and reference fingerprints.
func withRules(st node.NodeState, rules, reference string) node.NodeState {
	st.Rules, st.Reference = rules, reference
	return st
}

// refusingNode answers every request with code and body, as a node's
// admin port refusing it; it returns its address.
func refusingNode(t *testing.T, code int, body string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(code)
		w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// Every string a node answers with that ringex status prints — its role,
// term, state hash, rules and reference fingerprints, election timeout,
// membership (its ids and raft addresses), own raft address, cluster
// id, a disk's dir and files labels, a refusal's words — is shown
// quoted when it is not one printable word (shownWord; a refusal's
// words, shownText): a newline in one printed a line of its own, forging
// another node's, and a terminal escape acted on the operator's
// terminal. Each reaches the output, quoted, and nothing else does.
func TestStatusQuotesWhatANodeSends(t *testing.T) {
	a := fakeNode(t, withRules(fakeState(1, &replicator.Status{State: "Leader", Ready: true, Term: "3", ElectionTimeout: "1s",
		RaftAddr: "10.0.0.1:7000", ClusterID: "prod", Membership: "1=10.0.0.1:7000,2=10.0.0.2:7000"}), "r1", "f1"), "")
	b := fakeNode(t, withRules(fakeState(2, &replicator.Status{State: "follower" + forging, Ready: true, Term: forging, ElectionTimeout: forging,
		RaftAddr: forging, ClusterID: forging, Membership: "1=10.0.0.1:7000,2=10.0.0.2:7000,3=" + forging + "," + forging + "=10.0.0.4:7000"}), forging, forging),
		// The text format's \n in a label value is a newline; the
		// escape goes as it is.
		"# TYPE ringex_disk_free_bytes gauge\n"+
			"ringex_disk_free_bytes{dir=\"journal\\n1    forged \x1b]0;owned\a\"} 1\n"+
			"# TYPE ringex_disk_waiting_seconds gauge\n"+
			"ringex_disk_waiting_seconds{files=\"journal\\n1    forged \x1b]0;owned\a\"} 12.5\n")
	// Node 2 again, from another process, with a hash of its own at
	// input 10.
	again := fakeState(2, &replicator.Status{State: "Follower", Ready: true, Term: "3", RaftAddr: "10.0.0.2:7000", ClusterID: "prod",
		Membership: "1=10.0.0.1:7000,2=10.0.0.2:7000"})
	again.Hash = forging
	b2 := fakeNode(t, again, "")
	notReady := refusingNode(t, http.StatusServiceUnavailable, "starting: mapping rings"+forging)
	refused := refusingNode(t, http.StatusUnauthorized, forging)

	out, err := ringex(t, nil, "status", "--admin", strings.Join([]string{a, b, b2, notReady, refused}, ","))
	if err == nil {
		t.Fatalf("status of members that disagree on everything passed:\n%s", out)
	}
	onlyPrintable(t, "the error", err.Error())
	for i, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		onlyPrintable(t, fmt.Sprintf("line %d", i+1), line)
	}
	if forged := regexp.MustCompile(`(?m)^1 +forged`).FindString(out); forged != "" {
		t.Fatalf("a line forged by a node's answer:\n%s", out)
	}
	word := shownWord(forging)
	for what, want := range map[string]string{
		"role":            shownWord("follower" + forging),
		"term, hash":      " " + word + " ",
		"membership":      "membership: " + shownWord("1=10.0.0.1:7000,2=10.0.0.2:7000,3="+forging+","+forging+"=10.0.0.4:7000"),
		"raft of member":  "member 3 (raft " + word + ")",
		"id of member":    "member " + word + " (raft 10.0.0.4:7000)",
		"disk's dir":      shownWord("journal\n1    forged \x1b]0;owned\a") + " ?",
		"a 503's words":   notReady + " not ready: " + shownText("starting: mapping rings"+forging),
		"a refusal's":     "refused: " + strings.TrimSuffix(shownText("401 Unauthorized: "+forging), `"`),
		"stalled files":   "a " + shownWord("journal\n1    forged \x1b]0;owned\a") + " write has waited",
		"rules":           "matches under rules " + word,
		"reference":       "reference " + word + " there",
		"timeout":         "cluster.election_timeout " + word,
		"hash":            "state hash " + word + " at input 10",
		"cluster id":      "under " + word,
		"own raft":        "takes raft RPCs at " + word,
		"other process's": "taking raft RPCs at " + word + " and 10.0.0.2:7000",
	} {
		if !strings.Contains(out, want) && !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %q shown neither in the lines nor in the error:\n%s\n%v", what, want, out, err)
		}
	}
}
