package replicator

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/rs/zerolog"

	"github.com/ringex/ringex/internal/testkit"
)

// leaveSnapshotTemp makes, in the raft snapshot directory of the member in
// dir, what raft's file store leaves of a snapshot a stop cut short: a
// "<term>-<index>-<ms>.tmp" directory holding its first meta.json (no
// CRC yet) and the state written so far (size bytes). It returns the
// directory's path and the bytes of its files.
func leaveSnapshotTemp(t *testing.T, dir string, index uint64, size int) (string, int64) {
	t.Helper()
	path := filepath.Join(dir, "snapshots", fmt.Sprintf("2-%d-1765152000000%s", index, snapshotTempSuffix))
	if err := os.Mkdir(path, 0o755); err != nil {
		t.Fatal(err)
	}
	meta, err := json.Marshal(raft.SnapshotMeta{Version: raft.SnapshotVersionMax, ID: strings.TrimSuffix(filepath.Base(path), snapshotTempSuffix), Index: index, Term: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(path, "meta.json"), meta, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(path, "state.bin"), make([]byte, size), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, int64(len(meta) + size)
}

// A raft snapshot directory a stop left half written ("*.tmp": raft's
// store renames it only once the state and meta.json are fsynced) is
// removed at the member's next start, with a warning naming it and its
// size; the complete snapshot beside it is kept, and the member runs on
// it. Raft never lists a "*.tmp" directory and so never removed it: a
// member stopped mid-snapshot again and again kept a whole state copy
// more each time until its disk filled.
func TestHalfWrittenRaftSnapshotRemovedAtStart(t *testing.T) {
	dir, open := ownSnapshotMember(t)
	snap, index := onlySnapshotDir(t, dir)
	// os.ReadDir lists by name: index+10 before index+20.
	var temps []string
	var bytes []int64
	for i, size := range []int{16 << 20, 1 << 20} {
		tmp, n := leaveSnapshotTemp(t, dir, index+10*uint64(i+1), size)
		temps, bytes = append(temps, tmp), append(bytes, n)
	}
	var buf testkit.SyncBuffer
	r, err := open(5, zerolog.New(&buf))
	if err != nil {
		t.Fatalf("start refused: %v", err)
	}
	awaitReady(t, r)
	r.Close()
	for _, tmp := range temps {
		if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("half-written snapshot %s still there after the start (%v)", tmp, err)
		}
	}
	if _, err := os.Stat(filepath.Join(snap, "state.bin")); err != nil {
		t.Errorf("complete snapshot %s not kept: %v", snap, err)
	}
	if got, _ := onlySnapshotDir(t, dir); got != snap {
		t.Errorf("snapshot %s, want %s", got, snap)
	}
	warned := logLines(buf.String(), "raft snapshot left half written")
	if len(warned) != len(temps) {
		t.Fatalf("warned %v, want one line per removed directory %v:\n%s", warned, temps, buf.String())
	}
	for i, w := range warned {
		if w["level"] != "warn" || w["dir"] != temps[i] || w["bytes"] != float64(bytes[i]) {
			t.Errorf("warning %v, want level warn, dir %s, bytes %d", w, temps[i], bytes[i])
		}
	}
	// Nothing more to say at the next start.
	var again testkit.SyncBuffer
	if r, err = open(5, zerolog.New(&again)); err != nil {
		t.Fatalf("second start refused: %v", err)
	}
	r.Close()
	if warned := logLines(again.String(), "raft snapshot left half written"); len(warned) != 0 {
		t.Fatalf("second start warned again: %v", warned)
	}
}
