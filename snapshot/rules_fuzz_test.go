package snapshot

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"

	"github.com/ringex/ringex/vfs"
)

// FuzzRulesMark: whatever a rules mark file holds, RulesBetween never
// panics reading it; it takes the mark only as the rules its 12 bytes
// record under their checksum, which writeMark writes the same, and
// reports anything else as unknown (ErrRulesUnknown) and corrupt.
func FuzzRulesMark(f *testing.F) {
	good := binary.LittleEndian.AppendUint64(nil, 0xfeedface)
	f.Add(binary.LittleEndian.AppendUint32(good, crc32.Checksum(good, castagnoli)))
	f.Add(binary.LittleEndian.AppendUint32(good, 0))
	f.Add([]byte(unknownMark))
	f.Add([]byte(unknownMark + "x"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		fs := vfs.NewCrashFS()
		s, err := OpenStore("/s", fs)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.writeMarkFile(7, b); err != nil {
			t.Fatal(err)
		}
		recs, err := s.RulesBetween(0, 100)
		if err != nil {
			if len(recs) != 0 || !errors.Is(err, ErrRulesUnknown) || !errors.Is(err, ErrCorrupt) {
				t.Fatalf("%x: %v and %v", b, recs, err)
			}
			return
		}
		if len(recs) != 1 || recs[0].Seq != 7 || len(b) != markSize || recs[0].Rules != binary.LittleEndian.Uint64(b) {
			t.Fatalf("%x read as %v", b, recs)
		}
		if err := s.writeMark(7, recs[0].Rules); err != nil {
			t.Fatal(err)
		}
		if again, err := s.RulesBetween(0, 100); err != nil || len(again) != 1 || again[0] != recs[0] {
			t.Fatalf("%x read as %v, written again by writeMark as %v, %v", b, recs, again, err)
		}
	})
}
