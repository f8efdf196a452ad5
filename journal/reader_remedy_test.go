package journal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ringex/ringex/vfs"
)

// resequence writes the record at off of the segment at path again with
// its sequence raised by by, checksum and all: a record out of sequence
// with no bad byte. It returns the record as written.
func resequence(t *testing.T, path string, off, by int64) Record {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rec Record
	if _, res := decodeRecord(data[off:], &rec); res != decodedOK {
		t.Fatalf("setup: no record at %d of %s", off, path)
	}
	rec.Seq += by
	copy(data[off:], appendRecord(nil, &rec))
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return rec
}

// A record of the journal's last segment whose checksum holds but whose
// sequence is not the one after its predecessor's says the remedy, from
// Open (the node's start) and a Reader (journal inspect, replay) alike:
// no crash leaves it, so it is damage the cut does not mend, and a copy
// of the segment is the way back. Both said only "sequence N, want M"
// (Open: "sequence N after M").
func TestTheLastSegmentOutOfSequenceSaysTheRemedy(t *testing.T) {
	dir, segs := segmentedJournal(t)
	last := segs[len(segs)-1]
	path := filepath.Join(dir, last)
	rec := resequence(t, path, headerSize, 7)
	wants := []string{
		fmt.Sprintf("%s at offset %d: sequence %d, want %d", path, headerSize, rec.Seq, rec.Seq-7),
		"restore " + last + " from a copy",
		"`ringex journal inspect`",
		"`ringex journal cut` does not mend it",
	}
	_, inspected := Inspect(dir, nil, nil)
	j, _, opened := Open(dir, testOptions(nil))
	if opened == nil {
		j.Close()
	}
	for name, err := range map[string]error{"Inspect": inspected, "Open": opened} {
		for _, want := range wants {
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), want) {
				t.Fatalf("%s = %v; want ErrCorrupt saying %q", name, err, want)
			}
		}
	}
}

// Two segments claiming the same inputs — an archive holding a segment
// of the journal a member replaced with a leader's snapshot (the journal
// begun anew inside that segment's inputs) — are refused naming both,
// the inputs both claim, and the remedy: move the one that is not this
// journal's out, found by comparing records with a copy's, and check
// with inspect. It said only "starts at sequence N, want M".
func TestOverlappingSegmentsSayTheRemedy(t *testing.T) {
	replaced, archive := archivedJournal(t, 6000, 5000, 3)
	archived, _ := listSegments(vfs.Default, archive)
	kept, _ := listSegments(vfs.Default, replaced)
	end := segmentFirst(kept[0]) - 1 // the archive's last input
	prev := filepath.Join(archive, archived[len(archived)-1])
	begin := segmentFirst(archived[len(archived)-1]) + 5
	dir := t.TempDir()
	j, _, err := Open(dir, testOptions(nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := j.BeginAt(begin); err != nil {
		t.Fatal(err)
	}
	appendN(t, j, begin, begin+20, 10)
	j.Close()

	_, err = InspectWith(dir, nil, InspectOptions{Archive: archive}, nil)
	for _, want := range []string{
		fmt.Sprintf("%s starts at sequence %d, want %d: it and %s before it both claim inputs %d…%d",
			filepath.Join(dir, SegmentName(begin)), begin, end+1, prev, begin, end),
		"one of them is not this journal's",
		"move it out of its directory",
		"`ringex journal inspect`",
	} {
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), want) {
			t.Fatalf("InspectWith = %v; want ErrCorrupt saying %q", err, want)
		}
	}
}
