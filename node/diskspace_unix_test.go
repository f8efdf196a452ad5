//go:build !windows

package node

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ringex/ringex/config"
)

// The node serves the free space and size of each directory's
// filesystem, as statfs reports them, and only for the directories it
// writes: the archive only when segments are archived.
func TestDiskGauges(t *testing.T) {
	for _, retention := range []string{config.RetentionDelete, config.RetentionArchive} {
		t.Run(retention, func(t *testing.T) {
			cfg := testConfig(t, t.TempDir())
			cfg.Snapshot.JournalRetention = retention
			n, addrs, _ := startNode(t, cfg)
			defer n.Stop()
			body := scrapeMetrics(t, addrs.Admin)
			want := map[string]bool{"journal": true, "snapshots": true, "archive": retention == config.RetentionArchive, "raft": false}
			for dir, served := range want {
				free, okFree := metricValue(body, `ringex_disk_free_bytes{dir="`+dir+`"}`)
				size, okSize := metricValue(body, `ringex_disk_size_bytes{dir="`+dir+`"}`)
				if okFree != served || okSize != served {
					t.Fatalf("dir %s: served free %v, size %v; want %v", dir, okFree, okSize, served)
				}
				if !served {
					continue
				}
				var st unix.Statfs_t
				if err := unix.Statfs(cfg.Node.DataDir, &st); err != nil {
					t.Fatal(err)
				}
				if wantSize := float64(st.Blocks) * float64(st.Bsize); size != wantSize {
					t.Errorf("dir %s: size %v, statfs says %v", dir, size, wantSize)
				}
				// Other tests write on this filesystem meanwhile: near, not equal.
				if statFree := float64(st.Bavail) * float64(st.Bsize); !(free > 0 && free <= size && math.Abs(free-statFree) < 1<<30) {
					t.Errorf("dir %s: free %v of %v, statfs says %v", dir, free, size, statFree)
				}
			}
		})
	}
}

// A directory not made yet reports the filesystem it will be made on;
// one under no readable directory reports NaN (unknown), not zero.
func TestDiskSpaceOfMissingDirectories(t *testing.T) {
	dir := t.TempDir()
	_, size := diskSpace(dir)
	if _, s := diskSpace(filepath.Join(dir, "archive", "not", "yet")); s != size || math.IsNaN(size) {
		t.Fatalf("a directory not made yet: size %v, its parent's %v", s, size)
	}
	if err := os.WriteFile(filepath.Join(dir, "file"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if free, size := diskSpace(filepath.Join(dir, "file", "below")); !math.IsNaN(free) || !math.IsNaN(size) {
		t.Fatalf("under a file: %v, %v; want NaN", free, size)
	}
}

// A cluster member also reports its raft log's directory.
func TestDiskDirsOfAClusterMember(t *testing.T) {
	cfg := config.Default()
	cfg.Node.DataDir = "/srv/ringex"
	cfg.Cluster.Peers = []config.Peer{{ID: 1}, {ID: 2}, {ID: 3}}
	got := map[string]string{}
	for _, d := range diskDirs(cfg) {
		got[d.role] = d.path
	}
	if got["raft"] != "/srv/ringex/raft" || got["journal"] != cfg.JournalDir() || got["snapshots"] != cfg.SnapshotDir() {
		t.Fatalf("dirs %v", got)
	}
	if _, ok := got["archive"]; ok != (cfg.Snapshot.JournalRetention == config.RetentionArchive) {
		t.Fatalf("archive listed: %v, retention %q", ok, cfg.Snapshot.JournalRetention)
	}
}
