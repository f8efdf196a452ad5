package node

import (
	"net/http"
	"slices"
	"testing"
)

// A control request's query holds the parameters its endpoint takes, each
// once, and nothing else: a repeated or unknown one (or a query that does
// not parse) is refused 400 and nothing is done. Before, POST
// /halt?instrument=1&instrument=2 halted instrument 1 alone and answered
// 202, POST /accounts/4/suspend?cancel_orders=false suspended the account
// (cancelling its orders) as if the parameter were not there, and POST
// /resume took a cancel_orders it ignores.
func TestControlRefusesRepeatedOrUnknownParameters(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	if code := adminStatus(t, addrs.Admin, "POST", "/halt?instrument=2", "", nil, ""); code != http.StatusAccepted {
		t.Fatalf("POST /halt?instrument=2: %d", code)
	}
	for _, path := range []string{
		"/halt?instrument=1&instrument=3",
		"/halt?instrument=1&cancel_orders=false&cancel_orders=true",
		"/halt?instrument=1&%zz",
		"/halt?instrument=1;cancel_orders=true",
		"/resume?instrument=2&cancel_orders=true",
		"/resume?instrument=2&instrument=1",
		"/accounts/4/suspend?cancel_orders=false",
		"/accounts/4/resume?account=5",
		"/snapshot?at=now",
		"/sessions/1/close?reason=x",
	} {
		if code := adminStatus(t, addrs.Admin, "POST", path, "", nil, ""); code != http.StatusBadRequest {
			t.Errorf("POST %s: %d, want 400", path, code)
		}
	}
	st := n.stateNow()
	if !slices.Equal(st.Halted, []uint32{2}) || len(st.Suspended) != 0 {
		t.Fatalf("after the refused requests: halted %v, suspended %v; want [2] and none", st.Halted, st.Suspended)
	}
}
