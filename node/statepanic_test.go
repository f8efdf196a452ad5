package node

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/internal/testkit"
)

// A panic while GET /state's answer is made — on the goroutine State
// starts for it, where net/http's recovery does not reach — is answered
// 500 naming an internal error, logged at error level with its stack,
// and the node goes on: the next GET /state is answered. Before, the
// panic ended the process (the test binary with it).
func TestStatePanicIsRecovered(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	logs := new(testkit.SyncBuffer)
	n, _, err := NewWithOptions(cfg, zerolog.New(logs), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	n.stateHashHook = func() { // before Start: read only by goroutines started after
		if calls.Add(1) == 1 {
			panic("injected: state hash")
		}
	}
	addrs, err := n.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	if code, body := getState(t, addrs.Admin); code != http.StatusInternalServerError || !strings.Contains(body, "internal error") ||
		!strings.Contains(body, "injected: state hash") {
		t.Fatalf("GET /state with its answer panicking: %d %q; want 500 naming an internal error and the panic", code, body)
	}
	var logged bool
	for line := range strings.Lines(logs.String()) {
		var e struct{ Level, Panic, Stack string }
		if json.Unmarshal([]byte(line), &e) == nil && e.Level == "error" && e.Panic == "injected: state hash" &&
			strings.Contains(e.Stack, "makeState") {
			logged = true
		}
	}
	if !logged {
		t.Fatalf("the panic was not logged at error level with its stack; log:\n%s", logs)
	}
	code, body := getState(t, addrs.Admin)
	var st NodeState
	if err := json.Unmarshal([]byte(body), &st); code != http.StatusOK || err != nil || st.Hash == "" {
		t.Fatalf("GET /state after the panic: %d %q (%v); want the state", code, body, err)
	}
}
