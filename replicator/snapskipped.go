package replicator

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/raft"

	"github.com/ringex/ringex/vfs"
)

// ErrLogStartsLate refuses a start whose raft log does not reach back to
// the entry raft reads first: the one after its newest raft snapshot it
// can read (1 with none). Raft (v1.7.1) reads every entry from there at
// its start and panics on one the log does not hold.
var ErrLogStartsLate = errors.New("replicator: the raft log starts after the entry raft reads first")

// skippedSnapshot is a raft snapshot directory raft's FileSnapshotStore
// leaves out of List: its meta.json is missing, unreadable, not JSON, or
// of a snapshot version raft does not read.
type skippedSnapshot struct {
	dir string
	why error
}

// skippedSnapshots lists the snapshot directories in dir/snapshots that
// raft's file store skips, by its own rule (getSnapshots in v1.7.1): a
// directory not named *.tmp (one raft is writing, or a crash left) whose
// meta.json does not decode as a snapshot of a version raft reads. Raft
// says so only in a WARN line of its own, at every List.
func skippedSnapshots(dir string) ([]skippedSnapshot, error) {
	snapsDir := filepath.Join(dir, "snapshots")
	entries, err := os.ReadDir(snapsDir)
	if err != nil {
		return nil, fmt.Errorf("replicator: %w", err)
	}
	var skipped []skippedSnapshot
	for _, e := range entries {
		if !e.IsDir() || strings.HasSuffix(e.Name(), snapshotTempSuffix) {
			continue
		}
		path := filepath.Join(snapsDir, e.Name())
		if err := readsAsSnapshot(filepath.Join(path, "meta.json")); err != nil {
			skipped = append(skipped, skippedSnapshot{dir: path, why: err})
		}
	}
	return skipped, nil
}

// readsAsSnapshot is nil when raft's file store would list the snapshot
// whose metadata is at path: like raft, it decodes the file's first JSON
// value and reads nothing after it.
func readsAsSnapshot(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var meta raft.SnapshotMeta
	if err := json.NewDecoder(f).Decode(&meta); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if meta.Version < raft.SnapshotVersionMin || meta.Version > raft.SnapshotVersionMax {
		return fmt.Errorf("%s: snapshot version %d, not one raft reads", path, meta.Version)
	}
	return nil
}

// checkSnapshotsSkipped acts, before raft runs, on the raft snapshot
// directories raft's store skips (skippedSnapshots) and on a log that
// does not reach back to where raft starts reading it.
//
// What a member started without a snapshot raft skipped risks (raft
// v1.7.1, NoSnapshotRestoreOnStart): raft starts after its newest
// snapshot it lists (start; 0 with none) — the skipped one is as if
// never taken. It reads every log entry from start+1 at its start for
// its membership, then applies from there the entries it learns are
// committed; the node, whose state comes from its own snapshot and
// journal (Config.Applied), skips the inputs it holds and checks that
// the rest continue them (ErrDiverged). Neither takes anything from the
// skipped snapshot, so:
//
//   - A wrong state: none. The skipped snapshot's inputs are the node's
//     already, or (a leader's snapshot, raft killed before the node
//     staged it) the node is behind and raft with it: its log ends where
//     the node's inputs do, and the leader sends its state again.
//   - Acknowledged inputs lost: none. A member's own raft snapshot leaves
//     its log ending at or after it (Compact keeps TrailingEntries), so
//     its votes answer from the same last entry; a leader's snapshot is
//     sent only to a member whose log ended before it, so every entry it
//     holds is stored on a majority without this member, and the member's
//     vote, answering from an emptied log (raft removes the whole log at
//     an install), cannot elect a leader without them.
//   - An install: a member whose log is empty (installed, nothing stored
//     after) holds no membership and is sent the leader's state again.
//   - A start that dies: when the log starts after start+1 — compaction
//     removed its first segments (64 MiB each), or an install emptied it
//     and entries after the snapshot were stored — raft's first read
//     fails and it panics naming nothing, at every start. That is
//     refused here instead (ErrLogStartsLate), naming the skipped
//     directories and the remedy, which are left as they are: a meta.json
//     put back lets the member start again.
//
// Otherwise each skipped directory is logged at warn, once, and removed:
// raft never lists it, so it never sends, restores or reaps it — it
// would stay, a whole state with every account's orders, for good.
// There is no metric: this happens at a start only, and the warning
// names the directory.
func checkSnapshotsSkipped(cfg Config, logs raft.LogStore, snaps raft.SnapshotStore) error {
	skipped, err := skippedSnapshots(cfg.Dir)
	if err != nil {
		return err
	}
	metas, err := snaps.List()
	if err != nil {
		return fmt.Errorf("replicator: listing raft snapshots: %w", err)
	}
	var start uint64
	if len(metas) > 0 {
		start = metas[0].Index
	}
	first, last, late, err := logStartsAfter(logs, start)
	if err != nil {
		return err
	}
	if late {
		var named []string
		for _, s := range skipped {
			named = append(named, fmt.Sprintf("%s (%v)", s.dir, s.why))
		}
		skippedText := "no snapshot directory raft skips was found"
		if len(named) > 0 {
			skippedText = "raft skips the snapshot directories " + strings.Join(named, ", ")
		}
		return fmt.Errorf("%w: the raft log in %s holds entries %d…%d, and raft would read entry %d first (after its newest snapshot it reads, at %d; 0: none) — %s. "+
			"Put a snapshot's meta.json back if it was moved; else move the member's data directory aside and start it without --bootstrap: it joins and is sent the leader's state",
			ErrLogStartsLate, filepath.Join(cfg.Dir, "log"), first, last, start+1, start, skippedText)
	}
	for _, s := range skipped {
		ev := cfg.Logger.Warn().Str("dir", s.dir).AnErr("why", s.why).Uint64("raft_start", start)
		if err := vfs.RemoveAllDurable(s.dir); err != nil {
			ev.AnErr("remove", err).Msg("replicator: raft skips this snapshot directory (its metadata does not read) and never removes it; removing it failed — remove it by hand. The member starts without it: its own snapshot and journal hold its state, and a leader sends it its state if it needs one")
			continue
		}
		ev.Msg("replicator: raft skips this snapshot directory (its metadata does not read) and never removes it: removed. The member starts without it: its own snapshot and journal hold its state, and a leader sends it its state if it needs one")
	}
	return nil
}

// logStartsAfter reads the raft log's range, first…last, and whether raft
// starting after the snapshot at start (0: none) would find its next
// entry compacted away: the log holds entries past start but begins
// after start+1 — raft would panic reading it.
func logStartsAfter(logs raft.LogStore, start uint64) (first, last uint64, late bool, err error) {
	if first, err = logs.FirstIndex(); err != nil {
		return 0, 0, false, err
	}
	if last, err = logs.LastIndex(); err != nil {
		return 0, 0, false, err
	}
	return first, last, last > start && first > start+1, nil
}
