package journal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// A crash while a roll writes the new segment's header (format version
// 2, 56 bytes) may leave any part of it: a device that tears a write
// within a sector keeps some of its bytes, zeros where the rest go. The
// segment holds no record yet — its header is made durable before any
// is appended — so nothing in it was acknowledged: it is the torn tail
// at offset 0 that a header lost whole (an all-zero segment) is, for
// Open, the Reader and CutTornBatch alike; Open writes the header again
// and the journal goes on. Before, any of header bytes 1–51 written
// alone made Open (and inspect) refuse the journal as corrupt at offset
// 0, 4 or 48 — with version 1's 16-byte header it was bytes 1–8 — and
// `journal cut` had nothing to offer.
func TestTornSegmentHeaderIsATornTail(t *testing.T) {
	full := segmentHeader(6, testID)
	type torn struct {
		name string
		data []byte
	}
	var cases []torn
	for k := 1; k < headerSize; k++ {
		prefix := make([]byte, headerSize)
		copy(prefix, full[:k])
		suffix := make([]byte, headerSize)
		copy(suffix[k:], full[k:])
		cases = append(cases, torn{fmt.Sprintf("bytes 0-%d written", k-1), prefix},
			torn{fmt.Sprintf("bytes %d-55 written", k), suffix})
	}
	cases = append(cases, torn{"the file shorter than a header", full[:20]})
	for _, tc := range cases {
		dir := t.TempDir()
		j, _, err := Open(dir, testOptions(nil))
		if err != nil {
			t.Fatal(err)
		}
		appendN(t, j, 1, 5, 5)
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
		seg := append(tc.data, make([]byte, 4096)...)
		if tc.name == "the file shorter than a header" {
			seg = tc.data
		}
		name := SegmentName(6)
		if err := os.WriteFile(filepath.Join(dir, name), seg, 0o644); err != nil {
			t.Fatal(err)
		}
		if verifies := func() bool { _, err := verifyHeader(seg, name); return err == nil }(); verifies {
			continue // the bytes lost were zeros anyway
		}
		st, err := Inspect(dir, nil, nil)
		if err != nil || st.TornFile != name || st.TornAt != 0 || st.LastSeq != 5 {
			t.Fatalf("%s: Inspect: %+v %v; want a torn tail at offset 0 of %s after input 5", tc.name, st, err, name)
		}
		if _, err := CutTornBatch(dir, nil, false); !errors.Is(err, ErrNothingToCut) {
			t.Fatalf("%s: CutTornBatch: %v; want ErrNothingToCut (the journal opens)", tc.name, err)
		}
		j, rec, err := Open(dir, testOptions(nil))
		if err != nil || rec.TornFile != filepath.Join(dir, name) || rec.TornOffset != 0 || rec.LastSeq != 5 {
			if j != nil {
				j.Close()
			}
			t.Fatalf("%s: Open: %+v %v; want a torn tail at offset 0 of %s after input 5", tc.name, rec, err, name)
		}
		appendN(t, j, 6, 8, 3)
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
		if st, err := Inspect(dir, nil, nil); err != nil || st.LastSeq != 8 || st.TornFile != "" || st.ID != testID {
			t.Fatalf("%s: after the restart and 3 inputs: %+v %v", tc.name, st, err)
		}
	}
}

// What is not a header's torn write stays corruption: a damaged header
// with a record after it (acknowledged data), or bytes in it no header
// of the segment holds.
func TestDamagedHeaderWithRecordsIsCorrupt(t *testing.T) {
	full := segmentHeader(6, testID)
	withRecord := appendRecord(append([]byte(nil), full...), rec(6))
	wrongFirst := segmentHeader(7, testID)
	v1 := make([]byte, headerSizeV1)
	copy(v1, full[:8])
	v1[4] = 1
	copy(v1[8:], full[8:16])
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"a record after a damaged id", func() []byte { b := append([]byte(nil), withRecord...); b[idOffset] = 'X'; return b }()},
		{"a record after a lost checksum", func() []byte {
			b := append([]byte(nil), withRecord...)
			clear(b[headerCRCAt : headerCRCAt+4])
			return b
		}()},
		{"a version 1 header, a record after it, its magic lost", func() []byte {
			b := appendRecord(append([]byte(nil), v1...), rec(6))
			clear(b[:4])
			return b
		}()},
		{"another first sequence", func() []byte {
			b := append([]byte(nil), wrongFirst...)
			clear(b[headerCRCAt : headerCRCAt+4])
			return b
		}()},
		{"version 3", func() []byte { b := append([]byte(nil), full...); b[4] = 3; return b }()},
	} {
		dir := t.TempDir()
		j, _, err := Open(dir, testOptions(nil))
		if err != nil {
			t.Fatal(err)
		}
		appendN(t, j, 1, 5, 5)
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, SegmentName(6)), append(tc.data, make([]byte, 4096)...), 0o644); err != nil {
			t.Fatal(err)
		}
		j, _, err = Open(dir, testOptions(nil))
		if j != nil {
			j.Close()
		}
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("%s: Open: %v; want ErrCorrupt", tc.name, err)
		}
		if _, err := Inspect(dir, nil, nil); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("%s: Inspect: %v; want ErrCorrupt", tc.name, err)
		}
	}
}
