package node

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/ringex/ringex/vfs"
)

// A resend replaying from a snapshot reads that snapshot once: restored
// from it, whose read verifies it, and its rules checked from what was
// read. Before, checking the rules records from the start point on
// verified the snapshot whole (RulesBetween), then restoring it read it
// again — about 25 ms per 100 MB cached, per resend.
func TestResendReadsItsStartSnapshotOnce(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.Gateway.RecentReports = 0 // every resend by the worker, from a snapshot
	fs := vfs.NewReadCounter(vfs.Default)
	n, addrs, _ := startNodeWith(t, cfg, Options{FS: fs})
	defer n.Stop()
	in := cfg.Instruments[0]
	c2 := dial(t, addrs.Gateway, 2)
	snap := waitSnapshot(t, n)
	seen := missTwoFills(t, n, addrs.Gateway, in, c2)
	name := fmt.Sprintf("%020d.snap", snap)
	info, err := os.Stat(filepath.Join(cfg.SnapshotDir(), name))
	if err != nil {
		t.Fatal(err)
	}
	before := fs.Read(name)

	c4 := dial(t, addrs.Gateway, 4)
	tag, err := c4.Resend(seen)
	if err != nil {
		t.Fatal(err)
	}
	resent, _, _ := resendAnswer(t, c4, tag)
	checkTwoFills(t, resent, seen, in)
	if got := n.stats.resends.replayed.Load(); got == 0 {
		t.Fatalf("the resend replayed nothing: not from the snapshot at %d", snap)
	}
	if read := fs.Read(name) - before; read != info.Size() {
		t.Fatalf("the resend read %d bytes of %s, a %d-byte snapshot: want it read once", read, name, info.Size())
	}
}
