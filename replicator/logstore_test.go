package replicator

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/ringex/ringex/vfs"
)

func testLog(i uint64) *raft.Log {
	return &raft.Log{Index: i, Term: 1 + i/10, Type: raft.LogCommand, Data: []byte(fmt.Sprintf("entry-%d", i))}
}

func storeRange(t *testing.T, s *LogStore, lo, hi uint64) {
	t.Helper()
	var logs []*raft.Log
	for i := lo; i <= hi; i++ {
		logs = append(logs, testLog(i))
	}
	if err := s.StoreLogs(logs); err != nil {
		t.Fatal(err)
	}
}

func checkRange(t *testing.T, s *LogStore, lo, hi uint64) {
	t.Helper()
	first, _ := s.FirstIndex()
	last, _ := s.LastIndex()
	if first != lo || last != hi {
		t.Fatalf("range %d…%d, want %d…%d", first, last, lo, hi)
	}
	for i := lo; i <= hi && lo != 0; i++ {
		var l raft.Log
		if err := s.GetLog(i, &l); err != nil {
			t.Fatalf("GetLog(%d): %v", i, err)
		}
		want := testLog(i)
		if l.Index != i || l.Term != want.Term || l.Type != want.Type || string(l.Data) != string(want.Data) {
			t.Fatalf("GetLog(%d) = %+v", i, l)
		}
	}
	var l raft.Log
	if err := s.GetLog(hi+1, &l); !errors.Is(err, raft.ErrLogNotFound) {
		t.Fatalf("GetLog past the end: %v", err)
	}
}

func TestLogStoreAppendReopenTruncate(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenLogStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	checkRange(t, s, 0, 0)
	storeRange(t, s, 1, 50)
	checkRange(t, s, 1, 50)
	if err := s.StoreLog(testLog(52)); err == nil {
		t.Fatal("a gap was stored")
	}
	// Suffix: a new leader overwrites 41…
	if err := s.DeleteRange(41, 50); err != nil {
		t.Fatal(err)
	}
	checkRange(t, s, 1, 40)
	storeRange(t, s, 41, 60)
	s.Close()

	if s, err = OpenLogStore(dir); err != nil {
		t.Fatal(err)
	}
	checkRange(t, s, 1, 60)
	// Prefix: compaction.
	if err := s.DeleteRange(1, 30); err != nil {
		t.Fatal(err)
	}
	checkRange(t, s, 31, 60)
	var l raft.Log
	if err := s.GetLog(30, &l); !errors.Is(err, raft.ErrLogNotFound) {
		t.Fatalf("compacted entry: %v", err)
	}
	// Everything (raft does this after restoring a snapshot).
	if err := s.DeleteRange(31, 60); err != nil {
		t.Fatal(err)
	}
	checkRange(t, s, 0, 0)
	storeRange(t, s, 100, 110)
	s.Close()
	if s, err = OpenLogStore(dir); err != nil {
		t.Fatal(err)
	}
	checkRange(t, s, 100, 110)
	s.Close()
}

// storedLog returns a directory holding a closed log of entries 1…n, each
// stored by a write of its own.
func storedLog(t *testing.T, n uint64) string {
	t.Helper()
	dir := t.TempDir()
	s, err := OpenLogStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := uint64(1); i <= n; i++ {
		storeRange(t, s, i, i)
	}
	s.Close()
	return dir
}

func TestLogStoreTornTailAndCorruption(t *testing.T) {
	dir := storedLog(t, 10)
	var s *LogStore
	var err error
	names, _ := filepath.Glob(filepath.Join(dir, "*.rlog"))
	if len(names) != 1 {
		t.Fatalf("segments %v", names)
	}
	fi, _ := os.Stat(names[0])
	// Torn tail: the last entry is cut short.
	if err := os.Truncate(names[0], fi.Size()-3); err != nil {
		t.Fatal(err)
	}
	if s, err = OpenLogStore(dir); err != nil {
		t.Fatal(err)
	}
	checkRange(t, s, 1, 9)
	// The damaged very last entry: no intact entry of its write after it.
	end := s.active().size
	wantDropped(t, s, &Dropped{Segment: names[0], Offset: end, Bytes: fi.Size() - 3 - end, FirstIndex: 10, LastIndex: 10})
	s.Close()

	// A flipped byte with valid entries of later writes after it is
	// damage, not a torn write: the store refuses to open rather than
	// forget entries.
	b, _ := os.ReadFile(names[0])
	b[logHeaderSize+logRecHeader+20] ^= 0xff
	os.WriteFile(names[0], b, 0o644)
	if _, err := OpenLogStore(dir); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("damage before valid entries: %v", err)
	}
	// Damage in a segment before the last one is never a torn tail.
	b[logHeaderSize+logRecHeader+20] ^= 0xff
	os.WriteFile(names[0], b, 0o644)
	s, _ = OpenLogStore(dir)
	if _, err := s.roll(10); err != nil {
		t.Fatal(err)
	}
	storeRange(t, s, 10, 12)
	s.Close()
	b[len(b)-2] ^= 0xff // inside entry 9, the last of the first segment
	os.WriteFile(names[0], b, 0o644)
	if _, err := OpenLogStore(dir); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("damage in %s, not the last segment: %v", names[0], err)
	}
}

// A crash between a roll's create and its header's sync leaves a last
// segment with no header: empty, or zeros. It holds no entry, and opening
// removes it; with a header missing anywhere else, or bytes that are not
// zeros, the store refuses to open.
func TestLogStoreUnfinishedRoll(t *testing.T) {
	dir := storedLog(t, 5)
	var s *LogStore
	var err error
	next := filepath.Join(dir, fmt.Sprintf("%020d.rlog", 6))
	for _, content := range [][]byte{nil, make([]byte, 8), make([]byte, 4096)} {
		if err := os.WriteFile(next, content, 0o644); err != nil {
			t.Fatal(err)
		}
		if s, err = OpenLogStore(dir); err != nil {
			t.Fatalf("open after a roll cut short (%d zero bytes): %v", len(content), err)
		}
		if _, err := os.Stat(next); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("the headerless segment is still there: %v", err)
		}
		wantDropped(t, s, &Dropped{Segment: next, Bytes: int64(len(content))})
		checkRange(t, s, 1, 5)
		storeRange(t, s, 6, 6) // in the first segment, which was not full
		checkRange(t, s, 1, 6)
		if err := s.DeleteRange(6, 6); err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
	if err := os.WriteFile(next, []byte("not a header"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenLogStore(dir); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("a last segment with a damaged header: %v, want ErrCorrupt", err)
	}
	if err := os.Remove(next); err != nil {
		t.Fatal(err)
	}
	first := filepath.Join(dir, fmt.Sprintf("%020d.rlog", 1))
	if err := os.WriteFile(first, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	header := make([]byte, logHeaderSize)
	copy(header, logMagic)
	binary.LittleEndian.PutUint32(header[4:], logVersion)
	binary.LittleEndian.PutUint64(header[8:], 6)
	if err := os.WriteFile(next, header, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenLogStore(dir); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("an empty segment before the last: %v, want ErrCorrupt", err)
	}
}

func TestStableStore(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenStableStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := s.GetUint64([]byte("CurrentTerm")); v != 0 || err != nil {
		t.Fatalf("missing uint64: %d %v", v, err)
	}
	if _, err := s.Get([]byte("LastVoteCand")); err == nil || err.Error() != "not found" {
		t.Fatalf("missing key: %v", err)
	}
	s.SetUint64([]byte("CurrentTerm"), 7)
	s.Set([]byte("LastVoteCand"), []byte("2"))
	if s, err = OpenStableStore(dir); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.GetUint64([]byte("CurrentTerm")); v != 7 {
		t.Fatalf("term %d", v)
	}
	if v, _ := s.Get([]byte("LastVoteCand")); string(v) != "2" {
		t.Fatalf("vote %q", v)
	}
	b, _ := os.ReadFile(filepath.Join(dir, stableName))
	// Bytes beyond the counted pairs, under a valid checksum.
	extra := binary.LittleEndian.AppendUint32(append(slices.Clone(b[:len(b)-4]), 0), 0)
	binary.LittleEndian.PutUint32(extra[len(extra)-4:], crc32.Checksum(extra[:len(extra)-4], castagnoli))
	os.WriteFile(filepath.Join(dir, stableName), extra, 0o644)
	if _, err := OpenStableStore(dir); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("stable store with trailing bytes: %v", err)
	}
	b[13] ^= 1
	os.WriteFile(filepath.Join(dir, stableName), b, 0o644)
	if _, err := OpenStableStore(dir); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("damaged stable store: %v", err)
	}
}

// A vote raft could not write is not kept: raft refuses the vote when
// the write fails, and would grant the candidate's retry as a repeat if
// it read the unwritten vote back — a vote on no disk, and after a
// restart another one in the same term from what the disk holds.
func TestStableStoreKeepsOnlyWhatIsWritten(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenStableStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	term, cand := []byte("LastVoteTerm"), []byte("LastVoteCand")
	s.SetUint64(term, 4)
	s.Set(cand, []byte("A"))
	s.SetUint64(term, 5)
	var failures int
	s.OnFail = func(error) { failures++ }
	blocker := filepath.Join(dir, stableName+".tmp") // the write goes through it: a directory there, not empty (a leftover .tmp is removed first), fails it
	if err := os.MkdirAll(filepath.Join(blocker, "in"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := s.Set(cand, []byte("B")); err == nil {
		t.Fatal("Set succeeded with its file blocked")
	}
	if err := s.Set([]byte("NewKey"), []byte("x")); err == nil {
		t.Fatal("Set succeeded with its file blocked")
	}
	os.RemoveAll(blocker)
	if failures != 2 {
		t.Fatalf("OnFail told of %d failed writes, want 2", failures)
	}
	if v, _ := s.Get(cand); string(v) != "A" {
		t.Fatalf("in memory after the failed write: vote %q, on disk %q", v, "A")
	}
	if _, err := s.Get([]byte("NewKey")); err == nil {
		t.Fatal("a key whose write failed reads back")
	}
	s, _ = OpenStableStore(dir)
	if v, _ := s.Get(cand); string(v) != "A" {
		t.Fatalf("after a restart: vote %q", v)
	}
}

func TestEntryRoundTrip(t *testing.T) {
	h := Header{Origin: 3, Incarnation: 99, First: 1000, Count: 3, Rules: 0xabcdef}
	e := AppendHeader(nil, h)
	ins := []Input{{RecvTime: 1, Session: 2, Account: 3, Kind: 1, Payload: []byte("abc")},
		{RecvTime: 4, Session: 5, Account: 6, Kind: 2},
		{RecvTime: 7, Session: 8, Account: 9, Kind: 1, Payload: make([]byte, 152)}}
	for i := range ins {
		e = AppendInput(e, &ins[i])
	}
	b, err := ParseBatch(e)
	if err != nil || b.Header != h || b.Last() != 1002 {
		t.Fatalf("header %+v %v", b.Header, err)
	}
	var in Input
	for i := range ins {
		ok, err := b.Next(&in)
		if !ok || err != nil || in.RecvTime != ins[i].RecvTime || in.Session != ins[i].Session ||
			in.Account != ins[i].Account || in.Kind != ins[i].Kind || string(in.Payload) != string(ins[i].Payload) {
			t.Fatalf("input %d: %+v %v %v", i, in, ok, err)
		}
	}
	if ok, err := b.Next(&in); ok || err != nil {
		t.Fatalf("after the last: %v %v", ok, err)
	}
	// A version 1 entry (no rules field) still reads, its rules unknown.
	b, err = ParseBatch(asVersion1(e))
	if want := (Header{Origin: 3, Incarnation: 99, First: 1000, Count: 3}); err != nil || b.Header != want {
		t.Fatalf("version 1 header %+v %v", b.Header, err)
	}
	for i := range ins {
		if ok, err := b.Next(&in); !ok || err != nil || string(in.Payload) != string(ins[i].Payload) {
			t.Fatalf("version 1 input %d: %+v %v %v", i, in, ok, err)
		}
	}
	// Every truncation is an error, never a panic.
	for n := 0; n < len(e); n++ {
		b, err := ParseBatch(e[:n])
		for err == nil {
			var ok bool
			if ok, err = b.Next(&in); !ok && err == nil {
				t.Fatalf("truncated at %d read as whole", n)
			}
		}
		if !errors.Is(err, ErrEntry) {
			t.Fatalf("truncated at %d: %v", n, err)
		}
	}
}

// TestLogStoreDropsSyncedPages: the log store does not keep what it has
// synced in the page cache (raft's LogCache holds recent entries), and
// entries read back from disk afterwards.
func TestLogStoreDropsSyncedPages(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenLogStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	data := make([]byte, 64<<10)
	const entries = 64 // 4 MiB
	for i := uint64(1); i <= entries; i++ {
		binary.LittleEndian.PutUint64(data, i)
		if err := s.StoreLogs([]*raft.Log{{Index: i, Term: 1, Type: raft.LogCommand, Data: data}}); err != nil {
			t.Fatal(err)
		}
	}
	seg := s.active()
	resident, err := vfs.ResidentPages(seg.f, seg.size)
	if errors.Is(err, errors.ErrUnsupported) {
		t.Skip("no page-cache calls on this system")
	}
	if err != nil {
		t.Fatal(err)
	}
	// At most the chunk not yet dropped, the last entry and the page at
	// the end stay.
	if limit := int((1<<20+int64(len(data)))/4096 + 2); resident > limit && !vfs.OnTmpfs(seg.path) {
		t.Errorf("%d of %d pages resident after %d synced entries, want at most %d", resident, seg.size/4096, entries, limit)
	}
	for i := uint64(1); i <= entries; i++ {
		var l raft.Log
		if err := s.GetLog(i, &l); err != nil || binary.LittleEndian.Uint64(l.Data) != i || len(l.Data) != len(data) {
			t.Fatalf("GetLog(%d): %v, %d bytes", i, err, len(l.Data))
		}
	}
}

// TestLogStoreAgainstModel drives a log of small segments through what
// raft does to it — appends of every size, suffixes overwritten by a new
// leader (from any entry, segment starts included), compaction, clearing,
// restarts — and checks every visible entry against a model after each
// step.
func TestLogStoreAgainstModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	dir := t.TempDir()
	open := func() *LogStore {
		s, err := OpenLogStore(dir)
		if err != nil {
			t.Fatal(err)
		}
		s.segmentBytes = 400 // ~6 entries a segment
		return s
	}
	s := open()
	defer func() { s.Close() }()
	type entry struct {
		term uint64
		data string
	}
	model := map[uint64]entry{} // every entry a GetLog may return, hidden ones too
	var first, last uint64      // the visible range; 0, 0 when empty
	var resume uint64           // when empty, the next store starts after it
	term := uint64(1)
	check := func(step int, op string) {
		t.Helper()
		f, _ := s.FirstIndex()
		l, _ := s.LastIndex()
		if f != first || l != last {
			t.Fatalf("step %d (%s): range %d…%d, model %d…%d", step, op, f, l, first, last)
		}
		for i := first; i <= last && first != 0; i++ {
			var got raft.Log
			if err := s.GetLog(i, &got); err != nil {
				t.Fatalf("step %d (%s): GetLog(%d): %v", step, op, i, err)
			}
			if want := model[i]; got.Term != want.term || string(got.Data) != want.data {
				t.Fatalf("step %d (%s): entry %d is term %d %q, model term %d %q", step, op, i, got.Term, got.Data, want.term, want.data)
			}
		}
		var got raft.Log
		if err := s.GetLog(last+1, &got); !errors.Is(err, raft.ErrLogNotFound) {
			t.Fatalf("step %d (%s): GetLog past the end: %v", step, op, err)
		}
	}
	for step := range 800 {
		var op string
		switch r := rng.IntN(100); {
		case r < 55 || last == 0: // append
			n := 1 + rng.IntN(8)
			start := last + 1
			if last == 0 {
				start = resume + 1 + uint64(rng.IntN(3)) // after a clear, raft stores from its snapshot on
			}
			var logs []*raft.Log
			for i := start; i < start+uint64(n); i++ {
				e := entry{term, fmt.Sprintf("t%d-%d-%s", term, i, strings.Repeat("x", rng.IntN(60)))}
				model[i] = e
				logs = append(logs, &raft.Log{Index: i, Term: e.term, Type: raft.LogCommand, Data: []byte(e.data)})
			}
			if err := s.StoreLogs(logs); err != nil {
				t.Fatal(err)
			}
			if first == 0 {
				first = start
			}
			last = start + uint64(n) - 1
			op = fmt.Sprintf("store %d…%d", start, last)
		case r < 75 && last > first: // a new leader overwrites from min on
			min := first + 1 + uint64(rng.IntN(int(last-first)))
			if rng.IntN(2) == 0 { // often from a segment's first entry
				for _, g := range s.segs {
					if g.first > first && g.first <= last {
						min = g.first
					}
				}
			}
			if err := s.DeleteRange(min, last); err != nil {
				t.Fatal(err)
			}
			last = min - 1
			term++
			op = fmt.Sprintf("delete suffix %d…", min)
		case r < 88 && last > first: // compaction
			max := first + uint64(rng.IntN(int(last-first)))
			if err := s.DeleteRange(first, max); err != nil {
				t.Fatal(err)
			}
			first = max + 1
			op = fmt.Sprintf("delete prefix …%d", max)
		case r < 91: // everything, as after installing a snapshot
			if err := s.DeleteRange(first, last); err != nil {
				t.Fatal(err)
			}
			resume, first, last = last, 0, 0
			op = "clear"
		default: // restart
			s.Close()
			s = open()
			// A compacted prefix still in a segment with visible entries
			// is visible again: still the same entries.
			f, _ := s.FirstIndex()
			if last != 0 && (f > first || f < first && model[f] == (entry{})) {
				t.Fatalf("step %d: reopened at %d, model first %d", step, f, first)
			}
			if last != 0 {
				first = f
			}
			op = "reopen"
		}
		check(step, op)
	}
}

// Within, across segments and past a removed prefix, against a sum of
// the entries' stored sizes one by one.
func TestLogStoreWithin(t *testing.T) {
	s, err := OpenLogStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.segmentBytes = 400 // ~6 entries a segment
	if last, left := s.Within(0, 100); last != 0 || left != 100 {
		t.Fatalf("empty store: Within(0, 100) = %d, %d", last, left)
	}
	for lo := uint64(1); lo <= 60; lo += 7 {
		storeRange(t, s, lo, min(lo+6, 60))
	}
	if err := s.DeleteRange(1, 9); err != nil {
		t.Fatal(err)
	}
	size := func(i uint64) int64 {
		start, end := s.segs[s.segmentOf(i)].entry(i)
		return end - start
	}
	for after := uint64(0); after <= 61; after++ {
		for budget := int64(0); budget <= 700; budget += 13 {
			want, left := after, budget
			for i := max(after+1, 10); i <= 60; i++ {
				if size(i) > left && want > max(after, 9) {
					break
				}
				want, left = i, max(0, left-size(i))
			}
			if after >= 60 {
				want, left = after, budget
			}
			if gotLast, gotLeft := s.Within(after, budget); gotLast != want || gotLeft != left {
				t.Fatalf("Within(%d, %d) = %d, %d; want %d, %d", after, budget, gotLast, gotLeft, want, left)
			}
		}
	}
}
