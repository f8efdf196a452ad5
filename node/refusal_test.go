package node

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// An elected leader not yet ready (applying earlier terms' entries:
// accepting false, raft's leader is itself) refuses a control input
// saying so — "not the leader" first, so the CLI passes on. It said "no
// leader known (an election is under way, or no majority is up)" while
// its own /readyz said "leader (not ready: applying earlier entries)":
// the operator was sent to look for a majority problem that did not
// exist. (The state is made by clearing accepting on the ready
// leader: what it is between its election and its barrier.)
func TestRefusalOfALeaderNotReady(t *testing.T) {
	ns := startTestCluster(t)
	l := readyLeader(t, ns, nil)
	l.cl.accepting.Store(false)
	defer l.cl.accepting.Store(true)
	addr := l.adminLn.Addr().String()
	resp, err := http.Post("http://"+addr+"/halt?instrument=1", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	r2, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	rb, _ := io.ReadAll(r2.Body)
	r2.Body.Close()
	t.Logf("halt: %d %q; readyz: %d %q", resp.StatusCode, b, r2.StatusCode, rb)
	if !strings.Contains(string(b), "not the leader") || !strings.Contains(string(b), "just elected") {
		t.Fatalf("the elected leader's refusal says no leader is known: %q (its /readyz: %q)", strings.TrimSpace(string(b)), strings.TrimSpace(string(rb)))
	}
}
