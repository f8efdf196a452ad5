package replicator

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/rs/zerolog"

	"github.com/ringex/ringex/vfs"
)

// snapshotTempSuffix ends the name of a raft snapshot directory raft's
// FileSnapshotStore is writing (v1.7.1: tmpSuffix): Create makes
// "<term>-<index>-<ms>.tmp", the sink's Close renames it without the
// suffix once the state and meta.json are fsynced, and Cancel removes it.
const snapshotTempSuffix = ".tmp"

// removeSnapshotTemps removes, from dir/snapshots, the directories raft's
// snapshot store left half written: a process killed while it wrote one
// (Compact on the snapshot goroutine, a leader's state on the main loop),
// or a sink whose Close failed after its state was flushed (meta.json or
// the rename: raft removes the directory only when the flush fails).
// Raft never lists a "*.tmp" directory, so it never removes one either: a
// member killed mid-snapshot at every start (a disk stall, OOM) kept one
// whole state copy more each time — every account's orders — until its
// disk filled.
//
// Called by Open before raft's store is made: raft writes a snapshot only
// once NewRaft ran, and the node's data directory lock keeps any other
// process out, so no directory removed here is one being written.
// A directory that does not remove is logged and left: the member runs
// without it, as raft ignores it.
func removeSnapshotTemps(dir string, log zerolog.Logger) error {
	snapsDir := filepath.Join(dir, "snapshots")
	entries, err := os.ReadDir(snapsDir)
	if err != nil {
		return fmt.Errorf("replicator: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() || !strings.HasSuffix(e.Name(), snapshotTempSuffix) {
			continue
		}
		path := filepath.Join(snapsDir, e.Name())
		ev := log.Warn().Str("dir", path).Int64("bytes", dirBytes(path))
		if err := vfs.RemoveAllDurable(path); err != nil {
			ev.AnErr("remove", err).Msg("replicator: a raft snapshot left half written (a stop while raft wrote it); raft never removes it, and removing it failed — remove it by hand")
			continue
		}
		ev.Msg("replicator: a raft snapshot left half written (a stop while raft wrote it) removed: raft never lists or removes it")
	}
	return nil
}

// dirBytes is the size of the files under path, as far as they read: a
// figure for the log.
func dirBytes(path string) int64 {
	var n int64
	filepath.WalkDir(path, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}
