package node

import (
	"errors"
	"math"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/ringex/ringex/config"
)

// diskDir is a directory the node writes, named by what it holds (the
// `dir` label of ringex_disk_free_bytes and ringex_disk_size_bytes).
type diskDir struct {
	role, path string
}

// diskDirs lists the directories whose filesystems the node fills: the
// journal and snapshots always, the archive when segments are archived
// there, the raft log in a cluster. Two on one filesystem report it
// twice, each under its own name.
func diskDirs(cfg *config.Config) []diskDir {
	dirs := []diskDir{{"journal", cfg.JournalDir()}, {"snapshots", cfg.SnapshotDir()}}
	if cfg.Snapshot.JournalRetention == config.RetentionArchive {
		dirs = append(dirs, diskDir{"archive", cfg.ArchiveDir()})
	}
	if cfg.Cluster.Enabled() {
		dirs = append(dirs, diskDir{"raft", raftDir(cfg)})
	}
	return dirs
}

// raftDir holds a cluster member's raft log and stable store.
func raftDir(cfg *config.Config) string { return filepath.Join(cfg.Node.DataDir, "raft") }

// diskSpace reports the bytes the node may still write on the filesystem
// that holds dir — or will: a directory not created yet (the archive
// before the first segment is archived) reports its nearest existing
// parent's — as statfs's available blocks (root's reserve is not the
// node's), and the filesystem's size. NaN for both when no parent can be
// read either: unknown, never a reassuring zero or a false alarm.
func diskSpace(dir string) (free, size float64) {
	var st unix.Statfs_t
	for {
		err := unix.Statfs(dir, &st)
		if err == nil {
			return float64(st.Bavail) * float64(st.Bsize), float64(st.Blocks) * float64(st.Bsize)
		}
		parent := filepath.Dir(dir)
		if !errors.Is(err, unix.ENOENT) || parent == dir {
			return math.NaN(), math.NaN()
		}
		dir = parent
	}
}
