package journal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ringex/ringex/vfs"
)

// An archive has no last segment. Damage to the last record of its newest
// segment — a bad CRC, or a header read as zeros with the body after it —
// ends a journal as a torn tail its Open truncates; in an archive, which
// nothing truncates, it is ErrCorrupt naming the segment and offset.
func TestInspectArchiveHasNoTornTail(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(rec []byte)
	}{
		{"bad crc", func(rec []byte) { rec[recordHeader] ^= 0x5a }},
		{"zeroed header", func(rec []byte) { clear(rec[:recordHeader]) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, archive := t.TempDir(), filepath.Join(t.TempDir(), "archive")
			j, _, err := Open(dir, testOptions(nil))
			if err != nil {
				t.Fatal(err)
			}
			appendN(t, j, 1, 3000, 100)
			if n, err := j.ArchiveBefore(2000, archive); err != nil || n == 0 {
				t.Fatalf("ArchiveBefore: %d %v", n, err)
			}
			j.Close()
			segs, _ := listSegments(vfs.Default, archive)
			newest := segs[len(segs)-1]
			path := filepath.Join(archive, newest)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			last := lastRecordAt(data)
			tc.damage(data[last:])
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}

			st, err := Inspect(archive, nil, nil)
			if err != nil || st.TornFile != newest || st.TornAt != last {
				t.Fatalf("read as a journal: %+v %v; want a torn tail at %s:%d", st, err, newest, last)
			}
			want := fmt.Sprintf("%s at offset %d", newest, last)
			st, err = InspectWith(archive, nil, InspectOptions{DirIsArchive: true}, nil)
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), want) || st.FailedIn != path {
				t.Fatalf("read as an archive: %v (failed in %q); want ErrCorrupt naming %s, failed in %s", err, st.FailedIn, want, path)
			}
			// Read before the journal it is no last segment either (a
			// zeroed header there is found as the gap it leaves before
			// the journal's first segment).
			st, err = InspectWith(dir, nil, InspectOptions{Archive: archive}, nil)
			if !errors.Is(err, ErrCorrupt) || st.ArchiveSegments != len(segs) {
				t.Fatalf("read before the journal: %+v %v; want ErrCorrupt, %d archived segments", st, err, len(segs))
			}
		})
	}
}

// lastRecordAt returns the offset of the last record in a segment's data.
func lastRecordAt(data []byte) int64 {
	last := int64(-1)
	for off := int64(headerSize); off+recordHeader <= int64(len(data)); {
		n := binary.LittleEndian.Uint32(data[off:])
		if n == 0 {
			break
		}
		last = off
		off += int64(encodedSize(int(n) - bodyFixed))
	}
	return last
}

// A last segment of zeros only — a roll whose header never reached the
// disk — is a torn tail at offset 0 to Open, which writes the header
// again; Inspect reports the same torn tail, not a clean end.
func TestInspectAllZeroLastSegmentAsOpenDoes(t *testing.T) {
	dir := t.TempDir()
	j, _, err := Open(dir, testOptions(nil))
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, j, 1, 20, 5)
	last := j.LastSeq()
	j.Close()
	zeros := SegmentName(last + 1)
	if err := os.WriteFile(filepath.Join(dir, zeros), make([]byte, 8192), 0o644); err != nil {
		t.Fatal(err)
	}

	st, err := Inspect(dir, nil, nil)
	if err != nil || st.LastSeq != last || st.TornFile != zeros || st.TornAt != 0 {
		t.Fatalf("Inspect: %+v %v; want records to %d and a torn tail at %s:0", st, err, last, zeros)
	}
	j, rec, err := Open(dir, testOptions(nil))
	if err != nil {
		t.Fatal(err)
	}
	j.Close()
	if filepath.Base(rec.TornFile) != st.TornFile || rec.TornOffset != st.TornAt || rec.TornDropped != 0 || rec.LastSeq != last {
		t.Fatalf("Open: %+v; Inspect said %+v", rec, st)
	}
	// Open wrote the header: the segment now holds no record and no tail.
	if st, err := Inspect(dir, nil, nil); err != nil || st.TornFile != "" || st.LastSeq != last {
		t.Fatalf("after Open: %+v %v", st, err)
	}
}
