package node

import (
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"

	"github.com/ringex/ringex/vfs"
)

// segmentOpens is an FS that counts the opens of each journal segment
// (read-only: the Readers', not the journal writer's).
type segmentOpens struct {
	vfs.FS
	mu     sync.Mutex
	opened map[string]int
}

func (c *segmentOpens) Open(name string) (vfs.File, error) {
	if strings.HasSuffix(name, ".journal") {
		c.mu.Lock()
		c.opened[name]++
		c.mu.Unlock()
	}
	return c.FS.Open(name)
}

func (c *segmentOpens) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := maps.Clone(c.opened)
	clear(c.opened)
	return m
}

// A resend's replay opens each segment at most once — to read it — once
// the node has checked its header: the Reader checks the header of every
// segment of the journal and its archive, those before its start input
// too, and read them all again per resend (10 000 headers, ~330 ms on
// the dev VM, for a long-lived archive). Before, the resend opened its
// one segment twice: its header, then to read it.
func TestResendReadsEachSegmentHeaderOnce(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Gateway.RecentReports = 0 // every resend by the worker, from a snapshot
	fs := &segmentOpens{FS: vfs.Default, opened: map[string]int{}}
	n, addrs, _ := startNodeWith(t, cfg, Options{FS: fs})
	defer n.Stop()
	in := cfg.Instruments[0]
	c2 := dial(t, addrs.Gateway, 2)
	waitSnapshot(t, n)
	seen := missTwoFills(t, n, addrs.Gateway, in, c2)
	c4 := dial(t, addrs.Gateway, 4)
	for i := range 2 {
		fs.take()
		replayed := n.stats.resends.replayed.Load()
		tag, err := c4.Resend(seen)
		if err != nil {
			t.Fatal(err)
		}
		resent, _, _ := resendAnswer(t, c4, tag)
		checkTwoFills(t, resent, seen, in)
		if n.stats.resends.replayed.Load() == replayed {
			t.Fatalf("resend %d replayed nothing: not from the snapshot", i+1)
		}
		wantEachOpenedOnce(t, fmt.Sprintf("resend %d", i+1), i == 0, fs.take())
	}
}

// wantEachOpenedOnce fails t unless what opened segments, each of them
// once — unless first: the first Reader of a process checks the headers.
func wantEachOpenedOnce(t *testing.T, what string, first bool, opened map[string]int) {
	t.Helper()
	if len(opened) == 0 {
		t.Fatalf("%s opened no segment", what)
	}
	if first {
		return
	}
	for name, times := range opened {
		if times != 1 {
			t.Fatalf("%s opened %s %d times, want once: %v", what, name, times, opened)
		}
	}
}
