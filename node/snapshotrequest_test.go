package node

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/ringex/ringex/engine"
)

// POST /snapshot answers what becomes of the request: 409 Conflict,
// saying why, when the node takes no snapshot of it (both state copies
// still with the writer, here held by the test), and 202 only when a
// snapshot is being taken — it answered 202 "snapshot requested" to a
// request the engine then skipped, and an operator's script took it for
// a snapshot coming.
func TestSnapshotRequestAnswersASkip(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, addrs, _ := startNode(t, cfg)
	defer n.Stop()
	post := func() (int, string) {
		t.Helper()
		resp, err := http.Post("http://"+addrs.Admin+"/snapshot", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	var held []*engine.StateCopy
	for range snapshotCopies {
		held = append(held, <-n.snapCopies) // as if two snapshots were still being written
	}
	if code, body := post(); code != http.StatusConflict || !strings.Contains(body, "skipped") {
		t.Fatalf("POST /snapshot with no state copy free: %d %q, want 409 saying it was skipped", code, body)
	}
	if err := n.RequestSnapshot(); !errors.Is(err, ErrSnapshotSkipped) {
		t.Fatalf("RequestSnapshot with no state copy free: %v, want ErrSnapshotSkipped", err)
	}
	for _, c := range held {
		n.snapCopies <- c
	}
	if code, body := post(); code != http.StatusAccepted {
		t.Fatalf("POST /snapshot: %d %q, want 202", code, body)
	}
	waitUntil(t, func() bool { return n.stats.snapshots[snapshotWritten].Load() == 1 })
	if skipped := n.stats.snapshots[snapshotSkipped].Load(); skipped != 2 {
		t.Fatalf("%d snapshots counted skipped, want 2", skipped)
	}
}
