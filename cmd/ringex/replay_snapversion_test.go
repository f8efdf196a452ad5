package main

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ringex/ringex/engine"
	"github.com/ringex/ringex/internal/testkit"
	"github.com/ringex/ringex/snapshot"
)

// replay --from-snapshot reads a snapshot of this build's format
// (version 4, with its sessions field) and one of the build before it
// (version 3, without), and replays the same journal after either.
func TestReplayFromSnapshotOfVersion3And4(t *testing.T) {
	for _, v := range []uint32{3, 4} {
		dir := replayDir(t, func(ecfg engine.Config, empty []byte) []snapshot.Snapshot {
			return []snapshot.Snapshot{{Seq: 1, Hash: engine.SnapshotHash(empty), Rules: ecfg.Fingerprint(),
				Sessions: [snapshot.SessionSlots]uint64{1<<60 | 1}, Payload: empty}}
		})
		file := filepath.Join(dir, "snapshots", "00000000000000000001.snap")
		if v == 3 {
			if err := os.WriteFile(file, testkit.SnapshotAsVersion3(mustRead(t, file)), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if got := binary.LittleEndian.Uint32(mustRead(t, file)[4:]); got != v {
			t.Fatalf("setup: file of version %d, want %d", got, v)
		}
		out := mustRingex(t, "replay", "--set", "node.data_dir="+dir, "--from-snapshot")
		if !strings.Contains(out, "replayed 2 records") {
			t.Errorf("version %d snapshot: want the 2 inputs after it replayed:\n%s", v, out)
		}
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
