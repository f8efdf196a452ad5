package snapshot

import (
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ringex/ringex/vfs"
)

// countedStore is a Store in "/snaps" of an in-memory FS that counts
// the bytes read from each file.
func countedStore(t *testing.T) (*Store, *vfs.ReadCounter) {
	t.Helper()
	fs := vfs.NewReadCounter(vfs.NewCrashFS())
	s, err := OpenStore("/snaps", fs)
	if err != nil {
		t.Fatal(err)
	}
	return s, fs
}

// Prune reads of a snapshot it deletes only the header when the rules
// there are those of the record before it: it records no change, so no
// rules mark is written whatever the rest of the file holds, and the
// whole file need not be read (the oldest, most likely read from the
// disk, not the cache: 100 MB for a 100 MB state, every snapshot). It is
// read whole — verified — only before a rules mark is written from it.
// Before, d50e370's headerRules verified every one it deleted.
func TestPruneReadsOnlyTheHeaderOfAnUnchangedRulesRecord(t *testing.T) {
	s, fs := countedStore(t)
	payload := make([]byte, 1<<20)
	for _, w := range []struct {
		seq   int64
		rules uint64
	}{{0, 0xA}, {10, 0xA}, {20, 0xB}, {30, 0xB}, {40, 0xB}} {
		if _, err := s.Write(Snapshot{Seq: w.seq, Rules: w.rules, Payload: payload}); err != nil {
			t.Fatal(err)
		}
	}
	fs.Reset()
	if _, err := s.Prune(2); err != nil { // deletes 10 (rules as 0's), 20 (a change: marked)
		t.Fatal(err)
	}
	if n := fs.Read(fileName(10)); n >= int64(len(payload)) {
		t.Errorf("Prune read %d bytes of %s, whose rules are those before it: the header is enough", n, fileName(10))
	}
	if n := fs.Read(fileName(20)); n < int64(len(payload)) {
		t.Errorf("Prune read %d bytes of %s before marking its change of rules: it must verify it whole", n, fileName(20))
	}
	got, err := s.RulesBetween(0, 50)
	if err != nil || len(got) != 3 || got[0] != (RulesRecord{20, 0xB}) {
		t.Fatalf("after Prune: %v %v; want the mark of 20 and the two kept", got, err)
	}
}

// RulesBetween reads a snapshot whole once: asked again, it reads only
// the header of each snapshot it verified, as long as that header reads
// as it did — one whose header changed (here its rules field damaged) is
// verified again, and is damage. Before, every call verified every
// snapshot in its range whole: a resend, per request, read each snapshot
// taken after its start point (3.4–4.7 ms for three of a 100 000-order
// book, BenchmarkResendRulesCheck).
func TestRulesBetweenReadsASnapshotWholeOnce(t *testing.T) {
	s, fs := countedStore(t)
	payload := make([]byte, 1<<20)
	seqs := []int64{0, 10, 20, 30}
	for _, seq := range seqs {
		if _, err := s.Write(Snapshot{Seq: seq, Rules: 0xA, Payload: payload}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 2 {
		fs.Reset()
		if got, err := s.RulesBetween(0, 40); err != nil || len(got) != 3 {
			t.Fatalf("call %d: %v %v, want the records at 10, 20 and 30", i+1, got, err)
		}
		for _, seq := range seqs[1:] {
			n := fs.Read(fileName(seq))
			if i == 0 && n < int64(len(payload)) {
				t.Fatalf("call 1 read %d bytes of %s: want it verified whole", n, fileName(seq))
			}
			if i == 1 && n >= int64(len(payload)) {
				t.Fatalf("call 2 read %d bytes of %s, verified whole by call 1: want its header alone", n, fileName(seq))
			}
		}
	}
	f, err := fs.OpenReadWrite(filepath.Join("/snaps", fileName(20)))
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteAt([]byte{0xB}, 32) // the rules field: the file's checksum fails
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.RulesBetween(0, 40); !errors.Is(err, ErrRulesUnknown) || !strings.Contains(err.Error(), fileName(20)) || len(got) != 2 {
		t.Fatalf("its rules field damaged: %v %v, want the record at 20 unknown", got, err)
	}
}

// openHook is an FS that calls hook before the at-th open (Open) of the
// file at path.
type openHook struct {
	vfs.FS
	path  string
	at    int
	hook  func()
	mu    sync.Mutex
	opens int
}

func (h *openHook) Open(name string) (vfs.File, error) {
	h.mu.Lock()
	if name == h.path {
		if h.opens++; h.opens == h.at {
			h.hook()
		}
	}
	h.mu.Unlock()
	return h.FS.Open(name)
}

// RulesBetween remembers the header of the file it verified whole, not
// of one read after: a snapshot whose rules field is damaged between
// RulesBetween's Verify of the file and its read of the header (here
// the third open, after the first header read and Verify's) is damage
// at the next call, which verifies it again. Before, headerRules read the
// header again after Verify and remembered that one as verified: the
// damaged rules field counted as a record of other rules (ErrRulesChanged
// for a resend across it) at every call while the process ran.
func TestRulesBetweenRemembersTheHeaderItVerified(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, fileName(10))
	fs := &openHook{FS: vfs.Default, at: 3}
	s, err := OpenStore(dir, fs)
	if err != nil {
		t.Fatal(err)
	}
	writeAll(t, s, RulesRecord{0, 0xA}, RulesRecord{10, 0xA})
	fs.path, fs.hook = path, func() { damageRules(t, s, 10) }
	for i := range 2 {
		got, err := s.RulesBetween(0, 20)
		if i == 1 && (!errors.Is(err, ErrRulesUnknown) || !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) || len(got) != 0) {
			t.Fatalf("call %d, its rules field damaged: %v %v; want the record at 10 unknown", i+1, got, err)
		}
		for _, r := range got {
			if r.Rules != 0xA {
				t.Fatalf("call %d: %v, a record of rules %#x: only 0xA verified", i+1, got, r.Rules)
			}
		}
	}
}
