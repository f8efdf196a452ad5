package replicator

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hashicorp/raft"

	"github.com/ringex/ringex/vfs"
)

// ErrSnapshotDamaged refuses a start whose newest raft snapshot does not
// open (its state.bin fails raft's CRC, or does not read) when the node
// needs it — it reaches past the node's inputs (Config.Applied) — and
// raft, with nothing older it could start from, would start after it.
var ErrSnapshotDamaged = errors.New("replicator: this member's newest raft snapshot is damaged and the node needs it")

// damagedSnapshot is a raft snapshot raft's store lists (its meta.json
// reads) but does not open: Open reads the whole state.bin and checks it
// against the CRC in meta.json.
type damagedSnapshot struct {
	meta *raft.SnapshotMeta
	dir  string
	why  error
}

// checkSnapshotsDamaged acts, before raft runs, on the raft snapshots
// raft lists but cannot open, newer than its newest one it can (they are
// read newest first up to that one: raft uses nothing older).
//
// Raft (v1.7.1, NoSnapshotRestoreOnStart) starts after the newest
// snapshot it lists without opening it, and opens that one — only that
// one — to send a follower whose log is behind the leader's first entry:
// a damaged one fails there ("failed to open snapshot", at each try) and
// the follower gets nothing until two later Compacts have reaped it. A
// member whose journal is behind it could not stage it either
// (stageOwnSnapshotAhead, restoreOwn).
//
// Such a snapshot is moved aside — renamed "*.tmp", which raft does not
// list, then removed — with a warning naming it, when raft can start
// without it: its log reaches back to the entry after the newest snapshot
// that opens (1 with none), or holds nothing after it. The member then
// starts as if the damaged one was never taken (checkSnapshotsSkipped
// says why that costs no state and no acknowledged input): raft reads and
// applies the log from there, the node skips the inputs it holds and
// takes the rest, a member whose own older snapshot reaches past its
// inputs stages that one, and a follower is sent a snapshot once this
// member's next one is taken.
//
// Otherwise raft would read its log from an entry compaction removed and
// panic, so the damaged snapshot is kept, raft starting after it as
// before: with a warning when the node holds every input it reaches (raft
// does not read it at start), else refused (ErrSnapshotDamaged), naming
// it and the remedy.
func checkSnapshotsDamaged(cfg Config, logs raft.LogStore, snaps raft.SnapshotStore) error {
	metas, err := snaps.List()
	if err != nil {
		return fmt.Errorf("replicator: listing raft snapshots: %w", err)
	}
	var damaged []damagedSnapshot
	var start uint64 // raft's start without them: the newest that opens
	for _, m := range metas {
		_, rc, err := snaps.Open(m.ID)
		if err == nil {
			rc.Close()
			start = m.Index
			break
		}
		damaged = append(damaged, damagedSnapshot{meta: m, dir: filepath.Join(cfg.Dir, "snapshots", m.ID), why: err})
	}
	if len(damaged) == 0 {
		return nil
	}
	first, last, late, err := logStartsAfter(logs, start)
	if err != nil {
		return err
	}
	if late {
		return keepDamaged(cfg, damaged[0], first, last, start)
	}
	for _, d := range damaged {
		ev := cfg.Logger.Warn().Str("dir", d.dir).AnErr("why", d.why).Uint64("index", d.meta.Index).Int64("bytes", dirBytes(d.dir)).Uint64("raft_start", start)
		aside := d.dir + snapshotTempSuffix
		if err := os.Rename(d.dir, aside); err != nil {
			ev.AnErr("move", err).Msg("replicator: a raft snapshot does not open (damaged): moving it aside failed, raft starts after it and cannot send it — remove it by hand")
			continue
		}
		if err := vfs.RemoveAllDurable(aside); err != nil {
			// Raft no longer lists it; the next start removes what is
			// left (removeSnapshotTemps).
			ev.Str("aside", aside).AnErr("remove", err)
		}
		ev.Msg("replicator: a raft snapshot does not open (damaged): moved aside and removed. The member starts as if it was never taken: its raft log reaches back to where raft then reads it, and the node takes from it the inputs it does not hold")
	}
	return nil
}

// keepDamaged keeps d, the newest raft snapshot, damaged, when raft has
// nothing older to start from that its log reaches (first…last; start
// the newest snapshot that opens, 0: none): raft starts after d without
// reading it, which serves a node holding every input d reaches, and no
// other.
func keepDamaged(cfg Config, d damagedSnapshot, first, last, start uint64) error {
	if cfg.SnapshotApplied != nil {
		reaches, err := snapshotReaches(cfg, d.meta.ID)
		if err != nil || reaches > cfg.Applied {
			how := fmt.Sprintf("reaches input %d, past the node's %d", reaches, cfg.Applied)
			if err != nil {
				how = fmt.Sprintf("does not say how far it reaches (%v)", err)
			}
			return fmt.Errorf("%w: %s (%v) %s; without it raft would read its log from entry %d (after its newest snapshot that opens, at %d; 0: none), and the raft log in %s holds entries %d…%d. "+
				"Move the member's data directory aside and start it without --bootstrap: it joins and is sent the leader's state",
				ErrSnapshotDamaged, d.dir, d.why, how, start+1, start, filepath.Join(cfg.Dir, "log"), first, last)
		}
	}
	held := "the node holds every input it reaches"
	if cfg.SnapshotApplied == nil {
		held = "raft does not read it at start"
	}
	cfg.Logger.Warn().Str("dir", d.dir).AnErr("why", d.why).Uint64("index", d.meta.Index).Uint64("log_first", first).
		Msg("replicator: this member's newest raft snapshot does not open (damaged); kept, as its raft log does not reach back to where raft would start without it. Not needed at this start (" + held + "), but a follower it should be sent to waits for the next one")
	return nil
}

// snapshotReaches reads, with Config.SnapshotApplied, the input the raft
// snapshot id reaches from the start of its state.bin, which it reads
// from raft's file store directly: raft's Open would read the whole file
// for its CRC first.
func snapshotReaches(cfg Config, id string) (int64, error) {
	f, err := os.Open(filepath.Join(cfg.Dir, "snapshots", id, "state.bin"))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return cfg.SnapshotApplied(f)
}
