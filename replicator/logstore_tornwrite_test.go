package replicator

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// openTestLog opens the log in dir, with segments ending at segmentBytes
// (0: the default).
func openTestLog(t *testing.T, dir string, segmentBytes int64) *LogStore {
	t.Helper()
	s, err := OpenLogStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if segmentBytes > 0 {
		s.segmentBytes = segmentBytes
	}
	return s
}

// segmentPath is the path of the segment whose first entry is first.
func segmentPath(dir string, first uint64) string {
	return filepath.Join(dir, fmt.Sprintf("%020d.rlog", first))
}

// overwrite writes b over the file at off.
func overwrite(t *testing.T, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// writeFirsts reads each entry's writeFirst from a version 2 segment file.
func writeFirsts(t *testing.T, path string) []uint64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	index := binary.LittleEndian.Uint64(b[8:])
	var wf []uint64
	for off := logHeaderSize; off < len(b); index++ {
		n, ok := checkEntry(b[off:], index, logVersion)
		if !ok {
			t.Fatalf("%s: entry %d at %d unreadable", path, index, off)
		}
		wf = append(wf, binary.LittleEndian.Uint64(b[off+logRecHeader+logWriteFirst:]))
		off += n
	}
	return wf
}

// asLogVersion1 is a segment file of whole entries in the current
// version rewritten in the version 1 layout (no writeFirst), as an older
// ringex wrote it.
func asLogVersion1(b []byte) []byte {
	v1 := slices.Clone(b[:logHeaderSize])
	binary.LittleEndian.PutUint32(v1[4:], 1)
	for off := logHeaderSize; off < len(b); {
		n := int(binary.LittleEndian.Uint32(b[off:]))
		body := b[off+logRecHeader : off+logRecHeader+n]
		v1body := append(slices.Clone(body[:logWriteFirst]), body[logWriteFirst+8:]...)
		v1 = binary.LittleEndian.AppendUint32(v1, uint32(len(v1body)))
		v1 = binary.LittleEndian.AppendUint32(v1, crc32.Checksum(v1body, castagnoli))
		v1 = append(v1, v1body...)
		off += logRecHeader + n
	}
	return v1
}

// TestLogStoreTornLastWrite: a power cut during StoreLogs' fsync can keep
// a later page of the batch and lose an earlier one — a page of zeros in
// the middle of the last write, valid entries of that write after it.
// StoreLogs never returned for that write, so nothing in it was
// acknowledged: the store opens without it, keeping every entry before
// the hole, and goes on.
func TestLogStoreTornLastWrite(t *testing.T) {
	dir := t.TempDir()
	s := openTestLog(t, dir, 0)
	storeRange(t, s, 1, 5)   // acknowledged
	storeRange(t, s, 6, 400) // the write the power cut hit: ~21 KiB
	offs := slices.Clone(s.active().offs)
	s.Close()
	const page = 4096
	hole := int64(2 * page) // the third page is lost, the fourth on are written
	if offs[5] >= hole || offs[len(offs)-1] < hole+2*page {
		t.Fatalf("the last write spans %d…%d, not around the page at %d", offs[5], offs[len(offs)-1], hole)
	}
	overwrite(t, segmentPath(dir, 1), hole, make([]byte, page))
	// The first entry lost is the first one the hole reaches: entry k
	// ends at offs[k].
	var lost uint64
	for k := 1; k < len(offs) && lost == 0; k++ {
		if offs[k] > hole {
			lost = uint64(k)
		}
	}

	size := int64(len(mustRead(t, segmentPath(dir, 1))))
	s, err := OpenLogStore(dir)
	if err != nil {
		t.Fatalf("open after a torn last write: %v", err)
	}
	checkRange(t, s, 1, lost-1)
	// The rest of the write is intact after the hole: all of it is named.
	wantDropped(t, s, &Dropped{Segment: segmentPath(dir, 1), Offset: offs[lost-1], Bytes: size - offs[lost-1],
		FirstIndex: lost, LastIndex: 400})
	storeRange(t, s, lost, lost+2)
	s.Close()
	s = openTestLog(t, dir, 0)
	checkRange(t, s, 1, lost+2)
	wantDropped(t, s, nil)
	s.Close()
}

// wantDropped checks what opening s reported it cut off (nil: nothing).
func wantDropped(t *testing.T, s *LogStore, want *Dropped) {
	t.Helper()
	got, ok := s.Dropped()
	if want == nil {
		if ok {
			t.Fatalf("reported dropping %+v; nothing was", got)
		}
		return
	}
	if !ok || got != *want {
		t.Fatalf("reported dropping %+v (%v), want %+v", got, ok, *want)
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

// TestLogStoreDamageBeforeLaterWrite: a bad entry followed by an entry of
// a later write is in a write whose fsync returned — acknowledged — and
// the store refuses to open, naming file and offset; followed by entries
// of its own write only, it is the torn last write, and dropped.
func TestLogStoreDamageBeforeLaterWrite(t *testing.T) {
	for _, tc := range []struct {
		damaged uint64 // entry zeroed (writes: 1…5, 6…10, 11…13)
		refused bool
	}{
		{damaged: 1, refused: true},
		{damaged: 3, refused: true},
		{damaged: 5, refused: true},   // the last entry of its write
		{damaged: 6, refused: true},   // the first
		{damaged: 8, refused: true},   // the write before the last
		{damaged: 11, refused: false}, // the last write, entries of it after
		{damaged: 12, refused: false},
		{damaged: 13, refused: false}, // the last entry: a torn tail
	} {
		t.Run(fmt.Sprint(tc.damaged), func(t *testing.T) {
			dir := t.TempDir()
			s := openTestLog(t, dir, 0)
			storeRange(t, s, 1, 5)
			storeRange(t, s, 6, 10)
			storeRange(t, s, 11, 13)
			offs := slices.Clone(s.active().offs)
			end := s.active().size
			s.Close()
			off := offs[tc.damaged-1]
			next := end
			if tc.damaged < uint64(len(offs)) {
				next = offs[tc.damaged]
			}
			overwrite(t, segmentPath(dir, 1), off, make([]byte, next-off))
			s, err := OpenLogStore(dir)
			if tc.refused {
				want := fmt.Sprintf("at offset %d: entry %d fails its check, a later write's entries follow", off, tc.damaged)
				if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), want) {
					t.Fatalf("damage to entry %d, later writes after it: %v, want ErrCorrupt %s", tc.damaged, err, want)
				}
				return
			}
			if err != nil {
				t.Fatalf("damage to entry %d of the last write: %v", tc.damaged, err)
			}
			checkRange(t, s, 1, tc.damaged-1)
			s.Close()
		})
	}
}

// TestLogStoreVersion1: a log an older ringex wrote (version 1, no
// writeFirst) opens and reads; appends go to a new version 2 segment,
// never after its version 1 entries, also after a suffix of it is
// overwritten; it reopens whole. A version 1 last segment keeps the old
// rule: a bad entry with any valid entry after it is refused.
func TestLogStoreVersion1(t *testing.T) {
	dir := t.TempDir()
	s := openTestLog(t, dir, 0)
	storeRange(t, s, 1, 3)
	storeRange(t, s, 4, 6)
	s.Close()
	v1 := asLogVersion1(mustRead(t, segmentPath(dir, 1)))
	if err := os.WriteFile(segmentPath(dir, 1), v1, 0o644); err != nil {
		t.Fatal(err)
	}

	s = openTestLog(t, dir, 0)
	checkRange(t, s, 1, 6)
	storeRange(t, s, 7, 9)
	checkRange(t, s, 1, 9)
	s.Close()
	if got := mustRead(t, segmentPath(dir, 1)); !slices.Equal(got, v1) {
		t.Fatal("the version 1 segment was written to")
	}
	if wf := writeFirsts(t, segmentPath(dir, 7)); !slices.Equal(wf, []uint64{7, 7, 7}) {
		t.Fatalf("the new segment's writeFirst %v, want 7 7 7", wf)
	}
	s = openTestLog(t, dir, 0)
	checkRange(t, s, 1, 9)
	if v := []uint32{s.segs[0].version, s.segs[1].version}; !slices.Equal(v, []uint32{1, logVersion}) {
		t.Fatalf("segment versions %v", v)
	}
	// A new leader overwrites 5…: the version 2 segment goes, the
	// version 1 one is cut, and the new entries start a version 2 one.
	if err := s.DeleteRange(5, 9); err != nil {
		t.Fatal(err)
	}
	storeRange(t, s, 5, 8)
	checkRange(t, s, 1, 8)
	s.Close()
	s = openTestLog(t, dir, 0)
	checkRange(t, s, 1, 8)
	if len(s.segs) != 2 || s.segs[1].first != 5 || s.segs[1].version != logVersion {
		t.Fatalf("after the overwrite: %d segments, the last from %d, version %d", len(s.segs), s.active().first, s.active().version)
	}
	s.Close()

	// A version 1 last segment: one write 1…6, entry 3 zeroed.
	dir = t.TempDir()
	s = openTestLog(t, dir, 0)
	storeRange(t, s, 1, 6)
	s.Close()
	v1 = asLogVersion1(mustRead(t, segmentPath(dir, 1)))
	torn := slices.Clone(v1[:len(v1)-3])
	if err := os.WriteFile(segmentPath(dir, 1), torn, 0o644); err != nil {
		t.Fatal(err)
	}
	s = openTestLog(t, dir, 0)
	checkRange(t, s, 1, 5) // a torn tail is still a torn tail
	s.Close()
	if err := os.WriteFile(segmentPath(dir, 1), v1, 0o644); err != nil {
		t.Fatal(err)
	}
	s = openTestLog(t, dir, 0)
	off := s.active().offs[2]
	s.Close()
	overwrite(t, segmentPath(dir, 1), off, make([]byte, 8))
	if _, err := OpenLogStore(dir); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("version 1, a bad entry before valid ones: %v, want ErrCorrupt", err)
	}
}

// TestLogStoreWriteAcrossSegments: a StoreLogs batch that fills a segment
// is written (and fsynced) once per segment, and writeFirst is the first
// index of each of those writes: in a segment the batch started, the
// batch's first; in the next ones, the segment's first. So the part of
// the batch in the last segment is that segment's last write — a hole in
// it is a torn write — and earlier parts, fsynced before the roll, are in
// segments before the last, where any damage is refused.
func TestLogStoreWriteAcrossSegments(t *testing.T) {
	const segBytes = 400 // ~7 entries of ~53 bytes a segment
	dir := t.TempDir()
	s := openTestLog(t, dir, segBytes)
	storeRange(t, s, 1, 3)
	storeRange(t, s, 4, 24) // spans three segments
	var firsts []uint64
	for _, g := range s.segs {
		firsts = append(firsts, g.first)
	}
	if len(firsts) != 3 {
		t.Fatalf("the batch spans segments %v, want 3", firsts)
	}
	last := s.active()
	lastOffs, lastSize := slices.Clone(last.offs), last.size
	s.Close()
	for k, first := range firsts {
		wf := writeFirsts(t, segmentPath(dir, first))
		for j, w := range wf {
			want := first // the batch's part in a segment it did not start
			if k == 0 {
				want = 4
				if first+uint64(j) < 4 {
					want = 1
				}
			}
			if w != want {
				t.Fatalf("segment %d, entry %d: writeFirst %d, want %d (all %v)", first, first+uint64(j), w, want, wf)
			}
		}
	}
	if len(lastOffs) < 3 {
		t.Fatalf("the last segment holds %d entries, want 3 or more", len(lastOffs))
	}

	// A hole in the middle of the last segment's part: torn, dropped; the
	// batch's earlier parts stay.
	intact := mustRead(t, segmentPath(dir, firsts[2]))
	overwrite(t, segmentPath(dir, firsts[2]), lastOffs[1], make([]byte, lastOffs[2]-lastOffs[1]))
	s = openTestLog(t, dir, segBytes)
	checkRange(t, s, 1, firsts[2])
	storeRange(t, s, firsts[2]+1, 30)
	s.Close()
	s = openTestLog(t, dir, segBytes)
	checkRange(t, s, 1, 30)
	s.Close()

	// The same hole in the segment before the last (its part of the batch
	// was fsynced before the next part was written): refused.
	if err := os.WriteFile(segmentPath(dir, firsts[2]), intact[:lastSize], 0o644); err != nil {
		t.Fatal(err)
	}
	for _, g := range mustGlob(t, dir) {
		if first, _ := segmentFirst(g); first > firsts[2] {
			os.Remove(g)
		}
	}
	s = openTestLog(t, dir, segBytes)
	checkRange(t, s, 1, 24)
	mid := s.segs[1].offs
	s.Close()
	overwrite(t, segmentPath(dir, firsts[1]), mid[1], make([]byte, mid[2]-mid[1]))
	if _, err := OpenLogStore(dir); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("a hole in the batch's part before the last segment: %v, want ErrCorrupt", err)
	}
}

func mustGlob(t *testing.T, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.rlog"))
	if err != nil {
		t.Fatal(err)
	}
	return names
}
