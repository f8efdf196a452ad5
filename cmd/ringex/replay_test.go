package main

import (
	"strings"
	"testing"

	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/input"
	"github.com/ringex/ringex/journal"
	"github.com/ringex/ringex/node"
	"github.com/ringex/ringex/proto"
	"github.com/ringex/ringex/snapshot"
)

type noEvents struct{}

func (noEvents) Emit(*engine.Event) {}

// replay --from-snapshot says so when the snapshot was taken under other
// instruments, accounts or limits than the config it replays with (the
// operator's copy may differ on purpose; a node refuses to start so).
func TestReplayNotesOtherRules(t *testing.T) {
	for _, tc := range []struct {
		rules    func(ours uint64) uint64
		wantNote bool
	}{
		{func(ours uint64) uint64 { return ours }, false},
		{func(ours uint64) uint64 { return ours + 1 }, true},
		{func(uint64) uint64 { return 0 }, false}, // unknown: a version 1 file
	} {
		dir := t.TempDir()
		cfg := config.Default()
		if err := cfg.Set("node.data_dir", dir); err != nil {
			t.Fatal(err)
		}
		ecfg := node.EngineConfig(cfg)
		eng, err := engine.NewEngine(ecfg, noEvents{})
		if err != nil {
			t.Fatal(err)
		}
		payload := eng.AppendSnapshot(nil)
		store, err := snapshot.OpenStore(cfg.SnapshotDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.Write(snapshot.Snapshot{Seq: 1, Hash: engine.SnapshotHash(payload), Rules: tc.rules(ecfg.Fingerprint()), Payload: payload}); err != nil {
			t.Fatal(err)
		}
		j, _, err := journal.Open(cfg.JournalDir(), journal.Options{SegmentBytes: 1 << 20, Sync: journal.SyncBatch})
		if err != nil {
			t.Fatal(err)
		}
		frame := proto.NewEncoder().Heartbeat(0)
		for seq := int64(1); seq <= 3; seq++ {
			if err := j.Append(&journal.Record{Seq: seq, Kind: uint8(input.KindControl), Payload: frame[proto.PrefixSize:]}); err != nil {
				t.Fatal(err)
			}
		}
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
		out := mustRingex(t, "replay", "--set", "node.data_dir="+dir, "--from-snapshot")
		if got := strings.Contains(out, "note: the snapshot was taken under other"); got != tc.wantNote || !strings.Contains(out, "replayed 2 records") {
			t.Errorf("rules %x: note %v, want %v:\n%s", tc.rules(ecfg.Fingerprint()), got, tc.wantNote, out)
		}
	}
}
