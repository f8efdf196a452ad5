package node

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/proto/wire"
)

// The data directory holds every account's orders (the journal) and
// every resting order (the snapshots): no other local user may read it.
// Every file the node makes there — journal segments, snapshots, LOCK
// files — is 0600 and every directory 0700 (umask 0 while it runs, so
// the modes asked for are the modes seen); they were 0644 and 0755.
// (Found by an audit: TestLifeDataDirNotReadableByOthers.)
func TestDataDirNotReadableByOthers(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	testkit.Umask0(t)
	cfg := testConfig(t, dir)
	n, addrs, _ := startNode(t, cfg)
	c := dial(t, addrs.Gateway, 4)
	c.NewOrder(limit(1, wire.SideBuy, cfg.Instruments[0].ReferencePrice, 1))
	next(t, c, report(wire.ExecKindAccepted))
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	if open := testkit.OpenToOthers(t, dir, nil); len(open) > 0 {
		t.Fatalf("readable by other local users:\n%s", strings.Join(open, "\n"))
	}
}

// The directories an older build made 0755, their files 0644 — the data
// directory, and a journal, snapshot and archive directory of their own
// — are closed to other users at the start, with a warning: every file
// below them with them. They stayed readable. The warning says what
// was so, not why: an operator's own mkdir under the usual umask makes
// them 0755 too, and it said "an older build made it readable by them".
func TestStartClosesAnOlderBuildsDataDirs(t *testing.T) {
	base := t.TempDir()
	conf := func() *config.Config {
		cfg := testConfig(t, filepath.Join(base, "data"))
		for key, name := range map[string]string{"journal.dir": "journal", "snapshot.dir": "snapshots", "snapshot.archive_dir": "archive"} {
			if err := cfg.Set(key, filepath.Join(base, name)); err != nil {
				t.Fatal(err)
			}
		}
		return cfg
	}
	cfg := conf()
	older := []string{cfg.Node.DataDir, cfg.JournalDir(), cfg.SnapshotDir(), cfg.ArchiveDir()}
	for _, d := range older {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "older"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chmod(d, 0o755) // whatever the umask
	}
	n, _, logs := startNodeLogging(t, cfg, Options{})
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, d := range older {
		st, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o700 {
			t.Errorf("%s is %v after a start, want 0700", d, st.Mode().Perm())
		}
		warned := false
		for _, line := range strings.Split(logs.String(), "\n") {
			warned = warned || strings.Contains(line, "node: a data directory was open to other local users") &&
				!strings.Contains(line, "older build") &&
				strings.Contains(line, `"dir":"`+d+`"`) && strings.Contains(line, `"was":"-rwxr-xr-x"`) && strings.Contains(line, `"now":"-rwx------"`)
		}
		if !warned {
			t.Errorf("no warning of closing %s; log:\n%s", d, logs)
		}
	}
	// A second start has nothing to close, and says nothing of it.
	n, _, logs = startNodeLogging(t, conf(), Options{})
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "a data directory was open") {
		t.Errorf("warned again at the next start:\n%s", logs)
	}
}
