package journal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A record header read as zeros in a finished (non-last) segment — a lost
// or zeroed run of bytes with records after it — is corruption of that
// segment, at that offset. The Reader took it for the end of the segment's
// data: from the segment's first record it skipped the whole segment and
// read on from the next one as if the journal started there (Inspect
// reported a healthy journal); from a later record it blamed the next
// segment's header, naming neither the damaged file nor the offset.
func TestReaderZeroedHeaderInFinishedSegment(t *testing.T) {
	for _, which := range []string{"first record", "middle record"} {
		t.Run(which, func(t *testing.T) {
			dir, segs := segmentedJournal(t)
			path := filepath.Join(dir, segs[0])
			b, _ := os.ReadFile(path)
			off := int64(headerSize)
			if which == "middle record" {
				for s := int64(1); s < 10; s++ {
					off += int64(encodedSize(len(rec(s).Payload)))
				}
			}
			clear(b[off : off+recordHeader])
			os.WriteFile(path, b, 0o644)

			st, err := Inspect(dir, nil, nil)
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), segs[0]) || !strings.Contains(err.Error(), "offset") {
				t.Fatalf("Inspect = %+v, %v; want ErrCorrupt naming %s and the offset", st, err, segs[0])
			}
		})
	}
}

// A bad record of a finished segment says the remedy with the damage: a
// copy of the segment, checked with inspect — and that the cut, the
// remedy of the last segment's refusals, does not mend it. It said only
// "corrupt record: FILE at offset N", and an operator reaching for the
// cut the other refusals name found it did nothing.
func TestADamagedFinishedSegmentSaysTheRemedy(t *testing.T) {
	dir, segs := segmentedJournal(t)
	corruptByte(t, filepath.Join(dir, segs[0]), int64(headerSize+12))
	_, err := Inspect(dir, nil, nil)
	for _, want := range []string{
		filepath.Join(dir, segs[0]) + " at offset",
		"restore " + segs[0] + " from a copy",
		"`ringex journal inspect`",
		"`ringex journal cut` does not mend it",
	} {
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), want) {
			t.Fatalf("Inspect = %v; want ErrCorrupt saying %q", err, want)
		}
	}
}

// A record of a finished segment whose checksum holds but whose sequence
// is not the one after its predecessor's says the remedy as a record
// that fails its check does: it said only "sequence N, want M".
func TestAFinishedSegmentOutOfSequenceSaysTheRemedy(t *testing.T) {
	dir, segs := segmentedJournal(t)
	path := filepath.Join(dir, segs[0])
	rec := resequence(t, path, headerSize, 7)
	_, err := Inspect(dir, nil, nil)
	for _, want := range []string{
		fmt.Sprintf("%s at offset %d: sequence %d, want %d", path, headerSize, rec.Seq, rec.Seq-7),
		"restore " + segs[0] + " from a copy",
		"`ringex journal inspect`",
		"`ringex journal cut` does not mend it",
	} {
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), want) {
			t.Fatalf("Inspect = %v; want ErrCorrupt saying %q", err, want)
		}
	}
}
