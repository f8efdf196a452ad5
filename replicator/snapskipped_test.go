package replicator

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/rs/zerolog"

	"github.com/ringex/ringex/internal/testkit"
)

// metaDamages are what a raft snapshot's meta.json may suffer: each makes
// raft's file store skip the snapshot with a WARN line of its own.
var metaDamages = map[string]func(path string) error{
	"zeroed": func(path string) error {
		fi, err := os.Stat(path)
		if err != nil {
			return err
		}
		return os.WriteFile(path, make([]byte, fi.Size()), 0o644)
	},
	"cut": func(path string) error {
		fi, err := os.Stat(path)
		if err != nil {
			return err
		}
		return os.Truncate(path, fi.Size()/2)
	},
	"removed": os.Remove,
}

// onlySnapshotDir is the one raft snapshot directory of the member in dir,
// and the index the snapshot ends at.
func onlySnapshotDir(t *testing.T, dir string) (string, uint64) {
	t.Helper()
	metas, _ := filepath.Glob(filepath.Join(dir, "snapshots", "*", "meta.json"))
	if len(metas) != 1 {
		t.Fatalf("raft snapshots: %v", metas)
	}
	b, err := os.ReadFile(metas[0])
	if err != nil {
		t.Fatal(err)
	}
	var meta raft.SnapshotMeta
	if err := json.Unmarshal(b, &meta); err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(metas[0]), meta.Index
}

// A member whose only raft snapshot's meta.json is zeroed, cut or removed
// starts (its log reaches back to entry 1, where raft then starts reading,
// and the node holds its inputs), says so once at warn naming the
// directory, and removes it: raft skips it in List, and so never sends,
// restores or reaps it. It started silently and kept the directory for
// good. An intact snapshot is kept, and nothing is said.
func TestSkippedRaftSnapshotWarnedAndRemoved(t *testing.T) {
	for _, name := range []string{"zeroed", "cut", "removed", "intact"} {
		t.Run(name, func(t *testing.T) {
			dir, open := ownSnapshotMember(t)
			snap, _ := onlySnapshotDir(t, dir)
			if damage := metaDamages[name]; damage != nil {
				if err := damage(filepath.Join(snap, "meta.json")); err != nil {
					t.Fatal(err)
				}
			}
			var buf testkit.SyncBuffer
			r, err := open(5, zerolog.New(&buf))
			if err != nil {
				t.Fatalf("start refused: %v", err)
			}
			awaitReady(t, r)
			e := batch(6, 3)
			binary.LittleEndian.PutUint32(e[4:], 1) // origin: this member
			binary.LittleEndian.PutUint64(e[8:], 1) // its incarnation
			err = r.Propose(e)
			r.Close()
			if err != nil {
				t.Fatalf("propose after the start: %v", err)
			}
			warned := logLines(buf.String(), "raft skips this snapshot directory")
			_, statErr := os.Stat(snap)
			if name == "intact" {
				if len(warned) != 0 || statErr != nil {
					t.Fatalf("intact snapshot: warned %v, directory: %v", warned, statErr)
				}
				return
			}
			if len(warned) != 1 || warned[0]["level"] != "warn" || warned[0]["dir"] != snap {
				t.Fatalf("warned %v, want one warn line naming %s:\n%s", warned, snap, buf.String())
			}
			if !errors.Is(statErr, os.ErrNotExist) {
				t.Fatalf("skipped directory %s still there (%v)", snap, statErr)
			}
			// Nothing more to say at the next start.
			var again testkit.SyncBuffer
			if r, err = open(8, zerolog.New(&again)); err != nil {
				t.Fatalf("second start refused: %v", err)
			}
			r.Close()
			if warned := logLines(again.String(), "raft skips this snapshot directory"); len(warned) != 0 {
				t.Fatalf("second start warned again: %v", warned)
			}
		})
	}
}

// startLogAt rewrites the raft log of the member in dir to hold its
// entries from first on: the log a compaction that removed whole segments
// (64 MiB each) leaves.
func startLogAt(t *testing.T, dir string, first uint64) {
	t.Helper()
	logDir := filepath.Join(dir, "log")
	old := openTestLog(t, logDir, 0)
	last, _ := old.LastIndex()
	var kept []*raft.Log
	for i := first; i <= last; i++ {
		l := new(raft.Log)
		if err := old.GetLog(i, l); err != nil {
			t.Fatal(err)
		}
		kept = append(kept, l)
	}
	old.Close()
	if err := os.RemoveAll(logDir); err != nil {
		t.Fatal(err)
	}
	s := openTestLog(t, logDir, 0)
	defer s.Close()
	if err := s.StoreLogs(kept); err != nil {
		t.Fatal(err)
	}
}

// A member whose raft log starts after entry 1 (compaction removed its
// first segments) and whose only raft snapshot raft skips (meta.json
// zeroed, cut or removed) refuses to start, naming the log, the skipped
// directory and the remedy, and leaves the directory: raft would start
// reading the log at entry 1 and panicked on it, naming nothing, at every
// start. With the snapshot intact the same log starts.
func TestRaftLogStartingAfterRaftsFirstReadRefused(t *testing.T) {
	for _, name := range []string{"intact", "zeroed", "cut", "removed"} {
		t.Run(name, func(t *testing.T) {
			dir, open := ownSnapshotMember(t)
			snap, index := onlySnapshotDir(t, dir)
			if index < 2 {
				t.Fatalf("snapshot at index %d: the log would start at entry 1", index)
			}
			startLogAt(t, dir, index)
			damage := metaDamages[name]
			if damage == nil {
				r, err := open(5, zerolog.Nop())
				if err != nil {
					t.Fatalf("start refused with the snapshot intact: %v", err)
				}
				r.Close()
				return
			}
			if err := damage(filepath.Join(snap, "meta.json")); err != nil {
				t.Fatal(err)
			}
			r, err := open(5, zerolog.Nop())
			if err == nil {
				r.Close()
				t.Fatal("started on a log raft cannot read from its start")
			}
			for _, want := range []string{snap, filepath.Join(dir, "log"), "start it without --bootstrap"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("refusal does not name %q: %v", want, err)
				}
			}
			if !errors.Is(err, ErrLogStartsLate) {
				t.Errorf("refused with %v, want ErrLogStartsLate", err)
			}
			if _, err := os.Stat(snap); err != nil {
				t.Errorf("skipped directory not left for the operator: %v", err)
			}
		})
	}
}

// readsAsSnapshot skips what raft's file store skips and nothing else: a
// directory it lists is never removed. Raft decodes the first JSON value
// and reads nothing after it, so a good meta.json followed by anything is
// listed.
func TestReadsAsSnapshotAsRaftDoes(t *testing.T) {
	good, err := json.Marshal(raft.SnapshotMeta{Version: raft.SnapshotVersionMax, ID: "2-7-1", Index: 7, Term: 2})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		data  []byte
		reads bool
	}{
		{"good", good, true},
		{"good, then a newline", append(good, '\n'), true},
		{"good, then zeros", append(good, make([]byte, 64)...), true},
		{"zeros", make([]byte, len(good)), false},
		{"cut", good[:len(good)/2], false},
		{"empty", nil, false},
		{"a version raft does not read", []byte(`{"Version":99,"ID":"2-7-1","Index":7,"Term":2}`), false},
	} {
		path := filepath.Join(t.TempDir(), "meta.json")
		if err := os.WriteFile(path, c.data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := readsAsSnapshot(path); (err == nil) != c.reads {
			t.Errorf("%s: readsAsSnapshot = %v, raft lists it: %v", c.name, err, c.reads)
		}
	}
}
