package snapshot

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Rules A, then B, then A again: Prune deletes the snapshots of B, and the
// marks it leaves still say the inputs after the first of them were
// decided under B, and after the next A snapshot under A; a run of one
// rules leaves no mark past its first.
func TestPruneLeavesRulesMarks(t *testing.T) {
	s, _ := OpenStore(t.TempDir(), nil)
	const a, b = 0xA, 0xB
	for _, r := range []RulesRecord{{0, a}, {10, a}, {20, b}, {30, b}, {40, a}, {50, a}, {60, a}} {
		if _, err := s.Write(Snapshot{Seq: r.Seq, Rules: r.Rules, Payload: []byte("state")}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Prune(1); err != nil {
		t.Fatal(err)
	}
	if seqs, _ := s.List(); !slices.Equal(seqs, []int64{0, 60}) {
		t.Fatalf("kept %v", seqs)
	}
	got, err := s.RulesBetween(0, 60)
	want := []RulesRecord{{20, b}, {40, a}}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("between 0 and 60: %v %v, want %v", got, err, want)
	}
	if got, err := s.RulesBetween(-1, 100); err != nil || !slices.Equal(got, []RulesRecord{{0, a}, {20, b}, {40, a}, {60, a}}) {
		t.Fatalf("all records: %v %v", got, err)
	}
	if got, _ := s.RulesBetween(20, 40); len(got) != 0 {
		t.Fatalf("between 20 and 40 (exclusive): %v", got)
	}
	// Pruned again, the marks stay and none is added.
	s.Write(Snapshot{Seq: 70, Rules: a, Payload: []byte("state")})
	s.Prune(1)
	if got, _ := s.RulesBetween(0, 70); !slices.Equal(got, want) {
		t.Fatalf("after a second prune: %v, want %v", got, want)
	}
}

// A damaged or cut rules mark is reported, not read as no change; the
// records that can be read are still returned. A damaged snapshot
// header is reported the same way.
func TestDamagedRulesMarkIsUnknown(t *testing.T) {
	s, _ := OpenStore(t.TempDir(), nil)
	for _, r := range []RulesRecord{{0, 1}, {10, 2}, {20, 1}} {
		s.Write(Snapshot{Seq: r.Seq, Rules: r.Rules, Payload: []byte("state")})
	}
	s.Prune(1)
	mark := filepath.Join(s.dir, markName(10))
	good, err := os.ReadFile(mark)
	if err != nil {
		t.Fatalf("no mark for the pruned snapshot of other rules: %v", err)
	}
	for name, b := range map[string][]byte{
		"bit flipped": append([]byte{good[0] ^ 1}, good[1:]...),
		"cut":         good[:markSize-1],
		"longer":      append(append([]byte(nil), good...), 0),
		"empty":       nil,
	} {
		os.WriteFile(mark, b, 0o644)
		got, err := s.RulesBetween(0, 20)
		if !errors.Is(err, ErrRulesUnknown) || !errors.Is(err, ErrCorrupt) || len(got) != 0 {
			t.Errorf("%s mark: %v %v, want ErrRulesUnknown", name, got, err)
		}
	}
	os.WriteFile(mark, good, 0o644)
	p := filepath.Join(s.dir, fileName(20))
	b, _ := os.ReadFile(p)
	b[0] ^= 1
	os.WriteFile(p, b, 0o644)
	got, err := s.RulesBetween(0, 30)
	if !errors.Is(err, ErrRulesUnknown) || !slices.Equal(got, []RulesRecord{{10, 2}}) {
		t.Fatalf("damaged snapshot header: %v %v", got, err)
	}
}

// A flipped byte in a snapshot's rules field is damage, named as such —
// the file's checksum fails — not a record of other rules: RulesBetween
// read the header alone and returned the damaged value, which a node's
// start reported as a change of rules, and Prune kept as a rules mark
// with a good checksum of its own.
func TestDamagedRulesFieldIsDamage(t *testing.T) {
	const a = 0xA
	setup := func(t *testing.T) (*Store, string) {
		s, _ := OpenStore(t.TempDir(), nil)
		for _, seq := range []int64{0, 10, 20, 30} {
			if _, err := s.Write(Snapshot{Seq: seq, Rules: a, Payload: []byte("state")}); err != nil {
				t.Fatal(err)
			}
		}
		p := filepath.Join(s.dir, fileName(20))
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		b[32+2] ^= 0x10 // the rules field (offset 32)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return s, p
	}
	t.Run("RulesBetween", func(t *testing.T) {
		s, p := setup(t)
		got, err := s.RulesBetween(0, 40)
		if !errors.Is(err, ErrRulesUnknown) || !errors.Is(err, ErrCorrupt) ||
			!strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "checksum mismatch") {
			t.Fatalf("%v %v; want ErrRulesUnknown, ErrCorrupt naming %s and its checksum", got, err, p)
		}
		if !slices.Equal(got, []RulesRecord{{10, a}, {30, a}}) {
			t.Fatalf("records %v, want the two intact ones", got)
		}
	})
	t.Run("Prune", func(t *testing.T) {
		s, _ := setup(t)
		if _, err := s.Prune(1); err != nil {
			t.Fatal(err)
		}
		if _, err := s.markRules(20); err == nil {
			t.Fatalf("Prune left a rules mark for the damaged snapshot: its damaged rules field, recorded as a change")
		}
		got, err := s.RulesBetween(0, 40)
		if !errors.Is(err, ErrRulesUnknown) || !strings.Contains(err.Error(), markName(20)) || !slices.Equal(got, []RulesRecord{{30, a}}) {
			t.Fatalf("after Prune: %v %v, want the kept snapshot's record and the record at 20 unknown, as before Prune", got, err)
		}
	})
}

// Rules A, a restart under B whose snapshot has no mark beside it (a
// crash between the two writes, or a build before marks), and back to
// A: Prune deletes B's snapshot, damaged, and leaves a mark saying the
// record there is unknown — as RulesBetween said while the snapshot was
// there — so a resend or a replay from before it still does not cross it
// under one config. A snapshot after it, as the record before the
// damage, is marked (the unknown one says nothing of its rules); one
// with a good mark beside it keeps that mark. Before, Prune left
// nothing: the inputs after B's snapshot read as decided under A.
func TestPruneKeepsADamagedSnapshotsRecordUnknown(t *testing.T) {
	const a, b = 0xA, 0xB
	s, _ := OpenStore(t.TempDir(), nil)
	for _, r := range []RulesRecord{{0, a}, {10, a}, {20, b}, {25, a}, {30, b}, {40, a}, {50, a}} {
		if _, err := s.Write(Snapshot{Seq: r.Seq, Rules: r.Rules, Payload: []byte("state")}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.MarkRules(30, b); err != nil { // a start under B writes both
		t.Fatal(err)
	}
	for _, seq := range []int64{20, 30} {
		p := filepath.Join(s.dir, fileName(seq))
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		raw[len(raw)-6] ^= 0x01 // the payload: the checksum fails
		if err := os.WriteFile(p, raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	before, errBefore := s.RulesBetween(0, 50)
	if !errors.Is(errBefore, ErrRulesUnknown) || !strings.Contains(errBefore.Error(), fileName(20)) {
		t.Fatalf("before Prune: %v %v, want the record at 20 unknown", before, errBefore)
	}
	if _, err := s.Prune(1); err != nil {
		t.Fatal(err)
	}
	if seqs, _ := s.List(); !slices.Equal(seqs, []int64{0, 50}) {
		t.Fatalf("kept %v", seqs)
	}
	got, err := s.RulesBetween(0, 50)
	if !errors.Is(err, ErrRulesUnknown) || !strings.Contains(err.Error(), markName(20)) {
		t.Fatalf("after Prune: %v %v; want the record at 20 unknown still, named by its mark", got, err)
	}
	if want := []RulesRecord{{25, a}, {30, b}, {40, a}}; !slices.Equal(got, want) {
		t.Fatalf("after Prune: records %v, want %v", got, want)
	}
	if got, err := s.RulesBetween(20, 50); err != nil || len(got) != 3 {
		t.Fatalf("after the damaged one: %v %v, want the three marks and no error", got, err)
	}
}
