package replicator

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/rs/zerolog"

	"github.com/ringex/ringex/internal/testkit"
)

// damageState flips the last byte of the raft snapshot's state.bin in
// snap: past the header, so raft's CRC fails and the reach still reads.
func damageState(t *testing.T, snap string) {
	t.Helper()
	path := filepath.Join(snap, "state.bin")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-1] ^= 0xff
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// logLines are the lines of a JSON log whose message holds text.
func logLines(log, text string) []map[string]any {
	var found []map[string]any
	for _, line := range strings.Split(log, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && strings.Contains(fmt.Sprint(m["message"]), text) {
			found = append(found, m)
		}
	}
	return found
}

const (
	damagedRemoved = "a raft snapshot does not open (damaged): moved aside and removed"
	damagedKept    = "newest raft snapshot does not open (damaged); kept"
)

// listsSnapshot reports whether raft's store in dir lists snap.
func listsSnapshot(t *testing.T, dir, snap string) bool {
	t.Helper()
	store, err := raft.NewFileSnapshotStoreWithLogger(dir, 2, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	metas, err := store.List()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range metas {
		if m.ID == filepath.Base(snap) {
			return true
		}
	}
	return false
}

// A member whose only raft snapshot's state.bin fails raft's CRC, and
// whose raft log reaches back to entry 1 (where raft reads it from
// without that snapshot), starts without it: the snapshot is moved aside
// and removed, with one warning naming it, and the node is delivered from
// the log the inputs it does not hold (none at 5 of 5, input 5 at 4 of
// 5). Before, raft went on listing it — the snapshot it opens to send a
// follower, which failed at every try — and a node short of its inputs
// was refused ("CRC mismatch") though the log holds them.
func TestDamagedRaftSnapshotMovedAside(t *testing.T) {
	for _, applied := range []int64{5, 4} {
		t.Run(fmt.Sprintf("node at %d of 5", applied), func(t *testing.T) {
			dir, config := ownSnapshotMemberConfig(t)
			snap, _ := onlySnapshotDir(t, dir)
			damageState(t, snap)
			var buf testkit.SyncBuffer
			cfg := config(applied, zerolog.New(&buf))
			cfg.Incarnation = 2 // a new process
			var mu sync.Mutex
			var delivered []uint64
			cfg.Deliver = func(b *Batch) error {
				mu.Lock()
				defer mu.Unlock()
				for {
					var in Input
					ok, err := b.Next(&in)
					if err != nil || !ok {
						return err
					}
					delivered = append(delivered, in.Session)
				}
			}
			r, err := Open(cfg)
			if err != nil {
				t.Fatalf("start refused: %v", err)
			}
			awaitReady(t, r) // every entry of earlier terms delivered
			e := batch(6, 3)
			binary.LittleEndian.PutUint32(e[4:], 1) // origin: this member
			binary.LittleEndian.PutUint64(e[8:], 2) // its incarnation
			err = r.Propose(e)
			r.Close()
			if err != nil {
				t.Fatalf("propose after the start: %v", err)
			}
			mu.Lock()
			got := delivered
			mu.Unlock()
			var want []uint64 // the inputs of 1…5 the node does not hold
			for in := applied + 1; in <= 5; in++ {
				want = append(want, uint64(in))
			}
			if !slices.Equal(got, want) {
				t.Errorf("node at %d delivered inputs %v, want %v", applied, got, want)
			}
			if _, err := os.Stat(snap); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("damaged snapshot %s still there (%v)", snap, err)
			}
			if listsSnapshot(t, dir, snap) {
				t.Errorf("raft still lists the damaged snapshot %s", snap)
			}
			if _, err := os.Stat(snap + snapshotTempSuffix); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("damaged snapshot left aside at %s (%v)", snap+snapshotTempSuffix, err)
			}
			warned := logLines(buf.String(), damagedRemoved)
			if len(warned) != 1 || warned[0]["level"] != "warn" || warned[0]["dir"] != snap {
				t.Fatalf("warned %v, want one warn line naming %s:\n%s", warned, snap, buf.String())
			}
		})
	}
}

// A member with two raft snapshots, the newer one's state.bin damaged,
// starts from the older one: the damaged one is removed, the older one
// kept and listed first.
func TestDamagedRaftSnapshotOlderOneKept(t *testing.T) {
	dir, open := ownSnapshotMember(t)
	older, _ := onlySnapshotDir(t, dir)
	r, err := open(5, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	snapshotOwnBatch(t, r, 6, 3)
	store, err := raft.NewFileSnapshotStoreWithLogger(dir, 2, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	metas, err := store.List()
	if err != nil || len(metas) != 2 || metas[1].ID != filepath.Base(older) {
		t.Fatalf("raft snapshots %v (%v), want a newer one and %s", metas, err, older)
	}
	newer := filepath.Join(dir, "snapshots", metas[0].ID)
	damageState(t, newer)
	var buf testkit.SyncBuffer
	if r, err = open(8, zerolog.New(&buf)); err != nil {
		t.Fatalf("start refused: %v", err)
	}
	awaitReady(t, r)
	r.Close()
	if _, err := os.Stat(newer); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("damaged snapshot %s still there (%v)", newer, err)
	}
	if got, _ := onlySnapshotDir(t, dir); got != older {
		t.Errorf("snapshot %s left, want the older one %s", got, older)
	}
	if warned := logLines(buf.String(), damagedRemoved); len(warned) != 1 || warned[0]["dir"] != newer {
		t.Fatalf("warned %v, want one line naming %s", warned, newer)
	}
}

// A member whose only raft snapshot's state.bin fails raft's CRC, and
// whose raft log starts after entry 1 (compaction removed its first
// segments), keeps the snapshot — raft would read the log from entry 1
// without it, and panic — and starts on it when the node holds every
// input it reaches (raft does not read it at start), saying so at warn;
// a node short of them is refused with ErrSnapshotDamaged naming the
// snapshot, the log and the remedy. It was refused with raft's "CRC
// mismatch" alone.
func TestDamagedRaftSnapshotLogStartsLate(t *testing.T) {
	for _, applied := range []int64{5, 4} {
		t.Run(fmt.Sprintf("node at %d of 5", applied), func(t *testing.T) {
			dir, open := ownSnapshotMember(t)
			snap, index := onlySnapshotDir(t, dir)
			if index < 2 {
				t.Fatalf("snapshot at index %d: the log would start at entry 1", index)
			}
			startLogAt(t, dir, index)
			damageState(t, snap)
			var buf testkit.SyncBuffer
			r, err := open(applied, zerolog.New(&buf))
			if applied == 5 {
				if err != nil {
					t.Fatalf("start refused though the node holds the snapshot's inputs: %v", err)
				}
				r.Close()
				warned := logLines(buf.String(), damagedKept)
				if len(warned) != 1 || warned[0]["level"] != "warn" || warned[0]["dir"] != snap {
					t.Errorf("warned %v, want one warn line naming %s:\n%s", warned, snap, buf.String())
				}
			} else {
				if err == nil {
					r.Close()
					t.Fatal("started on a damaged raft snapshot reaching past the node's inputs")
				}
				if !errors.Is(err, ErrSnapshotDamaged) {
					t.Errorf("refused with %v, want ErrSnapshotDamaged", err)
				}
				for _, want := range []string{snap, filepath.Join(dir, "log"), "reaches input 5, past the node's 4", "start it without --bootstrap"} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("refusal does not name %q: %v", want, err)
					}
				}
			}
			if _, err := os.Stat(filepath.Join(snap, "state.bin")); err != nil {
				t.Errorf("damaged snapshot not kept: %v", err)
			}
		})
	}
}
