package snapshot

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/ringex/ringex/internal/testkit"
)

// Snapshots hold every resting order: their directory, the snapshots and
// the rules marks are the owner's only (umask 0 while it runs, so the
// modes asked for are the modes seen). They were 0644 in a 0755
// directory.
func TestFilesOwnerOnly(t *testing.T) {
	testkit.Umask0(t)
	dir := filepath.Join(t.TempDir(), "data", "snapshots")
	s, err := OpenStore(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, seq := range []int64{0, 10, 20} {
		if _, err := s.Write(Snapshot{Seq: seq, Rules: 0xA + uint64(seq/20), Payload: []byte("resting orders")}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.MarkRules(20, 0xB); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Prune(1); err != nil {
		t.Fatal(err)
	}
	open := testkit.OpenToOthers(t, filepath.Dir(dir), nil)
	if len(open) > 0 {
		t.Fatalf("open to other local users:\n%s", strings.Join(open, "\n"))
	}
}
