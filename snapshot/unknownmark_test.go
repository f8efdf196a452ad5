package snapshot

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/ringex/ringex/vfs"
)

// writeAll writes a snapshot of each record.
func writeAll(t *testing.T, s *Store, recs ...RulesRecord) {
	t.Helper()
	for _, r := range recs {
		if _, err := s.Write(Snapshot{Seq: r.Seq, Rules: r.Rules, Payload: []byte("state")}); err != nil {
			t.Fatal(err)
		}
	}
}

// damageRules flips a bit of the rules field of the snapshot at seq: its
// header says other rules, its checksum fails.
func damageRules(t *testing.T, s *Store, seq int64) {
	t.Helper()
	p := filepath.Join(s.dir, fileName(seq))
	raw, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	raw[32] ^= 0x01
	if err := os.WriteFile(p, raw, 0o600); err != nil {
		t.Fatal(err)
	}
}

// A good copy of a snapshot Prune had deleted damaged, put back from a
// backup beside the unknown mark Prune left: the record is known again,
// and when Prune deletes the snapshot again it leaves the record the
// snapshot holds — not the unknown mark, which said once more that
// whether the rules changed there is unknown (ErrRulesUnknown for every
// replay and resend across it). Before, a snapshot of the rules of the
// record before it needed no mark, so the unknown one stayed.
func TestPruneReplacesAnUnknownMarkBesideAGoodSnapshot(t *testing.T) {
	const a = 0xA
	s, _ := OpenStore(t.TempDir(), nil)
	writeAll(t, s, RulesRecord{0, a}, RulesRecord{10, a}, RulesRecord{20, a}, RulesRecord{30, a})
	damageRules(t, s, 20)
	if _, err := s.Prune(1); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RulesBetween(0, 40); !errors.Is(err, ErrRulesUnknown) {
		t.Fatalf("after Prune: %v, want the record at 20 unknown (setup)", err)
	}
	writeAll(t, s, RulesRecord{20, a}) // the good copy
	if _, err := s.RulesBetween(0, 40); err != nil {
		t.Fatalf("with the good copy back: %v", err)
	}
	writeAll(t, s, RulesRecord{40, a}, RulesRecord{50, a})
	if _, err := s.Prune(1); err != nil {
		t.Fatal(err)
	}
	if seqs, _ := s.List(); !slices.Equal(seqs, []int64{0, 50}) {
		t.Fatalf("kept %v", seqs)
	}
	if got, err := s.RulesBetween(0, 60); err != nil {
		t.Fatalf("after the good copy was pruned: %v %v, want no record unknown", got, err)
	}
}

// A snapshot Prune cannot read for an I/O error — too many open files, a
// read error — is not damage: Prune fails and deletes nothing, and the
// next one reads it again. Before, it left an unknown mark, which says the
// snapshot was damaged, and deleted a snapshot that might be good and
// might record a change of rules.
func TestPruneOnAReadErrorDeletesNothing(t *testing.T) {
	const a, b = 0xA, 0xB
	dir := t.TempDir()
	s, _ := OpenStore(dir, nil)
	writeAll(t, s, RulesRecord{0, a}, RulesRecord{10, a}, RulesRecord{20, b}, RulesRecord{30, b})
	s.fs = &vfs.FailOpen{FS: vfs.Default, Path: filepath.Join(dir, fileName(20)), Err: syscall.EMFILE}
	if _, err := s.Prune(1); !errors.Is(err, syscall.EMFILE) {
		t.Fatalf("Prune: %v, want the read error", err)
	}
	if _, err := os.Stat(filepath.Join(dir, markName(20))); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a mark at 20 (%v) for a snapshot Prune could not read", err)
	}
	s.fs = vfs.Default
	if seqs, _ := s.List(); !slices.Contains(seqs, 20) {
		t.Fatalf("kept %v: the snapshot Prune could not read was deleted", seqs)
	}
	if _, err := s.Prune(1); err != nil {
		t.Fatal(err)
	}
	if got, err := s.RulesBetween(0, 40); err != nil || !slices.Equal(got, []RulesRecord{{20, b}, {30, b}}) {
		t.Fatalf("after Prune: %v %v, want the change to B at 20 recorded", got, err)
	}
}

// An unknown mark's error names the file to delete, when, and why the
// node keeps it: a start under other rules rewrites its snapshot and
// then marks it, and only a crash between the two leaves it unmarked —
// before the log line that says the rules changed, so that line's
// absence does not clear the mark. Before, the error told the operator
// to delete the file unless the log held that line: the one start that
// leaves an unknown mark behind a change of rules logs none.
func TestUnknownMarkSaysWhenToDeleteIt(t *testing.T) {
	const a = 0xA
	s, _ := OpenStore(t.TempDir(), nil)
	writeAll(t, s, RulesRecord{0, a}, RulesRecord{30, a})
	if err := s.writeUnknownMark(20); err != nil {
		t.Fatal(err)
	}
	_, err := s.RulesBetween(0, 40)
	if !errors.Is(err, ErrRulesUnknown) {
		t.Fatalf("%v, want ErrRulesUnknown", err)
	}
	for _, want := range []string{filepath.Join(s.dir, markName(20)), "Delete this file if no such start happened",
		"started at input 20 under other instruments", "crashed between", "the node cannot tell, and keeps this mark", "from before input 20"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("%v\nsays nothing of %q", err, want)
		}
	}
}
