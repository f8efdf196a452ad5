package node

import (
	"path/filepath"

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
